//! A real reverse proxy: hyper's client connections, kept by each worker
//! thread for itself (`examples/upstream_pool/mod.rs`) and opened by a TCP
//! connector of its own (`examples/upstream_pool/tcp.rs`), wrapped in
//! `GatewayErrorLayer`, served by hyper-util's HTTP/1 + h2c server on a
//! thread per core.
//!
//! ```sh
//! cargo run --example app                                  # the upstream, on 127.0.0.1:3000
//! GATEWAY_ADDR=127.0.0.1:8080 cargo run --example gateway  # in another terminal
//! curl -i localhost:8080/          # the app's 200, through the gateway
//! curl -i localhost:8080/panic     # the app's own 500 passes through
//! # stop the app, then:
//! curl -i localhost:8080/          # 502, Proxy-Status: tower-problem; error=connection_refused
//! ```
//!
//! Environment (a bad value stops the program with a one-line message):
//!
//! - `GATEWAY_ADDR`: where to listen (default `127.0.0.1:8080`; port 0
//!   picks one); prints `listening on ADDR` once bound;
//! - `UPSTREAM`: `http://host:port` or `https://host:port` with an optional
//!   path prefix (default `http://127.0.0.1:3000`); the request's path and
//!   query are appended; `https://` goes through hyper-rustls, trusting the
//!   system's roots;
//! - `UPSTREAM_CA`: a PEM file of more CA certificates to trust for an
//!   `https://` upstream (a private CA, a test certificate);
//! - `UPSTREAM_HTTP2=1`: every request over HTTP/2 with prior knowledge
//!   (h2c for `http://`); without it, gRPC calls go over HTTP/2 (they run
//!   on nothing else) and the rest over HTTP/1.1, or HTTP/2 where an
//!   `https://` upstream offers h2 in ALPN;
//! - `HEAD_TIMEOUT_MS`, `BODY_IDLE_TIMEOUT_MS`: milliseconds, 0 = off
//!   (defaults 30000, 60000);
//! - `CONNECT_TIMEOUT_MS`: one deadline over resolving, connecting and the
//!   TLS and HTTP/2 handshakes (default 10000), a `connection_timeout`;
//!   `DNS_TIMEOUT_MS`: one over resolving (default 5000), a `dns_timeout`;
//!   both never sent, unlike a response that is late
//!   (`http_response_timeout`: the upstream may have acted);
//! - `HEADER_READ_TIMEOUT_MS` (default 10000), `IDLE_TIMEOUT_MS` (default
//!   60000): the client connection limits of `examples/serve/mod.rs`; the
//!   first also bounds the wait for a replayable body (below);
//! - `SHUTDOWN_TIMEOUT_MS` (default 30000): on SIGTERM or Ctrl-C the
//!   gateway stops accepting and waits this long for the requests in
//!   flight, then exits 0 (`examples/lifecycle/mod.rs`);
//! - `MAX_REQUEST_BODY`: the largest request body forwarded, in bytes
//!   (default 1048576, as nginx's `client_max_body_size`; 0 = no limit):
//!   over it, 413 `request_body_too_large`, before the upstream is called
//!   when `Content-Length` says so;
//! - `RETRIES`: how many times a request the upstream certainly never saw
//!   (refused or failed connection, refused HTTP/2 stream) is sent again
//!   (default 2; 0 = off), after a random wait of up to 50 ms, then up to
//!   100 ms. Only a request whose body is replayable is retried: one with a
//!   `Content-Length` of at most 64 KiB (or none, as a `GET` has), which
//!   the gateway buffers before it forwards it. Any other body (chunked, or
//!   larger) streams and is never retried;
//! - `RETRY_BUDGET_PERCENT`, `RETRY_BUDGET_MIN_PER_SEC`,
//!   `RETRY_BUDGET_TTL_MS`: retries are spent from a `RetryBudget`:
//!   each response from the upstream earns this percent of a retry
//!   (default 20, at most 100000), over and above a floor of so many
//!   retries a second (default 10), counted over the last so many
//!   milliseconds (default 10000, from 1000 to 60000). In an outage only
//!   the floor is retried, and every other failure is answered at once;
//! - `WORKERS`: how many threads serve, each with a current-thread tokio
//!   runtime and its own upstream connections, accepting from one socket
//!   (default: one per core, as nginx's `worker_processes auto`);
//! - `RUST_LOG`: the log filter (default `info`).
//!
//! Requests are forwarded with their method, path, query, headers and
//! streamed bodies, over HTTP/1.1 or HTTP/2 (see `UPSTREAM_HTTP2`), less
//! the hop-by-hop fields of RFC 9110 §7.6.1 (`Connection` and those it
//! names, `Proxy-Connection`, `Keep-Alive`, `TE`, `Transfer-Encoding`,
//! `Upgrade`) but `te: trailers`, which gRPC needs, and with
//! `Via: 1.1 tower-problem` appended (RFC 9110 §7.6.3: the client's
//! version, `1.0`, `1.1` or `2`, and the name `Proxy-Status` gives).
//! `Trailer`, `Proxy-Authenticate` and `Proxy-Authorization` go through,
//! both ways. WebSocket and other upgrades are not proxied. The path is
//! normalized before it is joined to `UPSTREAM`'s prefix (`%2E` decoded,
//! dot segments removed), so `GET /../secret` stays under the prefix; an
//! encoded slash (`%2F`), an encoded or plain backslash and `OPTIONS *`
//! are answered 400, `CONNECT` 501 and `TRACE` 405 with `Allow` (as nginx
//! does), each with a problem. An `OPTIONS` with `Max-Forwards` (RFC 9110
//! §7.6.2) is forwarded with it one less, and answered by the gateway
//! itself at 0 (`OPTIONS *` too): a 200 whose `Allow` lists the methods
//! it forwards; a `Max-Forwards` that is not one number is answered 400
//! with a problem. A client that disconnects cancels its upstream request
//! (hyper's `half_close` is off, so a client that half-closes after its
//! request is taken as gone too).
//!
//! Responses come back less the same hop-by-hop fields, and a 204
//! without `Content-Length` (RFC 9110 §8.6; a 304 keeps its own). No 1xx
//! is forwarded: hyper 1's server cannot send one (the pull request
//! hyperium/hyper#4114 would add it), and its client reads past an
//! upstream's `100 Continue` or `103 Early Hints`; a client's `Expect:
//! 100-continue` is answered by hyper's server when the gateway starts
//! reading the body. An upstream head with a transfer coding other than
//! `chunked` (`gzip, chunked`) is answered 502
//! `http_response_transfer_coding`: its body would reach the client
//! undecoded.
//!
//! gRPC goes through with no flag: h2c from the client, and h2c or HTTP/2
//! over TLS to the upstream; the gateway's own failures reach a gRPC client
//! as gRPC statuses (`examples/grpc.rs` is such an upstream).
//!
//! Connect failures are marked `ConnectError`, which the layer reads as
//! never sent, so retried. The crate's `rustls` and `h2` features, which
//! the crate's own dev-dependency turns on for every example, name TLS
//! failures (`tls_certificate_error`, `tls_alert_received`,
//! `tls_protocol_error`) and mark refused HTTP/2 streams never sent. A
//! gateway built without them works the same, its TLS failures are
//! `proxy_internal_error`, and only what the layer's own rules mark never
//! sent is retried.

