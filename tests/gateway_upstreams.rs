//! The gateway in front of every misbehaving upstream of `tests/upstream`,
//! over real TCP on 127.0.0.1: a hyper server running hyper-util's client
//! wrapped in `GatewayErrorLayer`, and a downstream client.
//!
//! For each failure before the head: the status, `Proxy-Status` parsed as a
//! structured field, the problem body, that nothing of the upstream leaked,
//! that the answer came within its timeout, and that the next request
//! through the same gateway (and the same downstream connection) is served.
//! For each failure after the head: the client sees a failed body, never a
//! complete-looking short one.

mod gateway_support;
mod upstream;

use std::time::Duration;

use gateway_support::*;
use http::StatusCode;
use tower_problem::gateway::GatewayErrorLayer;
use upstream::{Behavior, Upstream, OK_BODY};

/// The layer's short timeouts in these tests.
const SHORT: Duration = Duration::from_millis(200);
/// A generous bound on any answer that needs no timeout.
const BOUND: Duration = Duration::from_secs(3);

fn layer() -> GatewayErrorLayer {
    GatewayErrorLayer::new()
        .head_timeout(Some(SHORT))
        .body_idle_timeout(Some(SHORT))
}

async fn gateway() -> Gateway {
    Gateway::with_client(layer(), upstream_client(Some(SHORT))).await
}

/// A healthy request through `gateway` on `client`: the gateway still works.
async fn served_normally(gateway: &Gateway, client: &Downstream) {
    let healthy = Upstream::start(Behavior::Ok).await;
    let got = send(client, request(gateway, healthy.addr()), BOUND).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.text(), OK_BODY);
    assert!(got.headers.get("proxy-status").is_none());
}

/// Asserts a generated failure response of `kind` and `status`.
fn assert_failure(got: &Got, upstream: &Upstream, kinds: &[&str], status: StatusCode) {
    assert_eq!(got.status, status, "{got:?}");
    let problem = got.problem();
    let kind = problem["kind"].as_str().expect("a kind");
    assert!(
        kinds.contains(&kind),
        "kind {kind}, expected one of {kinds:?}"
    );
    assert_eq!(problem["status"], status.as_u16());
    assert_eq!(
        problem["type"],
        format!("https://docs.rs/tower-problem/latest/tower_problem/kinds/index.html#{kind}")
    );
    assert!(problem["title"].is_string());
    assert_eq!(problem["request_id"], "req-42");
    assert!(problem.get("detail").is_none());
    assert_eq!(got.headers["cache-control"], "no-store");

    let members = got.proxy_status();
    assert_eq!(members.len(), 1, "{members:?}");
    assert_eq!(members[0].name, "tower-problem");
    assert_eq!(members[0].token("error"), Some(kind));
    assert_eq!(members[0].params.len(), 1, "only error= by default");
    assert_nothing_leaked(got, upstream.addr());
}

/// One failure before the head, then a healthy request on the same client.
async fn head_failure(behavior: Behavior, kinds: &[&str], at_least: Duration, within: Duration) {
    let gateway = gateway().await;
    let client = downstream();
    let upstream = Upstream::start(behavior.clone()).await;
    let got = send(&client, request(&gateway, upstream.addr()), BOUND).await;
    assert_failure(&got, &upstream, kinds, StatusCode::BAD_GATEWAY);
    assert!(
        got.elapsed >= at_least && got.elapsed < within,
        "{behavior:?}: answered after {:?}, expected within {at_least:?}..{within:?}",
        got.elapsed
    );
    served_normally(&gateway, &client).await;
}

const QUICK: Duration = Duration::from_secs(1);

#[tokio::test]
async fn nothing_listening_is_connection_refused() {
    head_failure(
        Behavior::NotListening,
        &["connection_refused"],
        Duration::ZERO,
        QUICK,
    )
    .await;
}

#[tokio::test]
async fn blackhole_is_a_connection_timeout_within_the_connect_timeout() {
    head_failure(
        Behavior::Blackhole,
        &["connection_timeout"],
        SHORT,
        SHORT + QUICK,
    )
    .await;
}

#[tokio::test]
async fn closed_without_an_answer_is_incomplete() {
    for behavior in [
        Behavior::CloseAfterRequest,
        Behavior::CloseMidStatusLine,
        Behavior::CloseMidHeaders,
        Behavior::InformationalThenClose,
    ] {
        head_failure(
            behavior,
            &["http_response_incomplete"],
            Duration::ZERO,
            QUICK,
        )
        .await;
    }
}

