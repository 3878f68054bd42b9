//! Facts, asserted: how hyper-util's legacy `Client` (over hyper 1, HTTP/1.1)
//! reports each way an upstream can fail.
//!
//! The gateway layer classifies the client's error by walking its
//! `source()` chain; these tests pin down what that chain is for every
//! misbehaving upstream in [`upstream`], so the classifier is written
//! against real behaviour, and a dependency update that changes it fails
//! here first.
//!
//! Each failure is summed up as [`Facts`]: the `Display` of every level of
//! the chain, `is_connect()` of the client's error, the `hyper::Error`
//! predicates that are true, and the kind of the first `std::io::Error`.
//! Two things to know when reading them:
//!
//! - `std::io::Error::source()` of an error made with `io::Error::new(kind,
//!   inner)` returns `inner.source()`, not `inner`: the inner error's text is
//!   the io error's `Display`, and the inner error itself is not in the chain
//!   (`get_ref()` reaches it).
//! - hyper-util's `ConnectError` (the "tcp connect error" / "dns error"
//!   level) is not exported: only its `Display` identifies it.
//!
//! Failures after the head arrive as a response whose body fails while
//! being collected; no deadline exists anywhere in the client unless the
//! caller sets one (only `HttpConnector::set_connect_timeout` exists), so
//! silence is only ever ended by `tokio::time::timeout`.

mod upstream;

use std::error::Error as StdError;
use std::io;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::{Client, Error as ClientError};
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpStream;
use upstream::{Behavior, Upstream, OK_BODY, WAIT};

type BoxError = Box<dyn StdError + Send + Sync>;
type Body = BoxBody<Bytes, BoxError>;

/// The deadline the tests put on waits that are expected to run out.
const DEADLINE: Duration = Duration::from_millis(200);

// ---- the facts a classifier can see ----

/// What an error looks like to a classifier walking its `source()` chain.
#[derive(Debug, PartialEq, Eq)]
struct Facts {
    /// `Display` of each level, outermost first.
    chain: Vec<String>,
    /// `is_connect()` when the outermost error is hyper-util's client error.
    is_connect: Option<bool>,
    /// The predicates that are true on the first `hyper::Error` in the chain;
    /// `None` when the chain has no `hyper::Error`.
    hyper: Option<Vec<&'static str>>,
    /// The kind of the first `std::io::Error` in the chain.
    io: Option<io::ErrorKind>,
}

impl Facts {
    fn of(err: &(dyn StdError + 'static)) -> Self {
        let mut chain = Vec::new();
        let mut hyper = None;
        let mut io = None;
        let mut level = Some(err);
        while let Some(e) = level {
            chain.push(e.to_string());
            if let (None, Some(h)) = (&hyper, e.downcast_ref::<hyper::Error>()) {
                hyper = Some(predicates(h));
            }
            if let (None, Some(i)) = (&io, e.downcast_ref::<io::Error>()) {
                io = Some(i.kind());
            }
            level = e.source();
        }
        let is_connect = err
            .downcast_ref::<ClientError>()
            .map(ClientError::is_connect);
        Self {
            chain,
            is_connect,
            hyper,
            io,
        }
    }
}

/// The names of the predicates true on `e`.
fn predicates(e: &hyper::Error) -> Vec<&'static str> {
    [
        ("is_parse", e.is_parse()),
        ("is_parse_status", e.is_parse_status()),
        // Needs hyper's `server` feature (this crate's dev-dependency has
        // "full"); without it the method does not exist.
        ("is_parse_too_large", e.is_parse_too_large()),
        ("is_parse_version_h2", e.is_parse_version_h2()),
        ("is_user", e.is_user()),
        ("is_canceled", e.is_canceled()),
        ("is_closed", e.is_closed()),
        ("is_incomplete_message", e.is_incomplete_message()),
        ("is_body_write_aborted", e.is_body_write_aborted()),
        ("is_shutdown", e.is_shutdown()),
        ("is_timeout", e.is_timeout()),
    ]
    .into_iter()
    .filter_map(|(name, true_)| true_.then_some(name))
    .collect()
}

