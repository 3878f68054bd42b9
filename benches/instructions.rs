//! The cost of the app and gateway layers per request, as rows that each
//! run the same request loop over a different service.
//!
//! - `cargo bench --bench instructions` prints the row names.
//! - `cargo bench --bench instructions -- <row> <iters>` runs one row's loop
//!   `iters` times: `benches/callgrind.sh` counts its instructions with
//!   callgrind at two iteration counts, so the set-up cancels out.
//! - `cargo bench --bench instructions -- --allocs` prints, for every row, the
//!   heap allocations (`alloc`, `alloc_zeroed` and `realloc` calls) per
//!   request, counted by this binary's global allocator over
//!   1,000 requests after 100 of warm-up (`tests/counting_alloc`, shared
//!   with the allocation tests).
//!
//! The services and the request loop live in `rows/mod.rs`, shared with
//! `wall.rs` (criterion wall-clock time of the app and gateway rows).
//!
//! Every row builds the request, waits for the service to be ready, calls
//! it, and collects the response body (to its end, or to its error), on one
//! current-thread tokio runtime with its time driver on. Before a row runs,
//! one request checks its status, whether its body completes and, for the
//! gateway's failures, its `Proxy-Status`. A no-op panic hook is installed
//! for every row, and no tracing subscriber, so the rows that panic pay for
//! unwinding only, and the failures for no log output.
//!
//! | row | service |
//! |---|---|
//! | `bare` | a `service_fn` answering 200 "ok" |
//! | `app_ok_nocapture` | `bare` in `AppErrorLayer::new().capture_request(false)` |
//! | `app_ok_lean` | `bare` in `AppErrorLayer::new()` with every option off: `capture_request(false)`, `catch_body_panics(false)`, `intercept_error_responses(false)` |
//! | `app_ok` | `bare` in `AppErrorLayer::new()`: every check on |
//! | `app_ok_all_errors` | `app_ok` with `intercept_all_errors(true)`: the switch on, for a 200 |
//! | `app_not_found` | a `service_fn` answering an empty 404, in the layer of `app_ok_all_errors`: the 404 replaced by its problem |
//! | `app_error` | a `service_fn` failing with a zero-sized error (`DatabaseUnavailable`: making it costs nothing, as `axum_json_problem` makes no error), in `AppErrorLayer::new()` |
//! | `app_panic` | a `service_fn` that panics, in `AppErrorLayer::new()` |
//! | `app_body_panic` | a `service_fn` answering 200 with a body that panics on its first `poll_frame`, in `AppErrorLayer::new()`: counted until the body's error |
//! | `towerhttp_ok`, `towerhttp_panic` | `bare` / the panicking one in tower-http's `CatchPanicLayer::new()` |
//! | `raw_catch_unwind` | a `service_fn` that panics inside its own `catch_unwind` and answers "ok": the cost of the panic alone |
//! | `minimal_catch_unwind_ok`, `minimal_catch_unwind_panic` | `bare` / the panicking one in [`MinimalCatch`], the least a catching wrapper can do: the floor |
//! | `minimal_catch_unwind_method_ok` | `minimal_catch_unwind_ok` keeping the request's method in its future: the floor of a wrapper with any per-request state, as its future is no longer built in place |
//! | `axum_ok` | axum's `Router::new().route("/some/path", get(..)).with_state(())` answering "ok", called as a tower service |
//! | `axum_json_problem` | `axum_ok` whose handler fails with what users write by hand today: `Err((StatusCode::INTERNAL_SERVER_ERROR, Json(problem)))`, a `serde::Serialize` struct with the default problem's members (`type`, `title`, `status`, `kind`) |
//! | `axum_timeout` | `axum_ok` with `.layer(ServiceBuilder::new().layer(HandleErrorLayer::new(..)).timeout(30 s))` |
//! | `floor_timeout_map_result` | the gateway floor: tower's `timeout` (30 s) + `map_result` (error → static 502) around an upstream ready at once (`upstream_ok`) |
//! | `floor_pending` | the floor around [`PendingOnceUpstream`], whose future returns `Pending` once, waking itself |
//! | `gateway_ok_ready` | `upstream_ok` in `GatewayErrorLayer::new().body_idle_timeout(None)` (head timeout 30 s) |
//! | `gateway_ok_nocapture` | `gateway_ok_ready` with `capture_request(false)`: the method and upstream authority kept, no path or request id |
//! | `gateway_ok_pending` | [`PendingOnceUpstream`] in the same layer: the head timer registers |
//! | `gateway_ok_idle_timeout` | `upstream_ok` in `GatewayErrorLayer::new()` (body idle timeout 60 s on; the body is one frame, ready at once) |
//! | `gateway_error_dns_error` | [`FailingUpstream`] with [`DnsConnectError`] (hyper-util's private error for a failed lookup, `dns error`, told by its text) under an outer error (zero-sized, as `app_error`'s is, its source a static: the upstream allocates nothing), in the layer of `gateway_ok_ready`: 502 |
//! | `gateway_error_connection_refused` | the same with `io::ErrorKind::ConnectionRefused`: 502 |
//! | `gateway_error_destination_ip_unroutable` | the same with `HostUnreachable`: 502 |
//! | `gateway_error_connection_timeout` | the same with `TimedOut` (no hyper-util error in the chain: a connection timeout): 502 |
//! | `gateway_error_connection_terminated` | the same with `ConnectionReset`: 502 |
//! | `gateway_error_http_response_incomplete` | the same with `UnexpectedEof`: 502 |
//! | `gateway_error_http_protocol_error` | the same with `InvalidData`, classified by a user classifier ([`classifier`], `classify_with`; a real `hyper::Error` cannot be built): 502 |
//! | `gateway_error_http_response_header_section_size` | the same, its user classifier taking `InvalidData` for a head too large (hyper's `is_parse`, "message head is too large"): 502 |
//! | `gateway_error_connection_limit_reached` | the same with tower's `Overloaded` ([`Shed`]), classified by a user classifier (the default one knows `Overloaded` only under the crate's `tower` feature, which `cargo bench` does not enable): 503 |
//! | `gateway_error_proxy_internal_error` | the same with `Other`: the default classifier walks the whole chain: 502 |
//! | `floor_timeout_elapsed` | the floor with a 1 ms timeout around [`SilentUpstream`], which never answers: 502 after real waiting |
//! | `gateway_error_http_response_timeout` | [`SilentUpstream`] in the layer with a 1 ms head timeout: 502 after real waiting |
//!
//! The two timeout rows wait for tokio's timer (1 ms, its resolution) on the
//! real clock: each request parks the runtime, so their counts include the
//! time driver's work and are less exact than the others (tokio's paused
//! clock needs its `test-util` feature, which makes every `Instant::now`
//! of every row dearer).

