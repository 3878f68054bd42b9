//! `PanicHook::backtrace(true)` and `on_panic`: the failure's one log line
//! carries the panic's backtrace, and a reporter sees each panic the layer
//! keeps from std's printer, with its backtrace.
//!
//! Its own test binary: the hook is process-wide.

mod support;

use std::sync::{Mutex, Once};

use axum::routing;
use axum::Router;
use tower_problem::app::panic_hook::PanicHook;
use tower_problem::app::AppErrorLayer;

use support::*;

/// What the reporter saw: each panic's location and whether its backtrace
/// names the function that panicked.
static REPORTED: Mutex<Vec<(String, bool)>> = Mutex::new(Vec::new());

fn setup() {
    static SETUP: Once = Once::new();
    SETUP.call_once(|| {
        PanicHook::new()
            .backtrace(true)
            .on_panic(|info, backtrace| {
                let location = info.location().map(ToString::to_string).unwrap_or_default();
                let named = backtrace
                    .is_some_and(|backtrace| backtrace.to_string().contains("handler_that_panics"));
                REPORTED.lock().unwrap().push((location, named));
            })
            .install();
    });
}

#[inline(never)]
fn handler_that_panics() -> &'static str {
    panic!("backtrace-test: on purpose")
}

async fn panics() -> &'static str {
    handler_that_panics()
}

#[tokio::test(flavor = "current_thread")]
async fn the_log_line_carries_the_backtrace_and_the_reporter_sees_the_panic() {
    setup();
    let (logs, _guard) = Logs::capture();
    let app = Router::new()
        .route("/boom", routing::get(panics))
        .layer(AppErrorLayer::new());
    let addr = serve_router(app).await;

    let reply = h1(addr, get_with_id("/boom", "bt-1")).await;
    assert_problem(&reply, "panic", Some("bt-1"));
    // The client never sees the backtrace.
    assert!(
        !reply.text().contains("handler_that_panics"),
        "{}",
        reply.text()
    );

    let lines = logs.wait_for(&["request handler panicked"]).await;
    assert_eq!(lines.len(), 1, "{}", logs.text());
    let line = &lines[0];
    assert!(line.contains("panic.backtrace="), "{line}");
    assert!(line.contains("handler_that_panics"), "{line}");
    // One line: the backtrace's own newlines are escaped.
    assert!(!line.trim_end().contains('\n'), "{line}");

    let reported = REPORTED.lock().unwrap().clone();
    assert_eq!(reported.len(), 1, "{reported:?}");
    assert!(
        reported[0].0.starts_with("tests/app_panic_backtrace.rs:"),
        "{reported:?}"
    );
    assert!(
        reported[0].1,
        "the reporter's backtrace names the panicking function"
    );
}