/// The expected facts of a client error: `chain`, `is_connect`, hyper
/// predicates (`None`: no `hyper::Error` in the chain), io kind.
fn client_error(
    chain: &[&str],
    is_connect: bool,
    hyper: Option<&[&'static str]>,
    io: Option<io::ErrorKind>,
) -> Facts {
    Facts {
        chain: chain.iter().map(|s| s.to_string()).collect(),
        is_connect: Some(is_connect),
        hyper: hyper.map(<[_]>::to_vec),
        io,
    }
}

/// `client error (SendRequest)` wrapping a `hyper::Error` with `display`,
/// with `predicates` true, and no further cause: the shape of every
/// failure once the request is on a connection and before the head is
/// complete.
fn send_request(display: &str, predicates: &[&'static str]) -> Facts {
    client_error(
        &["client error (SendRequest)", display],
        false,
        Some(predicates),
        None,
    )
}

/// The facts of an error from collecting a response body: a `hyper::Error`
/// "error reading a body from connection" (no predicate is true for it)
/// over an io error of `kind` with `text`.
fn body_error(text: &str, kind: io::ErrorKind) -> Facts {
    Facts {
        chain: vec!["error reading a body from connection".into(), text.into()],
        is_connect: None,
        hyper: Some(vec![]),
        io: Some(kind),
    }
}

// ---- the client and bounded requests ----

fn client() -> Client<HttpConnector, Body> {
    Client::builder(TokioExecutor::new()).build_http()
}

fn get(uri: Uri) -> Request<Body> {
    Request::get(uri)
        .body(Empty::new().map_err(Into::into).boxed())
        .expect("request")
}

/// Sends `req` within [`WAIT`]; a hang fails the test.
async fn send(
    client: &Client<HttpConnector, Body>,
    req: Request<Body>,
) -> Result<Response<Incoming>, ClientError> {
    let what = format!("{} {}", req.method(), req.uri());
    tokio::time::timeout(WAIT, client.request(req))
        .await
        .unwrap_or_else(|_| panic!("no answer within {WAIT:?}: {what}"))
}

/// Starts `behavior`, sends a GET, and returns the facts of the client's
/// error (which must be one) with the upstream, for its counters.
async fn request_fails(behavior: Behavior) -> (Facts, Upstream) {
    let upstream = Upstream::start(behavior.clone()).await;
    match send(&client(), get(upstream.url("/"))).await {
        Ok(res) => panic!("{behavior:?}: expected an error, got {}", res.status()),
        Err(err) => (Facts::of(&err), upstream),
    }
}

/// Collects a body within [`WAIT`].
async fn collect(res: Response<Incoming>) -> Result<Bytes, hyper::Error> {
    tokio::time::timeout(WAIT, res.into_body().collect())
        .await
        .expect("the body ended within the wait")
        .map(|collected| collected.to_bytes())
}

/// Starts `behavior`, sends a GET that must get a response, and returns its
/// status and the result of collecting its body.
async fn response(behavior: Behavior) -> (StatusCode, Result<Bytes, hyper::Error>) {
    let upstream = Upstream::start(behavior.clone()).await;
    let res = send(&client(), get(upstream.url("/")))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "{behavior:?}: expected a response, got {}",
                Facts::of(&e).chain.join(": ")
            )
        });
    let status = res.status();
    (status, collect(res).await)
}

/// Like [`response`], for a body that must fail: its status and facts.
async fn body_fails(behavior: Behavior) -> (StatusCode, Facts) {
    let (status, body) = response(behavior.clone()).await;
    match body {
        Ok(bytes) => panic!("{behavior:?}: expected a body error, got {bytes:?}"),
        Err(err) => (status, Facts::of(&err)),
    }
}

// ---- before any connection: `is_connect()` ----

#[tokio::test]
async fn nothing_listening_is_a_connect_error_with_connection_refused() {
    let (facts, upstream) = request_fails(Behavior::NotListening).await;
    assert_eq!(
        facts,
        client_error(
            &[
                "client error (Connect)",
                "tcp connect error",
                "Connection refused (os error 111)"
            ],
            true,
            None,
            Some(io::ErrorKind::ConnectionRefused),
        )
    );
    assert_eq!(upstream.accepted(), 0);
}