use std::fmt::Debug;
use std::hint::black_box;
use std::marker::PhantomData;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body::Body;
use http_body_util::BodyExt;
use tokio::runtime::Runtime;
use tower::{service_fn, Layer, Service, ServiceExt};
use tower_http::catch_panic::CatchPanicLayer;
use tower_problem::app::AppErrorLayer;
use tower_problem::gateway::{GatewayErrorLayer, Kind};

#[path = "../tests/counting_alloc/mod.rs"]
mod counting_alloc;
mod rows;

use rows::{
    axum_router, axum_router_json_problem, axum_router_timeout, body_panics, catches, classifier,
    fails, floor, is_invalid_data, is_overloaded, not_found, ok, one, panics, request, upstream_ok,
    DnsConnectError, Eof, FailingUpstream, HostUnreachable, InvalidData, MinimalCatch, Other,
    Outcome, PendingOnceUpstream, Refused, Req, Reset, Shed, SilentUpstream, TimedOut,
};

/// The rows, in the order `callgrind.sh` prints them.
const ROWS: [&str; 36] = [
    "bare",
    "app_ok_nocapture",
    "app_ok_lean",
    "app_ok",
    "app_ok_all_errors",
    "app_not_found",
    "app_error",
    "app_panic",
    "app_body_panic",
    "towerhttp_ok",
    "towerhttp_panic",
    "raw_catch_unwind",
    "minimal_catch_unwind_ok",
    "minimal_catch_unwind_method_ok",
    "minimal_catch_unwind_panic",
    "axum_ok",
    "axum_json_problem",
    "axum_timeout",
    "floor_timeout_map_result",
    "floor_pending",
    "gateway_ok_ready",
    "gateway_ok_nocapture",
    "gateway_ok_pending",
    "gateway_ok_idle_timeout",
    "gateway_error_dns_error",
    "gateway_error_connection_refused",
    "gateway_error_destination_ip_unroutable",
    "gateway_error_connection_timeout",
    "gateway_error_connection_terminated",
    "gateway_error_http_response_incomplete",
    "gateway_error_http_protocol_error",
    "gateway_error_http_response_header_section_size",
    "gateway_error_connection_limit_reached",
    "gateway_error_proxy_internal_error",
    "floor_timeout_elapsed",
    "gateway_error_http_response_timeout",
];

