//! Shared helpers for the integration tests: real servers on ephemeral
//! ports, real HTTP/1.1 and h2c clients, problem assertions and log capture.
//!
//! Every wait is bounded by [`bounded`], so a hang fails the test.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::error::Error as StdError;
use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, HOST};
use axum::http::{HeaderMap, Method, Request, Response, StatusCode, Uri, Version};
use axum::Router;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;

pub type BoxError = Box<dyn StdError + Send + Sync>;

/// The bound on any single wait in the tests.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Where the default `type` URIs point, spelled out here rather than taken
/// from the crate so a wrong constant fails the tests.
pub const TYPE_BASE: &str = "https://docs.rs/tower-problem/latest/tower_problem/kinds/index.html#";

/// Awaits `future` for at most [`TIMEOUT`], failing the test with `what`.
pub async fn bounded<F: Future>(what: &str, future: F) -> F::Output {
    match tokio::time::timeout(TIMEOUT, future).await {
        Ok(output) => output,
        Err(_) => panic!("timed out after {TIMEOUT:?}: {what}"),
    }
}

async fn bind() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local_addr");
    (listener, addr)
}

/// Serves an axum app with `axum::serve` (HTTP/1.1 and h2c) on an ephemeral
/// port of 127.0.0.1, on a task of the current runtime.
pub async fn serve_router(app: Router) -> SocketAddr {
    let (listener, addr) = bind().await;
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("axum::serve");
    });
    addr
}

/// Serves any tower service through hyper-util's auto builder (HTTP/1.1 and
/// h2c) and `TowerToHyperService`, one task per connection.
///
/// `TowerToHyperService` clones `service` for every request and drives the
/// clone with `oneshot` (`poll_ready`, then `call`).
pub async fn serve_service<S, B>(service: S) -> SocketAddr
where
    S: tower::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let (listener, addr) = bind().await;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                // A connection that ends in an error (an aborted body, say)
                // is what some tests expect: nothing to report here.
                let _ = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// A response as the client saw it: the head, the body bytes received, and
/// the error that ended the body, if one did.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub version: Version,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub body_error: Option<String>,
}

impl Reply {
    pub async fn read(res: Response<Incoming>) -> Self {
        let (parts, mut body) = res.into_parts();
        let mut data = Vec::new();
        let mut body_error = None;
        loop {
            match bounded("reading a response body frame", body.frame()).await {
                None => break,
                Some(Ok(frame)) => {
                    if let Ok(chunk) = frame.into_data() {
                        data.extend_from_slice(&chunk);
                    }
                }
                Some(Err(err)) => {
                    body_error = Some(error_chain(&err));
                    break;
                }
            }
        }
        Self {
            status: parts.status,
            version: parts.version,
            headers: parts.headers,
            body: Bytes::from(data),
            body_error,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|value| value.to_str().expect("header value is ASCII"))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|err| panic!("body is not JSON ({err}): {:?}", self.text()))
    }

    /// Asserts a complete body with a `Content-Length` equal to its length.
    pub fn assert_complete(&self) {
        assert_eq!(self.body_error, None, "body ended in an error");
        assert_eq!(
            self.header("content-length"),
            Some(self.body.len().to_string().as_str()),
            "content-length must equal the body length"
        );
    }
}

/// `Display` of an error and all its sources.
pub fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The `title` of each kind.
pub fn title_of(kind: &str) -> &'static str {
    match kind {
        "panic" => "The request handler panicked",
        "handler_error" => "The request handler failed",
        "internal_error" => "Internal Server Error",
        other => panic!("unknown kind {other}"),
    }
}

/// The exact body the layer sends for `kind` by default.
pub fn expected_problem(kind: &str, request_id: Option<&str>) -> Value {
    let mut problem = json!({
        "type": format!("{TYPE_BASE}{kind}"),
        "title": title_of(kind),
        "status": 500,
        "kind": kind,
    });
    if let Some(id) = request_id {
        problem["request_id"] = json!(id);
    }
    problem
}

/// Asserts the layer's default 500 of `kind`: status, headers, a complete
/// body with exactly the expected members (no `detail`). Returns the body.
pub fn assert_problem(reply: &Reply, kind: &str, request_id: Option<&str>) -> Value {
    assert_problem_head(reply);
    reply.assert_complete();
    let problem = reply.json();
    assert_eq!(problem, expected_problem(kind, request_id), "problem body");
    problem
}

