//! Customising the failure response: `respond_with` closures and
//! `ResponseForFailure` impls, captured headers, a panicking customisation,
//! `expose_details`, `type_base`, `capture_request`.

mod support;

use std::io;

use axum::body::Bytes;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{Method, Response, StatusCode};
use axum::routing;
use axum::Router;
use futures_util::StreamExt as _;
use http_body_util::Full;
use serde_json::json;
use tower_problem::app::{AppErrorLayer, Failure, HandlerError};
use tower_problem::problem::Problem;
use tower_problem::{DefaultClassifier, IntoFailureResponse, RequestContext, ResponseForFailure};

use support::*;

const PANIC_MESSAGE: &str = "the handler panicked: invariant broken";

async fn panics() -> &'static str {
    panic!("{}", PANIC_MESSAGE)
}

async fn fails() -> Result<String, HandlerError> {
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        "config file missing",
    ))?
}

fn app<R: ResponseForFailure<Failure>>(layer: AppErrorLayer<DefaultClassifier, R>) -> Router {
    Router::new()
        .route("/", routing::get(|| async { "hello" }))
        .route("/panic", routing::get(panics))
        .route("/error", routing::get(fails))
        .layer(layer)
}

#[tokio::test]
async fn a_closure_can_add_an_extension_member() {
    // No annotation: the method's bound gives the closure its types.
    let layer = AppErrorLayer::new().respond_with(|failure, request, problem| {
        problem
            .into_builder()
            .extension("support", "https://example.com/support")
            .extension("seen_kind", failure.kind().as_str())
            .extension("seen_path", request.path().unwrap_or("-").to_owned())
            .build()
            .expect("valid extension names")
    });
    let addr = serve_router(app(layer)).await;

    for reply in [
        h1(addr, get_with_id("/panic", "c-1")).await,
        h2(addr, get_with_id("/panic", "c-1")).await,
    ] {
        assert_problem_head(&reply);
        reply.assert_complete();
        let mut expected = expected_problem("panic", Some("c-1"));
        expected["support"] = json!("https://example.com/support");
        expected["seen_kind"] = json!("panic");
        expected["seen_path"] = json!("/panic");
        assert_eq!(reply.json(), expected);
    }

    // Successful responses are untouched by the customisation.
    let reply = h1(addr, get("/")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), "hello");
}

/// An HTML page for browsers, the problem for everyone else.
#[derive(Clone)]
struct HtmlForBrowsers;

impl ResponseForFailure<Failure> for HtmlForBrowsers {
    type Body = Full<Bytes>;

    fn response_for_failure(
        &self,
        failure: &Failure,
        request: &RequestContext,
        problem: Problem,
    ) -> Response<Full<Bytes>> {
        let wants_html = request
            .headers()
            .get_all(ACCEPT)
            .iter()
            .any(|value| value.to_str().is_ok_and(|v| v.contains("text/html")));
        // Only the captured header is kept.
        assert!(request.headers().get("user-agent").is_none());
        if !wants_html {
            return problem.into_failure_response();
        }
        let page = format!(
            "<!doctype html><title>{title}</title><h1>{title}</h1><p>kind {kind}</p>",
            title = problem.title().unwrap_or("Error"),
            kind = failure.kind(),
        );
        Response::builder()
            .status(failure.status())
            .header(CONTENT_TYPE, "text/html; charset=utf-8")
            .body(Full::from(page))
            .expect("valid response")
    }
}

/// With axum, a closure answers with any axum response: a fixed page gets
/// its `Content-Length` (none for `HEAD`'s body), a streamed one goes out as
/// it streams, and a body that panics midway is cut, never complete.
#[tokio::test]
async fn a_closure_can_answer_with_an_axum_response() {
    use axum::body::Body;
    use axum::response::{Html, IntoResponse};

    let layer = AppErrorLayer::new().respond_with(|failure, request, problem| {
        let title = problem.title().unwrap_or("Error").to_owned();
        match request.path() {
            Some("/error") => {
                let chunks = ["<h1>", "streamed", "</h1>"].map(Ok::<_, io::Error>);
                (
                    failure.status(),
                    Body::from_stream(futures_util::stream::iter(chunks)),
                )
                    .into_response()
            }
            _ => (failure.status(), Html(format!("<h1>{title}</h1>"))).into_response(),
        }
    });
    let addr = serve_router(app(layer)).await;

    for reply in [h1(addr, get("/panic")).await, h2(addr, get("/panic")).await] {
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            reply.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(reply.text(), "<h1>The request handler panicked</h1>");
        reply.assert_complete();
    }
    let reply = h1(addr, request(Method::HEAD, "/panic", &[])).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.header("content-length"), Some("37"));
    assert!(reply.body.is_empty());

    let reply = h1(addr, get("/error")).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.text(), "<h1>streamed</h1>");
    assert_eq!(reply.body_error, None);
    assert_eq!(reply.header("transfer-encoding"), Some("chunked"));
}

/// A customisation's streamed body that panics is cut: the client sees an
/// error, not a complete body.
#[tokio::test]
async fn a_customisation_body_that_panics_is_cut() {
    use axum::body::Body;
    use axum::response::IntoResponse;

    let layer = AppErrorLayer::new().respond_with(|failure, _request, _problem| {
        let chunks = futures_util::stream::iter([0, 1]).map(|n| {
            assert_eq!(n, 0, "the customisation's body broke");
            Ok::<_, io::Error>("first chunk")
        });
        (failure.status(), Body::from_stream(chunks)).into_response()
    });
    let addr = serve_router(app(layer)).await;
    // hyper may not have flushed the head when the body fails: either way
    // the exchange ends in an error.
    match H1::connect(addr).await.try_send(get("/panic")).await {
        Ok(reply) => assert!(reply.body_error.is_some(), "{reply:?}"),
        Err(error) => assert!(!error.is_empty()),
    }
}