mod lifecycle;
mod logging;
mod serve;
mod upstream_pool;

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{self, Authority, PathAndQuery, Scheme};
use http::{Method, Request, Response, Uri, Version};
use http_body::Body as _;
use http_body_util::{BodyExt, Either, Empty, Full};
use hyper::body::Incoming;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use tower::retry::RetryLayer;
use tower::ServiceBuilder;
use tower::ServiceExt;
use tower_problem::gateway::{GatewayErrorLayer, Kind, RequestBody, RetryBudget, RetryNeverSent};
use tower_problem::problem::Problem;
use tower_problem::BoxError;

use crate::lifecycle::{env_millis, Shutdown};
use crate::logging::log_to_stderr;
use crate::serve::{serve, Limits};
use crate::upstream_pool::tcp::{TcpConnector, Unresolved};
use crate::upstream_pool::UpstreamClient;

/// Where requests go: scheme, authority, and a path prefix without its
/// trailing slash.
#[derive(Clone, Debug)]
struct Upstream {
    scheme: Scheme,
    authority: Authority,
    prefix: String,
}

impl Upstream {
    fn parse(value: &str) -> Result<Self, String> {
        let uri: Uri = value.parse().map_err(|e| format!("{e}"))?;
        let scheme = uri
            .scheme()
            .cloned()
            .ok_or("no scheme (use http://host:port)")?;
        if scheme != Scheme::HTTP && scheme != Scheme::HTTPS {
            return Err(format!(
                "scheme {scheme} is not supported (use http or https)"
            ));
        }
        let authority = uri.authority().ok_or("no host")?.as_str();
        // Static, as the process keeps it: every request's URI clones it,
        // and a clone of shared bytes is a count every worker thread shares.
        let authority = Authority::from_static(String::leak(authority.to_owned()));
        if uri.query().is_some() {
            return Err("a query is not allowed".into());
        }
        let prefix = uri.path().trim_end_matches('/').to_owned();
        Ok(Self {
            scheme,
            authority,
            prefix,
        })
    }