/// Asserts the status and headers of a problem+json 500.
pub fn assert_problem_head(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{reply:?}");
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(reply.headers.get_all(CONTENT_TYPE).iter().count(), 1);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.headers.get_all(CACHE_CONTROL).iter().count(), 1);
    assert_eq!(reply.headers.get_all(CONTENT_LENGTH).iter().count(), 1);
}

/// A request with an empty body, origin-form URI and a `Host` header; the
/// h2c client turns it into an absolute URI.
pub fn request(method: Method, path: &str, headers: &[(&str, &str)]) -> Request<Full<Bytes>> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, "localhost");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Full::default()).expect("valid request")
}

pub fn get(path: &str) -> Request<Full<Bytes>> {
    request(Method::GET, path, &[])
}

/// A GET with an `x-request-id`.
pub fn get_with_id(path: &str, request_id: &str) -> Request<Full<Bytes>> {
    request(Method::GET, path, &[("x-request-id", request_id)])
}

async fn connect(addr: SocketAddr) -> TokioIo<TcpStream> {
    let stream = bounded("connecting", TcpStream::connect(addr))
        .await
        .expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    TokioIo::new(stream)
}

/// One HTTP/1.1 keep-alive connection.
pub struct H1 {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
}

impl H1 {
    pub async fn connect(addr: SocketAddr) -> Self {
        let io = connect(addr).await;
        let (sender, conn) = bounded("h1 handshake", hyper::client::conn::http1::handshake(io))
            .await
            .expect("h1 handshake");
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Self { sender }
    }

    /// Sends `req` and reads the whole response; `Err` if the request
    /// failed before a response head arrived.
    pub async fn try_send(&mut self, req: Request<Full<Bytes>>) -> Result<Reply, String> {
        bounded("h1 connection ready", self.sender.ready())
            .await
            .map_err(|err| error_chain(&err))?;
        let res = bounded("h1 response head", self.sender.send_request(req))
            .await
            .map_err(|err| error_chain(&err))?;
        assert_eq!(res.version(), Version::HTTP_11);
        Ok(Reply::read(res).await)
    }

    pub async fn send(&mut self, req: Request<Full<Bytes>>) -> Reply {
        self.try_send(req).await.expect("h1 request")
    }
}

/// One h2c connection (HTTP/2 with prior knowledge); clones share it.
#[derive(Clone)]
pub struct H2 {
    sender: hyper::client::conn::http2::SendRequest<Full<Bytes>>,
    addr: SocketAddr,
}

impl H2 {
    pub async fn connect(addr: SocketAddr) -> Self {
        let io = connect(addr).await;
        let (sender, conn) = bounded(
            "h2c handshake",
            hyper::client::conn::http2::handshake(TokioExecutor::new(), io),
        )
        .await
        .expect("h2c handshake");
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Self { sender, addr }
    }

    pub async fn try_send(&mut self, mut req: Request<Full<Bytes>>) -> Result<Reply, String> {
        let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let absolute: Uri = format!("http://{}{}", self.addr, path)
            .parse()
            .expect("absolute URI");
        *req.uri_mut() = absolute;
        req.headers_mut().remove(HOST);
        bounded("h2c connection ready", self.sender.ready())
            .await
            .map_err(|err| error_chain(&err))?;
        let res = bounded("h2c response head", self.sender.send_request(req))
            .await
            .map_err(|err| error_chain(&err))?;
        assert_eq!(res.version(), Version::HTTP_2);
        Ok(Reply::read(res).await)
    }

    pub async fn send(&mut self, req: Request<Full<Bytes>>) -> Reply {
        self.try_send(req).await.expect("h2c request")
    }
}

/// One request on a fresh HTTP/1.1 connection.
pub async fn h1(addr: SocketAddr, req: Request<Full<Bytes>>) -> Reply {
    H1::connect(addr).await.send(req).await
}

/// One request on a fresh h2c connection.
pub async fn h2(addr: SocketAddr, req: Request<Full<Bytes>>) -> Reply {
    H2::connect(addr).await.send(req).await
}

