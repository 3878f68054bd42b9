//! An axum app behind `AppErrorLayer`: one route for each way a handler fails.
//!
//! ```text
//! cargo run --example app            # APP_ADDR=127.0.0.1:0 for any free port
//! curl -i http://127.0.0.1:3000/panic
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use futures_util::{stream, StreamExt};
use tower_http::trace::{DefaultMakeSpan, TraceLayer};
use tower_problem::app::{panic_hook, AppErrorLayer, HandlerError};

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    panic_hook::install();

    let addr: SocketAddr = match std::env::var("APP_ADDR") {
        Ok(value) => value.parse().unwrap_or_else(|err| {
            eprintln!("APP_ADDR={value:?} is not an address like 127.0.0.1:3000: {err}");
            std::process::exit(2);
        }),
        Err(_) => SocketAddr::from(([127, 0, 0, 1], 3000)),
    };

    let app = Router::new()
        .route("/", get(|| async { "hello\n" }))
        .route("/panic", get(panics))
        .route("/error", get(fails))
        .route("/stream-panic", get(stream_panics))
        .route("/raw-500", get(raw_500))
        .layer(AppErrorLayer::new())
        // Outside the app layer, whose logs it adds the request to: its span
        // is entered while the body is polled, so even a body panic's line
        // names the request. `on_failure(())`: the app layer logs failures.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(tracing::Level::INFO))
                .on_failure(()),
        );

    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .unwrap_or_else(|err| {
            eprintln!("cannot listen on {addr}: {err}");
            std::process::exit(1);
        });
    println!("listening on {}", listener.local_addr().unwrap());
    axum::serve(listener, app).await.unwrap();
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

async fn raw_500() -> (StatusCode, &'static str) {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "plain text from the handler\n",
    )
}