/// Linux refuses a TCP connect to a multicast address locally, with
/// `ENETUNREACH`, as it does when no route leads to the network.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn multicast_address_is_a_connect_error_with_network_unreachable() {
    let uri = Uri::from_static("http://224.0.0.1:80/");
    let err = send(&client(), get(uri)).await.expect_err("unreachable");
    assert_eq!(
        Facts::of(&err),
        client_error(
            &[
                "client error (Connect)",
                "tcp connect error",
                "Network is unreachable (os error 101)"
            ],
            true,
            None,
            Some(io::ErrorKind::NetworkUnreachable),
        )
    );
}

#[tokio::test]
async fn unresolvable_host_is_a_connect_error_named_dns_error() {
    // `.invalid` never resolves (RFC 6761). The resolver's own text varies
    // ("Name or service not known" for NXDOMAIN, "Temporary failure in name
    // resolution" without a DNS server), so only its prefix is asserted.
    let uri: Uri = "http://nonexistent.invalid/".parse().expect("uri");
    let err = send(&client(), get(uri)).await.expect_err("no such host");
    let facts = Facts::of(&err);
    assert_eq!(facts.is_connect, Some(true));
    assert_eq!(facts.hyper, None);
    assert_eq!(facts.chain.len(), 3, "{facts:?}");
    assert_eq!(facts.chain[..2], ["client error (Connect)", "dns error"]);
    assert!(
        facts.chain[2].starts_with("failed to lookup address information: "),
        "{facts:?}"
    );
    // std's kind for resolver failures, which stable code cannot name.
    assert_eq!(
        format!("{:?}", facts.io.expect("an io error")),
        "Uncategorized"
    );
}

#[tokio::test]
async fn connect_timeout_is_a_connect_error_with_timed_out() {
    let upstream = Upstream::start(Behavior::Blackhole).await;
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(DEADLINE));
    let client: Client<_, Body> = Client::builder(TokioExecutor::new()).build(connector);
    let err = send(&client, get(upstream.url("/")))
        .await
        .expect_err("blackholed");
    // The io error wraps tokio's `Elapsed`, whose text it shows; `Elapsed`
    // itself is not in the chain (see the module docs).
    assert_eq!(
        Facts::of(&err),
        client_error(
            &[
                "client error (Connect)",
                "tcp connect error",
                "deadline has elapsed"
            ],
            true,
            None,
            Some(io::ErrorKind::TimedOut),
        )
    );
    assert_eq!(upstream.accepted(), 0);
}

#[tokio::test]
async fn https_url_on_an_http_connector_is_a_connect_error_without_a_connection() {
    let upstream = Upstream::start(Behavior::Ok).await;
    let uri: Uri = format!("https://{}/", upstream.addr())
        .parse()
        .expect("uri");
    let err = send(&client(), get(uri)).await.expect_err("not http");
    assert_eq!(
        Facts::of(&err),
        client_error(
            &["client error (Connect)", "invalid URL, scheme is not http"],
            true,
            None,
            None
        )
    );
    assert_eq!(upstream.accepted(), 0);
}

#[tokio::test]
async fn relative_uri_is_a_user_error_not_a_connect_error() {
    let err = send(&client(), get(Uri::from_static("/path")))
        .await
        .expect_err("relative");
    assert_eq!(
        Facts::of(&err),
        client_error(
            &["client error (UserAbsoluteUriRequired)"],
            false,
            None,
            None
        )
    );
}

// ---- connected, no response ----

#[tokio::test]
async fn close_on_accept_is_an_incomplete_message() {
    let (facts, upstream) = request_fails(Behavior::CloseOnAccept).await;
    assert_eq!(
        facts,
        send_request(
            "connection closed before message completed",
            &["is_incomplete_message"]
        )
    );
    assert_eq!((upstream.accepted(), upstream.requests()), (1, 0));
}

#[tokio::test]
async fn close_after_request_is_an_incomplete_message() {
    let (facts, upstream) = request_fails(Behavior::CloseAfterRequest).await;
    assert_eq!(
        facts,
        send_request(
            "connection closed before message completed",
            &["is_incomplete_message"]
        )
    );
    assert_eq!((upstream.accepted(), upstream.requests()), (1, 1));
}

