//! Every way the inner service fails, over a real server and client: each
//! becomes the layer's problem+json 500 of the right kind.

mod support;

use std::future::{ready, Future, Ready};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Bytes;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, LAST_MODIFIED};
use axum::http::{Method, Request, Response, StatusCode};
use axum::routing;
use axum::Router;
use http_body_util::Full;
use tower::{Service, ServiceBuilder};
use tower_problem::app::{AppErrorLayer, HandlerError};

use support::*;

// ---------------------------------------------------------------------------
// Hand-written inner services
// ---------------------------------------------------------------------------

/// Panics in `call`, before any future exists.
#[derive(Clone)]
struct PanicInCall;

impl<B> Service<Request<B>> for PanicInCall {
    type Response = Response<Full<Bytes>>;
    type Error = io::Error;
    type Future = Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if req.uri().path() == "/ok" {
            return ready(Ok(ok_response("ok")));
        }
        panic!("the service panicked in call")
    }
}

/// A future that completes with a 200 and panics when dropped afterwards.
struct CompletesThenPanicsOnDrop {
    completed: bool,
}

impl Future for CompletesThenPanicsOnDrop {
    type Output = Result<Response<Full<Bytes>>, io::Error>;

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        self.completed = true;
        Poll::Ready(Ok(ok_response("looks fine")))
    }
}

impl Drop for CompletesThenPanicsOnDrop {
    fn drop(&mut self) {
        if self.completed && !std::thread::panicking() {
            panic!("dropping the completed future panicked");
        }
    }
}

#[derive(Clone)]
struct PanicOnDrop;

impl<B> Service<Request<B>> for PanicOnDrop {
    type Response = Response<Full<Bytes>>;
    type Error = io::Error;
    type Future = CompletesThenPanicsOnDrop;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<B>) -> Self::Future {
        CompletesThenPanicsOnDrop { completed: false }
    }
}

/// Its future fails with an `io::Error`.
#[derive(Clone)]
struct FailsWithError;

impl<B> Service<Request<B>> for FailsWithError {
    type Response = Response<Full<Bytes>>;
    type Error = io::Error;
    type Future = Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<B>) -> Self::Future {
        ready(Err(io::Error::new(
            io::ErrorKind::ConnectionRefused,
            "the database refused the connection",
        )))
    }
}

#[derive(Clone, Copy)]
enum ReadyFailure {
    Err,
    Panic,
}

/// Fails (or panics in) its first `poll_ready` only; counts `poll_ready`
/// and `call` across all its clones.
#[derive(Clone)]
struct FlakyReady {
    failure: ReadyFailure,
    polls: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
}

impl FlakyReady {
    fn new(failure: ReadyFailure) -> Self {
        Self {
            failure,
            polls: Arc::default(),
            calls: Arc::default(),
        }
    }
}

impl<B> Service<Request<B>> for FlakyReady {
    type Response = Response<Full<Bytes>>;
    type Error = io::Error;
    type Future = Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.polls.fetch_add(1, Ordering::SeqCst) == 0 {
            match self.failure {
                ReadyFailure::Err => {
                    return Poll::Ready(Err(io::Error::other("the backend pool is exhausted")))
                }
                ReadyFailure::Panic => panic!("poll_ready panicked"),
            }
        }
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<B>) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        ready(Ok(ok_response("ready again")))
    }
}

// ---------------------------------------------------------------------------
// An axum app with one route per failure
// ---------------------------------------------------------------------------

async fn panics() -> &'static str {
    panic!("the handler panicked: invariant broken")
}

async fn fails() -> Result<String, HandlerError> {
    let config = std::fs::read_to_string("/nonexistent/tower-problem-test/app.toml")?;
    Ok(config)
}

const RAW_500_TEXT: &str = "plain text from the handler\n";

async fn raw_500() -> impl axum::response::IntoResponse {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [
            ("x-custom", "kept"),
            (ETAG.as_str(), "\"v1\""),
            (LAST_MODIFIED.as_str(), "Wed, 21 Oct 2015 07:28:00 GMT"),
            (CACHE_CONTROL.as_str(), "max-age=600"),
            ("content-language", "de"),
            ("content-location", "/raw-500.txt"),
            ("content-digest", "sha-256=:AAAA:"),
            ("repr-digest", "sha-256=:AAAA:"),
        ],
        RAW_500_TEXT,
    )
}

const OWN_PROBLEM: &str =
    r#"{"type":"https://example.com/own","title":"The handler's own problem","status":500}"#;

async fn own_problem_500() -> impl axum::response::IntoResponse {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(CONTENT_TYPE, "application/problem+json; charset=utf-8")],
        OWN_PROBLEM,
    )
}

