//! Misbehaving upstream HTTP/1.1 servers for the gateway tests: real TCP
//! listeners on ephemeral ports of 127.0.0.1, each failing in one precise way.
//!
//! ```ignore
//! mod upstream;
//! use upstream::{Behavior, Upstream};
//!
//! let upstream = Upstream::start(Behavior::ResetAfterRequest).await;
//! let result = client.get(upstream.url("/")).await;
//! assert_eq!(upstream.accepted(), 1);
//! // dropping `upstream` stops the listener and every connection it holds
//! ```
//!
//! Each [`Behavior`] is a short script run on every accepted connection:
//! optionally read the request, write some bytes (possibly slowly), then end
//! the connection with a FIN, an RST, or by holding it open. [`Upstream`]
//! counts accepted connections and complete request heads, so a test can tell
//! "never connected" from "connected but the request was never read".
//!
//! Guarantees:
//!
//! - every server runs on tasks of the test's runtime, and dropping the
//!   [`Upstream`] guard aborts the listener and all its connections (a held
//!   socket is closed at the latest when the test's runtime shuts down);
//! - every wait inside a server is bounded by [`WAIT`], so no server waits
//!   for a client forever (holding a connection open is not a wait: it lasts
//!   until the guard drops);
//! - RST is sent with `SO_LINGER` 0 after a short pause ([`FLUSH`]), so the
//!   bytes written before it have reached the client and the order "data,
//!   then reset" is deterministic on loopback.
//!
//! The request reader understands `Content-Length` request bodies only (no
//! chunked request bodies): enough for the tests' clients.

// Each test binary uses a different subset of the behaviours and helpers:
// a shared test-support module is the accepted case for this allow.
#![allow(dead_code)]

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper::Uri;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// The bound on any single wait inside a server (reading a request, filling
/// a backlog), and a sensible bound for the clients' waits in the tests.
pub const WAIT: Duration = Duration::from_secs(5);

/// How long a server pauses after its last write before resetting the
/// connection, so the written bytes reach the client before the RST.
pub const FLUSH: Duration = Duration::from_millis(50);

/// One mebibyte: the heads of [`Behavior::HugeHeader`] and
/// [`Behavior::ManyHeaders`] are larger than this.
pub const MIB: usize = 1024 * 1024;

/// The body of the healthy responses ([`Behavior::Ok`]).
pub const OK_BODY: &str = "hello from upstream";

/// The bytes [`Behavior::NotHttp`] sends: an SSH server's banner.
pub const SSH_BANNER: &str = "SSH-2.0-OpenSSH_9.6\r\n";

