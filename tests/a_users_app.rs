//! The app a new user writes (a panicking route, a `?` error, a domain
//! error that is 404 or 409 with a member of its own, a `type_base`,
//! request ids and tower-http's `TraceLayer`), over TCP. The lines between
//! the two `-- the app --` markers that name a tower-problem item are
//! counted: the crate promises such an app in at most 12.

mod support;

use std::fmt;

use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::routing::get;
use axum::Router;
use serde_json::json;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use support::{h1, request, serve_router};

// -- the app --
use tower_problem::app::{AppErrorLayer, HandlerError, ProblemType};
use tower_problem::problem::ExtensionValue;

#[derive(Debug)]
enum OrderError {
    NotFound(u64),
    Shipped(u64),
}

impl fmt::Display for OrderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound(id) => write!(f, "no order {id}"),
            Self::Shipped(id) => write!(f, "order {id} has shipped"),
        }
    }
}

impl std::error::Error for OrderError {}

impl ProblemType for OrderError {
    fn kind(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "order-not-found",
            Self::Shipped(_) => "order-shipped",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "No such order",
            Self::Shipped(_) => "The order has shipped",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Shipped(_) => StatusCode::CONFLICT,
        }
    }

    fn extensions(&self, members: &mut Vec<(&'static str, ExtensionValue)>) {
        let (Self::NotFound(id) | Self::Shipped(id)) = self;
        members.push(("order_id", (*id).into()));
    }
}

async fn order(Path(id): Path<u64>) -> Result<String, HandlerError> {
    match id {
        1 => Ok("1 x tea".into()),
        2 => Err(OrderError::Shipped(id))?,
        _ => Err(OrderError::NotFound(id))?,
    }
}

async fn config() -> Result<String, HandlerError> {
    Ok(std::fs::read_to_string("/no/such/config.toml")?)
}

async fn boom() -> &'static str {
    panic!("invariant broken")
}

fn app() -> Router {
    Router::new()
        .route("/orders/{id}", get(order))
        .route("/config", get(config))
        .route("/boom", get(boom))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(PropagateRequestIdLayer::x_request_id())
                // The layer logs each failure once: no second line here.
                .layer(TraceLayer::new_for_http().on_failure(()))
                .layer(
                    AppErrorLayer::new()
                        .type_base("https://errors.example.com/")
                        .problem_type::<OrderError>(),
                ),
        )
}
// -- the app --

#[tokio::test]
async fn the_app_answers_its_own_problem_types_and_the_layers() {
    let addr = serve_router(app()).await;

    let reply = h1(
        addr,
        request(Method::GET, "/orders/7", &[("x-request-id", "r-7")]),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.header("x-request-id"), Some("r-7"));
    assert_eq!(
        reply.json(),
        json!({
            "type": "https://errors.example.com/order-not-found",
            "title": "No such order",
            "status": 404,
            "detail": "no order 7",
            "kind": "order-not-found",
            "request_id": "r-7",
            "order_id": 7,
        })
    );

    let reply = h1(addr, request(Method::GET, "/orders/2", &[])).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    let problem = reply.json();
    assert_eq!(problem["type"], "https://errors.example.com/order-shipped");
    assert_eq!(problem["order_id"], 2);
    // The request id the app set, answered and in the problem.
    let id = reply
        .header("x-request-id")
        .expect("a request id")
        .to_owned();
    assert_eq!(problem["request_id"], id.as_str());

    let reply = h1(addr, request(Method::GET, "/config", &[])).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.json()["kind"], "handler_error");
    assert!(
        !reply.text().contains("config.toml"),
        "no internals: {}",
        reply.text()
    );

    let reply = h1(addr, request(Method::GET, "/boom", &[])).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.json()["kind"], "panic");
}

/// The lines of the app that name a tower-problem item or implement one of
/// its traits' methods.
#[test]
fn the_app_takes_at_most_12_lines_of_the_crate() {
    let source = include_str!("a_users_app.rs");
    let app = source
        .split("// -- the app --")
        .nth(1)
        .expect("the markers");
    let names = [
        "tower_problem",
        "AppErrorLayer",
        "HandlerError",
        "ProblemType",
        "ExtensionValue",
        "type_base",
        "problem_type",
        "fn kind",
        "fn title",
        "fn status",
        "fn extensions",
    ];
    let lines: Vec<&str> = app
        .lines()
        .filter(|line| names.iter().any(|name| line.contains(name)))
        .collect();
    assert!(lines.len() <= 12, "{} lines: {lines:#?}", lines.len());
}
