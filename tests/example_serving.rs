//! How the example servers hold up, run as processes the way people run
//! them: a client that sends its head one byte at a time, one that sends
//! nothing and an HTTP/2 one that stops answering pings are each closed
//! within its timeout while the server goes on serving (the app, and the
//! gateway in front of it, both served by `examples/serve/mod.rs`); and on
//! SIGTERM every example stops accepting, finishes the requests in flight
//! and exits 0 (`examples/lifecycle/mod.rs`; gRPC's in `tests/grpc.rs`),
//! its log written out whole, without colour codes in a file.
#![cfg(unix)]

mod example_support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use example_support::Example;

const BOUND: Duration = Duration::from_secs(5);

/// The limits the servers run with here: 300 ms to send a head, 300 ms
/// to answer an HTTP/2 ping.
const LIMITS: [(&str, &str); 2] = [
    ("HEADER_READ_TIMEOUT_MS", "300"),
    ("IDLE_TIMEOUT_MS", "300"),
];
const TIMEOUT: Duration = Duration::from_millis(300);
/// What a busy machine (CI's two cores) may add to a timer's moment.
const SLACK: Duration = Duration::from_secs(1);

/// The example app, with `env`.
async fn app(env: &[(&str, &str)]) -> Example {
    let mut all = vec![("APP_ADDR", "127.0.0.1:0")];
    all.extend_from_slice(env);
    example_support::start("app", &all).await
}

/// The example server `name` under test with `env`, and what it needs
/// running: the gateway stands in front of an app.
async fn server(name: &str, env: &[(&str, &str)]) -> (Example, Option<Example>) {
    match name {
        "app" => (app(env).await, None),
        "gateway" => {
            let upstream = app(&[]).await;
            let target = format!("http://{}", upstream.addr);
            let mut all = vec![("GATEWAY_ADDR", "127.0.0.1:0"), ("UPSTREAM", &target)];
            all.extend_from_slice(env);
            (
                example_support::start("gateway", &all).await,
                Some(upstream),
            )
        }
        "load_target" => {
            let mut all = vec![("ADDR", "127.0.0.1:0")];
            all.extend_from_slice(env);
            (example_support::start("load_target", &all).await, None)
        }
        _ => unreachable!("no example {name}"),
    }
}

/// `GET path` on a fresh connection, closed after the answer.
async fn get(addr: SocketAddr, path: &str) -> String {
    let raw = format!("GET {path} HTTP/1.1\r\nHost: example\r\nConnection: close\r\n\r\n");
    example_support::answer_to(addr, raw.as_bytes()).await
}

/// How long the server took to close `stream`, reading (and dropping)
/// whatever it sent, while `send` writes to it.
async fn closed_after(mut stream: TcpStream, send: &'static [u8]) -> Duration {
    let start = Instant::now();
    let (mut read, mut write) = stream.split();
    let writing = async {
        for byte in send.chunks(1) {
            // A write to a closed connection fails: the read below tells.
            if write.write_all(byte).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        std::future::pending::<()>().await;
    };
    let reading = async {
        let mut buf = [0u8; 1024];
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => return start.elapsed(),
                Ok(_) => continue,
            }
        }
    };
    tokio::time::timeout(BOUND, async {
        tokio::select! {
            () = writing => unreachable!(),
            elapsed = reading => elapsed,
        }
    })
    .await
    .expect("the server closes the connection")
}

#[tokio::test]
async fn slow_and_silent_clients_are_closed_within_the_header_read_timeout() {
    for name in ["app", "gateway"] {
        let (server, _upstream) = server(name, &LIMITS).await;
        // Twenty that send their head a byte every 50 ms (it would take
        // 2 s), and twenty that send nothing at all.
        let slow = (0..20).map(|_| async {
            let stream = TcpStream::connect(server.addr).await.unwrap();
            closed_after(
                stream,
                b"GET / HTTP/1.1\r\nHost: example\r\nAccept: */*\r\n\r\n",
            )
            .await
        });
        let silent = (0..20).map(|_| async {
            let stream = TcpStream::connect(server.addr).await.unwrap();
            closed_after(stream, b"").await
        });
        let (slow, silent) = tokio::join!(
            futures_util::future::join_all(slow),
            futures_util::future::join_all(silent)
        );
        for closed in slow.iter().chain(&silent) {
            assert!(
                *closed >= TIMEOUT - Duration::from_millis(50) && *closed < TIMEOUT + SLACK,
                "{name}: a slow or silent client was closed after {closed:?}, its timeout {TIMEOUT:?}"
            );
        }
        let answer = get(server.addr, "/").await;
        assert!(
            answer.starts_with("HTTP/1.1 200 OK") && answer.ends_with("hello\n"),
            "{name} still serves: {answer}"
        );
    }
}