/// How one upstream misbehaves (or behaves), on every connection it accepts.
///
/// "Reads the request" means the whole request head, and the body when the
/// request has a `Content-Length`. "FIN" is a normal close once everything
/// is written; "RST" is an abortive close after [`FLUSH`]; "holds" keeps the
/// socket open, silent, until the [`Upstream`] is dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Behavior {
    // ---- no connection ----
    /// Nothing listens: a port that was bound, then closed before the client
    /// connects (reserve-and-close). Connects are refused.
    NotListening,
    /// A listener that never accepts and whose accept backlog is full, so
    /// Linux drops further SYNs and a connect hangs until the client's
    /// connect timeout. No connection is ever accepted.
    Blackhole,

    // ---- connection, no response ----
    /// Accepts, then at once shuts down its side (FIN) and drops the socket,
    /// without reading or writing a byte. The request usually arrives
    /// unread, so the kernel follows the FIN with an RST; the client, which
    /// saw the FIN first, still reads a clean end of stream.
    CloseOnAccept,
    /// Reads the request, then FIN without a byte of response ("empty reply").
    CloseAfterRequest,
    /// Reads the request, then RST without a byte of response.
    ResetAfterRequest,
    /// Reads the request and never answers; holds.
    Silent,

    // ---- failures in the response head ----
    /// A healthy `200` whose head is written one byte at a time, `per_byte`
    /// apart, then the body, then FIN.
    SlowHead {
        /// The pause before each byte of the head.
        per_byte: Duration,
    },
    /// Reads the request, waits `delay`, then sends a healthy `200` and FIN.
    HeadAfter(Duration),
    /// Reads the request, writes half a status line (`HTTP/1.1 20`), FIN.
    CloseMidStatusLine,
    /// Reads the request, writes the status line and half a header, FIN.
    CloseMidHeaders,
    /// Writes an SSH banner ([`SSH_BANNER`]) on accept, without reading, and
    /// holds, as an SSH server does.
    NotHttp,
    /// Reads the request, then answers like a TLS server given plaintext: a
    /// fatal TLS alert record (`15 03 03 00 02 02 32`), then FIN.
    TlsAlert,
    /// Reads the request, answers HTTP/0.9 style (a body with no status line
    /// and no headers), FIN.
    Http09,
    /// Reads the request, answers `HTTP/1.1 abc OK`, FIN.
    InvalidStatusLine,
    /// Reads the request, answers a head with `Bad Header: x` (a space in
    /// the field name), FIN.
    HeaderNameWithSpace,
    /// Reads the request, answers a head with a line `NoColon` (no `:`), FIN.
    HeaderWithoutColon,
    /// Reads the request, answers a head with an obsolete folded header
    /// line (a continuation line starting with a space), FIN.
    ObsoleteLineFolding,
    /// Reads the request, answers a head with one header value over
    /// [`MIB`], FIN.
    HugeHeader,
    /// Reads the request, answers a head of more than [`MIB`] of small
    /// headers (over 60 000 of them), FIN.
    ManyHeaders,
    /// Reads the request, answers a small head (under 2 KiB) with 101
    /// headers, one more than hyper's default limit of 100, FIN.
    TooManyHeaders,
    /// Reads the request, answers `Content-Length: 5` and
    /// `Content-Length: 6` with a 5-byte body, FIN.
    ConflictingContentLength,
    /// Reads the request, answers a `103 Early Hints` interim response and
    /// nothing else, FIN.
    InformationalThenClose,
    /// Reads the request (which asked for no upgrade) and answers
    /// `101 Switching Protocols`; holds.
    UnaskedSwitchingProtocols,

    // ---- failures in the response body ----
    /// Reads the request, answers `Content-Length: 100` with a shorter
    /// body, FIN.
    ShortBodyThenClose,
    /// Like [`Behavior::ShortBodyThenClose`], but RST instead of FIN.
    ShortBodyThenReset,
    /// Reads the request, answers `Content-Length: 100` with part of the
    /// body, then silence; holds.
    StalledBody,
    /// Reads the request, answers a chunked body whose second chunk-size
    /// line is not hex (`zz`); holds.
    InvalidChunkSize,
    /// Reads the request, answers one chunk of a chunked body and FIN
    /// without the last chunk (`0\r\n\r\n`).
    ChunkedThenClose,
    /// Reads the request, answers a close-delimited body (no
    /// `Content-Length`, not chunked, `Connection: close`) that is cut
    /// short, FIN. Nothing in HTTP/1.1 can tell this from a complete body.
    CloseDelimitedCut,
    /// Like [`Behavior::CloseDelimitedCut`], but RST instead of FIN.
    CloseDelimitedThenReset,
    /// Reads the request, answers `Transfer-Encoding: chunked` together
    /// with a wrong `Content-Length: 100` and a valid chunked body `hello`
    /// (RFC 9112 §6.3: chunked wins); holds.
    ChunkedWithContentLength,

    // ---- healthy, or nearly ----
    /// Healthy: for every request on the connection (keep-alive), answers
    /// `200 OK` with [`OK_BODY`].
    Ok,
    /// Healthy, with another status: for every request on the connection,
    /// answers `status` with a `text/plain` `body` (e.g. 500, 503).
    Respond {
        /// The status code.
        status: u16,
        /// The `text/plain` body.
        body: &'static str,
    },
    /// Reads only the request head, answers `413 Content Too Large` with
    /// `Connection: close` without reading the request body, and holds
    /// (never reading the body either).
    EarlyResponse,
    /// Like [`Behavior::EarlyResponse`], but FIN instead of holding, with
    /// the request body unread.
    EarlyResponseThenClose,
    /// Reads the request, answers a keep-alive `200` (no `Connection:
    /// close`), then FIN while the connection is idle.
    CloseAfterResponse,
    /// Healthy, with no length declared: for every request on the
    /// connection, answers `200` with `body` as one chunk of a chunked body.
    RespondChunked {
        /// The `text/plain` body.
        body: &'static str,
    },
}

/// A running upstream server; dropping it stops the server.
///
/// See the [module docs](self) for what each server guarantees.
#[derive(Debug)]
pub struct Upstream {
    addr: SocketAddr,
    counts: Arc<Counts>,
    _held: Held,
}

