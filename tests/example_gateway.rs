//! The example gateway, run as a process the way people run it, tried as an
//! attacker would over loopback: `..` cannot climb out of the upstream's
//! prefix, encoded slashes and `CONNECT` are refused, a client that goes
//! away cancels its upstream request (slow clients: `example_serving.rs`); a
//! request the upstream never saw is retried, one it may have seen never
//! is, and a body over the limit is refused without calling the upstream.

mod example_support;
mod h2_upstream;
mod upstream;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const BOUND: Duration = Duration::from_secs(5);

use example_support::{answer_to, Example};

async fn start_example(upstream: &str) -> Example {
    start_example_with(upstream, &[]).await
}

async fn start_example_with(upstream: &str, env: &[(&str, &str)]) -> Example {
    let mut all = vec![
        ("GATEWAY_ADDR", "127.0.0.1:0"),
        ("UPSTREAM", upstream),
        ("HEADER_READ_TIMEOUT_MS", "300"),
    ];
    all.extend_from_slice(env);
    example_support::start("gateway", &all).await
}

/// What the upstream saw: each request's path, and how many slow requests
/// were dropped (their connection gone) before they finished.
#[derive(Clone, Default)]
struct Seen {
    paths: Arc<Mutex<Vec<String>>>,
    cancelled: Arc<Mutex<Vec<Instant>>>,
}

/// Marks its slow request cancelled when dropped unfinished.
struct CancelGuard(Option<Arc<Mutex<Vec<Instant>>>>);

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if let Some(cancelled) = self.0.take() {
            cancelled.lock().unwrap().push(Instant::now());
        }
    }
}

/// An HTTP/1.1 upstream that records paths; `/api/slow` answers after 30 s.
async fn upstream() -> (SocketAddr, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Seen::default();
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let record = record.clone();
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let record = record.clone();
                async move {
                    let path = req.uri().path().to_owned();
                    record.paths.lock().unwrap().push(path.clone());
                    if path == "/api/slow" {
                        let mut guard = CancelGuard(Some(Arc::clone(&record.cancelled)));
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        guard.0 = None;
                    }
                    Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from("ok"))))
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    (addr, seen)
}

