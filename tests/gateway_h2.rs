//! HTTP/2 upstreams through the gateway (features `h2` and `hyper-util`):
//! a hand-written HTTP/2 server on 127.0.0.1 (h2's own server sends the
//! highest stream id it received in its `GOAWAY`, so a `GOAWAY` below the
//! request's stream needs frames of our own) that refuses a stream, resets
//! one, sends a `GOAWAY` below it, or resets the body after the head.
#![cfg(all(feature = "h2", feature = "hyper-util"))]

mod gateway_support;
mod h2_upstream;

use std::time::Duration;

use gateway_support::*;
use h2_upstream::{h2_upstream, Answer, INTERNAL_ERROR, NO_ERROR, PROTOCOL_ERROR, REFUSED_STREAM};
use http::StatusCode;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::ServiceBuilder;
use tower_problem::gateway::{Failure, GatewayErrorLayer};

const BOUND: Duration = Duration::from_secs(5);

/// The gateway's service: hyper-util's client speaking HTTP/2 with prior
/// knowledge.
fn h2_client() -> Client<HttpConnector, tower_problem::gateway::RequestBody<hyper::body::Incoming>>
{
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http()
}

/// What the client got for a request to an upstream answering `answer`,
/// and, for a failure, the layer's marker.
async fn through_gateway(answer: Answer) -> (Got, Option<Failure>) {
    let (upstream, _requests) = h2_upstream(answer).await;
    let svc = || {
        ServiceBuilder::new()
            .map_request(route)
            .layer(GatewayErrorLayer::new())
            .map_response(strip_hop_by_hop)
            .service(h2_client())
    };
    let gateway = Gateway::serve(svc()).await;
    let got = send(&downstream(), request(&gateway, upstream), BOUND).await;
    let failure = if got.status == StatusCode::OK {
        None
    } else {
        Some(marker_of(svc(), upstream).await)
    };
    (got, failure)
}

fn never_sent(failure: Option<Failure>) -> bool {
    failure.expect("a failure").is_request_never_sent()
}

fn assert_terminated(got: &Got) {
    assert_eq!(got.status, StatusCode::BAD_GATEWAY, "{got:?}");
    assert_eq!(got.problem()["kind"], "connection_terminated", "{got:?}");
    assert_eq!(
        got.proxy_status()[0].token("error"),
        Some("connection_terminated")
    );
}

#[tokio::test]
async fn a_refused_stream_was_never_processed() {
    let (got, failure) = through_gateway(Answer::Reset(REFUSED_STREAM)).await;
    assert_terminated(&got);
    assert!(
        never_sent(failure),
        "REFUSED_STREAM: not processed (RFC 9113 §8.7)"
    );
}

#[tokio::test]
async fn a_stream_above_a_graceful_goaway_was_never_processed() {
    let (got, failure) = through_gateway(Answer::GoAway {
        last: 0,
        code: NO_ERROR,
    })
    .await;
    assert_terminated(&got);
    assert!(
        never_sent(failure),
        "above GOAWAY's last stream id: not processed"
    );
}

#[tokio::test]
async fn any_other_reset_before_the_head_may_have_been_processed() {
    let (got, failure) = through_gateway(Answer::Reset(INTERNAL_ERROR)).await;
    assert_terminated(&got);
    assert!(!never_sent(failure), "INTERNAL_ERROR: it may have acted");
    let (got, failure) = through_gateway(Answer::GoAway {
        last: 0,
        code: INTERNAL_ERROR,
    })
    .await;
    assert_terminated(&got);
    assert!(
        !never_sent(failure),
        "a GOAWAY with an error reaches every stream"
    );
}

/// RFC 9209 §2.1.1: the most specific type. An upstream that breaks
/// HTTP/2 (a frame over the client's maximum size, a header block no HPACK
/// decoder reads: h2 ends the connection with a `GOAWAY`), or whose
/// `GOAWAY` says the connection broke it, made an `http_protocol_error`, as
/// an HTTP/1 upstream's invalid head does.
#[tokio::test]
async fn an_http2_protocol_error_is_http_protocol_error() {
    for (answer, reason) in [
        (Answer::OversizedFrame, "FRAME_SIZE_ERROR"),
        (Answer::BadHeaderBlock, "PROTOCOL_ERROR"),
        (
            Answer::GoAway {
                last: 0,
                code: PROTOCOL_ERROR,
            },
            "PROTOCOL_ERROR",
        ),
    ] {
        let (got, failure) = through_gateway(answer).await;
        assert_eq!(got.status, StatusCode::BAD_GATEWAY, "{answer:?}: {got:?}");
        assert_eq!(
            got.problem()["kind"],
            "http_protocol_error",
            "{answer:?}: {got:?}"
        );
        assert_eq!(
            got.proxy_status()[0].token("error"),
            Some("http_protocol_error")
        );
        let failure = failure.expect("a failure");
        let error = format!("{:?}", failure.error());
        assert!(error.contains(reason), "{answer:?}: {error}");
        assert!(
            !failure.is_request_never_sent(),
            "{answer:?}: the upstream had the request"
        );
    }
}

#[tokio::test]
async fn a_reset_after_the_head_aborts_the_response() {
    let (got, _) = through_gateway(Answer::HeadThenReset).await;
    assert_eq!(got.status, StatusCode::OK);
    assert!(
        got.body.is_err(),
        "a reset body must not look complete: {got:?}"
    );
}
