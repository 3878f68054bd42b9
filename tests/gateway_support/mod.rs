//! A real gateway for the gateway tests: a hyper server on 127.0.0.1 whose
//! service is hyper-util's legacy client wrapped in `GatewayErrorLayer`,
//! in front of the misbehaving upstreams of `tests/upstream`.
//!
//! The gateway sends each request to the upstream named by its
//! `x-upstream` header (`127.0.0.1:PORT`), so one gateway, and one
//! downstream connection, can meet a failing upstream and then a healthy one.

// Each test binary uses a different subset of the helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::error::Error as StdError;
use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_problem::gateway::{Failure, GatewayErrorLayer, Kind, RequestBody};
use tower_problem::Classify;
use tower_problem::ResponseForFailure;

pub type BoxError = Box<dyn StdError + Send + Sync>;

/// The header that names the upstream of a request.
pub const X_UPSTREAM: &str = "x-upstream";

/// The upstream client inside the gateway.
pub type UpstreamClient = Client<HttpConnector, RequestBody<Incoming>>;

/// A client with a connect timeout of `connect_timeout`.
pub fn upstream_client(connect_timeout: Option<Duration>) -> UpstreamClient {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(connect_timeout);
    Client::builder(TokioExecutor::new()).build(connector)
}

/// Points the request at the upstream named by its `x-upstream` header.
pub fn route<B>(mut req: Request<B>) -> Request<B> {
    let authority = req
        .headers()
        .get(X_UPSTREAM)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1:9")
        .to_owned();
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    *req.uri_mut() = format!("http://{authority}{path}").parse().expect("a uri");
    // An h2c request goes upstream over HTTP/1.1.
    *req.version_mut() = http::Version::HTTP_11;
    req
}

/// Drops the upstream response's hop-by-hop headers, as a proxy must
/// (RFC 9110 §7.6.1), and a `Content-Length` that came with
/// `Transfer-Encoding` (RFC 9112 §6.3).
pub fn strip_hop_by_hop<B>(mut res: Response<B>) -> Response<B> {
    let headers = res.headers_mut();
    if headers.remove(http::header::TRANSFER_ENCODING).is_some() {
        headers.remove(http::header::CONTENT_LENGTH);
    }
    for name in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
    ] {
        headers.remove(name);
    }
    res
}

/// A running gateway; dropping it stops the accept loop.
pub struct Gateway {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Gateway {
    /// The gateway `layer` around hyper-util's client with no connect timeout.
    pub async fn start<C, R>(layer: GatewayErrorLayer<C, R>) -> Self
    where
        C: Classify<Kind>,
        R: ResponseForFailure<Failure>,
    {
        Self::with_client(layer, upstream_client(None)).await
    }

    pub async fn with_client<C, R>(layer: GatewayErrorLayer<C, R>, client: UpstreamClient) -> Self
    where
        C: Classify<Kind>,
        R: ResponseForFailure<Failure>,
    {
        // Routed before the layer, so that it sees the upstream's URI.
        let svc = ServiceBuilder::new()
            .map_request(route)
            .layer(layer)
            .map_response(strip_hop_by_hop)
            .service(client);
        Self::serve(svc).await
    }

    /// Serves any service of hyper's requests over HTTP/1 and h2c.
    pub async fn serve<S, B>(svc: S) -> Self
    where
        S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let svc = TowerToHyperService::new(svc.clone());
                tokio::spawn(async move {
                    let mut builder = auto::Builder::new(TokioExecutor::new());
                    // A client that half-closes after its upload still gets
                    // its answer.
                    builder.http1().half_close(true);
                    let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                });
            }
        });
        Self { addr, task }
    }

    pub fn url(&self, path: &str) -> Uri {
        format!("http://{}{path}", self.addr).parse().expect("uri")
    }
}

/// The downstream client: HTTP/1.1, or h2c with prior knowledge.
pub type Downstream = Client<HttpConnector, Full<Bytes>>;

