//! The server `benches/load.sh` puts under load: one axum app in one of
//! three wrappings, with routes `/ok` (200 "ok") and `/panic` (panics).
//!
//! ```text
//! ADDR=127.0.0.1:0 VARIANT=app HOOK=quiet cargo run --release --example load_target
//! ```
//!
//! Environment:
//! - `ADDR`: where to listen (default `127.0.0.1:3000`; port 0 for any free
//!   one). Prints `listening on ADDR` once listening.
//! - `VARIANT`: `bare` (no layer), `app` (`AppErrorLayer::new()`) or
//!   `towerhttp` (tower-http's `CatchPanicLayer::new()`). Default `app`.
//! - `HOOK`: `quiet` (`tower_problem::app::panic_hook::install()`) or `std`
//!   (std's default hook, which prints every panic to stderr). Default
//!   `quiet`.
//! - `RUST_LOG`: the `tracing` filter (default `error`: the app layer logs
//!   one line per failure to stderr, as it would in production).
//! - `TOKIO_WORKER_THREADS`: tokio's own variable, the runtime's threads;
//! - `HEADER_READ_TIMEOUT_MS`, `IDLE_TIMEOUT_MS`, `SHUTDOWN_TIMEOUT_MS`: as
//!   for the example app, which is served the same way
//!   (`examples/serve/mod.rs`), and stops the same way on SIGTERM or Ctrl-C.
//!
//! A bad value exits with status 2 and a one-line message naming the variable.

mod lifecycle;
mod logging;
mod serve;

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::process::ExitCode;

use axum::routing::get;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_problem::app::{panic_hook, AppErrorLayer};

use crate::lifecycle::Shutdown;
use crate::logging::log_to_stderr;
use crate::serve::{serve, Limits};

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn bad(name: &str, value: &str, expected: &str) -> ! {
    eprintln!("{name}={value:?} is not {expected}");
    std::process::exit(2);
}

async fn panics() -> &'static str {
    panic!("load_target: the handler panicked")
}

#[tokio::main]
async fn main() -> ExitCode {
    let _log = log_to_stderr("error");

    let addr = env_or("ADDR", "127.0.0.1:3000");
    let addr: SocketAddr = addr
        .parse()
        .unwrap_or_else(|_| bad("ADDR", &addr, "an address like 127.0.0.1:3000"));

    match env_or("HOOK", "quiet").as_str() {
        "quiet" => panic_hook::install(),
        "std" => {}
        other => bad("HOOK", other, "one of quiet, std"),
    }

    let routes = Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route("/panic", get(panics));
    let app = match env_or("VARIANT", "app").as_str() {
        "bare" => routes,
        "app" => routes.layer(AppErrorLayer::new()),
        "towerhttp" => routes.layer(CatchPanicLayer::new()),
        other => bad("VARIANT", other, "one of bare, app, towerhttp"),
    };

    let (limits, shutdown) = match Limits::from_env().and_then(|l| Ok((l, Shutdown::from_env()?))) {
        Ok(both) => both,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    serve(addr, NonZeroUsize::MIN, app, limits, shutdown).await
}