fn routes() -> Router {
    Router::new()
        .route("/", routing::get(|| async { "hello" }))
        .route("/panic", routing::get(panics))
        .route("/error", routing::get(fails))
        .route("/raw-500", routing::get(raw_500))
        .route("/problem-500", routing::get(own_problem_500))
}

fn app() -> Router {
    routes().layer(AppErrorLayer::new())
}

// ---------------------------------------------------------------------------
// 1. A panic in the inner `call`
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_panic_in_the_inner_call_is_a_panic_500() {
    let service = ServiceBuilder::new()
        .layer(AppErrorLayer::new())
        .service(PanicInCall);
    let addr = serve_service(service).await;

    let reply = h1(addr, get_with_id("/boom", "call-1")).await;
    assert_problem(&reply, "panic", Some("call-1"));
    assert!(!reply.text().contains("panicked in call"));

    let reply = h2(addr, get("/boom")).await;
    assert_problem(&reply, "panic", None);

    // The connection that carried the panic keeps working.
    let mut conn = H1::connect(addr).await;
    assert_problem(&conn.send(get("/boom")).await, "panic", None);
    let reply = conn.send(get("/ok")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), "ok");
}

// ---------------------------------------------------------------------------
// 2. A panic while the response future is polled, or dropped
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_panicking_axum_handler_is_a_panic_500() {
    let addr = serve_router(app()).await;

    let reply = h1(addr, get_with_id("/panic", "req-42")).await;
    let problem = assert_problem(&reply, "panic", Some("req-42"));
    assert!(problem.get("detail").is_none());
    assert!(!reply.text().contains("invariant broken"));

    let reply = h2(addr, get_with_id("/panic", "req-43")).await;
    assert_problem(&reply, "panic", Some("req-43"));

    assert_still_serving(addr, "/").await;
}

#[tokio::test]
async fn a_panic_while_dropping_a_completed_future_is_a_panic_500() {
    let service = ServiceBuilder::new()
        .layer(AppErrorLayer::new())
        .service(PanicOnDrop);
    let addr = serve_service(service).await;

    let reply = h1(addr, get_with_id("/", "drop-1")).await;
    assert_problem(&reply, "panic", Some("drop-1"));
    assert!(!reply.text().contains("looks fine"));

    let reply = h2(addr, get("/")).await;
    assert_problem(&reply, "panic", None);
}

// ---------------------------------------------------------------------------
// 3. Errors
// ---------------------------------------------------------------------------

#[tokio::test]
async fn an_error_from_the_inner_service_is_a_handler_error_500() {
    let service = ServiceBuilder::new()
        .layer(AppErrorLayer::new())
        .service(FailsWithError);
    let addr = serve_service(service).await;

    let reply = h1(addr, get_with_id("/", "err-1")).await;
    assert_problem(&reply, "handler_error", Some("err-1"));
    assert!(!reply.text().contains("database"));

    let reply = h2(addr, get("/")).await;
    assert_problem(&reply, "handler_error", None);
}

#[tokio::test]
async fn an_axum_handler_error_is_a_handler_error_500() {
    let addr = serve_router(app()).await;

    let reply = h1(addr, get_with_id("/error", "err-2")).await;
    assert_problem(&reply, "handler_error", Some("err-2"));
    assert!(!reply.text().contains("nonexistent"));

    let reply = h2(addr, get("/error")).await;
    assert_problem(&reply, "handler_error", None);
}

// ---------------------------------------------------------------------------
// 4. `poll_ready` failures
// ---------------------------------------------------------------------------

/// The first request gets the 500 without reaching the inner `call`; the
/// layer is not poisoned, so the next request asks the inner `poll_ready`
/// again, which now succeeds, and gets the inner service's 200.
async fn check_poll_ready_failure(addr: SocketAddr, inner: &FlakyReady, kind: &str) {
    let mut conn = H1::connect(addr).await;

    let reply = conn.send(get_with_id("/", "ready-1")).await;
    assert_problem(&reply, kind, Some("ready-1"));
    assert_eq!(inner.polls.load(Ordering::SeqCst), 1);
    assert_eq!(
        inner.calls.load(Ordering::SeqCst),
        0,
        "the layer must not call a service that is not ready"
    );

    let reply = conn.send(get("/")).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.text(), "ready again");
    assert_eq!(inner.polls.load(Ordering::SeqCst), 2);
    assert_eq!(inner.calls.load(Ordering::SeqCst), 1);

    let reply = h2(addr, get("/")).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
}

/// `TowerToHyperService` drives a fresh clone of the layer's service for each
/// request; the inner services share their counters.
#[tokio::test]
async fn a_failing_poll_ready_is_a_handler_error_500_then_the_service_recovers() {
    let inner = FlakyReady::new(ReadyFailure::Err);
    let service = ServiceBuilder::new()
        .layer(AppErrorLayer::new())
        .service(inner.clone());
    let addr = serve_service(service).await;
    check_poll_ready_failure(addr, &inner, "handler_error").await;
}