    /// The upstream's scheme and authority, which the client connects to:
    /// static, as the authority is, for the client clones it for every
    /// connect, and a clone of shared bytes is a count every thread shares.
    fn origin(&self) -> Uri {
        self.with_target(PathAndQuery::from_static("/"))
    }

    /// The upstream URI for a request's path and query: the path
    /// normalized (see [`push_normalized_path`]) and joined to the prefix.
    fn uri(&self, target: Option<&PathAndQuery>) -> Uri {
        let path_and_query = match target {
            // Most targets go as they came: shared with the request, not
            // copied.
            Some(target) if self.prefix.is_empty() && is_normalized(target.path()) => {
                target.clone()
            }
            _ => self.joined(target),
        };
        self.with_target(path_and_query)
    }

    /// The upstream's scheme and authority with `path_and_query`.
    fn with_target(&self, path_and_query: PathAndQuery) -> Uri {
        let mut parts = uri::Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(path_and_query);
        Uri::from_parts(parts).expect("a scheme, an authority and a path make a URI")
    }

    /// The prefix, the normalized path and the query, in one string.
    fn joined(&self, target: Option<&PathAndQuery>) -> PathAndQuery {
        let path = target.map_or("/", PathAndQuery::path);
        let query = target.and_then(PathAndQuery::query);
        let mut joined = String::with_capacity(
            self.prefix.len() + path.len() + query.map_or(0, |q| q.len() + 1),
        );
        joined.push_str(&self.prefix);
        push_normalized_path(&mut joined, path);
        if let Some(query) = query {
            joined.push('?');
            joined.push_str(query);
        }
        PathAndQuery::from_maybe_shared(Bytes::from(joined))
            .unwrap_or_else(|_| PathAndQuery::from_static("/"))
    }
}

/// The hop-by-hop fields of RFC 9110 §7.6.1 (with those `Connection`
/// names, read in [`strip_hop_by_hop`]), and the obsolete
/// `Proxy-Connection`, which is used the same way.
///
/// Not in it, unlike RFC 2616's list: `Trailer`, without which hyper's
/// HTTP/1 server sends none of an upstream's trailers; and
/// `Proxy-Authenticate` and `Proxy-Authorization`, forwarded both ways, as
/// this gateway authenticates nobody: an upstream's 407 must carry its
/// `Proxy-Authenticate` (RFC 9110 §15.5.8), and a proxy may relay
/// credentials to the next one (§11.7.2).
///
/// Names, not strings: a string is parsed into a name at every lookup.
static HOP_BY_HOP: [HeaderName; 6] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Removes the hop-by-hop headers, and those that `Connection` names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages have none: one pass over their few names is cheaper
    // than a lookup for each hop-by-hop one.
    if !headers.keys().any(|name| HOP_BY_HOP.contains(name)) {
        return;
    }
    if headers.contains_key(header::CONNECTION) {
        let named: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|name| HeaderName::try_from(name.trim()).ok())
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
}

/// This gateway's name in `Proxy-Status` and in `Via`, where it must be a
/// token (RFC 9110 §7.6.3); [`via`] spells it in its static values.
const PROXY_NAME: &str = "tower-problem";

/// The `Via` entry the gateway appends to a request it forwards (RFC 9110
/// §7.6.3): the version the request was received over and [`PROXY_NAME`].
/// Static values: the service is cloned for every request, and these cost
/// it nothing.
fn via(version: Version) -> HeaderValue {
    HeaderValue::from_static(match version {
        Version::HTTP_10 => "1.0 tower-problem",
        Version::HTTP_2 => "2 tower-problem",
        // hyper's server takes nothing else.
        _ => "1.1 tower-problem",
    })
}