impl Upstream {
    /// Starts a server with `behavior` on an ephemeral port of 127.0.0.1.
    pub async fn start(behavior: Behavior) -> Self {
        let counts = Arc::new(Counts::default());
        match behavior {
            Behavior::NotListening => {
                let listener = bind().await;
                let addr = listener.local_addr().expect("local_addr");
                drop(listener);
                Self {
                    addr,
                    counts,
                    _held: Held::default(),
                }
            }
            Behavior::Blackhole => {
                let (listener, fillers) = full_backlog().await;
                let addr = listener.local_addr().expect("local_addr");
                let held = Held {
                    listener: Some(listener),
                    fillers,
                    task: None,
                };
                Self {
                    addr,
                    counts,
                    _held: held,
                }
            }
            behavior => {
                let listener = bind().await;
                let addr = listener.local_addr().expect("local_addr");
                let task = tokio::spawn(serve(listener, Arc::new(behavior), counts.clone()));
                let held = Held {
                    task: Some(task),
                    listener: None,
                    fillers: Vec::new(),
                };
                Self {
                    addr,
                    counts,
                    _held: held,
                }
            }
        }
    }

    /// The address the server listens (or listened) on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://{addr}{path}`, for a client.
    pub fn url(&self, path: &str) -> Uri {
        format!("http://{}{path}", self.addr)
            .parse()
            .expect("a valid path")
    }

    /// How many connections the server has accepted so far.
    pub fn accepted(&self) -> usize {
        self.counts.accepted.load(Ordering::SeqCst)
    }

    /// How many complete request heads the server has read so far.
    pub fn requests(&self) -> usize {
        self.counts.requests.load(Ordering::SeqCst)
    }
}

#[derive(Debug, Default)]
struct Counts {
    accepted: AtomicUsize,
    requests: AtomicUsize,
}

/// What an [`Upstream`] keeps alive; its drop stops the server.
#[derive(Debug, Default)]
struct Held {
    /// The accept loop, which owns the connection tasks in a `JoinSet`:
    /// aborting it drops the set, which aborts them all.
    task: Option<JoinHandle<()>>,
    /// [`Behavior::Blackhole`]'s listener and the connections filling its
    /// backlog.
    listener: Option<TcpListener>,
    fillers: Vec<TcpStream>,
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

async fn bind() -> TcpListener {
    TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0")
}

/// A listener with backlog 0 that never accepts, and connections filling
/// its accept queue until a connect attempt hangs (Linux then drops SYNs).
async fn full_backlog() -> (TcpListener, Vec<TcpStream>) {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    let listener = socket.listen(0).expect("listen(0)");
    let addr = listener.local_addr().expect("local_addr");
    let mut fillers = Vec::new();
    for _ in 0..16 {
        match tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => fillers.push(stream),
            Ok(Err(e)) => panic!("filling the backlog of {addr}: {e}"),
            // This connect hung: the backlog is full.
            Err(_) => return (listener, fillers),
        }
    }
    panic!(
        "the backlog of {addr} never filled after {} connections",
        fillers.len()
    )
}

/// The accept loop: one task per connection, all owned by a `JoinSet` so
/// that aborting this task aborts them.
async fn serve(listener: TcpListener, behavior: Arc<Behavior>, counts: Arc<Counts>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                counts.accepted.fetch_add(1, Ordering::SeqCst);
                connections.spawn(connection(stream, behavior.clone(), counts.clone()));
            }
            // Reap finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// What to read before answering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Read {
    Nothing,
    Head,
    Request,
}

/// How the connection ends after the script's writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Fin,
    Rst,
    Hold,
}

/// One connection's script: read, write `response` (byte by byte with
/// `per_byte` pauses for its first `slow` bytes), end.
struct Script {
    read: Read,
    delay: Duration,
    response: Vec<u8>,
    slow: usize,
    per_byte: Duration,
    end: End,
}

impl Script {
    fn new(read: Read, response: impl Into<Vec<u8>>, end: End) -> Self {
        let response = response.into();
        Self {
            read,
            delay: Duration::ZERO,
            response,
            slow: 0,
            per_byte: Duration::ZERO,
            end,
        }
    }
}

/// A complete `200` with [`OK_BODY`], keep-alive.
fn ok_response() -> String {
    response(200, "OK", OK_BODY)
}

fn response(status: u16, reason: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Whatever",
    }
}

