//! Every error response the app's stack makes, answered as a problem when
//! the app layer is told to (`intercept_all_errors`): axum's rejections, its
//! router's 404 and 405, tower-http's timeout, body limits, a handler's own
//! plain-text errors, and errors named by their kind (tower's timeout and
//! load shedding, a domain's "not found"), over real sockets.

mod support;

use std::convert::Infallible;
use std::error::Error;
use std::fmt;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body_util::Full;
use serde::Deserialize;
use serde_json::json;
use tower::ServiceBuilder;
use tower_problem::app::{AppErrorLayer, HandlerError, Kind};

use support::{bounded, h1, h2, request, serve_router, Logs, Reply};

#[derive(Deserialize)]
#[allow(dead_code)]
struct Order {
    item: String,
    quantity: u32,
}

async fn create_order(Json(order): Json<Order>) -> impl IntoResponse {
    (StatusCode::CREATED, order.item)
}

#[derive(Debug)]
enum OrderError {
    NoSuchOrder(u32),
    AlreadyShipped,
}

impl fmt::Display for OrderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSuchOrder(id) => write!(f, "no order {id}"),
            Self::AlreadyShipped => f.write_str("the order has shipped"),
        }
    }
}

impl Error for OrderError {}

fn classify_orders(error: &(dyn Error + 'static)) -> Option<Kind> {
    match error.downcast_ref::<OrderError>()? {
        OrderError::NoSuchOrder(_) => Some(Kind::NotFound),
        OrderError::AlreadyShipped => Some(Kind::Conflict),
    }
}

fn find_order(id: u32) -> Result<String, OrderError> {
    match id {
        1 => Ok("one".into()),
        2 => Err(OrderError::AlreadyShipped),
        id => Err(OrderError::NoSuchOrder(id)),
    }
}

async fn order(axum::extract::Path(id): axum::extract::Path<u32>) -> Result<String, HandlerError> {
    Ok(find_order(id)?)
}

/// The same, the domain error under anyhow's and eyre's context.
async fn order_in_context(
    axum::extract::Path((with, id)): axum::extract::Path<(String, u32)>,
) -> Result<String, HandlerError> {
    if with == "eyre" {
        use eyre::WrapErr as _;
        return Ok(find_order(id).wrap_err_with(|| format!("loading order {id}"))?);
    }
    use anyhow::Context as _;
    Ok(find_order(id).with_context(|| format!("loading order {id}"))?)
}

/// A text longer than the 1 KiB the layer reads.
const LONG_TEXT: &str = concat!(
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
    "and one byte more than 1 KiB",
);

fn plain(status: StatusCode, text: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain")], text).into_response()
}

/// The routes each case needs, inside `layer`.
fn app(layer: AppErrorLayer<fn(&(dyn Error + 'static)) -> Option<Kind>>) -> Router {
    Router::new()
        .route("/", get(|| async { "hello" }))
        .route("/orders", post(create_order))
        .route("/orders/{id}", get(order))
        .route("/{with}/orders/{id}", get(order_in_context))
        .route(
            "/upload",
            post(|body: Bytes| async move { body.len().to_string() })
                .layer(DefaultBodyLimit::max(1024)),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            })
            .layer(tower_http::timeout::TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                Duration::from_millis(50),
            )),
        )
        .route(
            "/tower-timeout",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route(
            "/throttled",
            get(|| async {
                let mut res = plain(StatusCode::TOO_MANY_REQUESTS, "slow down");
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("7"));
                res
            }),
        )
        .route(
            "/login",
            get(|| async {
                let mut res = StatusCode::UNAUTHORIZED.into_response();
                res.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"api\""),
                );
                res
            }),
        )
        .route(
            "/proxy-login",
            get(|| async {
                let mut res = StatusCode::PROXY_AUTHENTICATION_REQUIRED.into_response();
                res.headers_mut().insert(
                    header::PROXY_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"proxy\""),
                );
                res
            }),
        )
        .route(
            "/upgrade",
            get(|| async {
                let mut res = plain(StatusCode::UPGRADE_REQUIRED, "use TLS");
                let headers = res.headers_mut();
                headers.insert(header::UPGRADE, HeaderValue::from_static("TLS/1.3"));
                headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
                res
            }),
        )
        .route(
            "/range",
            get(|| async {
                let mut res = plain(StatusCode::RANGE_NOT_SATISFIABLE, "bad range");
                res.headers_mut().insert(
                    header::CONTENT_RANGE,
                    HeaderValue::from_static("bytes */42"),
                );
                res
            }),
        )
        .route(
            "/own-problem",
            get(|| async {
                (
                    StatusCode::BAD_REQUEST,
                    [(header::CONTENT_TYPE, "application/problem+json")],
                    r#"{"title":"mine","status":400}"#,
                )
            }),
        )
        .route(
            "/long-text",
            get(|| async { plain(StatusCode::BAD_REQUEST, LONG_TEXT) }),
        )
        .route(
            "/shipped",
            get(|| async {
                let body = json!({
                    "error": "order 2 shipped",
                    "code": "E42",
                    "retry": false,
                    "items": [1, 2],
                    "status": "shipped",
                    "kind": "order",
                    "x-y": 1,
                });
                (StatusCode::CONFLICT, Json(body))
            }),
        )
        .route(
            "/broken-json",
            get(|| async {
                let body = json!({"error": "database down", "table": "orders"});
                (StatusCode::SERVICE_UNAVAILABLE, Json(body))
            }),
        )
        .route(
            "/big-json",
            get(|| async {
                let body = json!({ "error": "x".repeat(16 * 1024) });
                (StatusCode::BAD_REQUEST, Json(body))
            }),
        )
        .route(
            "/json-array",
            get(|| async { (StatusCode::BAD_REQUEST, Json(json!(["not", "an object"]))) }),
        )
        .route(
            "/streamed",
            get(|| async {
                // A 4xx body with no known length: not read.
                let chunks = futures_util::stream::iter(
                    ["part one; ", "part two"].map(|chunk| Ok::<_, Infallible>(Bytes::from(chunk))),
                );
                let mut res = Response::new(Body::from_stream(chunks));
                *res.status_mut() = StatusCode::BAD_REQUEST;
                res.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
                res
            }),
        )
        .layer(layer)
}