#[tokio::test]
async fn reset_after_request_is_an_io_error_connection_reset() {
    let (facts, upstream) = request_fails(Behavior::ResetAfterRequest).await;
    assert_eq!(
        facts,
        client_error(
            &[
                "client error (SendRequest)",
                "connection error",
                "Connection reset by peer (os error 104)"
            ],
            false,
            Some(&[]),
            Some(io::ErrorKind::ConnectionReset),
        )
    );
    assert_eq!((upstream.accepted(), upstream.requests()), (1, 1));
}

#[tokio::test]
async fn silent_upstream_is_only_ended_by_a_deadline() {
    let upstream = Upstream::start(Behavior::Silent).await;
    let client = client();
    let result = tokio::time::timeout(DEADLINE, client.request(get(upstream.url("/")))).await;
    assert!(result.is_err(), "the client has no deadline of its own");
    assert_eq!((upstream.accepted(), upstream.requests()), (1, 1));
}

#[tokio::test]
async fn late_head_is_only_ended_by_a_deadline() {
    let upstream = Upstream::start(Behavior::HeadAfter(Duration::from_secs(2))).await;
    let client = client();
    let result = tokio::time::timeout(DEADLINE, client.request(get(upstream.url("/")))).await;
    assert!(result.is_err(), "the client has no head timeout of its own");
    assert_eq!((upstream.accepted(), upstream.requests()), (1, 1));
}

#[tokio::test]
async fn trickled_head_succeeds_without_a_deadline_and_fails_with_one() {
    // A head of about 70 bytes, one every 10 ms: about 0.7 s in all.
    let upstream = Upstream::start(Behavior::SlowHead {
        per_byte: Duration::from_millis(10),
    })
    .await;
    let client = client();
    let res = send(&client, get(upstream.url("/")))
        .await
        .expect("a slow but complete head");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(collect(res).await.expect("body"), OK_BODY);
    // Each byte arrives well within the deadline: only a deadline on the
    // whole head (not an idle timeout per read) catches this.
    let result = tokio::time::timeout(DEADLINE, client.request(get(upstream.url("/")))).await;
    assert!(result.is_err());
    assert_eq!(upstream.accepted(), 2);
}

// ---- failures in the head: `SendRequest` over a `hyper::Error` ----

#[tokio::test]
async fn close_mid_status_line_is_an_incomplete_message() {
    let (facts, _upstream) = request_fails(Behavior::CloseMidStatusLine).await;
    assert_eq!(
        facts,
        send_request(
            "connection closed before message completed",
            &["is_incomplete_message"]
        )
    );
}

#[tokio::test]
async fn close_mid_headers_is_an_incomplete_message() {
    let (facts, _upstream) = request_fails(Behavior::CloseMidHeaders).await;
    assert_eq!(
        facts,
        send_request(
            "connection closed before message completed",
            &["is_incomplete_message"]
        )
    );
}

#[tokio::test]
async fn interim_response_then_close_is_an_incomplete_message() {
    // hyper skips the 103 and waits for a final response that never comes.
    let (facts, _upstream) = request_fails(Behavior::InformationalThenClose).await;
    assert_eq!(
        facts,
        send_request(
            "connection closed before message completed",
            &["is_incomplete_message"]
        )
    );
}

#[tokio::test]
async fn ssh_banner_is_a_version_parse_error() {
    let (facts, upstream) = request_fails(Behavior::NotHttp).await;
    assert_eq!(
        facts,
        send_request("invalid HTTP version parsed", &["is_parse"])
    );
    assert_eq!((upstream.accepted(), upstream.requests()), (1, 0));
}

#[tokio::test]
async fn tls_alert_is_a_version_parse_error() {
    let (facts, _upstream) = request_fails(Behavior::TlsAlert).await;
    assert_eq!(
        facts,
        send_request("invalid HTTP version parsed", &["is_parse"])
    );
}

#[tokio::test]
async fn http09_response_is_a_version_parse_error() {
    let (facts, _upstream) = request_fails(Behavior::Http09).await;
    assert_eq!(
        facts,
        send_request("invalid HTTP version parsed", &["is_parse"])
    );
}

