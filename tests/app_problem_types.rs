//! Problem types of the application's own, over TCP: a domain error
//! registered with `problem_type` answers its own `type` (under the
//! `type_base`), title, status, detail, members and required headers,
//! through `?` and under anyhow's context; a 5xx keeps its detail to the
//! log; without a `type_base` it is `about:blank` with its detail; a member
//! named against RFC 9457's advice is left out; the marker gives the token.

mod support;

use std::fmt;
use std::sync::{Arc, Mutex};

use axum::extract::Path;
use axum::http::header::WWW_AUTHENTICATE;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::routing::get;
use axum::Router;
use tower_problem::app::{AppErrorLayer, HandlerError, ProblemType};
use tower_problem::problem::ExtensionValue;

use support::*;

/// The API's errors, one problem type each.
#[derive(Debug)]
enum ApiError {
    NoSuchOrder(u64),
    NotSignedIn,
    LedgerDown,
    BadMember,
    /// 405, and no `Allow` supplied: a set-up bug.
    WrongMethod,
    AttachmentTooLarge,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSuchOrder(id) => write!(f, "no order {id}"),
            Self::NotSignedIn => f.write_str("no session cookie"),
            Self::LedgerDown => f.write_str("the ledger at 10.0.0.7 refused"),
            Self::BadMember => f.write_str("a member with a bad name"),
            Self::WrongMethod => f.write_str("orders are only read"),
            Self::AttachmentTooLarge => f.write_str("the attachment is over 1 MiB"),
        }
    }
}

impl std::error::Error for ApiError {}

impl ProblemType for ApiError {
    fn kind(&self) -> &'static str {
        match self {
            Self::NoSuchOrder(_) => "order-not-found",
            Self::NotSignedIn => "not-signed-in",
            Self::LedgerDown => "ledger-down",
            Self::BadMember => "bad-member",
            Self::WrongMethod => "wrong-method",
            Self::AttachmentTooLarge => "attachment-too-large",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::NoSuchOrder(_) => "No such order",
            Self::NotSignedIn => "Sign in first",
            Self::LedgerDown => "The ledger is down",
            Self::BadMember => "Bad member",
            Self::WrongMethod => "Wrong method",
            Self::AttachmentTooLarge => "The attachment is too large",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::NoSuchOrder(_) | Self::BadMember => StatusCode::NOT_FOUND,
            Self::NotSignedIn => StatusCode::UNAUTHORIZED,
            Self::LedgerDown => StatusCode::SERVICE_UNAVAILABLE,
            Self::WrongMethod => StatusCode::METHOD_NOT_ALLOWED,
            Self::AttachmentTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }

    fn extensions(&self, members: &mut Vec<(&'static str, ExtensionValue)>) {
        match self {
            Self::NoSuchOrder(id) => members.push(("order_id", (*id).into())),
            Self::BadMember => {
                members.push(("retry-in", 5.into()));
                members.push(("kept", true.into()));
            }
            _ => {}
        }
    }

    fn headers(&self, headers: &mut HeaderMap) {
        if let Self::NotSignedIn = self {
            headers.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Cookie realm=\"api\""),
            );
        }
    }
}

async fn order(Path(id): Path<u64>) -> Result<String, HandlerError> {
    match id {
        1 => Ok("one".into()),
        2 => Err(ApiError::NotSignedIn)?,
        3 => Err(ApiError::LedgerDown)?,
        4 => Err(ApiError::BadMember)?,
        5 => Err(ApiError::WrongMethod)?,
        6 => Err(ApiError::AttachmentTooLarge)?,
        id => {
            use anyhow::Context as _;
            Err(ApiError::NoSuchOrder(id)).with_context(|| format!("loading order {id}"))?
        }
    }
}

fn app(layer: AppErrorLayer) -> Router {
    Router::new().route("/orders/{id}", get(order)).layer(layer)
}