/// The head timeout of the floor and of the gateway's ok rows, tower's
/// `timeout` of `axum_timeout`: long enough never to fire.
const LONG_TIMEOUT: Duration = Duration::from_secs(30);
/// The timeout of the timeout rows: tokio's timer resolution.
const SHORT_TIMEOUT: Duration = Duration::from_millis(1);

// ---------------------------------------------------------------------------
// The rows (their services and request loop are in `rows/mod.rs`)

/// What a row is asked to do.
#[derive(Clone, Copy)]
enum Mode {
    /// Run the loop this many times (for callgrind).
    Run(u64),
    /// Warm up, then count allocations per request.
    Allocations,
}

/// How a row must answer.
#[derive(Clone, Copy)]
struct Expect {
    status: StatusCode,
    /// Whether the body ends cleanly (`false`: it ends with an error).
    complete: bool,
    /// The `Proxy-Status` header the response must carry, if any.
    proxy_status: Option<&'static str>,
}

const OK: Expect = Expect {
    status: StatusCode::OK,
    complete: true,
    proxy_status: None,
};
const FAILED: Expect = Expect {
    status: StatusCode::INTERNAL_SERVER_ERROR,
    ..OK
};
const NOT_FOUND: Expect = Expect {
    status: StatusCode::NOT_FOUND,
    ..OK
};
const ABORTED: Expect = Expect {
    complete: false,
    ..OK
};
const BAD_GATEWAY: Expect = Expect {
    status: StatusCode::BAD_GATEWAY,
    ..OK
};

/// `BAD_GATEWAY` from the gateway layer, for this kind.
const fn gateway_failure(proxy_status: &'static str) -> Expect {
    Expect {
        proxy_status: Some(proxy_status),
        ..BAD_GATEWAY
    }
}

/// Checks one request's answer against `expected`.
async fn check<S, B>(svc: &mut S, expected: Expect)
where
    S: Service<Req, Response = Response<B>>,
    S::Error: Debug,
    B: Body<Data = Bytes>,
    B::Error: Debug,
{
    let res = svc
        .ready()
        .await
        .expect("ready")
        .call(request())
        .await
        .expect("a response");
    let proxy_status = res
        .headers()
        .get("proxy-status")
        .map(|value| value.to_str().expect("a visible Proxy-Status").to_owned());
    if let Some(expected) = expected.proxy_status {
        assert_eq!(proxy_status.as_deref(), Some(expected), "Proxy-Status");
    }
    let outcome = Outcome {
        status: res.status(),
        complete: res.into_body().collect().await.is_ok(),
    };
    let wanted = Outcome {
        status: expected.status,
        complete: expected.complete,
    };
    assert_eq!(outcome, wanted, "the row answered wrongly");
}

/// Checks the row answers as it should, then runs it; returns the
/// allocations per request in [`Mode::Allocations`].
async fn drive<S, B>(mut svc: S, expected: Expect, mode: Mode) -> f64
where
    S: Service<Req, Response = Response<B>>,
    S::Error: Debug,
    B: Body<Data = Bytes>,
    B::Error: Debug,
{
    check(&mut svc, expected).await;
    match mode {
        Mode::Run(iters) => {
            for _ in 0..iters {
                black_box(one(&mut svc).await);
            }
            0.0
        }
        Mode::Allocations => {
            for _ in 0..counting_alloc::WARM_UP {
                black_box(one(&mut svc).await);
            }
            let allocations = counting_alloc::allocations_in(async {
                for _ in 0..counting_alloc::REQUESTS {
                    black_box(one(&mut svc).await);
                }
            })
            .await;
            allocations as f64 / counting_alloc::REQUESTS as f64
        }
    }
}