#[tokio::test]
async fn close_on_accept_is_incomplete_or_terminated() {
    // FIN or RST depending on whether the request had arrived.
    head_failure(
        Behavior::CloseOnAccept,
        &["http_response_incomplete", "connection_terminated"],
        Duration::ZERO,
        QUICK,
    )
    .await;
}

#[tokio::test]
async fn reset_is_connection_terminated() {
    head_failure(
        Behavior::ResetAfterRequest,
        &["connection_terminated"],
        Duration::ZERO,
        QUICK,
    )
    .await;
}

#[tokio::test]
async fn silence_is_a_response_timeout_within_the_head_timeout() {
    head_failure(
        Behavior::Silent,
        &["http_response_timeout"],
        SHORT,
        SHORT + QUICK,
    )
    .await;
}

#[tokio::test]
async fn a_trickled_head_is_a_response_timeout() {
    // Each byte comes well within the head timeout; the whole head does not.
    head_failure(
        Behavior::SlowHead {
            per_byte: Duration::from_millis(10),
        },
        &["http_response_timeout"],
        SHORT,
        SHORT + QUICK,
    )
    .await;
}

#[tokio::test]
async fn heads_that_are_not_http_are_protocol_errors() {
    for behavior in [
        Behavior::NotHttp,
        Behavior::TlsAlert,
        Behavior::Http09,
        Behavior::InvalidStatusLine,
        Behavior::HeaderNameWithSpace,
        Behavior::HeaderWithoutColon,
        Behavior::ObsoleteLineFolding,
        Behavior::ConflictingContentLength,
    ] {
        head_failure(behavior, &["http_protocol_error"], Duration::ZERO, QUICK).await;
    }
}

#[tokio::test]
async fn oversized_heads_are_header_section_size() {
    for behavior in [
        Behavior::HugeHeader,
        Behavior::ManyHeaders,
        Behavior::TooManyHeaders,
    ] {
        head_failure(
            behavior,
            &["http_response_header_section_size"],
            Duration::ZERO,
            QUICK,
        )
        .await;
    }
}

#[tokio::test]
async fn an_unresolvable_host_is_a_dns_error() {
    // A resolver that fails, as a DNS server answering NXDOMAIN does: no
    // dependence on the machine's DNS.
    let resolver = tower::service_fn(|_name| async {
        Err::<std::vec::IntoIter<std::net::SocketAddr>, _>(std::io::Error::other(
            "failed to lookup address information: Name or service not known",
        ))
    });
    let connector = hyper_util::client::legacy::connect::HttpConnector::new_with_resolver(resolver);
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(connector);
    let svc = tower::ServiceBuilder::new()
        .map_request(route)
        .layer(layer())
        .map_response(strip_hop_by_hop)
        .service(client);
    let gateway = Gateway::serve(svc).await;
    let req = http::Request::get(gateway.url("/"))
        .header(X_UPSTREAM, "upstream.internal:8080")
        .header("x-request-id", "req-42")
        .body(http_body_util::Full::default())
        .unwrap();
    let got = send(&downstream(), req, BOUND).await;
    assert_eq!(got.status, StatusCode::BAD_GATEWAY);
    assert_eq!(got.problem()["kind"], "dns_error");
    assert_eq!(got.proxy_status()[0].token("error"), Some("dns_error"));
    assert!(!got.text().contains("upstream.internal"));
}

/// Linux refuses a TCP connect to a multicast address with `ENETUNREACH`
/// before any packet leaves the host (`tcp_v4_connect`), whatever the
/// machine's routes: a real, local way to make the connector's socket fail
/// as it does for an unreachable network.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn an_unreachable_network_is_destination_ip_unroutable() {
    let gateway = gateway().await;
    let client = downstream();
    let unreachable: std::net::SocketAddr = "224.0.0.1:80".parse().unwrap();
    let got = send(&client, request(&gateway, unreachable), BOUND).await;
    assert_eq!(got.status, StatusCode::BAD_GATEWAY, "{got:?}");
    let problem = got.problem();
    assert_eq!(problem["kind"], "destination_ip_unroutable");
    assert_eq!(problem["request_id"], "req-42");
    let members = got.proxy_status();
    assert_eq!(members[0].token("error"), Some("destination_ip_unroutable"));
    assert!(
        got.elapsed < QUICK,
        "a refused connect needs no timeout: {:?}",
        got.elapsed
    );
    assert_nothing_leaked(&got, unreachable);
    served_normally(&gateway, &client).await;
}

