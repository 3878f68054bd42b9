//! What the layer logs: every failure exactly once, at ERROR, with method,
//! full path and request id; the panic message goes to the logs, not to the
//! client.
//!
//! Each test runs on a current-thread runtime, so the server's and the
//! client's tasks run on the thread whose default subscriber captures logs.

mod support;

use std::convert::Infallible;
use std::fmt;
use std::io;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::routing;
use axum::Router;
use futures_util::stream;
use tower_http::trace::TraceLayer;
use tower_problem::app::{AppErrorLayer, HandlerError};

use support::*;

const PANIC_MESSAGE: &str = "secret-ish detail: the cache invariant broke";

async fn panics() -> &'static str {
    panic!("{}", PANIC_MESSAGE)
}

/// An error with a source, to see the whole chain in the log.
#[derive(Debug)]
struct ConfigError {
    source: io::Error,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("loading the config failed")
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

const CHAIN: &str = "loading the config failed: config file missing";

async fn fails() -> Result<String, HandlerError> {
    let source = io::Error::new(io::ErrorKind::NotFound, "config file missing");
    Err(ConfigError { source })?
}

async fn raw_500() -> (axum::http::StatusCode, &'static str) {
    (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "plain")
}

async fn stream_panics() -> Body {
    let chunks = stream::unfold(0u8, |step| async move {
        if step == 0 {
            return Some((Ok::<_, Infallible>(Bytes::from_static(b"chunk\n")), 1));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        panic!("the body stream broke mid-way")
    });
    Body::from_stream(chunks)
}

fn routes() -> Router {
    Router::new()
        .route("/boom", routing::get(panics))
        .route("/fail", routing::get(fails))
        .route("/raw", routing::get(raw_500))
        .route("/stream", routing::get(stream_panics))
}

/// The layer is on the inner router, nested under `/api`.
fn nested_app() -> Router {
    Router::new().nest("/api", routes().layer(AppErrorLayer::new()))
}

fn error_lines(logs: &Logs) -> Vec<String> {
    logs.lines_with(&["ERROR"])
}

#[tokio::test(flavor = "current_thread")]
async fn a_panic_is_logged_once_at_error_with_the_full_nested_path() {
    let (logs, _guard) = Logs::capture();
    let addr = serve_router(nested_app()).await;

    let reply = h1(addr, get_with_id("/api/boom?page=2", "log-panic-1")).await;
    assert_problem(&reply, "panic", Some("log-panic-1"));
    assert!(
        !reply.text().contains("invariant"),
        "the panic message leaked to the client: {}",
        reply.text()
    );

    let lines = logs.wait_for(&["request handler panicked"]).await;
    assert_eq!(lines.len(), 1, "logged more than once:\n{}", logs.text());
    let line = &lines[0];
    assert_error_level(line);
    assert!(line.contains("method=GET"), "{line}");
    assert!(
        line.contains(r#"path="/api/boom""#),
        "not the full path: {line}"
    );
    assert!(line.contains(r#"request_id="log-panic-1""#), "{line}");
    assert!(line.contains(r#"kind="panic""#), "{line}");
    assert!(line.contains(PANIC_MESSAGE), "no panic message: {line}");
    assert_eq!(error_lines(&logs).len(), 1, "{}", logs.text());
}

#[tokio::test(flavor = "current_thread")]
async fn a_panic_over_h2c_is_logged_once_too() {
    let (logs, _guard) = Logs::capture();
    let addr = serve_router(nested_app()).await;

    let reply = h2(addr, get_with_id("/api/boom", "log-panic-2")).await;
    assert_problem(&reply, "panic", Some("log-panic-2"));

    let lines = logs.wait_for(&["request handler panicked"]).await;
    assert_eq!(lines.len(), 1, "{}", logs.text());
    assert!(lines[0].contains(r#"path="/api/boom""#), "{}", lines[0]);
    assert!(
        lines[0].contains(r#"request_id="log-panic-2""#),
        "{}",
        lines[0]
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_handler_error_chain_is_logged_once_by_the_layer() {
    let (logs, _guard) = Logs::capture();
    let addr = serve_router(nested_app()).await;

    let reply = h1(addr, get_with_id("/api/fail", "log-err-1")).await;
    assert_problem(&reply, "handler_error", Some("log-err-1"));
    assert!(!reply.text().contains("config"), "{}", reply.text());

    let lines = logs.wait_for(&[CHAIN]).await;
    assert_eq!(lines.len(), 1, "logged more than once:\n{}", logs.text());
    let line = &lines[0];
    assert_error_level(line);
    assert!(line.contains(r#"kind="handler_error""#), "{line}");
    assert!(line.contains("method=GET"), "{line}");
    assert!(line.contains(r#"path="/api/fail""#), "{line}");
    assert!(line.contains(r#"request_id="log-err-1""#), "{line}");
    // The response (and its `Failure`) is long gone: no late second log.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(logs.lines_with(&[CHAIN]).len(), 1, "{}", logs.text());
    assert_eq!(error_lines(&logs).len(), 1, "{}", logs.text());
}

#[tokio::test(flavor = "current_thread")]
async fn without_the_layer_a_handler_error_is_still_logged_once() {
    let (logs, _guard) = Logs::capture();
    let addr = serve_router(routes()).await;

    let reply = h1(addr, get_with_id("/fail", "log-err-2")).await;
    // No layer: the handler's own problem, without request context.
    assert_problem(&reply, "handler_error", None);

    let lines = logs.wait_for(&[CHAIN]).await;
    assert_eq!(lines.len(), 1, "{}", logs.text());
    assert_error_level(&lines[0]);
    assert!(lines[0].contains(r#"kind="handler_error""#), "{}", lines[0]);

    // Over h2c the response is dropped elsewhere: still one line per request.
    let reply = h2(addr, get("/fail")).await;
    assert_problem(&reply, "handler_error", None);
    let lines = logs.wait_for_count(&[CHAIN], 2).await;
    assert_eq!(lines.len(), 2, "{}", logs.text());
}

#[tokio::test(flavor = "current_thread")]
async fn a_replaced_plain_500_is_logged_once() {
    let (logs, _guard) = Logs::capture();
    let addr = serve_router(nested_app()).await;

    let reply = h1(addr, get_with_id("/api/raw", "log-raw-1")).await;
    assert_problem(&reply, "internal_error", Some("log-raw-1"));

    let lines = logs.wait_for(&[r#"kind="internal_error""#]).await;
    assert_eq!(lines.len(), 1, "{}", logs.text());
    assert_error_level(&lines[0]);
    assert!(lines[0].contains(r#"path="/api/raw""#), "{}", lines[0]);
    assert!(
        lines[0].contains(r#"request_id="log-raw-1""#),
        "{}",
        lines[0]
    );
    assert_eq!(error_lines(&logs).len(), 1, "{}", logs.text());
}

#[tokio::test(flavor = "current_thread")]
async fn a_body_panic_is_logged_once_with_its_message_in_the_request_span() {
    let (logs, _guard) = Logs::capture();
    // The layer keeps no request context past the head: the body's panic is
    // logged inside whatever span the server polls the body in, here
    // tower-http's `TraceLayer`, which enters its span on every poll.
    let traced = nested_app().layer(TraceLayer::new_for_http().make_span_with(
        |req: &http::Request<Body>| {
            let request_id = req
                .headers()
                .get("x-request-id")
                .and_then(|id| id.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("request", path = %req.uri().path(), request_id)
        },
    ));
    let addr = serve_router(traced).await;

    let reply = h1(addr, get_with_id("/api/stream", "log-body-1")).await;
    assert!(reply.body_error.is_some(), "{reply:?}");

    let lines = logs.wait_for(&["the body stream broke mid-way"]).await;
    assert_eq!(lines.len(), 1, "{}", logs.text());
    let line = &lines[0];
    assert_error_level(line);
    assert!(line.contains(r#"kind="panic""#), "{line}");
    assert!(
        line.contains(r#"request{path=/api/stream request_id="log-body-1"}"#),
        "{line}"
    );
    // The server's own report of the aborted connection is not ours to
    // count; the layer's panic report is the only ERROR line.
    assert_eq!(error_lines(&logs).len(), 1, "{}", logs.text());
}

/// An error whose text tries to start a log line of its own.
#[derive(Debug)]
struct Forging;

impl fmt::Display for Forging {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bad input\r\nERROR tower_problem::app: forged line kind=\"panic\"")
    }
}

impl std::error::Error for Forging {}

async fn forges() -> Result<String, HandlerError> {
    Err(Forging)?
}

async fn forges_a_panic() -> &'static str {
    panic!("boom\nERROR forged panic line")
}

#[tokio::test(flavor = "current_thread")]
async fn error_texts_and_panic_messages_cannot_forge_a_log_line() {
    let (logs, _guard) = Logs::capture();
    let app = Router::new()
        .route("/forge", routing::get(forges))
        .route("/forge-panic", routing::get(forges_a_panic))
        .layer(AppErrorLayer::new());
    let addr = serve_router(app).await;

    assert_problem(&h1(addr, get("/forge")).await, "handler_error", None);
    assert_problem(&h1(addr, get("/forge-panic")).await, "panic", None);
    let handler = logs.wait_for(&["request handler failed"]).await;
    let panic = logs.wait_for(&["request handler panicked"]).await;
    for line in [&handler[0], &panic[0]] {
        // The whole text stays inside the one line, escaped, under the
        // layer's fixed target.
        assert!(line.contains("tower_problem::app"), "{line}");
        assert!(line.contains(r"\r\n") || line.contains(r"\n"), "{line}");
    }
    // No line is the forged one: each that holds its text is the layer's.
    let text = logs.text();
    let holding: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("forged"))
        .collect();
    assert_eq!(holding.len(), 2, "{text}");
    assert!(
        holding.iter().all(|line| line.contains("request handler")),
        "{text}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_huge_request_id_is_capped_and_one_that_is_not_ascii_is_left_out() {
    let (logs, _guard) = Logs::capture();
    let addr = serve_router(routes().layer(AppErrorLayer::new())).await;

    let huge = "i".repeat(100_000);
    let reply = h1(addr, get_with_id("/boom", &huge)).await;
    let capped = &huge[..128];
    assert_problem(&reply, "panic", Some(capped));
    let line = &logs.wait_for(&["request handler panicked"]).await[0];
    assert!(
        line.contains(&format!(r#"request_id="{capped}""#)),
        "{line}"
    );
    assert!(
        !line.contains(&huge[..129]),
        "the log line has the capped id only"
    );

    let reply = h1(addr, get_with_id("/boom", "caf\u{e9}")).await;
    assert_problem(&reply, "panic", None);
    let lines = logs.wait_for_count(&["request handler panicked"], 2).await;
    assert!(!lines[1].contains("request_id"), "{}", lines[1]);
}