pub fn downstream() -> Downstream {
    Client::builder(TokioExecutor::new()).build_http()
}

pub fn downstream_h2() -> Downstream {
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http()
}

/// A downstream request to `upstream` through `gateway`.
pub fn request(gateway: &Gateway, upstream: SocketAddr) -> Request<Full<Bytes>> {
    Request::get(gateway.url("/some/path?q=1"))
        .header(X_UPSTREAM, upstream.to_string())
        .header("x-request-id", "req-42")
        .body(Full::default())
        .expect("request")
}

/// What the downstream client got: the head, and the body or its error.
#[derive(Debug)]
pub struct Got {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Result<Bytes, String>,
    pub elapsed: Duration,
}

impl Got {
    pub fn body(&self) -> &Bytes {
        self.body.as_ref().expect("a complete body")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(self.body()).into_owned()
    }

    pub fn problem(&self) -> serde_json::Value {
        assert_eq!(
            self.headers["content-type"], "application/problem+json",
            "{self:?}"
        );
        serde_json::from_slice(self.body()).expect("a JSON problem")
    }

    /// The members of `Proxy-Status`, parsed.
    pub fn proxy_status(&self) -> Vec<Member> {
        let values: Vec<&str> = self
            .headers
            .get_all("proxy-status")
            .iter()
            .map(|v| v.to_str().expect("ASCII"))
            .collect();
        parse_list(&values.join(", ")).expect("a valid structured-field list")
    }
}

/// Sends `req` and reads the whole response within `bound`.
pub async fn send(client: &Downstream, req: Request<Full<Bytes>>, bound: Duration) -> Got {
    let start = Instant::now();
    let what = format!("{} {}", req.method(), req.uri());
    let got = async {
        let res = client.request(req).await.expect("a response head");
        let (parts, body) = res.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .map_err(|e| format!("{e:?}"));
        (parts, body)
    };
    let (parts, body) = tokio::time::timeout(bound, got)
        .await
        .unwrap_or_else(|_| panic!("no whole response within {bound:?}: {what}"));
    Got {
        status: parts.status,
        headers: parts.headers,
        body,
        elapsed: start.elapsed(),
    }
}

/// Asserts that nothing of the upstream leaked into the response.
pub fn assert_nothing_leaked(got: &Got, upstream: SocketAddr) {
    let mut seen = format!("{:?}", got.headers);
    if let Ok(body) = &got.body {
        seen.push_str(&String::from_utf8_lossy(body));
    }
    for needle in [
        "127.0.0.1".to_owned(),
        upstream.port().to_string(),
        "error".to_owned() + " (",
        "os error".to_owned(),
        "hyper".to_owned(),
    ] {
        assert!(!seen.contains(&needle), "{needle:?} leaked: {seen}");
    }
}

// ---- a tiny RFC 9651 List parser, enough for Proxy-Status ----

/// One list member: its item (token or string) and its parameters.
#[derive(Debug, PartialEq)]
pub struct Member {
    pub name: String,
    pub params: BTreeMap<String, Value>,
}

#[derive(Debug, PartialEq)]
pub enum Value {
    Token(String),
    String(String),
    Integer(i64),
    True,
}

impl Member {
    pub fn token(&self, key: &str) -> Option<&str> {
        match self.params.get(key)? {
            Value::Token(t) => Some(t),
            _ => None,
        }
    }