// ---- after the head ----

/// The upstream's status arrives, then its body fails: the downstream body
/// must fail too, within `within`; then the gateway serves normally.
async fn body_failure(behavior: Behavior, client: Downstream, within: Duration) {
    let gateway = gateway().await;
    let upstream = Upstream::start(behavior.clone()).await;
    let got = send(&client, request(&gateway, upstream.addr()), BOUND).await;
    assert_eq!(got.status, StatusCode::OK, "{behavior:?}");
    assert!(
        got.body.is_err(),
        "{behavior:?}: the client got a complete-looking body {:?}",
        got.body
    );
    assert!(got.elapsed < within, "{behavior:?}: {:?}", got.elapsed);
    served_normally(&gateway, &client).await;
}

#[tokio::test]
async fn broken_upstream_bodies_abort_the_downstream_body() {
    for behavior in [
        Behavior::ShortBodyThenClose,
        Behavior::ShortBodyThenReset,
        Behavior::InvalidChunkSize,
        Behavior::ChunkedThenClose,
        Behavior::CloseDelimitedThenReset,
    ] {
        body_failure(behavior.clone(), downstream(), QUICK).await;
        body_failure(behavior, downstream_h2(), QUICK).await;
    }
}

#[tokio::test]
async fn a_stalled_body_is_aborted_after_the_idle_timeout() {
    body_failure(Behavior::StalledBody, downstream(), SHORT + QUICK).await;
    body_failure(Behavior::StalledBody, downstream_h2(), SHORT + QUICK).await;
}

#[tokio::test]
async fn a_close_delimited_body_cut_by_fin_looks_complete() {
    // The documented exception: nothing tells it from a complete body.
    let gateway = gateway().await;
    let upstream = Upstream::start(Behavior::CloseDelimitedCut).await;
    let got = send(&downstream(), request(&gateway, upstream.addr()), BOUND).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.text(), "partial");
}

#[tokio::test]
async fn chunked_wins_over_content_length() {
    let gateway = gateway().await;
    let upstream = Upstream::start(Behavior::ChunkedWithContentLength).await;
    let got = send(&downstream(), request(&gateway, upstream.addr()), BOUND).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.text(), "hello");
}

// ---- healthy ----