/// Runs `row`; `None` if there is no such row.
fn run(rt: &Runtime, row: &str, mode: Mode) -> Option<f64> {
    let app = AppErrorLayer::new();
    let every_error = AppErrorLayer::new().intercept_all_errors(true);
    // The gateway's ok and error rows: head timeout 30 s, body idle timeout off.
    let gateway = GatewayErrorLayer::new()
        .head_timeout(Some(LONG_TIMEOUT))
        .body_idle_timeout(None);
    let result = match row {
        "bare" => rt.block_on(drive(service_fn(ok), OK, mode)),
        "app_ok_nocapture" => {
            let layer = AppErrorLayer::new().capture_request(false);
            rt.block_on(drive(layer.layer(service_fn(ok)), OK, mode))
        }
        "app_ok_lean" => {
            let layer = AppErrorLayer::new()
                .capture_request(false)
                .catch_body_panics(false)
                .intercept_error_responses(false);
            rt.block_on(drive(layer.layer(service_fn(ok)), OK, mode))
        }
        "app_ok" => rt.block_on(drive(app.layer(service_fn(ok)), OK, mode)),
        "app_ok_all_errors" => rt.block_on(drive(every_error.layer(service_fn(ok)), OK, mode)),
        "app_not_found" => rt.block_on(drive(
            every_error.layer(service_fn(not_found)),
            NOT_FOUND,
            mode,
        )),
        "app_error" => rt.block_on(drive(app.layer(service_fn(fails)), FAILED, mode)),
        "app_panic" => rt.block_on(drive(app.layer(service_fn(panics)), FAILED, mode)),
        "app_body_panic" => rt.block_on(drive(app.layer(service_fn(body_panics)), ABORTED, mode)),
        "towerhttp_ok" => rt.block_on(drive(
            CatchPanicLayer::new().layer(service_fn(ok)),
            OK,
            mode,
        )),
        "towerhttp_panic" => rt.block_on(drive(
            CatchPanicLayer::new().layer(service_fn(panics)),
            FAILED,
            mode,
        )),
        "raw_catch_unwind" => rt.block_on(drive(service_fn(catches), OK, mode)),
        "minimal_catch_unwind_ok" => {
            rt.block_on(drive(MinimalCatch::new(service_fn(ok)), OK, mode))
        }
        "minimal_catch_unwind_method_ok" => rt.block_on(drive(
            MinimalCatch::<_, Method> {
                inner: service_fn(ok),
                keep: PhantomData,
            },
            OK,
            mode,
        )),
        "minimal_catch_unwind_panic" => {
            rt.block_on(drive(MinimalCatch::new(service_fn(panics)), FAILED, mode))
        }
        "axum_ok" => rt.block_on(drive(axum_router(), OK, mode)),
        "axum_json_problem" => rt.block_on(drive(axum_router_json_problem(), FAILED, mode)),
        "axum_timeout" => rt.block_on(drive(axum_router_timeout(), OK, mode)),
        "floor_timeout_map_result" => rt.block_on(drive(
            floor(service_fn(upstream_ok), LONG_TIMEOUT),
            OK,
            mode,
        )),
        "floor_pending" => rt.block_on(drive(floor(PendingOnceUpstream, LONG_TIMEOUT), OK, mode)),
        "gateway_ok_ready" => rt.block_on(drive(gateway.layer(service_fn(upstream_ok)), OK, mode)),
        "gateway_ok_nocapture" => rt.block_on(drive(
            GatewayErrorLayer::new()
                .head_timeout(Some(LONG_TIMEOUT))
                .body_idle_timeout(None)
                .capture_request(false)
                .layer(service_fn(upstream_ok)),
            OK,
            mode,
        )),
        "gateway_ok_pending" => rt.block_on(drive(gateway.layer(PendingOnceUpstream), OK, mode)),
        "gateway_ok_idle_timeout" => rt.block_on(drive(
            GatewayErrorLayer::new()
                .head_timeout(Some(LONG_TIMEOUT))
                .layer(service_fn(upstream_ok)),
            OK,
            mode,
        )),
        "gateway_error_dns_error" => rt.block_on(drive(
            gateway.layer(FailingUpstream::<DnsConnectError>::new()),
            gateway_failure("tower-problem; error=dns_error"),
            mode,
        )),
        "gateway_error_connection_refused" => rt.block_on(drive(
            gateway.layer(FailingUpstream::<Refused>::new()),
            gateway_failure("tower-problem; error=connection_refused"),
            mode,
        )),
        "gateway_error_destination_ip_unroutable" => rt.block_on(drive(
            gateway.layer(FailingUpstream::<HostUnreachable>::new()),
            gateway_failure("tower-problem; error=destination_ip_unroutable"),
            mode,
        )),
        "gateway_error_connection_timeout" => rt.block_on(drive(
            gateway.layer(FailingUpstream::<TimedOut>::new()),
            gateway_failure("tower-problem; error=connection_timeout"),
            mode,
        )),
        "gateway_error_connection_terminated" => rt.block_on(drive(
            gateway.layer(FailingUpstream::<Reset>::new()),
            gateway_failure("tower-problem; error=connection_terminated"),
            mode,
        )),
        "gateway_error_http_response_incomplete" => rt.block_on(drive(
            gateway.layer(FailingUpstream::<Eof>::new()),
            gateway_failure("tower-problem; error=http_response_incomplete"),
            mode,
        )),
        "gateway_error_http_protocol_error" => rt.block_on(drive(
            gateway
                .classify_with(classifier(Kind::HttpProtocolError, is_invalid_data))
                .layer(FailingUpstream::<InvalidData>::new()),
            gateway_failure("tower-problem; error=http_protocol_error"),
            mode,
        )),
        "gateway_error_http_response_header_section_size" => rt.block_on(drive(
            gateway
                .classify_with(classifier(
                    Kind::HttpResponseHeaderSectionSize,
                    is_invalid_data,
                ))
                .layer(FailingUpstream::<InvalidData>::new()),
            gateway_failure("tower-problem; error=http_response_header_section_size"),
            mode,
        )),
        "gateway_error_connection_limit_reached" => rt.block_on(drive(
            gateway
                .classify_with(classifier(Kind::ConnectionLimitReached, is_overloaded))
                .layer(FailingUpstream::<Shed>::new()),
            Expect {
                status: StatusCode::SERVICE_UNAVAILABLE,
                ..gateway_failure("tower-problem; error=connection_limit_reached")
            },
            mode,
        )),
        "gateway_error_proxy_internal_error" => rt.block_on(drive(
            gateway.layer(FailingUpstream::<Other>::new()),
            gateway_failure("tower-problem; error=proxy_internal_error"),
            mode,
        )),
        "floor_timeout_elapsed" => rt.block_on(drive(
            floor(SilentUpstream, SHORT_TIMEOUT),
            BAD_GATEWAY,
            mode,
        )),
        "gateway_error_http_response_timeout" => rt.block_on(drive(
            gateway
                .head_timeout(Some(SHORT_TIMEOUT))
                .layer(SilentUpstream),
            gateway_failure("tower-problem; error=http_response_timeout"),
            mode,
        )),
        _ => return None,
    };
    Some(result)
}

fn usage() -> ExitCode {
    eprintln!("usage: instructions [<row> <iters> | --allocs]; rows:");
    for row in ROWS {
        eprintln!("  {row}");
    }
    ExitCode::from(2)
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench` to harness-less benches.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| arg != "--bench")
        .collect();
    std::panic::set_hook(Box::new(|_| {}));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    match args.as_slice() {
        [] => {
            for row in ROWS {
                println!("{row}");
            }
        }
        [flag] if flag == "--allocs" => {
            for row in ROWS {
                let per_request = run(&rt, row, Mode::Allocations).expect("a known row");
                println!("{row}\t{per_request:.2}");
            }
        }
        [row, iters] => {
            let Ok(iters) = iters.parse() else {
                return usage();
            };
            if run(&rt, row, Mode::Run(iters)).is_none() {
                return usage();
            }
        }
        _ => return usage(),
    }
    ExitCode::SUCCESS
}