#[tokio::test]
async fn a_response_for_failure_can_answer_html_from_the_captured_accept_header() {
    let layer = AppErrorLayer::new()
        .capture_header(ACCEPT)
        .responder(HtmlForBrowsers);
    let addr = serve_router(app(layer)).await;

    let browser = || {
        request(
            Method::GET,
            "/panic",
            &[
                ("accept", "text/html,application/xhtml+xml;q=0.9"),
                ("user-agent", "test-browser"),
            ],
        )
    };
    for reply in [h1(addr, browser()).await, h2(addr, browser()).await] {
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            reply.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        reply.assert_complete();
        assert!(
            reply.text().starts_with("<!doctype html>"),
            "{}",
            reply.text()
        );
        assert!(reply
            .text()
            .contains("<h1>The request handler panicked</h1>"));
        assert!(reply.text().contains("kind panic"));
    }

    let api_client = request(
        Method::GET,
        "/error",
        &[
            ("accept", "application/json"),
            ("user-agent", "test-client"),
        ],
    );
    assert_problem(&h1(addr, api_client).await, "handler_error", None);
    // No Accept header at all.
    assert_problem(&h1(addr, get("/panic")).await, "panic", None);
}

#[tokio::test(flavor = "current_thread")]
async fn a_panicking_customisation_still_answers_a_valid_problem() {
    let (logs, _guard) = Logs::capture();
    let layer = AppErrorLayer::new().respond_with(
        |_: &Failure, _: &RequestContext, _: Problem| -> Problem {
            panic!("the customisation exploded")
        },
    );
    let addr = serve_router(app(layer)).await;

    let reply = h1(addr, get_with_id("/panic", "rp-1")).await;
    assert_problem_head(&reply);
    reply.assert_complete();
    // The default response of the same failure: the marker, the body and
    // the log tell one story.
    assert_eq!(reply.json(), expected_problem("panic", Some("rp-1")));
    assert_eq!(reply.headers["content-language"], "en");

    let handler = logs.wait_for(&["request handler panicked"]).await;
    assert_eq!(handler.len(), 1, "{}", logs.text());
    assert_error_level(&handler[0]);
    assert!(handler[0].contains(PANIC_MESSAGE), "{}", handler[0]);
    assert!(
        handler[0].contains(r#"request_id="rp-1""#),
        "{}",
        handler[0]
    );

    let respond = logs.wait_for(&["the customisation exploded"]).await;
    assert_eq!(respond.len(), 1, "{}", logs.text());
    assert_error_level(&respond[0]);
    assert!(
        respond[0].contains(r#"request_id="rp-1""#),
        "{}",
        respond[0]
    );

    // An error is answered the same way; the server serves on.
    assert_problem_head(&h2(addr, get("/error")).await);
    let reply = h1(addr, get("/")).await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn expose_details_puts_the_panic_message_and_error_chain_into_detail() {
    let addr = serve_router(app(AppErrorLayer::new().expose_details(true))).await;

    let reply = h1(addr, get_with_id("/panic", "d-1")).await;
    assert_problem_head(&reply);
    reply.assert_complete();
    let mut expected = expected_problem("panic", Some("d-1"));
    // No panic hook in this binary, so no location is appended.
    expected["detail"] = json!(PANIC_MESSAGE);
    assert_eq!(reply.json(), expected);

    let reply = h2(addr, get("/error")).await;
    assert_problem_head(&reply);
    let mut expected = expected_problem("handler_error", None);
    expected["detail"] = json!("config file missing");
    assert_eq!(reply.json(), expected);
}

#[tokio::test]
async fn type_base_changes_the_type_uri() {
    let layer = AppErrorLayer::new().type_base("https://errors.example.com/");
    let addr = serve_router(app(layer)).await;

    for (path, kind) in [("/panic", "panic"), ("/error", "handler_error")] {
        let reply = h1(addr, get(path)).await;
        assert_problem_head(&reply);
        reply.assert_complete();
        let mut expected = expected_problem(kind, None);
        expected["type"] = json!(format!("https://errors.example.com/{kind}"));
        assert_eq!(reply.json(), expected);
    }
}

#[tokio::test]
async fn another_request_id_header_can_be_named() {
    let layer = AppErrorLayer::new()
        .request_id_header(axum::http::HeaderName::from_static("x-correlation-id"));
    let addr = serve_router(app(layer)).await;

    let req = request(
        Method::GET,
        "/panic",
        &[("x-correlation-id", "corr-7"), ("x-request-id", "ignored")],
    );
    assert_problem(&h1(addr, req).await, "panic", Some("corr-7"));
}

#[tokio::test(flavor = "current_thread")]
async fn without_request_capture_no_request_id_is_echoed_or_logged() {
    let (logs, _guard) = Logs::capture();
    let addr = serve_router(app(AppErrorLayer::new().capture_request(false))).await;

    let reply = h1(addr, get_with_id("/panic", "nc-1")).await;
    assert_problem(&reply, "panic", None);

    let lines = logs.wait_for(&["request handler panicked"]).await;
    assert_eq!(lines.len(), 1, "{}", logs.text());
    assert!(lines[0].contains("method=GET"), "{}", lines[0]);
    // What is not known is left out, not written as `-`.
    assert!(!lines[0].contains("path="), "{}", lines[0]);
    assert!(!lines[0].contains("request_id="), "{}", lines[0]);
    assert!(!lines[0].contains("nc-1"), "{}", lines[0]);
}