    pub fn string(&self, key: &str) -> Option<&str> {
        match self.params.get(key)? {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

pub fn parse_list(input: &str) -> Result<Vec<Member>, String> {
    let mut p = Parser {
        s: input.as_bytes(),
        i: 0,
    };
    let mut members = Vec::new();
    p.skip(b' ');
    if p.done() {
        return Ok(members);
    }
    loop {
        let name = match p.bare_item()? {
            Value::Token(t) | Value::String(t) => t,
            other => return Err(format!("member item {other:?}")),
        };
        let mut params = BTreeMap::new();
        while p.peek() == Some(b';') {
            p.i += 1;
            p.skip(b' ');
            let key = p.key()?;
            let value = if p.peek() == Some(b'=') {
                p.i += 1;
                p.bare_item()?
            } else {
                Value::True
            };
            params.insert(key, value);
        }
        members.push(Member { name, params });
        p.skip_ows();
        if p.done() {
            return Ok(members);
        }
        if p.peek() != Some(b',') {
            return Err(format!("expected ',' at {} in {input:?}", p.i));
        }
        p.i += 1;
        p.skip_ows();
        if p.done() {
            return Err("trailing comma".into());
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn done(&self) -> bool {
        self.i >= self.s.len()
    }
    fn skip(&mut self, b: u8) {
        while self.peek() == Some(b) {
            self.i += 1;
        }
    }
    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }
    fn key(&mut self) -> Result<String, String> {
        let start = self.i;
        match self.peek() {
            Some(b'a'..=b'z' | b'*') => self.i += 1,
            other => return Err(format!("key starts with {other:?}")),
        }
        while matches!(
            self.peek(),
            Some(b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' | b'*')
        ) {
            self.i += 1;
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }
    fn bare_item(&mut self) -> Result<Value, String> {
        match self.peek() {
            Some(b'"') => {
                self.i += 1;
                let mut out = String::new();
                loop {
                    match self.peek() {
                        Some(b'\\') => {
                            self.i += 1;
                            match self.peek() {
                                Some(c @ (b'"' | b'\\')) => out.push(c as char),
                                other => return Err(format!("bad escape {other:?}")),
                            }
                        }
                        Some(b'"') => {
                            self.i += 1;
                            return Ok(Value::String(out));
                        }
                        Some(c @ 0x20..=0x7e) => out.push(c as char),
                        other => return Err(format!("bad string byte {other:?}")),
                    }
                    self.i += 1;
                }
            }
            Some(b'-' | b'0'..=b'9') => {
                let start = self.i;
                self.i += 1;
                while matches!(self.peek(), Some(b'0'..=b'9')) {
                    self.i += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.i]).expect("ascii");
                text.parse().map(Value::Integer).map_err(|e| e.to_string())
            }
            Some(c) if c.is_ascii_alphabetic() || c == b'*' => {
                let start = self.i;
                self.i += 1;
                while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:/".contains(&c))
                {
                    self.i += 1;
                }
                Ok(Value::Token(
                    String::from_utf8_lossy(&self.s[start..self.i]).into_owned(),
                ))
            }
            other => Err(format!("bare item starts with {other:?}")),
        }
    }
}

/// `svc`'s response to `req`, through a `oneshot`.
pub async fn oneshot<S, B>(svc: S, req: Request<B>) -> S::Response
where
    S: Service<Request<B>, Error = Infallible>,
{
    svc.oneshot(req).await.unwrap_or_else(|e| match e {})
}

/// The failure marker of the response `svc` (a gateway layer's service,
/// routed by `x-upstream`) gives a request to `upstream`: the layer's
/// service is called in process, on a request that came over a real
/// connection (it needs hyper's `Incoming` body).
pub async fn marker_of<S, B>(svc: S, upstream: SocketAddr) -> Failure
where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Failure>();
    let svc = ServiceBuilder::new()
        .map_response(move |res: Response<B>| {
            if let Some(failure) = res.extensions().get::<Failure>() {
                let _ = tx.send(failure.clone());
            }
            res
        })
        .service(svc);
    let gateway = Gateway::serve(svc).await;
    let req = request(&gateway, upstream);
    let _ = within(Duration::from_secs(5), downstream().request(req)).await;
    let mut rx = rx;
    within(Duration::from_secs(5), rx.recv())
        .await
        .expect("a failure marker")
}

/// Awaits `fut` within `bound`.
pub async fn within<F: Future>(bound: Duration, fut: F) -> F::Output {
    tokio::time::timeout(bound, fut)
        .await
        .unwrap_or_else(|_| panic!("not done within {bound:?}"))
}