#[tokio::test]
async fn healthy_responses_pass_through_untouched() {
    let gateway = gateway().await;
    for client in [downstream(), downstream_h2()] {
        served_normally(&gateway, &client).await;
        let upstream = Upstream::start(Behavior::Respond {
            status: 500,
            body: "it broke",
        })
        .await;
        let got = send(&client, request(&gateway, upstream.addr()), BOUND).await;
        assert_eq!(got.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(got.headers["content-type"], "text/plain");
        assert_eq!(got.text(), "it broke");
        assert!(got.headers.get("proxy-status").is_none());
    }
}

#[tokio::test]
async fn an_early_response_to_an_upload_is_forwarded() {
    let gateway = gateway().await;
    let upstream = Upstream::start(Behavior::EarlyResponse).await;
    let req = http::Request::post(gateway.url("/upload"))
        .header(X_UPSTREAM, upstream.addr().to_string())
        .body(http_body_util::Full::new(bytes::Bytes::from(vec![
            b'x';
            4 << 20
        ])))
        .unwrap();
    let got = send(&downstream(), req, BOUND).await;
    assert_eq!(got.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(got.text(), "too large");
}

// ---- HTTP/2 downstream ----

#[tokio::test]
async fn h2_failures_before_the_head_are_the_same_502() {
    let gateway = gateway().await;
    let client = downstream_h2();
    let upstream = Upstream::start(Behavior::ResetAfterRequest).await;
    let got = send(&client, request(&gateway, upstream.addr()), BOUND).await;
    assert_failure(
        &got,
        &upstream,
        &["connection_terminated"],
        StatusCode::BAD_GATEWAY,
    );
    served_normally(&gateway, &client).await;
}

#[tokio::test]
async fn an_unasked_switching_protocols_is_a_protocol_error() {
    // hyper's client hands a 101 over as a response; passed on, it would
    // leave the client with a connection switched to nothing.
    head_failure(
        Behavior::UnaskedSwitchingProtocols,
        &["http_protocol_error"],
        Duration::ZERO,
        QUICK,
    )
    .await;
}

/// 2 KiB of text, over a cap of 1 KiB.
const LONG_BODY: &str = concat!(
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
);

#[tokio::test]
async fn a_declared_length_over_the_cap_is_a_502_before_the_head() {
    let long = Upstream::start(Behavior::Respond {
        status: 200,
        body: LONG_BODY,
    })
    .await;
    let capped = Gateway::with_client(
        layer().max_response_body(Some(1024)),
        upstream_client(Some(SHORT)),
    )
    .await;
    let client = downstream();
    let got = send(&client, request(&capped, long.addr()), BOUND).await;
    assert_eq!(got.status, StatusCode::BAD_GATEWAY);
    assert_eq!(got.problem()["kind"], "http_response_body_size");
    assert_eq!(
        got.headers["proxy-status"],
        "tower-problem; error=http_response_body_size"
    );
    // A HEAD's answer has no body: its declared length is no reason.
    let mut head = request(&capped, long.addr());
    *head.method_mut() = http::Method::HEAD;
    let got = send(&downstream(), head, BOUND).await;
    assert_eq!(got.status, StatusCode::OK);
    let declared = LONG_BODY.len().to_string();
    assert_eq!(got.headers["content-length"], declared.as_str());
}

#[tokio::test]
async fn a_body_over_the_cap_is_aborted_and_one_under_it_passes() {
    // No length declared: the cap is met while the body streams.
    let long = Upstream::start(Behavior::RespondChunked { body: LONG_BODY }).await;
    let capped = Gateway::with_client(
        layer().max_response_body(Some(1024)),
        upstream_client(Some(SHORT)),
    )
    .await;
    let client = downstream();
    // The body comes in one frame, over the cap at once: the response is
    // aborted before or after its head reached the client, never complete.
    let outcome = within(BOUND, async {
        match client.request(request(&capped, long.addr())).await {
            Err(_) => Ok(()),
            Ok(res) => {
                use http_body_util::BodyExt;
                match res.into_body().collect().await {
                    Err(_) => Ok(()),
                    Ok(body) => Err(body.to_bytes()),
                }
            }
        }
    })
    .await;
    assert!(
        outcome.is_ok(),
        "a capped body must not look complete: {outcome:?}"
    );
    let roomy = Gateway::with_client(
        layer().max_response_body(Some(4096)),
        upstream_client(Some(SHORT)),
    )
    .await;
    let got = send(&client, request(&roomy, long.addr()), BOUND).await;
    assert_eq!(got.text(), LONG_BODY);
}

// ---- hyper's `is_canceled()`: the connection closed before the request was written ----

#[tokio::test]
async fn a_request_on_a_connection_that_closed_first_is_never_sent() {
    use http::Request;
    use http_body_util::Empty;
    use hyper_util::rt::TokioIo;
    use tower::Layer;
    use tower_problem::gateway::{Failure, Kind, RequestBody};

    // The upstream accepts, then closes without reading a byte.
    let upstream = Upstream::start(Behavior::CloseOnAccept).await;
    let addr = upstream.addr();
    // A client holding a connection the upstream has closed, as a pool
    // does: hyper's connection task sees the close and ends, then the
    // request is handed to it.
    let client = tower::service_fn(
        move |req: Request<RequestBody<Empty<bytes::Bytes>>>| async move {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            // Its own end, clean or not, is the pool's business.
            let _ = within(BOUND, conn).await;
            sender.send_request(req).await.map_err(BoxError::from)
        },
    );
    let svc = GatewayErrorLayer::new().layer(client);
    let req = Request::get("http://upstream.test/")
        .body(Empty::new())
        .unwrap();
    let res = within(BOUND, oneshot(svc, req)).await;
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    let failure = res.extensions().get::<Failure>().expect("a failure marker");
    assert_eq!(failure.kind(), Kind::ConnectionTerminated);
    let error = failure.error().expect("the client's error");
    let hyper = error.downcast_ref::<hyper::Error>().expect("hyper's error");
    assert!(hyper.is_canceled(), "{hyper}");
    assert!(failure.is_request_never_sent());
    assert_eq!(upstream.requests(), 0);
}