fn every_error() -> AppErrorLayer<fn(&(dyn Error + 'static)) -> Option<Kind>> {
    AppErrorLayer::new()
        .intercept_all_errors(true)
        .classify_with(classify_orders as fn(&(dyn Error + 'static)) -> Option<Kind>)
}

fn post_json(path: &str, content_type: Option<&str>, body: &'static str) -> Request<Full<Bytes>> {
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::HOST, "localhost");
    if let Some(content_type) = content_type {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    builder.body(Full::from(body)).expect("a request")
}

/// Asserts a problem of a status kind: status, headers, `about:blank`, the
/// status's phrase, the kind; returns the body.
fn assert_status_problem(reply: &Reply, status: StatusCode, kind: &str) -> serde_json::Value {
    assert_eq!(reply.status, status, "{reply:?}");
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(reply.header("content-language"), Some("en"));
    reply.assert_complete();
    let problem = reply.json();
    assert_eq!(problem["type"], "about:blank", "{problem}");
    assert_eq!(problem["status"], status.as_u16());
    assert_eq!(problem["kind"], kind);
    problem
}

#[tokio::test]
async fn axum_rejections_become_problems_with_their_text() {
    let addr = serve_router(app(every_error())).await;

    let reply = h1(
        addr,
        post_json("/orders", Some("application/json"), "{oops"),
    )
    .await;
    let problem = assert_status_problem(&reply, StatusCode::BAD_REQUEST, "bad_request");
    assert_eq!(problem["title"], "Bad Request");
    let detail = problem["detail"].as_str().expect("a detail");
    assert!(
        detail.starts_with("Failed to parse the request body as JSON"),
        "{detail}"
    );

    let reply = h1(
        addr,
        post_json("/orders", None, r#"{"item":"tea","quantity":1}"#),
    )
    .await;
    let problem = assert_status_problem(
        &reply,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    assert_eq!(problem["title"], "Unsupported Media Type");
    assert!(problem["detail"].as_str().unwrap().contains("Content-Type"));

    let reply = h1(
        addr,
        post_json("/orders", Some("application/json"), r#"{"item":"tea"}"#),
    )
    .await;
    let problem = assert_status_problem(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unprocessable_content",
    );
    assert_eq!(problem["title"], "Unprocessable Content");
    assert!(
        problem["detail"].as_str().unwrap().contains("quantity"),
        "{problem}"
    );

    // The happy path is untouched.
    let reply = h1(
        addr,
        post_json(
            "/orders",
            Some("application/json"),
            r#"{"item":"tea","quantity":1}"#,
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.text(), "tea");
}

#[tokio::test]
async fn the_router_404_and_405_keep_what_they_need() {
    let addr = serve_router(app(every_error())).await;

    let reply = h1(addr, request(Method::GET, "/no/such/path?q=1", &[])).await;
    let problem = assert_status_problem(&reply, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(
        problem,
        json!({"type": "about:blank", "title": "Not Found", "status": 404, "kind": "not_found"}),
        "an empty body gives no detail"
    );

    let reply = h1(addr, request(Method::DELETE, "/", &[])).await;
    let problem =
        assert_status_problem(&reply, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    assert_eq!(problem["title"], "Method Not Allowed");
    let allow = reply.header("allow").expect("Allow is kept on a 405");
    assert!(allow.contains("GET"), "{allow}");

    // HEAD: the head a GET would get, no body.
    let reply = h1(addr, request(Method::HEAD, "/no/such/path", &[])).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    assert!(reply.body.is_empty());
    let get = h1(addr, request(Method::GET, "/no/such/path", &[])).await;
    assert_eq!(
        reply.header("content-length"),
        Some(get.body.len().to_string().as_str())
    );

    // HTTP/2 too.
    let reply = h2(addr, request(Method::GET, "/no/such/path", &[])).await;
    assert_status_problem(&reply, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn timeouts_and_body_limits_are_named_by_their_status() {
    let addr = serve_router(app(every_error())).await;

    let reply = bounded(
        "tower-http's timeout answers",
        h1(addr, request(Method::GET, "/slow", &[])),
    )
    .await;
    let problem = assert_status_problem(&reply, StatusCode::REQUEST_TIMEOUT, "request_timeout");
    assert_eq!(problem["title"], "Request Timeout");

    let big: &'static str = Box::leak("x".repeat(2048).into_boxed_str());
    let reply = h1(
        addr,
        post_json("/upload", Some("application/octet-stream"), big),
    )
    .await;
    let problem = assert_status_problem(&reply, StatusCode::PAYLOAD_TOO_LARGE, "content_too_large");
    assert_eq!(problem["title"], "Content Too Large");
}

#[tokio::test]
async fn the_headers_a_status_needs_stay() {
    let addr = serve_router(app(every_error())).await;

    let reply = h1(addr, request(Method::GET, "/throttled", &[])).await;
    let problem = assert_status_problem(&reply, StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
    assert_eq!(problem["detail"], "slow down");
    assert_eq!(reply.header("retry-after"), Some("7"));

    let reply = h1(addr, request(Method::GET, "/login", &[])).await;
    assert_status_problem(&reply, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer realm=\"api\"")
    );

    let reply = h1(addr, request(Method::GET, "/proxy-login", &[])).await;
    assert_status_problem(
        &reply,
        StatusCode::PROXY_AUTHENTICATION_REQUIRED,
        "proxy_authentication_required",
    );
    assert_eq!(
        reply.header("proxy-authenticate"),
        Some("Basic realm=\"proxy\"")
    );

    let reply = h1(addr, request(Method::GET, "/upgrade", &[])).await;
    assert_status_problem(&reply, StatusCode::UPGRADE_REQUIRED, "upgrade_required");
    assert_eq!(reply.header("upgrade"), Some("TLS/1.3"));

    let reply = h1(addr, request(Method::GET, "/range", &[])).await;
    assert_status_problem(
        &reply,
        StatusCode::RANGE_NOT_SATISFIABLE,
        "range_not_satisfiable",
    );
    assert_eq!(reply.header("content-range"), Some("bytes */42"));
}

#[tokio::test(flavor = "current_thread")]
async fn a_handlers_json_4xx_keeps_its_members() {
    let (logs, _guard) = Logs::capture();
    let addr = serve_router(app(every_error())).await;
    let reply = h1(addr, request(Method::GET, "/shipped", &[])).await;
    let problem = assert_status_problem(&reply, StatusCode::CONFLICT, "conflict");
    assert_eq!(problem["error"], "order 2 shipped", "{problem}");
    assert_eq!(problem["code"], "E42");
    assert_eq!(problem["retry"], false);
    assert_eq!(problem["items"], json!([1, 2]));
    // Names the problem cannot take at its top level are kept, together.
    assert_eq!(
        problem["original"],
        json!({"status": "shipped", "kind": "order", "x-y": 1}),
        "{problem}"
    );
    assert_eq!(problem["status"], 409);
    // Carried, so nothing was dropped: no warning.
    assert!(logs.lines_with(&["dropped"]).is_empty(), "{}", logs.text());
}

#[tokio::test(flavor = "current_thread")]
async fn a_json_body_not_carried_is_said_in_the_line() {
    let (logs, _guard) = Logs::capture();
    let addr = serve_router(app(every_error())).await;

    // A 5xx's members may tell internals: only with `expose_details`.
    let reply = h1(addr, request(Method::GET, "/broken-json", &[])).await;
    let problem = assert_status_problem(
        &reply,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    );
    assert!(problem.get("error").is_none(), "{problem}");
    let lines = logs
        .wait_for(&[
            "ERROR",
            "its content dropped",
            "content_type=\"application/json\"",
            "length=42",
        ])
        .await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(!lines[0].contains("database down"), "{lines:?}");

    // Over 16 KiB, and a JSON value that is no object: replaced, with a warning.
    let reply = h1(addr, request(Method::GET, "/big-json", &[])).await;
    let problem = assert_status_problem(&reply, StatusCode::BAD_REQUEST, "bad_request");
    assert!(problem.get("error").is_none(), "{problem}");
    logs.wait_for(&[" WARN ", "its content dropped", "length=16396"])
        .await;
    let reply = h1(addr, request(Method::GET, "/json-array", &[])).await;
    assert_status_problem(&reply, StatusCode::BAD_REQUEST, "bad_request");
    logs.wait_for(&[" WARN ", "its content dropped", "length=19"])
        .await;

    let exposed = every_error().expose_details(true);
    let addr = serve_router(app(exposed)).await;
    let reply = h1(addr, request(Method::GET, "/broken-json", &[])).await;
    let problem = assert_status_problem(
        &reply,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    );
    assert_eq!(problem["error"], "database down", "{problem}");
    assert_eq!(problem["table"], "orders");
}

#[tokio::test(flavor = "current_thread")]
async fn problems_of_the_app_pass_and_unread_bodies_say_nothing() {
    let (logs, _guard) = Logs::capture();
    let addr = serve_router(app(every_error())).await;

    let reply = h1(addr, request(Method::GET, "/own-problem", &[])).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.text(), r#"{"title":"mine","status":400}"#);

    // Above the bound, of a known length or of none: not read, not said.
    let reply = h1(addr, request(Method::GET, "/long-text", &[])).await;
    let problem = assert_status_problem(&reply, StatusCode::BAD_REQUEST, "bad_request");
    assert!(problem.get("detail").is_none(), "{problem}");
    let reply = h1(addr, request(Method::GET, "/streamed", &[])).await;
    let problem = assert_status_problem(&reply, StatusCode::BAD_REQUEST, "bad_request");
    assert!(problem.get("detail").is_none(), "{problem}");
    assert!(!reply.text().contains("part"));
    // The log says what was dropped, its length where known.
    let long = format!("length={}", LONG_TEXT.len());
    logs.wait_for(&[
        " WARN ",
        "its content dropped",
        "content_type=\"text/plain\"",
        &long,
    ])
    .await;
    let lines = logs
        .wait_for(&[" WARN ", "its content dropped", "path=\"/streamed\""])
        .await;
    assert!(!lines[0].contains("length="), "{lines:?}");
}

#[tokio::test]
async fn by_default_only_500s_are_replaced_and_the_set_can_be_narrowed() {
    let addr = serve_router(app(AppErrorLayer::new()
        .classify_with(classify_orders as fn(&(dyn Error + 'static)) -> Option<Kind>)))
    .await;
    let reply = h1(addr, request(Method::GET, "/throttled", &[])).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.text(), "slow down");
    let reply = h1(addr, request(Method::GET, "/no/such/path", &[])).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(reply.body.is_empty());

    let narrowed = AppErrorLayer::new()
        .intercept_only([StatusCode::NOT_FOUND])
        .classify_with(classify_orders as fn(&(dyn Error + 'static)) -> Option<Kind>);
    let addr = serve_router(app(narrowed)).await;
    let reply = h1(addr, request(Method::GET, "/no/such/path", &[])).await;
    assert_status_problem(&reply, StatusCode::NOT_FOUND, "not_found");
    let reply = h1(addr, request(Method::GET, "/throttled", &[])).await;
    assert_eq!(reply.text(), "slow down");

    let no_text = every_error().client_error_detail(false);
    let addr = serve_router(app(no_text)).await;
    let reply = h1(
        addr,
        post_json("/orders", Some("application/json"), "{oops"),
    )
    .await;
    let problem = assert_status_problem(&reply, StatusCode::BAD_REQUEST, "bad_request");
    assert!(problem.get("detail").is_none(), "{problem}");
}

#[tokio::test]
async fn it_works_over_any_tower_service_outside_a_router() {
    let svc = ServiceBuilder::new()
        .layer(AppErrorLayer::new().intercept_all_errors(true))
        .service_fn(|_req: Request<hyper::body::Incoming>| async {
            Ok::<_, Infallible>(plain(StatusCode::GONE, "the resource is gone"))
        });
    let addr = support::serve_service(svc).await;
    let reply = h1(addr, request(Method::GET, "/", &[])).await;
    let problem = assert_status_problem(&reply, StatusCode::GONE, "gone");
    assert_eq!(problem["detail"], "the resource is gone");
    let reply = h2(addr, request(Method::GET, "/", &[])).await;
    assert_status_problem(&reply, StatusCode::GONE, "gone");
}

#[test]
#[should_panic(expected = "not a 4xx or 5xx status")]
fn intercept_only_refuses_a_success_status() {
    let _ = AppErrorLayer::new().intercept_only([StatusCode::OK]);
}

#[tokio::test(flavor = "current_thread")]
async fn a_domain_error_through_question_mark_gets_its_status() {
    let (logs, _guard) = Logs::capture();
    let addr = serve_router(app(every_error())).await;

    let reply = h1(addr, request(Method::GET, "/orders/1", &[])).await;
    assert_eq!(reply.text(), "one");

    let reply = h1(addr, request(Method::GET, "/orders/7", &[])).await;
    let problem = assert_status_problem(&reply, StatusCode::NOT_FOUND, "not_found");
    assert!(
        problem.get("detail").is_none(),
        "the error text stays in the log"
    );
    let lines = logs
        .wait_for(&["request handler failed", "kind=\"not_found\"", "no order 7"])
        .await;
    assert!(
        lines[0].contains(" INFO "),
        "a domain's 4xx is no server failure: {}",
        lines[0]
    );

    let reply = h1(addr, request(Method::GET, "/orders/2", &[])).await;
    assert_status_problem(&reply, StatusCode::CONFLICT, "conflict");
}

#[tokio::test]
async fn a_domain_error_under_anyhow_or_eyre_context_is_still_classified() {
    let addr = serve_router(app(every_error())).await;
    for with in ["anyhow", "eyre"] {
        let reply = h1(
            addr,
            request(Method::GET, &format!("/{with}/orders/7"), &[]),
        )
        .await;
        assert_status_problem(&reply, StatusCode::NOT_FOUND, "not_found");
        let reply = h1(
            addr,
            request(Method::GET, &format!("/{with}/orders/2"), &[]),
        )
        .await;
        assert_status_problem(&reply, StatusCode::CONFLICT, "conflict");
    }
}

/// One intercept rule for both layers: a replaced 503's own `Retry-After`
/// wins over the layer's; one without gets the layer's.
#[tokio::test]
async fn a_replaced_503_keeps_its_own_retry_after_or_gets_the_layers() {
    let router = Router::new()
        .route(
            "/own",
            get(|| async {
                let mut res = plain(StatusCode::SERVICE_UNAVAILABLE, "down");
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("9"));
                res
            }),
        )
        .route(
            "/none",
            get(|| async { plain(StatusCode::SERVICE_UNAVAILABLE, "down") }),
        )
        .layer(every_error().retry_after(Some(Duration::from_secs(3))));
    let addr = serve_router(router).await;
    let reply = h1(addr, request(Method::GET, "/own", &[])).await;
    assert_status_problem(
        &reply,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    );
    assert_eq!(reply.header("retry-after"), Some("9"));
    assert_eq!(reply.headers.get_all("retry-after").iter().count(), 1);
    let reply = h1(addr, request(Method::GET, "/none", &[])).await;
    assert_status_problem(
        &reply,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    );
    assert_eq!(reply.header("retry-after"), Some("3"));
}

#[tokio::test(flavor = "current_thread")]
async fn tower_timeout_and_load_shedding_are_named() {
    let (logs, _guard) = Logs::capture();
    let slow = Router::new()
        .route(
            "/",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .layer(
            ServiceBuilder::new()
                .layer(AppErrorLayer::new().retry_after(Some(Duration::from_secs(3))))
                .timeout(Duration::from_millis(50)),
        );
    let addr = serve_router(slow).await;
    let reply = bounded(
        "the timeout answers",
        h1(addr, request(Method::GET, "/", &[])),
    )
    .await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    let problem = reply.json();
    assert_eq!(problem["kind"], "timeout");
    assert_eq!(problem["title"], "The request took too long");
    assert_eq!(reply.header("retry-after"), Some("3"));
    logs.wait_for(&["request handler failed", "kind=\"timeout\""])
        .await;

    // A service that is never ready, behind load shedding.
    let never_ready = tower::service_fn(|_req: Request<hyper::body::Incoming>| async {
        Ok::<_, Infallible>(Response::new(Body::empty()))
    });
    let shed = ServiceBuilder::new()
        .layer(AppErrorLayer::new().retry_after(Some(Duration::from_secs(1))))
        .load_shed()
        .service(Pending(never_ready));
    let addr = support::serve_service(shed).await;
    let reply = h1(addr, request(Method::GET, "/", &[])).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{reply:?}");
    assert_eq!(reply.json()["kind"], "overloaded");
    assert_eq!(reply.header("retry-after"), Some("1"));
}

/// A service that is never ready.
#[derive(Clone)]
struct Pending<S>(S);

impl<S: tower::Service<Req>, Req> tower::Service<Req> for Pending<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        std::task::Poll::Pending
    }

    fn call(&mut self, req: Req) -> S::Future {
        self.0.call(req)
    }
}

#[tokio::test(flavor = "current_thread")]
async fn anyhow_and_eyre_work_with_question_mark() {
    let (logs, _guard) = Logs::capture();
    async fn with_anyhow() -> Result<String, HandlerError> {
        let value: u32 = "x".parse().map_err(anyhow::Error::from)?;
        Ok(value.to_string())
    }
    async fn with_eyre() -> Result<String, HandlerError> {
        Err(eyre::eyre!("the ledger is locked"))?
    }
    async fn with_context() -> Result<String, HandlerError> {
        use anyhow::Context as _;
        std::fs::read_to_string("/no/such/file").context("reading the ledger")?;
        Ok(String::new())
    }
    let router = Router::new()
        .route("/anyhow", get(with_anyhow))
        .route("/eyre", get(with_eyre))
        .route("/context", get(with_context))
        .layer(AppErrorLayer::new());
    let addr = serve_router(router).await;
    for (path, text) in [
        ("/anyhow", "invalid digit found in string"),
        ("/eyre", "the ledger is locked"),
        ("/context", "reading the ledger: No such file or directory"),
    ] {
        let reply = h1(addr, request(Method::GET, path, &[])).await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(reply.json()["kind"], "handler_error");
        logs.wait_for(&["request handler failed", text]).await;
    }
    // anyhow's own `Debug` form, where its backtrace is, is logged when
    // the process asks errors for backtraces (as anyhow decides), and only
    // then: otherwise it would say the chain a second time.
    let var = |name| std::env::var(name).ok();
    let asked = var("RUST_LIB_BACKTRACE")
        .or_else(|| var("RUST_BACKTRACE"))
        .is_some_and(|value| value != "0");
    let context = logs.lines_with(&["request handler failed", "reading the ledger"]);
    assert_eq!(context.len(), 1, "{context:?}");
    assert_eq!(
        context[0].contains("error.debug=\"reading the ledger\\n\\nCaused by:"),
        asked,
        "{}",
        context[0]
    );
}