/// The methods an `Allow` of the gateway lists: those it forwards (any
/// other method but `CONNECT` and `TRACE` goes through too).
const FORWARDED_METHODS: &str = "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH";

/// Why a request is answered by the gateway itself, never forwarded.
#[derive(Debug)]
enum Refusal {
    /// `CONNECT`: this gateway forwards no tunnels.
    Connect,
    /// `TRACE`: refused, as nginx does: its echo would hand a script the
    /// cookies and credentials of the request (cross-site tracing).
    Trace,
    /// An `OPTIONS` whose `Max-Forwards` is 0: the gateway is its last
    /// recipient, and answers it (RFC 9110 §7.6.2).
    LastHop,
    /// A `Max-Forwards` that is not one number.
    InvalidMaxForwards,
    /// A target the gateway will not map onto the upstream's path: an
    /// encoded `/` or `\`, a `\`, or `OPTIONS *`.
    Target(&'static str),
    /// A replayable body that did not arrive within the header read
    /// timeout.
    BodyTimeout,
    /// A replayable body that failed as it was read (the client aborted).
    BodyFailed,
}

impl Refusal {
    fn response(&self) -> Response<Full<Bytes>> {
        let (status, detail) = match self {
            Self::Connect => (
                http::StatusCode::NOT_IMPLEMENTED,
                "this gateway does not forward CONNECT tunnels",
            ),
            Self::Trace => (
                http::StatusCode::METHOD_NOT_ALLOWED,
                "this gateway does not forward TRACE",
            ),
            Self::LastHop => {
                // A 200, not a 204: an `OPTIONS` answered without content
                // says so with `Content-Length: 0` (RFC 9110 §9.3.7), which
                // a 204 may not carry.
                let mut res = Response::new(Full::default());
                let headers = res.headers_mut();
                headers.insert(header::ALLOW, HeaderValue::from_static(FORWARDED_METHODS));
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
                return res;
            }
            Self::InvalidMaxForwards => (
                http::StatusCode::BAD_REQUEST,
                "Max-Forwards is not one whole number",
            ),
            Self::Target(why) => (http::StatusCode::BAD_REQUEST, *why),
            Self::BodyTimeout => (
                http::StatusCode::REQUEST_TIMEOUT,
                "the request body did not arrive in time",
            ),
            Self::BodyFailed => (
                http::StatusCode::BAD_REQUEST,
                "the request body could not be read",
            ),
        };
        let problem = Problem::builder(status)
            .title(status.canonical_reason().unwrap_or("Refused"))
            .detail(detail)
            .build()
            .expect("a status and plain text make a valid problem");
        let mut res = Response::from(problem).map(Full::new);
        if let Self::Trace = self {
            // RFC 9110 §15.5.6: a 405 lists the methods that would do.
            let allow = HeaderValue::from_static(FORWARDED_METHODS);
            res.headers_mut().insert(header::ALLOW, allow);
        }
        res
    }
}

/// Whether the gateway forwards `req`, and with what `Max-Forwards` (see
/// [`next_max_forwards`]). Its path is checked here, and normalized by
/// [`push_normalized_path`] as it is forwarded.
fn screen<B>(req: &Request<B>) -> Result<Option<u64>, Refusal> {
    let max_forwards = match *req.method() {
        Method::CONNECT => return Err(Refusal::Connect),
        Method::TRACE => return Err(Refusal::Trace),
        Method::OPTIONS => next_max_forwards(req.headers())?,
        // RFC 9110 §7.6.2 lets other methods' `Max-Forwards` go unread.
        _ => None,
    };
    let path = req.uri().path();
    if path == "*" {
        return Err(Refusal::Target("OPTIONS * is answered by no upstream here"));
    }
    let encoded_slash = path
        .as_bytes()
        .windows(3)
        .any(|three| matches!(three, [b'%', b'2', b'f' | b'F'] | [b'%', b'5', b'c' | b'C']));
    if encoded_slash || path.contains('\\') {
        return Err(Refusal::Target(
            "an encoded slash or a backslash in the path is refused",
        ));
    }
    Ok(max_forwards)
}

/// The `Max-Forwards` an `OPTIONS` is forwarded with: one less than it
/// came with (RFC 9110 §7.6.2), or none. At 0 the gateway answers it.
fn next_max_forwards(headers: &HeaderMap) -> Result<Option<u64>, Refusal> {
    let mut values = headers.get_all(header::MAX_FORWARDS).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let digits = value.to_str().unwrap_or_default();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || values.next().is_some() {
        return Err(Refusal::InvalidMaxForwards);
    }
    // Digits beyond a u64 are as good as no limit.
    let max_forwards: u64 = digits.parse().unwrap_or(u64::MAX);
    max_forwards
        .checked_sub(1)
        .map(Some)
        .ok_or(Refusal::LastHop)
}

/// Appends `path` to `out` with `%2E` decoded and its dot segments
/// removed: it always starts with `/` and never holds a `.` or `..`
/// segment. A path with neither (most) is copied as it is.
fn push_normalized_path(out: &mut String, path: &str) {
    if is_normalized(path) {
        out.push_str(path);
        return;
    }
    let decoded = path.replace("%2E", ".").replace("%2e", ".");
    let mut segments: Vec<&str> = Vec::new();
    let mut trailing_slash = decoded.ends_with('/');
    for segment in decoded.split('/').skip(1) {
        match segment {
            "." => trailing_slash = true,
            ".." => {
                segments.pop();
                trailing_slash = true;
            }
            segment => {
                segments.push(segment);
                trailing_slash = false;
            }
        }
    }
    for segment in &segments {
        out.push('/');
        out.push_str(segment);
    }
    if segments.is_empty() || trailing_slash {
        out.push('/');
    }
}

/// Whether `path` starts with `/` and holds neither `/.` nor an encoded
/// dot: then [`push_normalized_path`] leaves it as it is.
fn is_normalized(path: &str) -> bool {
    // One pass: three `contains` build three substring searchers, each
    // costing more than a short path's whole scan.
    let bytes = path.as_bytes();
    let after = |at: usize| bytes.get(at + 1..).unwrap_or_default();
    bytes.first() == Some(&b'/')
        && !bytes.iter().enumerate().any(|(at, byte)| match byte {
            b'/' => after(at).starts_with(b"."),
            b'%' => after(at).starts_with(b"2E") || after(at).starts_with(b"2e"),
            _ => false,
        })
}

/// `req` as it goes to `upstream`: its target rewritten, its hop-by-hop
/// fields stripped, `Via` and the `Max-Forwards` [`screen`] gave added.
fn forward<B>(upstream: &Upstream, max_forwards: Option<u64>, mut req: Request<B>) -> Request<B> {
    *req.uri_mut() = upstream.uri(req.uri().path_and_query());
    let via = via(req.version());
    let headers = req.headers_mut();
    // `te: trailers` says the client reads trailers, which gRPC needs its
    // upstream to hear: forwarded, the hop-by-hop rest of `te` is not.
    let trailers = headers.get_all(header::TE).iter().any(|value| {
        value.to_str().is_ok_and(|value| {
            value
                .split(',')
                .any(|coding| coding.trim().eq_ignore_ascii_case("trailers"))
        })
    });
    strip_hop_by_hop(headers);
    if trailers {
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
    }
    // After those of earlier proxies, if any (RFC 9110 §7.6.3).
    headers.append(header::VIA, via);
    if let Some(max_forwards) = max_forwards {
        headers.insert(header::MAX_FORWARDS, HeaderValue::from(max_forwards));
    }
    // The client sets the upstream's own `Host`.
    headers.remove(header::HOST);
    req
}

/// An upstream head whose transfer codings are more than `chunked`: hyper
/// decodes only that one, and the rest (`gzip, chunked`) would reach the
/// client as raw bytes with no `Content-Encoding` to say so.
#[derive(Debug)]
struct UnforwardableTransferCoding(String);

impl std::fmt::Display for UnforwardableTransferCoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the upstream's Transfer-Encoding {:?} is more than chunked",
            self.0
        )
    }
}