/// Writes `raw` on a fresh connection and reads until the server closes it.
pub async fn raw_exchange(addr: SocketAddr, raw: &str) -> Vec<u8> {
    let mut stream = bounded("connecting", TcpStream::connect(addr))
        .await
        .expect("connect");
    stream.write_all(raw.as_bytes()).await.expect("write");
    let mut received = Vec::new();
    bounded(
        "the server to close the connection",
        stream.read_to_end(&mut received),
    )
    .await
    .expect("read");
    received
}

/// Asserts that a fresh connection still gets a 200 from `path`.
pub async fn assert_still_serving(addr: SocketAddr, path: &str) {
    let reply = h1(addr, get(path)).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    reply.assert_complete();
    let reply = h2(addr, get(path)).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body_error, None);
}

/// Log capture: the events at INFO and above that this thread emits, as
/// plain text lines (no time, no colours), in a shared buffer.
///
/// One global subscriber writes each event into the buffer of the thread that
/// emitted it. (A subscriber per test, with `set_default`, races with the
/// other tests' threads over tracing's global callsite cache and can lose
/// events.)
#[derive(Clone, Default)]
pub struct Logs {
    buf: Arc<Mutex<Vec<u8>>>,
}

thread_local! {
    static CAPTURING: std::cell::RefCell<Option<Logs>> = const { std::cell::RefCell::new(None) };
}

/// Writes into the capturing buffer of the current thread, or nowhere.
pub struct LogWriter {
    buf: Option<Arc<Mutex<Vec<u8>>>>,
}

impl Write for LogWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if let Some(buf) = &self.buf {
            buf.lock().unwrap().extend_from_slice(data);
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct ThreadWriters;

impl<'a> MakeWriter<'a> for ThreadWriters {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LogWriter {
            buf: CAPTURING.with(|logs| logs.borrow().as_ref().map(|logs| Arc::clone(&logs.buf))),
        }
    }
}

/// Ends a capture when dropped.
pub struct CaptureGuard(());

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        CAPTURING.with(|logs| logs.borrow_mut().take());
    }
}

impl Logs {
    /// Captures the events at INFO and above of this thread until the guard
    /// is dropped. Use in a current-thread runtime, so the server's tasks
    /// run on this thread too.
    #[must_use = "the capture ends when the guard is dropped"]
    pub fn capture() -> (Self, CaptureGuard) {
        static GLOBAL: std::sync::Once = std::sync::Once::new();
        GLOBAL.call_once(|| {
            tracing_subscriber::fmt()
                .with_writer(ThreadWriters)
                .with_ansi(false)
                .without_time()
                .with_max_level(LevelFilter::INFO)
                .finish()
                .try_init()
                .expect("no other global subscriber in the tests");
        });
        let logs = Self::default();
        CAPTURING.with(|slot| *slot.borrow_mut() = Some(logs.clone()));
        (logs, CaptureGuard(()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock().unwrap()).into_owned()
    }

    /// The lines that contain every one of `needles`.
    pub fn lines_with(&self, needles: &[&str]) -> Vec<String> {
        self.text()
            .lines()
            .filter(|line| needles.iter().all(|needle| line.contains(needle)))
            .map(str::to_owned)
            .collect()
    }

    /// Waits (bounded) until at least one line contains every one of
    /// `needles`, then a little longer, and returns all such lines.
    pub async fn wait_for(&self, needles: &[&str]) -> Vec<String> {
        self.wait_for_count(needles, 1).await
    }

    /// [`wait_for`](Self::wait_for) until at least `count` lines match.
    pub async fn wait_for_count(&self, needles: &[&str], count: usize) -> Vec<String> {
        let appeared = tokio::time::timeout(TIMEOUT, async {
            while self.lines_with(needles).len() < count {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        if appeared.is_err() {
            panic!(
                "timed out after {TIMEOUT:?} waiting for {count} log lines with {needles:?}; logs:\n{}",
                self.text()
            );
        }
        // Give a duplicate the chance to show up before the caller counts.
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.lines_with(needles)
    }
}

/// Asserts that `line` is an ERROR event.
pub fn assert_error_level(line: &str) {
    assert!(
        line.trim_start().starts_with("ERROR"),
        "not logged at ERROR: {line}"
    );
}

/// A handler-side helper for hand-written services: a 200 with `text`.
pub fn ok_response(text: &'static str) -> Response<Full<Bytes>> {
    Response::new(Full::new(Bytes::from_static(text.as_bytes())))
}