#[tokio::test]
async fn an_http2_connection_that_stops_answering_pings_is_closed() {
    for name in ["app", "gateway"] {
        let (server, _upstream) = server(name, &LIMITS).await;
        let stream = TcpStream::connect(server.addr).await.unwrap();
        // The preface and an empty SETTINGS, then silence: no request, and
        // no answer to the server's SETTINGS or PING. It is pinged after
        // 300 ms idle and closed 300 ms later.
        let closed = closed_after(
            stream,
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00",
        )
        .await;
        assert!(
            // hyper pings on its own schedule after the interval: seconds.
            closed >= TIMEOUT && closed < Duration::from_secs(3),
            "{name}: closed after {closed:?}"
        );
        assert!(get(server.addr, "/").await.starts_with("HTTP/1.1 200 OK"));
    }
}

/// SIGTERM while a request is in flight and another connection idles: the
/// request completes, no new connection is taken, and the process exits 0.
async fn sigterm_finishes_the_request_in_flight(name: &str, path: &str, expected_body: &str) {
    let (mut server, _upstream) = server(name, &[]).await;
    // A keep-alive connection with nothing in flight: asked to close at
    // once, it does not hold up the shutdown.
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    let answer = exchange_one(&mut idle, "/").await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");

    let mut busy = TcpStream::connect(server.addr).await.unwrap();
    let raw = format!("GET {path} HTTP/1.1\r\nHost: example\r\n\r\n");
    busy.write_all(raw.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let signalled = Instant::now();
    server.signal("TERM");

    let mut rest = Vec::new();
    let closed = tokio::time::timeout(BOUND, idle.read_to_end(&mut rest)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "{name}: the idle connection is closed at once: {closed:?}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        TcpStream::connect(server.addr).await.is_err(),
        "{name}: no connection is taken once SIGTERM arrived"
    );

    let mut answer = Vec::new();
    tokio::time::timeout(BOUND, busy.read_to_end(&mut answer))
        .await
        .expect("the request in flight is answered, and its connection closed")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 200 OK") && answer.ends_with(expected_body),
        "{name}: {answer}"
    );
    let status = server.exit_within(BOUND).await;
    assert_eq!(status.code(), Some(0), "{name}: exits 0");
    assert!(
        signalled.elapsed() < Duration::from_secs(2),
        "{name}: took {:?} to stop",
        signalled.elapsed()
    );
}