impl std::error::Error for UnforwardableTransferCoding {}

/// The layer's rules, and the example's own errors: a head it cannot
/// forward is `http_response_transfer_coding` (502), a name that could not
/// be resolved `dns_error`, or `dns_timeout` out of time (502, never sent).
fn classify(error: &(dyn std::error::Error + 'static)) -> Option<Kind> {
    std::iter::successors(Some(error), |level| level.source()).find_map(|level| {
        if level.is::<UnforwardableTransferCoding>() {
            Some(Kind::HttpResponseTransferCoding)
        } else {
            let unresolved = level.downcast_ref::<Unresolved>()?;
            Some(if unresolved.is_timeout() {
                Kind::DnsTimeout
            } else {
                Kind::DnsError
            })
        }
    })
}

/// The upstream's response as it goes to the client: its hop-by-hop
/// fields stripped, and a 1xx or 204 without framing or body.
fn backward<B>(
    result: Result<Response<B>, BoxError>,
) -> Result<Response<Either<B, Empty<Bytes>>>, BoxError> {
    let mut res = result?;
    let status = res.status();
    let headers = res.headers_mut();
    let no_content = status.is_informational() || status == http::StatusCode::NO_CONTENT;
    if no_content {
        // RFC 9110 §8.6: no framing in a response that never has content (a
        // 304's `Content-Length` describes what it stands for, and stays).
        // hyper drops it only from an HTTP/1 answer to a method but `HEAD`.
        headers.remove(header::CONTENT_LENGTH);
        headers.remove(header::TRANSFER_ENCODING);
    }
    let mut chunked = false;
    for value in headers.get_all(header::TRANSFER_ENCODING) {
        let codings = value.to_str().unwrap_or("?").split(',').map(str::trim);
        for coding in codings.filter(|coding| !coding.is_empty()) {
            if !coding.eq_ignore_ascii_case("chunked") {
                let all: Vec<&str> = headers
                    .get_all(header::TRANSFER_ENCODING)
                    .iter()
                    .map(|value| value.to_str().unwrap_or("?"))
                    .collect();
                return Err(Box::new(UnforwardableTransferCoding(all.join(", "))));
            }
            chunked = true;
        }
    }
    if chunked {
        // RFC 9112 §6.3: chunked wins, the length must not be forwarded.
        headers.remove(header::CONTENT_LENGTH);
    }
    strip_hop_by_hop(headers);
    Ok(if no_content {
        // A body ended at once: hyper's HTTP/2 server gives a body of length
        // 0 not yet ended (an HTTP/2 upstream's, until its `END_STREAM`) a
        // `content-length: 0` of its own.
        res.map(|_| Either::Right(Empty::new()))
    } else {
        res.map(Either::Left)
    })
}

struct Config {
    addr: SocketAddr,
    upstream: Upstream,
    head_timeout: Option<Duration>,
    body_idle_timeout: Option<Duration>,
    connect_timeout: Duration,
    dns_timeout: Duration,
    upstream_ca: Option<std::path::PathBuf>,
    limits: Limits,
    upstream_http2: bool,
    max_request_body: Option<u64>,
    retries: usize,
    retry_budget: RetryBudgetSettings,
    workers: NonZeroUsize,
}

/// The settings of the retry budget, checked: `RetryBudget::new` panics
/// outside its ranges.
struct RetryBudgetSettings {
    ttl: Duration,
    min_per_sec: u32,
    percent: u32,
}

impl RetryBudgetSettings {
    fn from_env() -> Result<Self, String> {
        let percent = number("RETRY_BUDGET_PERCENT", "20")?;
        let min_per_sec = number("RETRY_BUDGET_MIN_PER_SEC", "10")?;
        let ttl = number("RETRY_BUDGET_TTL_MS", "10000")?;
        if percent > 100_000 {
            return Err(format!(
                "invalid RETRY_BUDGET_PERCENT={percent}: at most 100000"
            ));
        }
        if min_per_sec >= i32::MAX as u64 {
            return Err(format!(
                "invalid RETRY_BUDGET_MIN_PER_SEC={min_per_sec}: too large"
            ));
        }
        if !(1_000..=60_000).contains(&ttl) {
            return Err(format!(
                "invalid RETRY_BUDGET_TTL_MS={ttl}: from 1000 to 60000"
            ));
        }
        Ok(Self {
            ttl: Duration::from_millis(ttl),
            min_per_sec: min_per_sec as u32,
            percent: percent as u32,
        })
    }

    /// The budget, for the process's whole life.
    fn budget(&self) -> &'static RetryBudget {
        Box::leak(Box::new(RetryBudget::new(
            self.ttl,
            self.min_per_sec,
            self.percent as f32 / 100.0,
        )))
    }
}