fn script(behavior: &Behavior) -> Script {
    use Behavior as B;
    use End::{Fin, Hold, Rst};
    use Read::{Head, Nothing, Request};
    const HEAD_100: &str = "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n";
    const CHUNKED: &str = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
    const CLOSE_DELIMITED: &str = "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n";
    match behavior {
        B::NotListening | B::Blackhole | B::Ok | B::Respond { .. } | B::RespondChunked { .. } => {
            unreachable!("{behavior:?} has no per-connection script")
        }
        B::CloseOnAccept => Script::new(Nothing, "", Fin),
        B::CloseAfterRequest => Script::new(Request, "", Fin),
        B::ResetAfterRequest => Script::new(Request, "", Rst),
        B::Silent => Script::new(Request, "", Hold),
        B::SlowHead { per_byte } => {
            let response = ok_response();
            let slow = response.find("\r\n\r\n").expect("a head") + 4;
            Script { slow, per_byte: *per_byte, ..Script::new(Request, response, Fin) }
        }
        B::HeadAfter(delay) => Script { delay: *delay, ..Script::new(Request, ok_response(), Fin) },
        B::CloseMidStatusLine => Script::new(Request, "HTTP/1.1 20", Fin),
        B::CloseMidHeaders => {
            Script::new(Request, "HTTP/1.1 200 OK\r\ncontent-type: text/pl", Fin)
        }
        B::NotHttp => Script::new(Nothing, SSH_BANNER, Hold),
        B::TlsAlert => Script::new(Request, *b"\x15\x03\x03\x00\x02\x02\x32", Fin),
        B::Http09 => Script::new(Request, "hello, this is HTTP/0.9\n", Fin),
        B::InvalidStatusLine => {
            Script::new(Request, "HTTP/1.1 abc OK\r\ncontent-length: 0\r\n\r\n", Fin)
        }
        B::HeaderNameWithSpace => Script::new(
            Request,
            "HTTP/1.1 200 OK\r\nBad Header: x\r\ncontent-length: 0\r\n\r\n",
            Fin,
        ),
        B::HeaderWithoutColon => {
            Script::new(Request, "HTTP/1.1 200 OK\r\nNoColon\r\ncontent-length: 0\r\n\r\n", Fin)
        }
        B::ObsoleteLineFolding => Script::new(
            Request,
            "HTTP/1.1 200 OK\r\nx-folded: first\r\n second\r\ncontent-length: 0\r\n\r\n",
            Fin,
        ),
        B::HugeHeader => {
            let value = "a".repeat(MIB + 1);
            let head = format!("HTTP/1.1 200 OK\r\nx-big: {value}\r\ncontent-length: 0\r\n\r\n");
            Script::new(Request, head, Fin)
        }
        B::ManyHeaders => {
            let mut head = String::from("HTTP/1.1 200 OK\r\n");
            let mut i = 0;
            while head.len() <= MIB {
                head.push_str(&format!("x-h-{i:05}: v\r\n"));
                i += 1;
            }
            head.push_str("content-length: 0\r\n\r\n");
            Script::new(Request, head, Fin)
        }
        B::TooManyHeaders => {
            let mut head = String::from("HTTP/1.1 200 OK\r\n");
            for i in 0..100 {
                head.push_str(&format!("x-h-{i:03}: v\r\n"));
            }
            head.push_str("content-length: 0\r\n\r\n");
            Script::new(Request, head, Fin)
        }
        B::ConflictingContentLength => Script::new(
            Request,
            "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello",
            Fin,
        ),
        B::InformationalThenClose => Script::new(
            Request,
            "HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n",
            Fin,
        ),
        B::UnaskedSwitchingProtocols => Script::new(
            Request,
            "HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n",
            Hold,
        ),
        B::ShortBodyThenClose => Script::new(Request, format!("{HEAD_100}only part"), Fin),
        B::ShortBodyThenReset => Script::new(Request, format!("{HEAD_100}only part"), Rst),
        B::StalledBody => Script::new(Request, format!("{HEAD_100}only part"), Hold),
        B::InvalidChunkSize => {
            Script::new(Request, format!("{CHUNKED}5\r\nhello\r\nzz\r\n"), Hold)
        }
        B::ChunkedThenClose => Script::new(Request, format!("{CHUNKED}5\r\nhello\r\n"), Fin),
        B::CloseDelimitedCut => Script::new(Request, format!("{CLOSE_DELIMITED}partial"), Fin),
        B::CloseDelimitedThenReset => {
            Script::new(Request, format!("{CLOSE_DELIMITED}partial"), Rst)
        }
        B::ChunkedWithContentLength => Script::new(
            Request,
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 100\r\n\r\n\
             5\r\nhello\r\n0\r\n\r\n",
            Hold,
        ),
        B::EarlyResponse => Script::new(
            Head,
            "HTTP/1.1 413 Content Too Large\r\nconnection: close\r\ncontent-length: 9\r\n\r\ntoo large",
            Hold,
        ),
        B::EarlyResponseThenClose => Script::new(
            Head,
            "HTTP/1.1 413 Content Too Large\r\nconnection: close\r\ncontent-length: 9\r\n\r\ntoo large",
            Fin,
        ),
        B::CloseAfterResponse => Script::new(Request, ok_response(), Fin),
    }
}

