//! `panic_hook::install()`: the layer's log carries the panic's location,
//! and panics outside the layer still reach the hook that was there before.
//!
//! Its own test binary: the hook is process-wide.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

use axum::routing;
use axum::Router;
use tower_problem::app::{panic_hook, AppErrorLayer};

use support::*;

const INSIDE_MARKER: &str = "hook-test: inside the layer";
const OUTSIDE_MARKER: &str = "hook-test: outside the layer";

/// Panics with these markers that reached the previous hook.
static PREVIOUS_SAW_INSIDE: AtomicUsize = AtomicUsize::new(0);
static PREVIOUS_SAW_OUTSIDE: AtomicUsize = AtomicUsize::new(0);

/// Sets a counting hook, then installs the crate's hook over it.
fn setup() {
    static SETUP: Once = Once::new();
    SETUP.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or_default();
            if message.contains(INSIDE_MARKER) {
                PREVIOUS_SAW_INSIDE.fetch_add(1, Ordering::SeqCst);
            } else if message.contains(OUTSIDE_MARKER) {
                PREVIOUS_SAW_OUTSIDE.fetch_add(1, Ordering::SeqCst);
            } else {
                default(info);
            }
        }));
        panic_hook::install();
        // A second call does nothing.
        panic_hook::install();
    });
}

/// The panic message carries the line of the panic itself.
async fn panics() -> &'static str {
    panic!("{INSIDE_MARKER} on line {}", line!())
}

fn app(layer: AppErrorLayer) -> Router {
    Router::new()
        .route("/boom", routing::get(panics))
        .layer(layer)
}

fn line_in(message: &str) -> u32 {
    message
        .rsplit("on line ")
        .next()
        .and_then(|rest| rest.split('"').next())
        .and_then(|line| line.trim().parse().ok())
        .unwrap_or_else(|| panic!("no line number in {message}"))
}

#[tokio::test(flavor = "current_thread")]
async fn the_log_carries_the_panic_location() {
    setup();
    let (logs, _guard) = Logs::capture();
    let addr = serve_router(app(AppErrorLayer::new())).await;

    let reply = h1(addr, get_with_id("/boom", "hook-1")).await;
    assert_problem(&reply, "panic", Some("hook-1"));
    assert!(
        !reply.text().contains("tests/"),
        "location leaked: {}",
        reply.text()
    );

    let lines = logs.wait_for(&["request handler panicked"]).await;
    assert_eq!(lines.len(), 1, "{}", logs.text());
    let line = &lines[0];
    assert_error_level(line);
    let panic_line = line_in(line);
    let location = format!(r#"panic.location="tests/app_panic_hook.rs:{panic_line}:"#);
    assert!(line.contains(&location), "expected {location} in: {line}");
    assert!(line.contains(r#"request_id="hook-1""#), "{line}");
}

#[tokio::test(flavor = "current_thread")]
async fn exposed_details_carry_the_location_too() {
    setup();
    let addr = serve_router(app(AppErrorLayer::new().expose_details(true))).await;

    let reply = h1(addr, get("/boom")).await;
    reply.assert_complete();
    let problem = reply.json();
    let detail = problem["detail"].as_str().expect("a detail");
    assert!(detail.starts_with(INSIDE_MARKER), "{detail}");
    let panic_line = line_in(detail.split(" (at ").next().unwrap());
    assert!(
        detail.contains(&format!("(at tests/app_panic_hook.rs:{panic_line}:")),
        "{detail}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn panics_inside_the_layer_skip_the_previous_hook_and_others_reach_it() {
    setup();
    let addr = serve_router(app(AppErrorLayer::new())).await;
    let inside_before = PREVIOUS_SAW_INSIDE.load(Ordering::SeqCst);

    let reply = h1(addr, get("/boom")).await;
    assert_problem(&reply, "panic", None);
    // Other tests of this binary panic inside the layer too, but none of
    // those panics may reach the previous hook.
    assert_eq!(PREVIOUS_SAW_INSIDE.load(Ordering::SeqCst), inside_before);
    assert_eq!(inside_before, 0);

    let outside_before = PREVIOUS_SAW_OUTSIDE.load(Ordering::SeqCst);
    let caught = std::panic::catch_unwind(|| panic!("{OUTSIDE_MARKER}"));
    assert!(caught.is_err());
    assert_eq!(
        PREVIOUS_SAW_OUTSIDE.load(Ordering::SeqCst),
        outside_before + 1,
        "a panic outside the layer must reach the previous hook"
    );
}