fn var(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn number(name: &str, default: &str) -> Result<u64, String> {
    let value = var(name, default);
    value
        .trim()
        .parse()
        .map_err(|_| format!("invalid {name}={value:?}: expected a whole number"))
}

/// The TLS client configuration for `https://` upstreams: the system's
/// roots, and those of the PEM file `ca` if given.
fn tls_config(ca: Option<&std::path::Path>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        tracing::warn!(error = %error, "a system root certificate could not be read");
    }
    roots.add_parsable_certificates(native.certs);
    if let Some(ca) = ca {
        let certs = CertificateDer::pem_file_iter(ca)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("invalid UPSTREAM_CA={}: {e}", ca.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "invalid UPSTREAM_CA={}: no certificate in it",
                ca.display()
            ));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| format!("invalid UPSTREAM_CA={}: {e}", ca.display()))?;
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn config() -> Result<Config, String> {
    let addr = var("GATEWAY_ADDR", "127.0.0.1:8080");
    let addr = addr
        .parse()
        .map_err(|_| format!("invalid GATEWAY_ADDR={addr:?}: expected IP:PORT"))?;
    let upstream = var("UPSTREAM", "http://127.0.0.1:3000");
    let upstream =
        Upstream::parse(&upstream).map_err(|e| format!("invalid UPSTREAM={upstream:?}: {e}"))?;
    Ok(Config {
        addr,
        upstream,
        head_timeout: env_millis("HEAD_TIMEOUT_MS", "30000")?,
        body_idle_timeout: env_millis("BODY_IDLE_TIMEOUT_MS", "60000")?,
        connect_timeout: env_millis("CONNECT_TIMEOUT_MS", "10000")?
            .ok_or("invalid CONNECT_TIMEOUT_MS=0: connecting must end in time")?,
        dns_timeout: env_millis("DNS_TIMEOUT_MS", "5000")?
            .ok_or("invalid DNS_TIMEOUT_MS=0: resolving must end in time")?,
        upstream_ca: std::env::var_os("UPSTREAM_CA").map(std::path::PathBuf::from),
        limits: Limits::from_env()?,
        upstream_http2: match var("UPSTREAM_HTTP2", "").as_str() {
            "" | "0" => false,
            "1" => true,
            other => return Err(format!("invalid UPSTREAM_HTTP2={other:?}: expected 1 or 0")),
        },
        max_request_body: Some(number("MAX_REQUEST_BODY", "1048576")?).filter(|&max| max > 0),
        retries: number("RETRIES", "2")?
            .try_into()
            .map_err(|_| "invalid RETRIES: too many".to_owned())?,
        retry_budget: RetryBudgetSettings::from_env()?,
        workers: workers()?,
    })
}

