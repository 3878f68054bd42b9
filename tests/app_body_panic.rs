//! A panic while the response body is polled, after the head is sent: the
//! client must never take the cut body for a complete one.

mod support;

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::routing;
use axum::Router;
use futures_util::stream;
use tower_problem::app::AppErrorLayer;

use support::*;

const FIRST_CHUNK: &[u8] = b"first chunk\n";

/// One chunk, then (after the head and that chunk had time to go out) a
/// panic.
async fn stream_panics() -> Body {
    let chunks = stream::unfold(0u8, |step| async move {
        if step == 0 {
            return Some((Ok::<_, Infallible>(Bytes::from_static(FIRST_CHUNK)), 1));
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
        panic!("the body stream panicked after the first chunk")
    });
    Body::from_stream(chunks)
}

/// Two chunks, then the end: the control case.
async fn stream_completes() -> Body {
    let chunks = stream::iter([
        Ok::<_, Infallible>(Bytes::from_static(FIRST_CHUNK)),
        Ok(Bytes::from_static(b"second chunk\n")),
    ]);
    Body::from_stream(chunks)
}

fn app() -> Router {
    Router::new()
        .route("/", routing::get(|| async { "hello" }))
        .route("/stream-panic", routing::get(stream_panics))
        .route("/stream-ok", routing::get(stream_completes))
        .layer(AppErrorLayer::new())
}

const LAST_CHUNK: &[u8] = b"\r\n0\r\n\r\n";

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[tokio::test]
async fn over_http1_the_body_ends_in_an_error() {
    let addr = serve_router(app()).await;

    let reply = h1(addr, get("/stream-panic")).await;
    assert_eq!(reply.status, StatusCode::OK, "the head was already sent");
    assert_eq!(reply.body.as_ref(), FIRST_CHUNK);
    assert!(
        reply.body_error.is_some(),
        "the client took a cut body for a complete one: {reply:?}"
    );

    // The control: the same stream without the panic reads to its end.
    let reply = h1(addr, get("/stream-ok")).await;
    assert_eq!(reply.body_error, None);
    assert_eq!(reply.text(), "first chunk\nsecond chunk\n");

    assert_still_serving(addr, "/").await;
}

#[tokio::test]
async fn over_http1_the_connection_closes_without_the_terminating_chunk() {
    let addr = serve_router(app()).await;

    let raw = raw_exchange(
        addr,
        "GET /stream-panic HTTP/1.1\r\nhost: localhost\r\n\r\n",
    )
    .await;
    let text = String::from_utf8_lossy(&raw).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 200 ok\r\n"), "{text}");
    assert!(text.contains("transfer-encoding: chunked"), "{text}");
    assert!(contains(&raw, FIRST_CHUNK), "{text}");
    assert!(
        !contains(&raw, LAST_CHUNK),
        "the server sent the terminating chunk: {text}"
    );

    // The control: a complete chunked body ends with the terminating chunk.
    let raw = raw_exchange(
        addr,
        "GET /stream-ok HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(
        raw.ends_with(LAST_CHUNK),
        "{}",
        String::from_utf8_lossy(&raw)
    );

    assert_still_serving(addr, "/").await;
}

#[tokio::test]
async fn over_h2c_the_stream_is_reset() {
    let addr = serve_router(app()).await;

    let mut conn = H2::connect(addr).await;
    let reply = conn.send(get("/stream-panic")).await;
    assert_eq!(reply.status, StatusCode::OK, "the head was already sent");
    assert_eq!(reply.body.as_ref(), FIRST_CHUNK);
    let error = reply
        .body_error
        .as_deref()
        .unwrap_or_else(|| panic!("the stream was not reset: {reply:?}"));
    assert!(
        error.to_ascii_lowercase().contains("internal"),
        "expected a reset with INTERNAL_ERROR, got: {error}"
    );

    // Only the stream was reset: the same connection serves on.
    let reply = conn.send(get("/")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), "hello");

    let reply = conn.send(get("/stream-ok")).await;
    assert_eq!(reply.body_error, None);
    assert_eq!(reply.text(), "first chunk\nsecond chunk\n");

    assert_still_serving(addr, "/").await;
}