/// One keep-alive exchange on `stream`, `GET path`: its first read (the
/// small answers here come in one).
async fn exchange_one(stream: &mut TcpStream, path: &str) -> String {
    let raw = format!("GET {path} HTTP/1.1\r\nHost: example\r\n\r\n");
    stream.write_all(raw.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(BOUND, stream.read(&mut buf))
        .await
        .expect("an answer")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn on_sigterm_the_app_finishes_its_requests_and_exits_0() {
    // 600 ms: shorter than the app's 1 s request timeout.
    sigterm_finishes_the_request_in_flight("app", "/sleep/600", "slept 600 ms\n").await;
}

#[tokio::test]
async fn on_sigterm_the_gateway_finishes_its_requests_and_exits_0() {
    sigterm_finishes_the_request_in_flight("gateway", "/sleep/600", "slept 600 ms\n").await;
}

#[tokio::test]
async fn on_sigterm_the_load_target_exits_0() {
    let (mut server, _) = server("load_target", &[]).await;
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    let answer = exchange_one(&mut idle, "/ok").await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    server.signal("TERM");
    assert_eq!(server.exit_within(BOUND).await.code(), Some(0));
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(BOUND, idle.read_to_end(&mut rest)).await;
    assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "{closed:?}");
}

/// The example app with `env`, and a connection whose request (900 ms)
/// has been in flight for 100 ms.
async fn app_with_a_request_in_flight(env: &[(&str, &str)]) -> (Example, TcpStream) {
    let server = app(env).await;
    let mut busy = TcpStream::connect(server.addr).await.unwrap();
    busy.write_all(b"GET /sleep/900 HTTP/1.1\r\nHost: example\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    (server, busy)
}

#[tokio::test]
async fn a_second_signal_exits_at_once() {
    let (mut server, mut busy) = app_with_a_request_in_flight(&[]).await;
    let signalled = Instant::now();
    server.signal("TERM");
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.signal("INT");
    let status = server.exit_within(BOUND).await;
    assert_eq!(
        status.code(),
        Some(1),
        "a second signal is not a clean exit"
    );
    assert!(
        signalled.elapsed() < Duration::from_millis(600),
        "it did not wait for the request: {:?}",
        signalled.elapsed()
    );
    let mut answer = Vec::new();
    let _ = busy.read_to_end(&mut answer).await;
    assert!(
        answer.is_empty(),
        "the request was cut, not answered: {:?}",
        String::from_utf8_lossy(&answer)
    );
}

#[tokio::test]
async fn the_shutdown_waits_at_most_its_timeout() {
    let (mut server, _busy) = app_with_a_request_in_flight(&[("SHUTDOWN_TIMEOUT_MS", "200")]).await;
    let signalled = Instant::now();
    server.signal("TERM");
    assert_eq!(server.exit_within(BOUND).await.code(), Some(0));
    let waited = signalled.elapsed();
    assert!(
        waited >= Duration::from_millis(200) && waited < Duration::from_millis(200) + SLACK,
        "waited {waited:?} for a 200 ms timeout"
    );
}

#[tokio::test]
async fn the_log_in_a_file_is_plain_and_written_out_at_shutdown() {
    let log = std::env::temp_dir().join(format!("tower-problem-app-{}.log", std::process::id()));
    let mut server = example_support::start_logging_to(
        "app",
        &[("APP_ADDR", "127.0.0.1:0"), ("RUST_LOG", "info")],
        &log,
    )
    .await;
    for _ in 0..3 {
        assert!(get(server.addr, "/panic")
            .await
            .starts_with("HTTP/1.1 500 "));
    }
    server.signal("TERM");
    assert_eq!(server.exit_within(BOUND).await.code(), Some(0));
    let text = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    assert!(!text.contains('\x1b'), "no colour codes in a file: {text}");
    let panics = text
        .lines()
        .filter(|line| line.contains("ERROR") && line.contains("request handler panicked"))
        .count();
    assert_eq!(panics, 3, "one line per panic, none lost: {text}");
    assert!(
        text.contains("shut down: every request in flight was answered"),
        "{text}"
    );
}

/// The gateway's `WORKERS`: each a thread of its own, named so; requests in
/// flight on every worker finish at SIGTERM, and the process exits 0.
#[tokio::test]
async fn the_gateway_serves_on_its_workers_and_drains_them_all() {
    let (mut gateway, _upstream) = server("gateway", &[("WORKERS", "3")]).await;
    // The workers start once the socket is bound and announced.
    let task = format!("/proc/{}/task", gateway.child.id());
    let workers = || {
        let mut names: Vec<String> = std::fs::read_dir(&task)
            .unwrap()
            .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path().join("comm")).ok())
            .map(|name| name.trim().to_owned())
            .filter(|name| name.starts_with("worker "))
            .collect();
        names.sort();
        names
    };
    let started = Instant::now();
    while workers().len() < 2 && started.elapsed() < BOUND {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(workers(), ["worker 1", "worker 2"], "and the main thread");

    // Enough connections that each worker is likely to take some; which
    // takes which is the kernel's choice, and every one must be answered.
    let mut busy = Vec::new();
    for _ in 0..9 {
        let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
        stream
            .write_all(b"GET /sleep/600 HTTP/1.1\r\nHost: example\r\n\r\n")
            .await
            .unwrap();
        busy.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    gateway.signal("TERM");
    for mut stream in busy {
        let mut answer = Vec::new();
        tokio::time::timeout(BOUND, stream.read_to_end(&mut answer))
            .await
            .expect("each request in flight is answered")
            .unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.starts_with("HTTP/1.1 200 OK") && answer.ends_with("slept 600 ms\n"),
            "{answer}"
        );
    }
    assert_eq!(gateway.exit_within(BOUND).await.code(), Some(0));
}

#[test]
fn an_invalid_workers_stops_the_gateway_with_a_message() {
    let output = std::process::Command::new(example_support::binary("gateway"))
        .env("WORKERS", "0")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "invalid WORKERS=\"0\": expected a whole number above 0\n"
    );
}