#[tokio::test]
async fn a_panicking_poll_ready_is_a_panic_500_then_the_service_recovers() {
    let inner = FlakyReady::new(ReadyFailure::Panic);
    let service = ServiceBuilder::new()
        .layer(AppErrorLayer::new())
        .service(inner.clone());
    let addr = serve_service(service).await;
    check_poll_ready_failure(addr, &inner, "panic").await;
}

/// Behind a `Buffer`, one single instance of the layer's service serves
/// every request: the instance that saw the failure asks again afterwards.
#[tokio::test]
async fn one_instance_behind_a_buffer_is_not_poisoned_by_a_failed_poll_ready() {
    for (failure, kind) in [
        (ReadyFailure::Err, "handler_error"),
        (ReadyFailure::Panic, "panic"),
    ] {
        let inner = FlakyReady::new(failure);
        let service = ServiceBuilder::new()
            .buffer(16)
            .layer(AppErrorLayer::new())
            .service(inner.clone());
        let addr = serve_service(service).await;
        check_poll_ready_failure(addr, &inner, kind).await;
    }
}

// ---------------------------------------------------------------------------
// 6. 500s the handler made itself
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_plain_text_500_gets_the_problem_body_and_keeps_other_headers() {
    let addr = serve_router(app()).await;

    for reply in [
        h1(addr, get_with_id("/raw-500", "raw-1")).await,
        h2(addr, get_with_id("/raw-500", "raw-1")).await,
    ] {
        assert_problem(&reply, "internal_error", Some("raw-1"));
        assert!(!reply.text().contains("plain text"));
        assert_eq!(reply.header("x-custom"), Some("kept"));
        assert_eq!(reply.header("etag"), None, "ETag described the old body");
        assert_eq!(reply.header("last-modified"), None);
        // Every header about the dropped body goes; the problem's English
        // titles are said to be English.
        assert_eq!(reply.header("content-location"), None);
        assert_eq!(reply.header("content-digest"), None);
        assert_eq!(reply.header("repr-digest"), None);
        assert_eq!(reply.headers.get_all("content-language").iter().count(), 1);
        assert_eq!(reply.header("content-language"), Some("en"));
        // `assert_problem` checked there is exactly one: no-store.
        assert_eq!(reply.header("cache-control"), Some("no-store"));
    }
}

#[tokio::test]
async fn a_problem_json_500_from_the_handler_passes_through_untouched() {
    let addr = serve_router(app()).await;

    for reply in [
        h1(addr, get_with_id("/problem-500", "own-1")).await,
        h2(addr, get_with_id("/problem-500", "own-1")).await,
    ] {
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json; charset=utf-8")
        );
        assert_eq!(reply.body.as_ref(), OWN_PROBLEM.as_bytes(), "same bytes");
        assert_eq!(reply.header("cache-control"), None);
        reply.assert_complete();
    }
}

#[tokio::test]
async fn without_normalisation_a_plain_500_passes_through_untouched() {
    let addr =
        serve_router(routes().layer(AppErrorLayer::new().intercept_error_responses(false))).await;

    let reply = h1(addr, get("/raw-500")).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(reply.text(), RAW_500_TEXT);
    assert_eq!(reply.header("etag"), Some("\"v1\""));
    assert_eq!(reply.header("cache-control"), Some("max-age=600"));
    assert_eq!(reply.header("x-custom"), Some("kept"));
    reply.assert_complete();

    // Real failures are still turned into problems.
    assert_problem(&h1(addr, get("/panic")).await, "panic", None);
}

// ---------------------------------------------------------------------------
// 7. HEAD
// ---------------------------------------------------------------------------

#[tokio::test]
async fn head_to_a_panicking_route_gets_the_same_head_and_no_body() {
    let addr = serve_router(app()).await;

    let get_reply = h1(addr, get_with_id("/panic", "head-1")).await;
    assert_problem(&get_reply, "panic", Some("head-1"));
    let get_length = get_reply.body.len().to_string();

    let head = || request(Method::HEAD, "/panic", &[("x-request-id", "head-1")]);
    for reply in [h1(addr, head()).await, h2(addr, head()).await] {
        assert_problem_head(&reply);
        assert_eq!(
            reply.header("content-length"),
            Some(get_length.as_str()),
            "HEAD must announce the length of the GET body ({:?})",
            reply.version
        );
        assert!(
            reply.body.is_empty(),
            "HEAD response with a body: {reply:?}"
        );
        assert_eq!(reply.body_error, None);
    }

    // The keep-alive connection is still in sync after a HEAD.
    let mut conn = H1::connect(addr).await;
    let reply = conn.send(head()).await;
    assert!(reply.body.is_empty());
    let reply = conn.send(get("/")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), "hello");
}