#[tokio::test]
async fn invalid_status_code_is_a_status_parse_error() {
    let (facts, _upstream) = request_fails(Behavior::InvalidStatusLine).await;
    assert_eq!(
        facts,
        send_request(
            "invalid HTTP status-code parsed",
            &["is_parse", "is_parse_status"]
        )
    );
}

#[tokio::test]
async fn malformed_headers_are_header_parse_errors() {
    for behavior in [
        Behavior::HeaderNameWithSpace,
        Behavior::HeaderWithoutColon,
        Behavior::ObsoleteLineFolding,
    ] {
        let (facts, _upstream) = request_fails(behavior.clone()).await;
        assert_eq!(
            facts,
            send_request("invalid HTTP header parsed", &["is_parse"]),
            "{behavior:?}"
        );
    }
}

#[tokio::test]
async fn oversized_heads_are_too_large_parse_errors() {
    // hyper's limits: a head buffer of about 400 KiB, and 100 headers.
    for behavior in [
        Behavior::HugeHeader,
        Behavior::ManyHeaders,
        Behavior::TooManyHeaders,
    ] {
        let (facts, _upstream) = request_fails(behavior.clone()).await;
        assert_eq!(
            facts,
            send_request(
                "message head is too large",
                &["is_parse", "is_parse_too_large"]
            ),
            "{behavior:?}"
        );
    }
}

#[tokio::test]
async fn conflicting_content_lengths_are_a_header_parse_error() {
    let (facts, _upstream) = request_fails(Behavior::ConflictingContentLength).await;
    assert_eq!(
        facts,
        send_request("invalid content-length parsed", &["is_parse"])
    );
}

#[tokio::test]
async fn unasked_switching_protocols_is_returned_as_a_101_response() {
    // Not an error for the client: a gateway must reject it itself.
    let (status, body) = response(Behavior::UnaskedSwitchingProtocols).await;
    assert_eq!(status, StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(body.expect("an empty body"), "");
}

// ---- failures in the body: a status, then a body error ----

#[tokio::test]
async fn body_shorter_than_its_length_then_fin_is_unexpected_eof() {
    let (status, facts) = body_fails(Behavior::ShortBodyThenClose).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        facts,
        body_error(
            "end of file before message length reached",
            io::ErrorKind::UnexpectedEof
        )
    );
}

#[tokio::test]
async fn body_shorter_than_its_length_then_rst_is_connection_reset() {
    let (status, facts) = body_fails(Behavior::ShortBodyThenReset).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        facts,
        body_error(
            "Connection reset by peer (os error 104)",
            io::ErrorKind::ConnectionReset
        )
    );
}

#[tokio::test]
async fn stalled_body_is_only_ended_by_a_deadline() {
    let upstream = Upstream::start(Behavior::StalledBody).await;
    let res = send(&client(), get(upstream.url("/")))
        .await
        .expect("a head");
    assert_eq!(res.status(), StatusCode::OK);
    let result = tokio::time::timeout(DEADLINE, res.into_body().collect()).await;
    assert!(result.is_err(), "the client has no body timeout of its own");
}

#[tokio::test]
async fn invalid_chunk_size_is_invalid_input() {
    let (status, facts) = body_fails(Behavior::InvalidChunkSize).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        facts,
        body_error(
            "Invalid chunk size line: missing size digit",
            io::ErrorKind::InvalidInput
        )
    );
}

#[tokio::test]
async fn chunked_body_cut_by_fin_is_unexpected_eof() {
    let (status, facts) = body_fails(Behavior::ChunkedThenClose).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        facts,
        body_error(
            "unexpected EOF during chunk size line",
            io::ErrorKind::UnexpectedEof
        )
    );
}

#[tokio::test]
async fn close_delimited_body_cut_by_fin_looks_complete() {
    // The documented exception: nothing marks the end but the FIN.
    let (status, body) = response(Behavior::CloseDelimitedCut).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.expect("a complete-looking body"), "partial");
}

#[tokio::test]
async fn close_delimited_body_cut_by_rst_is_connection_reset() {
    let (status, facts) = body_fails(Behavior::CloseDelimitedThenReset).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        facts,
        body_error(
            "Connection reset by peer (os error 104)",
            io::ErrorKind::ConnectionReset
        )
    );
}

