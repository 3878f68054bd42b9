//! Wall-clock time per request of the main rows of `instructions.rs` (the
//! app layer and its anchors, the gateway layer and its floor), with
//! criterion, and each row's time as a ratio to `bare` in the same run.
//!
//! ```text
//! cargo bench --bench wall              # all rows, about a minute
//! cargo bench --bench wall -- app_      # criterion's filter: some rows
//! ```
//!
//! Each iteration is one request through the row's service, exactly as in
//! `instructions.rs` (the services and the loop are shared, in
//! `rows/mod.rs`): build the request, wait for readiness, call, collect the
//! body, on one current-thread tokio runtime, with a no-op panic hook and no
//! tracing subscriber. After criterion's own report, a table gives every
//! row's median time per request and its ratio to `bare`, all from this run.

use std::cell::RefCell;
use std::fmt::Debug;
use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::Criterion;
use http::{Response, StatusCode};
use http_body::Body;
use tokio::runtime::Runtime;
use tower::{service_fn, Layer, Service};
use tower_http::catch_panic::CatchPanicLayer;
use tower_problem::app::AppErrorLayer;
use tower_problem::gateway::GatewayErrorLayer;

mod rows;

use rows::{
    axum_router, body_panics, catches, fails, floor, ok, one, panics, upstream_ok, FailingUpstream,
    MinimalCatch, PendingOnceUpstream, Refused, Req,
};

/// The head timeout of the floor and the gateway rows: never reached.
const LONG_TIMEOUT: Duration = Duration::from_secs(30);

thread_local! {
    /// Per row: nanoseconds per request of each of criterion's samples.
    static SAMPLES: RefCell<Vec<(&'static str, Vec<f64>)>> = const { RefCell::new(Vec::new()) };
}

/// Registers one row: checks its status once, then times `iters` requests
/// per criterion sample, keeping a copy of each sample for the ratio table.
fn row<S, B>(c: &mut Criterion, rt: &Runtime, name: &'static str, mut svc: S, expected: StatusCode)
where
    S: Service<Req, Response = Response<B>>,
    S::Error: Debug,
    B: Body<Data = Bytes>,
    B::Error: Debug,
{
    let status = rt.block_on(one(&mut svc)).status;
    assert_eq!(status, expected, "{name} answered with the wrong status");
    let mut samples = Vec::new();
    c.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let elapsed = rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(one(&mut svc).await);
                }
                start.elapsed()
            });
            samples.push(elapsed.as_nanos() as f64 / iters as f64);
            elapsed
        });
    });
    SAMPLES.with(|all| all.borrow_mut().push((name, samples)));
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let mid = xs.len() / 2;
    if xs.len() % 2 == 0 {
        (xs[mid - 1] + xs[mid]) / 2.0
    } else {
        xs[mid]
    }
}

fn print_ratios() {
    let rows = SAMPLES.with(|all| std::mem::take(&mut *all.borrow_mut()));
    let rows: Vec<(&str, f64)> = rows
        .into_iter()
        .filter(|(_, samples)| !samples.is_empty())
        .map(|(name, samples)| (name, median(samples)))
        .collect();
    let bare = rows.iter().find(|(name, _)| *name == "bare").map(|r| r.1);
    println!();
    println!("median ns/request of criterion's samples, this run; ratio to bare");
    println!("| row | ns/request | ratio to bare |");
    println!("|---|---:|---:|");
    for (name, ns) in rows {
        let ratio = bare.map_or_else(|| "-".to_owned(), |bare| format!("{:.2}", ns / bare));
        println!("| {name} | {ns:.0} | {ratio} |");
    }
}

fn main() {
    std::panic::set_hook(Box::new(|_| {}));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();

    const OK: StatusCode = StatusCode::OK;
    const FAILED: StatusCode = StatusCode::INTERNAL_SERVER_ERROR;
    let app = AppErrorLayer::new();
    let tower_http = CatchPanicLayer::new();
    row(&mut c, &rt, "bare", service_fn(ok), OK);
    row(&mut c, &rt, "app_ok", app.layer(service_fn(ok)), OK);
    row(
        &mut c,
        &rt,
        "app_error",
        app.layer(service_fn(fails)),
        FAILED,
    );
    row(
        &mut c,
        &rt,
        "app_panic",
        app.layer(service_fn(panics)),
        FAILED,
    );
    row(
        &mut c,
        &rt,
        "towerhttp_ok",
        tower_http.layer(service_fn(ok)),
        OK,
    );
    row(
        &mut c,
        &rt,
        "towerhttp_panic",
        tower_http.layer(service_fn(panics)),
        FAILED,
    );
    row(&mut c, &rt, "raw_catch_unwind", service_fn(catches), OK);
    row(
        &mut c,
        &rt,
        "app_ok_nocapture",
        AppErrorLayer::new()
            .capture_request(false)
            .layer(service_fn(ok)),
        OK,
    );
    row(
        &mut c,
        &rt,
        "app_body_panic",
        app.layer(service_fn(body_panics)),
        OK,
    );
    row(
        &mut c,
        &rt,
        "minimal_catch_unwind_ok",
        MinimalCatch::new(service_fn(ok)),
        OK,
    );
    row(&mut c, &rt, "axum_ok", axum_router(), OK);

    let gateway = GatewayErrorLayer::new()
        .head_timeout(Some(LONG_TIMEOUT))
        .body_idle_timeout(None);
    row(
        &mut c,
        &rt,
        "floor_timeout_map_result",
        floor(service_fn(upstream_ok), LONG_TIMEOUT),
        OK,
    );
    row(
        &mut c,
        &rt,
        "floor_pending",
        floor(PendingOnceUpstream, LONG_TIMEOUT),
        OK,
    );
    row(
        &mut c,
        &rt,
        "gateway_ok_ready",
        gateway.layer(service_fn(upstream_ok)),
        OK,
    );
    row(
        &mut c,
        &rt,
        "gateway_ok_pending",
        gateway.layer(PendingOnceUpstream),
        OK,
    );
    row(
        &mut c,
        &rt,
        "gateway_error_connection_refused",
        gateway.layer(FailingUpstream::<Refused>::new()),
        StatusCode::BAD_GATEWAY,
    );

    c.final_summary();
    print_ratios();
}