/// Sends `raw` on a fresh connection and reads the answer's status line.
async fn status_of(addr: SocketAddr, raw: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(raw.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(BOUND, stream.read(&mut buf))
        .await
        .expect("an answer in time")
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    text.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn dot_segments_stay_under_the_prefix_and_encoded_slashes_are_refused() {
    let (upstream, seen) = upstream().await;
    // Without a prefix too: a normalized path goes as it came, unlike these.
    let bare = start_example(&format!("http://{upstream}")).await;
    let example = start_example(&format!("http://{upstream}/api")).await;
    for (gateway, prefix) in [(&bare, ""), (&example, "/api")] {
        for (target, expected) in [
            ("/../private/secret.txt", "/private/secret.txt"),
            ("/%2e%2e/%2E%2E/secret.txt", "/secret.txt"),
            ("/a/./b/../c", "/a/c"),
            ("/a/b/.", "/a/b/"),
            ("http://elsewhere.example/x", "/x"),
            ("/x%2Ey/z", "/x.y/z"),
        ] {
            let status = status_of(
                gateway.addr,
                &format!("GET {target} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n"),
            )
            .await;
            assert_eq!(status, "HTTP/1.1 200 OK", "{target}");
            let last = seen.paths.lock().unwrap().last().cloned();
            assert_eq!(
                last,
                Some(format!("{prefix}{expected}")),
                "{prefix} {target}"
            );
        }
    }
    let before = seen.paths.lock().unwrap().len();
    for target in ["/a%2Fb", "/a%5cb", "/a\\b"] {
        let status = status_of(
            example.addr,
            &format!("GET {target} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert_eq!(status, "HTTP/1.1 400 Bad Request", "{target}");
    }
    let status = status_of(
        example.addr,
        "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    )
    .await;
    assert_eq!(status, "HTTP/1.1 501 Not Implemented");
    assert_eq!(
        seen.paths.lock().unwrap().len(),
        before,
        "nothing refused was forwarded"
    );
}

#[tokio::test]
async fn a_client_that_goes_away_cancels_its_upstream_request() {
    let (upstream, seen) = upstream().await;
    let example = start_example(&format!("http://{upstream}/api")).await;
    let mut stream = TcpStream::connect(example.addr).await.unwrap();
    stream
        .write_all(b"GET /slow HTTP/1.1\r\nHost: gw\r\n\r\n")
        .await
        .unwrap();
    // The upstream has the request...
    let start = Instant::now();
    while !seen.paths.lock().unwrap().iter().any(|p| p == "/api/slow") {
        assert!(start.elapsed() < BOUND, "the request reached the upstream");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // ...when the client sends its FIN and goes.
    stream.shutdown().await.unwrap();
    drop(stream);
    let gone = Instant::now();
    while seen.cancelled.lock().unwrap().is_empty() {
        assert!(
            gone.elapsed() < Duration::from_secs(1),
            "the upstream request outlived its client by a second"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// An upstream whose head says `Transfer-Encoding: gzip, chunked`.
async fn gzip_chunked_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf).await;
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n4\r\n\x1f\x8b\x08\x00\r\n0\r\n\r\n",
                    )
                    .await;
                tokio::time::sleep(BOUND).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_transfer_coding_beyond_chunked_is_not_forwarded_raw() {
    let upstream = gzip_chunked_upstream().await;
    let example = start_example(&format!("http://{upstream}")).await;
    let mut stream = TcpStream::connect(example.addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(BOUND, stream.read_to_end(&mut answer))
        .await
        .expect("an answer in time")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 502 Bad Gateway"), "{answer}");
    assert!(
        answer.contains("error=http_response_transfer_coding"),
        "{answer}"
    );
    assert!(
        !answer.contains('\u{1f}'),
        "raw gzip reached the client: {answer}"
    );
}

#[tokio::test]
async fn a_handshake_that_hangs_is_a_connection_timeout_not_a_response_timeout() {
    // Accepts, reads the TLS hello, never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf).await;
                tokio::time::sleep(Duration::from_secs(30)).await;
            });
        }
    });
    let example = start_example_with(
        &format!("https://{upstream}"),
        &[("CONNECT_TIMEOUT_MS", "300")],
    )
    .await;
    let start = Instant::now();
    let mut stream = TcpStream::connect(example.addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(BOUND, stream.read_to_end(&mut answer))
        .await
        .expect("an answer before the head timeout (30 s)")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 502 Bad Gateway"), "{answer}");
    assert!(answer.contains("error=connection_timeout"), "{answer}");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

/// The example's resident memory, from `/proc/PID/status`.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

/// A soak through the example gateway's process: `SOAK_REQUESTS` (default
/// 1,000,000) requests over `SOAK_CONNECTIONS` (default 500) keep-alive
/// connections, its memory read after a fifth of them and at the end.
/// `cargo test --release --all-features --test example_gateway -- --ignored --nocapture`
/// (BENCHMARKS.md, "Soak").
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: run with --release -- --ignored --nocapture (BENCHMARKS.md, Soak)"]
async fn soak_the_example_gateway() {
    let number = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or(default)
    };
    let requests = number("SOAK_REQUESTS", 1_000_000);
    let connections = number("SOAK_CONNECTIONS", 500);
    let (upstream, _seen) = upstream().await;
    let example = start_example(&format!("http://{upstream}")).await;
    let pid = example.child.id();
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let warm_rss = Arc::new(Mutex::new(None));
    let start = Instant::now();
    let mut drivers = Vec::new();
    for _ in 0..connections {
        let (sent, warm_rss) = (Arc::clone(&sent), Arc::clone(&warm_rss));
        let addr = example.addr;
        drivers.push(tokio::spawn(async move {
            let stream = TcpStream::connect(addr).await.unwrap();
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .unwrap();
            tokio::spawn(conn);
            loop {
                let n = sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= requests {
                    return;
                }
                if n == requests / 5 {
                    *warm_rss.lock().unwrap() = Some(rss_kib(pid));
                }
                sender.ready().await.unwrap();
                let req = Request::get("/")
                    .header("host", "gw")
                    .body(Full::<Bytes>::default())
                    .unwrap();
                let res = sender.send_request(req).await.unwrap();
                assert_eq!(res.status(), http::StatusCode::OK);
                http_body_util::BodyExt::collect(res.into_body())
                    .await
                    .unwrap();
            }
        }));
    }
    for driver in drivers {
        driver.await.unwrap();
    }
    let elapsed = start.elapsed();
    let end_rss = rss_kib(pid);
    let warm_rss = warm_rss.lock().unwrap().expect("read after the warm-up");
    println!(
        "soak: {requests} requests over {connections} connections in {elapsed:.2?} \
         ({:.0} req/s); VmRSS after warm-up {warm_rss} KiB, at the end {end_rss} KiB ({:+} KiB)",
        requests as f64 / elapsed.as_secs_f64(),
        end_rss as i64 - warm_rss as i64
    );
    assert!(
        end_rss <= warm_rss + 10 * 1024,
        "VmRSS grew from {warm_rss} to {end_rss} KiB after the warm-up"
    );
}

/// The CPU time of process `pid` so far, from `/proc/PID/stat`, in clock
/// ticks.
#[cfg(target_os = "linux")]
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command's `)`: state is the 1st, utime the 12th,
    // stime the 13th.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn out_of_file_descriptors_the_gateway_backs_off_and_recovers() {
    let (upstream, _seen) = upstream().await;
    // The example with 64 file descriptors, its warnings kept.
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "ulimit -n 64 && exec {}",
            example_support::binary("gateway").display()
        ))
        .env("GATEWAY_ADDR", "127.0.0.1:0")
        .env("UPSTREAM", format!("http://{upstream}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = tokio::process::ChildStdout::from_std(child.stdout.take().unwrap()).unwrap();
    let stderr = tokio::process::ChildStderr::from_std(child.stderr.take().unwrap()).unwrap();
    let line = tokio::time::timeout(BOUND, BufReader::new(stdout).lines().next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let addr: SocketAddr = line.strip_prefix("listening on ").unwrap().parse().unwrap();
    let example = Example { child, addr };
    let pid = example.child.id();
    let warnings = Arc::new(Mutex::new(0usize));
    let count = Arc::clone(&warnings);
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("accept failed") {
                *count.lock().unwrap() += 1;
            }
        }
    });
    // More connections than the gateway has descriptors: idle, each holds one.
    let mut held = Vec::new();
    for _ in 0..100 {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ticks = cpu_ticks(pid);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let spent = cpu_ticks(pid) - ticks;
    // 2 s at 100 ticks a second: a spinning accept loop would spend ~200.
    assert!(spent < 40, "the accept loop spun: {spent} ticks in 2 s");
    let logged = *warnings.lock().unwrap();
    assert!(
        (1..40).contains(&logged),
        "accept errors logged {logged} times in about 2 s"
    );
    // Descriptors free again: a new client is served.
    drop(held);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let status = status_of(
        addr,
        "GET / HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn it_talks_http2_to_its_upstream_and_retries_a_refused_stream() {
    // The frame server refuses its first stream and serves the others.
    let (upstream, requests) = h2_upstream::h2_upstream(h2_upstream::Answer::RefuseFirst).await;
    let example =
        start_example_with(&format!("http://{upstream}"), &[("UPSTREAM_HTTP2", "1")]).await;
    let post = b"POST /orders HTTP/1.1\r\nHost: gw\r\nContent-Length: 8\r\nConnection: close\r\n\r\nan order";
    let answer = answer_to(example.addr, post).await;
    // The refused stream was never processed: sent again, and served.
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(!answer.contains("proxy-status"), "{answer}");
    assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test]
async fn without_retries_a_refused_stream_is_named_connection_terminated() {
    let (upstream, requests) = h2_upstream::h2_upstream(h2_upstream::Answer::RefuseFirst).await;
    let example = start_example_with(
        &format!("http://{upstream}"),
        &[("UPSTREAM_HTTP2", "1"), ("RETRIES", "0")],
    )
    .await;
    let get = "GET / HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n";
    let answer = answer_to(example.addr, get.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 502 Bad Gateway"), "{answer}");
    assert!(answer.contains("error=connection_terminated"), "{answer}");
    assert_eq!(status_of(example.addr, get).await, "HTTP/1.1 200 OK");
    assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_post_the_upstream_read_before_it_reset_is_never_sent_twice() {
    let upstream = upstream::Upstream::start(upstream::Behavior::ResetAfterRequest).await;
    let example = start_example(&format!("http://{}", upstream.addr())).await;
    let post = b"POST /orders HTTP/1.1\r\nHost: gw\r\nContent-Length: 8\r\nConnection: close\r\n\r\nan order";
    let answer = answer_to(example.addr, post).await;
    assert!(answer.starts_with("HTTP/1.1 502 Bad Gateway"), "{answer}");
    assert!(answer.contains("error=connection_terminated"), "{answer}");
    // Give a wrong retry the time to happen: its backoff is 50 ms.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        upstream.requests(),
        1,
        "the POST reached the upstream again"
    );
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_answered_connection_refused_in_one_line() {
    let upstream = upstream::Upstream::start(upstream::Behavior::NotListening).await;
    let log = std::env::temp_dir().join(format!("tower-problem-gw-{}.log", std::process::id()));
    let mut example = example_support::start_logging_to(
        "gateway",
        &[
            ("GATEWAY_ADDR", "127.0.0.1:0"),
            ("UPSTREAM", &format!("http://{}", upstream.addr())),
            ("RUST_LOG", "info"),
        ],
        &log,
    )
    .await;
    let get = "GET / HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n";
    let answer = answer_to(example.addr, get.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 502 Bad Gateway"), "{answer}");
    assert!(answer.contains("error=connection_refused"), "{answer}");
    // The log is written out whole at shutdown.
    example.signal("TERM");
    assert_eq!(example.exit_within(BOUND).await.code(), Some(0));
    let text = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    let errors: Vec<&str> = text.lines().filter(|line| line.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "one line for one failure: {text}");
    // Two retries: three attempts.
    assert!(
        errors[0].contains("kind=\"connection_refused\"") && errors[0].contains("attempts=3"),
        "{}",
        errors[0]
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_and_never_forwarded_whole() {
    let upstream = upstream::Upstream::start(upstream::Behavior::Ok).await;
    let example = start_example_with(
        &format!("http://{}", upstream.addr()),
        &[("MAX_REQUEST_BODY", "16")],
    )
    .await;
    // By its length, buffered (replayable) or streamed: the same answer.
    for length in [17, 100_000] {
        let mut post = format!(
            "POST /upload HTTP/1.1\r\nHost: gw\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
        )
        .into_bytes();
        post.resize(post.len() + length, b'x');
        let answer = answer_to(example.addr, &post).await;
        assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
        assert!(
            answer.contains(r#""kind":"request_body_too_large""#),
            "{answer}"
        );
    }
    assert_eq!(upstream.requests(), 0, "the upstream was called");
    // A chunked body that grows over it: its head and the first 16 bytes
    // were forwarded, then the upstream request was aborted.
    let chunked = b"POST /upload HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n10\r\n0123456789abcdef\r\n1\r\nZ\r\n0\r\n\r\n";
    let answer = answer_to(example.addr, chunked).await;
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    let before = upstream.requests();
    // At the limit, forwarded: the upstream's own 200. (The aborted chunked
    // request's head may reach the upstream's count later, so the count
    // only grows.)
    let post = b"POST /upload HTTP/1.1\r\nHost: gw\r\nContent-Length: 16\r\nConnection: close\r\n\r\n0123456789abcdef";
    let answer = answer_to(example.addr, post).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.ends_with(upstream::OK_BODY), "{answer}");
    assert!(upstream.requests() > before);
}

#[tokio::test]
async fn te_trailers_is_forwarded_and_the_rest_of_te_is_not() {
    // An upstream that keeps the request head it reads and answers 200.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let head = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if stream.read(&mut byte).await.unwrap() == 0 {
                break;
            }
            head.push(byte[0]);
        }
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            .await
            .unwrap();
        String::from_utf8_lossy(&head).to_ascii_lowercase()
    });
    let example = start_example(&format!("http://{addr}")).await;
    let get =
        "GET / HTTP/1.1\r\nHost: gw\r\nTE: trailers, deflate\r\nConnection: close, TE\r\n\r\n";
    assert_eq!(status_of(example.addr, get).await, "HTTP/1.1 200 OK");
    let head = tokio::time::timeout(BOUND, head).await.unwrap().unwrap();
    assert!(head.contains("\r\nte: trailers\r\n"), "{head}");
    assert!(!head.contains("deflate"), "{head}");
}

/// An HTTP/1.1 upstream that answers `per_connection` requests on each
/// connection, then closes it unannounced (as a keep-alive timeout does);
/// the count of connections it accepted.
async fn closing_upstream(per_connection: usize) -> (SocketAddr, Arc<Mutex<usize>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(Mutex::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            *count.lock().unwrap() += 1;
            let count = Arc::clone(&count);
            tokio::spawn(async move {
                let mut stream = BufReader::new(stream);
                for _ in 0..per_connection {
                    // The head of a request without a body.
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    // Chunked and of known length in turn: a connection
                    // is kept once either has ended.
                    let answer = if *count.lock().unwrap() % 2 == 0 {
                        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
                    } else {
                        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
                    };
                    if stream.get_mut().write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, accepted)
}

/// The upstream connections are kept and used again, and one the upstream
/// has closed is dropped when next taken, costing no request a 502.
#[tokio::test]
async fn upstream_connections_are_kept_and_those_closed_are_replaced() {
    let (upstream, accepted) = closing_upstream(3).await;
    let gateway = start_example_with(
        &format!("http://{upstream}"),
        &[("WORKERS", "1"), ("RETRIES", "0")],
    )
    .await;
    let mut client = TcpStream::connect(gateway.addr).await.unwrap();
    for n in 0..30 {
        client
            .write_all(b"GET /n HTTP/1.1\r\nHost: gateway\r\n\r\n")
            .await
            .unwrap();
        // The answer whole: its body, of known length or chunked, ends the read.
        let mut answer = Vec::new();
        while !(answer.ends_with(b"\r\n\r\nok") || answer.ends_with(b"0\r\n\r\n")) {
            let mut buf = [0u8; 4096];
            let read = tokio::time::timeout(BOUND, client.read(&mut buf))
                .await
                .expect("an answer in time")
                .unwrap();
            assert!(read > 0, "request {n}: the gateway closed the connection");
            answer.extend_from_slice(&buf[..read]);
        }
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.starts_with("HTTP/1.1 200 OK") && answer.contains("ok"),
            "request {n}: {answer}"
        );
        if n % 7 == 0 {
            // Time for the upstream's close to arrive before the next request.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // Three requests a connection: ten connections, not thirty.
    assert_eq!(*accepted.lock().unwrap(), 10);
}

#[tokio::test]
async fn an_upstream_name_is_resolved_and_one_that_cannot_be_is_a_dns_error() {
    let get = "GET /by-name HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n";
    let (addr, seen) = upstream().await;
    let by_name = start_example(&format!("http://localhost:{}", addr.port())).await;
    assert_eq!(status_of(by_name.addr, get).await, "HTTP/1.1 200 OK");
    assert_eq!(*seen.paths.lock().unwrap(), ["/by-name"]);

    // RFC 6761 §6.4: no `.invalid` name resolves.
    let nowhere = start_example("http://nowhere.invalid:80").await;
    let answer = answer_to(nowhere.addr, get.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 502 Bad Gateway"), "{answer}");
    assert!(answer.contains("error=dns_error"), "{answer}");
}

#[tokio::test]
async fn a_body_to_buffer_that_stalls_is_answered_408_and_never_forwarded() {
    let (upstream, seen) = upstream().await;
    // HEADER_READ_TIMEOUT_MS=300 bounds the wait for a replayable body.
    let example = start_example(&format!("http://{upstream}")).await;
    let started = Instant::now();
    let stalled =
        b"POST /orders HTTP/1.1\r\nHost: gw\r\nContent-Length: 10\r\nConnection: close\r\n\r\nabc";
    let answer = answer_to(example.addr, stalled).await;
    assert!(
        answer.starts_with("HTTP/1.1 408 Request Timeout"),
        "{answer}"
    );
    assert!(answer.contains("did not arrive in time"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(
        seen.paths.lock().unwrap().is_empty(),
        "nothing was forwarded"
    );
}