#[tokio::test]
async fn chunked_wins_over_a_content_length() {
    let (status, body) = response(Behavior::ChunkedWithContentLength).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.expect("the chunked body"), "hello");
}

// ---- healthy, or nearly ----

#[tokio::test]
async fn healthy_upstream_keeps_the_connection_alive() {
    let upstream = Upstream::start(Behavior::Ok).await;
    let client = client();
    for _ in 0..3 {
        let res = send(&client, get(upstream.url("/")))
            .await
            .expect("a response");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(collect(res).await.expect("body"), OK_BODY);
    }
    assert_eq!((upstream.accepted(), upstream.requests()), (1, 3));
}

#[tokio::test]
async fn upstream_error_statuses_are_plain_responses() {
    for (status, text) in [(500, "it broke"), (503, "down for maintenance")] {
        let (got, body) = response(Behavior::Respond { status, body: text }).await;
        assert_eq!(got.as_u16(), status);
        assert_eq!(body.expect("body"), text);
    }
}

#[tokio::test]
async fn keep_alive_connection_closed_while_idle_is_replaced_transparently() {
    let upstream = Upstream::start(Behavior::CloseAfterResponse).await;
    let client = client();
    for _ in 0..2 {
        let res = send(&client, get(upstream.url("/")))
            .await
            .expect("a response");
        assert_eq!(collect(res).await.expect("body"), OK_BODY);
    }
    assert_eq!(upstream.accepted(), 2);
}

/// A POST whose 16 MiB body cannot fit in the socket buffers of an
/// upstream that never reads it.
fn big_post(uri: Uri) -> Request<Body> {
    let body = Full::new(Bytes::from(vec![b'x'; 16 << 20]))
        .map_err(Into::into)
        .boxed();
    Request::post(uri).body(body).expect("request")
}

#[tokio::test]
async fn response_before_the_request_body_is_read_is_returned() {
    for behavior in [Behavior::EarlyResponse, Behavior::EarlyResponseThenClose] {
        let upstream = Upstream::start(behavior.clone()).await;
        let res = send(&client(), big_post(upstream.url("/")))
            .await
            .expect("a response");
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE, "{behavior:?}");
        assert_eq!(
            collect(res).await.expect("body"),
            "too large",
            "{behavior:?}"
        );
    }
}

#[tokio::test]
async fn failing_request_body_is_a_user_error_carrying_the_callers_io_error() {
    // What a gateway sees when its own client's body fails mid-stream: the
    // io error in the chain is the caller's, not the upstream's, so a
    // classifier must test `is_user()` before looking at io kinds.
    let upstream = Upstream::start(Behavior::Silent).await;
    let frames: Vec<Result<Frame<Bytes>, BoxError>> = vec![
        Ok(Frame::data(Bytes::from_static(b"abc"))),
        Err(io::Error::other("downstream went away").into()),
    ];
    let req = Request::post(upstream.url("/"))
        .body(StreamBody::new(futures_util::stream::iter(frames)).boxed())
        .expect("request");
    let err = send(&client(), req).await.expect_err("the body failed");
    assert_eq!(
        Facts::of(&err),
        client_error(
            &[
                "client error (SendRequest)",
                "error from user's Body stream",
                "downstream went away"
            ],
            false,
            Some(&["is_user"]),
            Some(io::ErrorKind::Other),
        )
    );
}

// ---- the harness itself ----

#[tokio::test]
async fn dropping_an_upstream_closes_its_connections_and_its_port() {
    let upstream = Upstream::start(Behavior::Silent).await;
    let addr = upstream.addr();
    let client = client();
    let pending = tokio::spawn(client.request(get(upstream.url("/"))));
    let read = async {
        while upstream.requests() == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    tokio::time::timeout(WAIT, read)
        .await
        .expect("the request was read");
    drop(upstream);
    let result = tokio::time::timeout(WAIT, pending)
        .await
        .expect("the held connection closed")
        .expect("join");
    let err = result.expect_err("no response");
    assert_eq!(
        Facts::of(&err),
        send_request(
            "connection closed before message completed",
            &["is_incomplete_message"]
        )
    );
    let refused = async {
        while TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(WAIT, refused)
        .await
        .expect("the port closed");
}