/// Serves one accepted connection. Write errors are ignored: the client
/// may well have given up, which is the point of most behaviours.
async fn connection(mut stream: TcpStream, behavior: Arc<Behavior>, counts: Arc<Counts>) {
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::new();
    match &*behavior {
        Behavior::Ok | Behavior::Respond { .. } | Behavior::RespondChunked { .. } => {
            let answer = match &*behavior {
                Behavior::Respond { status, body } => response(*status, reason(*status), body),
                Behavior::RespondChunked { body } => format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
                    body.len()
                ),
                _ => ok_response(),
            };
            // Keep-alive: one answer per request until the client closes.
            while let Ok(true) = read_request(&mut stream, &mut buf, true).await {
                counts.requests.fetch_add(1, Ordering::SeqCst);
                if stream.write_all(answer.as_bytes()).await.is_err() {
                    return;
                }
            }
        }
        behavior => {
            let script = script(behavior);
            if script.read != Read::Nothing {
                let with_body = script.read == Read::Request;
                if !matches!(
                    read_request(&mut stream, &mut buf, with_body).await,
                    Ok(true)
                ) {
                    return;
                }
                counts.requests.fetch_add(1, Ordering::SeqCst);
            }
            tokio::time::sleep(script.delay).await;
            let (slow, rest) = script.response.split_at(script.slow);
            for byte in slow {
                tokio::time::sleep(script.per_byte).await;
                if stream.write_all(std::slice::from_ref(byte)).await.is_err() {
                    return;
                }
            }
            let _ = stream.write_all(rest).await;
            match script.end {
                End::Fin => {
                    let _ = stream.shutdown().await;
                }
                End::Rst => {
                    tokio::time::sleep(FLUSH).await;
                    let _ = stream.set_zero_linger();
                }
                End::Hold => std::future::pending::<()>().await,
            }
        }
    }
}

/// Reads one request head into `buf` (which keeps bytes of the next
/// request), and with `with_body` its `Content-Length` body, all within
/// [`WAIT`]. `Ok(false)`: the client closed, or the wait ran out.
async fn read_request(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    with_body: bool,
) -> io::Result<bool> {
    let read = async {
        let head_len = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            if !read_more(stream, buf).await? {
                return Ok(false);
            }
        };
        if with_body && is_chunked(&buf[..head_len]) {
            // A chunked body, read whole (to its last chunk) before the
            // answer, as an application would; one cut short gets none.
            let end = loop {
                if let Some(end) = chunked_end(&buf[head_len..]) {
                    break head_len + end;
                }
                if !read_more(stream, buf).await? {
                    return Ok(false);
                }
            };
            buf.drain(..end);
            return Ok(true);
        }
        let body_len = if with_body {
            content_length(&buf[..head_len])
        } else {
            0
        };
        while buf.len() < head_len + body_len {
            if !read_more(stream, buf).await? {
                return Ok(false);
            }
        }
        buf.drain(..head_len + body_len);
        Ok(true)
    };
    tokio::time::timeout(WAIT, read).await.unwrap_or(Ok(false))
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<bool> {
    let mut chunk = [0; 8192];
    let n = stream.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n > 0)
}

fn is_chunked(head: &[u8]) -> bool {
    String::from_utf8_lossy(head)
        .lines()
        .filter_map(|line| line.split_once(':'))
        .any(|(name, value)| {
            name.trim().eq_ignore_ascii_case("transfer-encoding")
                && value.to_ascii_lowercase().contains("chunked")
        })
}

/// Where a chunked body (no trailers) ends in `body`, if it has.
fn chunked_end(body: &[u8]) -> Option<usize> {
    if body.starts_with(b"0\r\n\r\n") {
        return Some(5);
    }
    body.windows(7)
        .position(|w| w == b"\r\n0\r\n\r\n")
        .map(|at| at + 7)
}

fn content_length(head: &[u8]) -> usize {
    String::from_utf8_lossy(head)
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0)
}