#[tokio::test]
async fn a_problem_type_answers_as_itself_under_the_type_base() {
    let tokens = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&tokens);
    let layer = AppErrorLayer::new()
        .type_base("https://errors.example.com/")
        .problem_type::<ApiError>()
        .on_failure(move |failure, _request| seen.lock().unwrap().push(failure.kind_str()));
    let addr = serve_router(app(layer)).await;

    let reply = h1(addr, request(Method::GET, "/orders/7", &[])).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(
        reply.json(),
        serde_json::json!({
            "type": "https://errors.example.com/order-not-found",
            "title": "No such order",
            "status": 404,
            "detail": "no order 7",
            "kind": "order-not-found",
            "order_id": 7,
        }),
        "found under anyhow's context"
    );

    let reply = h1(addr, request(Method::GET, "/orders/2", &[])).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Cookie realm=\"api\"")
    );
    assert_eq!(reply.json()["kind"], "not-signed-in");

    // A 5xx keeps its detail to the log.
    let reply = h1(addr, request(Method::GET, "/orders/3", &[])).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    let problem = reply.json();
    assert_eq!(problem["kind"], "ledger-down");
    assert!(problem.get("detail").is_none(), "{problem}");

    // A member RFC 9457 advises against is left out; the others stay.
    let reply = h1(addr, request(Method::GET, "/orders/4", &[])).await;
    let problem = reply.json();
    assert!(problem.get("retry-in").is_none(), "{problem}");
    assert_eq!(problem["kept"], true);

    assert_eq!(
        *tokens.lock().unwrap(),
        [
            "order-not-found",
            "not-signed-in",
            "ledger-down",
            "bad-member"
        ]
    );
}

#[tokio::test]
async fn a_5xx_problem_type_shows_its_detail_only_where_details_are_exposed() {
    let layer = AppErrorLayer::new()
        .type_base("https://errors.example.com/")
        .expose_details(true)
        .problem_type::<ApiError>();
    let addr = serve_router(app(layer)).await;
    let reply = h1(addr, request(Method::GET, "/orders/3", &[])).await;
    assert_eq!(reply.json()["detail"], "the ledger at 10.0.0.7 refused");
}

#[tokio::test]
async fn without_a_type_base_a_problem_type_is_about_blank_with_its_detail() {
    let addr = serve_router(app(AppErrorLayer::new().problem_type::<ApiError>())).await;
    let reply = h1(addr, request(Method::GET, "/orders/7", &[])).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let problem = reply.json();
    assert_eq!(problem["type"], "about:blank");
    assert_eq!(problem["title"], "Not Found");
    assert_eq!(problem["detail"], "no order 7");
    assert_eq!(problem["kind"], "order-not-found");
    // The title is RFC 9110's phrase, which the http crate has not caught
    // up with for 413 ("Payload Too Large").
    let reply = h1(addr, request(Method::GET, "/orders/6", &[])).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.json()["title"], "Content Too Large");
}

#[tokio::test]
async fn an_unregistered_domain_error_is_a_handler_error() {
    let addr = serve_router(app(AppErrorLayer::new())).await;
    let reply = h1(addr, request(Method::GET, "/orders/7", &[])).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.json()["kind"], "handler_error");
}

/// A 401, 405, 407 or 426 must carry its header (RFC 9110 §15.5.2, §15.5.6,
/// §15.5.8, §15.5.22): an error classified as one without supplying it is
/// a set-up bug, answered 500 `handler_error` with a line that says why.
#[tokio::test(flavor = "current_thread")]
async fn a_status_that_needs_a_header_the_error_lacks_is_a_500() {
    let (logs, _guard) = Logs::capture();
    let layer = AppErrorLayer::new()
        .type_base("https://errors.example.com/")
        .problem_type::<ApiError>();
    let addr = serve_router(app(layer)).await;
    let reply = h1(addr, request(Method::GET, "/orders/5", &[])).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.json()["kind"], "handler_error");
    assert!(reply.header("allow").is_none());
    logs.wait_for(&[
        "ERROR",
        "requires a header",
        "kind=\"wrong-method\"",
        "header=\"allow\"",
    ])
    .await;

    // A classifier's status kind has no header to give.
    let layer = AppErrorLayer::new().classify_with(|error| {
        error
            .is::<ApiError>()
            .then_some(tower_problem::app::Kind::Unauthorized)
    });
    let addr = serve_router(Router::new().route("/orders/{id}", get(order)).layer(layer)).await;
    let reply = h1(addr, request(Method::GET, "/orders/2", &[])).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(reply.header("www-authenticate").is_none());
    logs.wait_for(&[
        "requires a header",
        "kind=\"unauthorized\"",
        "header=\"www-authenticate\"",
    ])
    .await;

    // The problem type that supplies its header keeps its status.
    let layer = AppErrorLayer::new().problem_type::<ApiError>();
    let addr = serve_router(app(layer)).await;
    let reply = h1(addr, request(Method::GET, "/orders/2", &[])).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}
