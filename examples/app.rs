//! An axum app behind `AppErrorLayer`: one route for each way a handler
//! fails, and every other error status of the stack (axum's rejections, its
//! router's 404 and 405, a timeout, a body limit, a domain error) answered
//! as a problem too.
//!
//! ```text
//! cargo run --example app            # prints `listening on 127.0.0.1:3000`
//! curl -i http://127.0.0.1:3000/panic
//! curl -i http://127.0.0.1:3000/sleep/5000     # 503 timeout, after 1 s
//! curl -i -X POST -H 'content-type: application/json' -d '{"item":"tea"}' http://127.0.0.1:3000/orders
//! ```
//!
//! It is served as production needs (`examples/serve/mod.rs`): a client
//! must send its first bytes and each request's headers within
//! `HEADER_READ_TIMEOUT_MS` (default 10000), an idle HTTP/2 connection is
//! pinged every `IDLE_TIMEOUT_MS` (default 60000) and closed if it does not
//! answer, and no connection lives longer than 10 minutes. On SIGTERM or
//! Ctrl-C it stops accepting, lets the requests in flight finish for up to
//! `SHUTDOWN_TIMEOUT_MS` (default 30000), and exits 0; a second signal
//! exits at once (`examples/lifecycle/mod.rs`).
//!
//! Environment: `APP_ADDR` (default `127.0.0.1:3000`; port 0 picks one),
//! the three above, and `RUST_LOG` (default `info`); a bad value stops the
//! program with a one-line message and status 2.

mod lifecycle;
mod logging;
mod serve;

use std::convert::Infallible;
use std::error::Error;
use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::process::ExitCode;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::{stream, StreamExt};
use serde::Deserialize;
use tower::ServiceBuilder;
use tower_http::trace::{DefaultMakeSpan, TraceLayer};
use tower_problem::app::{panic_hook, AppErrorLayer, HandlerError, ProblemType};
use tower_problem::problem::ExtensionValue;

use crate::lifecycle::Shutdown;
use crate::logging::log_to_stderr;
use crate::serve::{serve, Limits};

/// How long any request may take: tower's `timeout` under the app layer
/// answers a request that takes longer with the `timeout` problem (503).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);
/// The largest upload `POST /upload` takes (413 above it).
const MAX_UPLOAD: usize = 1024;

#[tokio::main]
async fn main() -> ExitCode {
    let (addr, limits, shutdown) = match settings() {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let _log = log_to_stderr("info");
    panic_hook::install();

    let app = Router::new()
        .route("/", get(|| async { "hello\n" }))
        .route("/panic", get(panics))
        .route("/error", get(fails))
        .route("/stream-panic", get(stream_panics))
        .route("/raw-500", get(raw_500))
        .route("/orders", post(create_order))
        .route("/orders/{id}", get(order))
        .route("/sleep/{ms}", get(sleep))
        .route(
            "/upload",
            post(|body: Bytes| async move { format!("{} bytes\n", body.len()) })
                .layer(DefaultBodyLimit::max(MAX_UPLOAD)),
        )
        .layer(
            ServiceBuilder::new()
                .layer(
                    AppErrorLayer::new()
                        .intercept_all_errors(true)
                        // Where the application's problem types are documented.
                        .type_base("https://example.com/problems/")
                        .problem_type::<OrderError>(),
                )
                .timeout(REQUEST_TIMEOUT),
        )
        // Outside the app layer, whose logs it adds the request to: its span
        // is entered while the body is polled, so even a body panic's line
        // names the request. `on_failure(())`: the app layer logs failures.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(tracing::Level::INFO))
                .on_failure(()),
        );

    serve(addr, NonZeroUsize::MIN, app, limits, shutdown).await
}

/// `APP_ADDR` (default `127.0.0.1:3000`), the connection limits and the
/// shutdown's timeout, from the environment.
fn settings() -> Result<(SocketAddr, Limits, Shutdown), String> {
    let addr = std::env::var("APP_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let addr = addr
        .parse()
        .map_err(|_| format!("invalid APP_ADDR={addr:?}: expected IP:PORT"))?;
    Ok((addr, Limits::from_env()?, Shutdown::from_env()?))
}

async fn panics() -> &'static str {
    panic!("the handler panicked: invariant broken")
}

async fn fails() -> Result<String, HandlerError> {
    let config = tokio::fs::read_to_string("/nonexistent/app.toml").await?;
    Ok(config)
}

async fn stream_panics() -> Body {
    let chunks = stream::iter(0..2).map(|i| {
        if i == 1 {
            panic!("the body stream panicked after the first chunk");
        }
        Ok::<_, Infallible>(Bytes::from_static(b"first chunk\n"))
    });
    Body::from_stream(chunks)
}

/// The body of `POST /orders`: bad JSON is a 400, no JSON content type a
/// 415, a missing field a 422, each a problem with axum's own text as its
/// `detail`.
#[derive(Deserialize)]
struct NewOrder {
    item: String,
    quantity: u32,
}

async fn create_order(Json(order): Json<NewOrder>) -> (StatusCode, String) {
    let NewOrder { item, quantity } = order;
    (StatusCode::CREATED, format!("{quantity} x {item}\n"))
}

/// The domain's errors: returned through `?`, answered by the layer as the
/// problem types they say they are.
#[derive(Debug)]
enum OrderError {
    NotFound(u64),
    Shipped(u64),
}

impl fmt::Display for OrderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound(id) => write!(f, "no order {id}"),
            Self::Shipped(id) => write!(f, "order {id} has shipped and cannot change"),
        }
    }
}

impl Error for OrderError {}

/// Each is a problem type of the API's own: `order-not-found` (404) and
/// `order-shipped` (409), with the order's id.
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

/// `GET /orders/1` is an order; 2 has shipped (409); any other is not
/// found (404).
async fn order(Path(id): Path<u64>) -> Result<String, HandlerError> {
    match id {
        1 => Ok("1 x tea\n".into()),
        2 => Err(OrderError::Shipped(id))?,
        _ => Err(OrderError::NotFound(id))?,
    }
}

/// Answers after `ms` milliseconds: past [`REQUEST_TIMEOUT`], the timeout
/// answers for it (`/sleep/5000`).
async fn sleep(Path(ms): Path<u64>) -> String {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    format!("slept {ms} ms\n")
}

async fn raw_500() -> (StatusCode, &'static str) {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "plain text from the handler\n",
    )
}