/// `WORKERS`: a whole number above 0, or one per core.
fn workers() -> Result<NonZeroUsize, String> {
    match std::env::var("WORKERS") {
        Ok(value) => value
            .trim()
            .parse()
            .map_err(|_| format!("invalid WORKERS={value:?}: expected a whole number above 0")),
        Err(_) => Ok(std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)),
    }
}

/// A request allocates a few dozen small blocks and, in hyper, one of
/// 8 KiB: mimalloc serves them from the thread's own pages, where glibc's
/// malloc takes the large one from its bins and merges it back.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// A current-thread runtime: `serve` starts the other workers, each on a
// runtime of its own.
fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(gateway())
}

async fn gateway() -> ExitCode {
    let (config, shutdown) = match config().and_then(|c| Ok((c, Shutdown::from_env()?))) {
        Ok(both) => both,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let _log = log_to_stderr("info");

    let origin = config.upstream.origin();
    let connector = TcpConnector::new(&origin, config.dns_timeout);
    let tls = match tls_config(config.upstream_ca.as_deref()) {
        Ok(tls) => tls,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_all_versions()
        .wrap_connector(connector);
    // For the process's whole life: a request borrows it, with no
    // reference count to share between threads.
    let client: &'static UpstreamClient<_> = Box::leak(Box::new(UpstreamClient::new(
        connector,
        origin,
        config.connect_timeout,
    )));
    let upstream_http2 = config.upstream_http2;
    // gRPC runs on HTTP/2 alone: over prior knowledge for `http://`.
    let clients = tower::service_fn(move |req: Request<UpstreamBody>| {
        let http2 = upstream_http2 || tower_problem::grpc::is_grpc_request(&req);
        // Boxed: each layer above holds the future it is given in its own,
        // and moves it whole; a box is moved as a pointer.
        Box::pin(client.request(req, http2))
    });

    let layer = GatewayErrorLayer::new()
        .head_timeout(config.head_timeout)
        .body_idle_timeout(config.body_idle_timeout)
        .max_request_body(config.max_request_body)
        .proxy_name(PROXY_NAME)
        .classify_with(classify);
    // A buffered body can be sent again: such requests go through the
    // retry policy, inside the layer, which sees only the last attempt and
    // logs and counts the failure once; the others stream, and are sent
    // once. With `RETRIES=0` there is no policy: it would copy every
    // request for nothing.
    let retries = (config.retries > 0).then(|| {
        RetryLayer::new(
            RetryNeverSent::new(config.retries, RETRY_BACKOFF)
                .budget(config.retry_budget.budget())
                .classify_with(classify),
        )
    });
    let retrying = ServiceBuilder::new()
        .layer(layer.clone())
        .option_layer(retries)
        .map_result(backward)
        .map_request(|req: Request<RequestBody<Full<Bytes>>>| req.map(Either::Left))
        .service(clients);
    let streaming = ServiceBuilder::new()
        .layer(layer)
        .map_result(backward)
        .map_request(|req: Request<RequestBody<Incoming>>| req.map(Either::Right))
        .service(clients);
    // hyper-util clones the service for every request: borrowed for the
    // process's life, the stacks and the upstream are neither cloned field
    // by field nor counted (a count shared by every worker thread).
    let shared: &'static _ = Box::leak(Box::new((config.upstream, retrying, streaming)));
    let body_timeout = config.limits.header_read_timeout;

    // Requests the gateway answers itself never reach the upstream.
    let service = tower::service_fn(move |req: Request<Incoming>| {
        let (upstream, retrying, streaming) = shared;
        // Routed before the layer, so that its logs (and an opt-in
        // `next-hop`) name the upstream.
        let req = match screen(&req) {
            Ok(max_forwards) => forward(upstream, max_forwards, req),
            Err(refusal) => {
                return future::Either::Left(future::ready(refused(refusal, req.method())))
            }
        };
        future::Either::Right(async move {
            // Only the stack the request takes is cloned for it.
            let res = if is_replayable(&req) {
                let (parts, body) = req.into_parts();
                // A request without a body (a `GET`) has nothing to wait for.
                let body = if body.is_end_stream() {
                    Bytes::new()
                } else {
                    match tokio::time::timeout(body_timeout, body.collect()).await {
                        Ok(Ok(body)) => body.to_bytes(),
                        Ok(Err(_)) => return refused(Refusal::BodyFailed, &parts.method),
                        Err(_) => return refused(Refusal::BodyTimeout, &parts.method),
                    }
                };
                let req = Request::from_parts(parts, Full::new(body));
                retrying.clone().oneshot(req).await?
            } else {
                streaming.clone().oneshot(req).await?
            };
            Ok(res.map(Either::Left))
        })
    });

    serve(
        config.addr,
        config.workers,
        service,
        config.limits,
        shutdown,
    )
    .await
}

/// The gateway's own answer to a request it does not forward, logged.
fn refused<B>(
    refusal: Refusal,
    method: &Method,
) -> Result<Response<Either<B, Full<Bytes>>>, std::convert::Infallible> {
    tracing::info!(%method, ?refusal, "request answered by the gateway");
    Ok(refusal.response().map(Either::Right))
}

/// What the gateway sends upstream: a buffered, replayable body or the
/// client's own stream, under the layer's size limit.
type UpstreamBody = Either<RequestBody<Full<Bytes>>, RequestBody<Incoming>>;

/// The largest body buffered so that its request can be retried: hyper's
/// body reports its `Content-Length` as its exact size.
const MAX_REPLAYABLE_BODY: u64 = 64 * 1024;

/// Whether `req`'s body is buffered, so that the request can be retried.
fn is_replayable(req: &Request<Incoming>) -> bool {
    req.body()
        .size_hint()
        .exact()
        .is_some_and(|len| len <= MAX_REPLAYABLE_BODY)
}

/// The longest wait before the first retry of a request that was never
/// sent (a random wait up to it: full jitter), doubled for each later one.
const RETRY_BACKOFF: Duration = Duration::from_millis(50);
