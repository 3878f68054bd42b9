//! How each row's throughput per thread holds up when every core calls the
//! same service at once: the cost of state shared between requests, which
//! the single-threaded rows of `instructions.rs` and `wall.rs` cannot see.
//!
//! ```text
//! cargo bench --bench scaling                                # about 4 minutes, idle machine
//! cargo bench --bench scaling -- --seconds 0.2 --rounds 2    # a quick check that it runs
//! cargo bench --bench scaling -- app gateway                 # these rows only, and bare
//! ```
//!
//! An `Arc` cloned per request, or an atomic every request writes, is two
//! or three instructions on one thread. When threads on several cores call
//! clones of the same service, they all write that one cache line, which
//! moves from core to core on every write: each request waits for it, and
//! the throughput per thread falls as threads are added. State of each
//! request or each thread never leaves its core and costs nothing more.
//!
//! Each row is one service value, cloned into `N` OS threads (`N` =
//! `available_parallelism()`, at least 2; `--threads`), each with its own
//! current-thread tokio runtime (`enable_all`). A thread checks one
//! response, warms up for a fifth of the run, waits at a barrier with the
//! others, then sends requests for `--seconds` (default 1) by its own
//! clock, read every 64 requests: the harness shares nothing between the
//! threads while they run. A request is the loop of `rows/mod.rs`: build
//! it (`GET /some/path?q=1` with an `x-request-id`), wait for readiness,
//! call, collect the body to its end. A run's throughput per thread is the
//! mean of its threads' requests per second.
//!
//! The same row runs once on 1 thread and once on `N`, one right after the
//! other (which first alternates from round to round), so a change of the
//! machine's load between rows moves both; `ratio` = per-thread throughput
//! at `N` / at 1, and `vs bare` = the row's ratio / `bare`'s ratio in the
//! same round. Rows alternate over `--rounds` rounds (default 5); the
//! tables give each quantity's median over the rounds, and the range of
//! the ratio over them, a gauge of the noise.
//!
//! Two variants, each its own table:
//!
//! - `shared clone`: each thread gets one clone of the service and calls it
//!   again and again (`ready`, `call`), as a connection task of a server
//!   that clones the service per connection.
//! - `clone per request`: each thread clones its service for every request
//!   and `oneshot`s the clone, as hyper-util's `TowerToHyperService` does
//!   for every request under `axum::serve`. A clone that touches shared
//!   state shows here.
//!
//! | row | service |
//! |---|---|
//! | `bare` | a `service_fn` answering 200 "ok" |
//! | `towerhttp` | `bare` in tower-http's `CatchPanicLayer::new()` |
//! | `minimal` | `bare` in [`MinimalCatch`], the least a catching wrapper can do |
//! | `arc_per_request` | `bare` in [`ArcPerRequest`], which clones one `Arc` of the service into its future per request and does nothing else: the defect this bench exists to catch |
//! | `app` | `bare` in `AppErrorLayer::new()` |
//! | `app_everything_on` | `bare` in `AppErrorLayer::new().expose_details(true)`: every option on, the rest default |
//! | `app_custom` | `bare` in `AppErrorLayer::new().type_base(..).capture_header(ACCEPT)`: a custom configuration, allowed one reference-count clone per request |
//! | `gateway` | `upstream_ok` (ready at once) in `GatewayErrorLayer::new()` |
//! | `gateway_floor` | `upstream_ok` in tower's `timeout` (30 s) + `map_result` (error → static 502), the gateway floor of `rows/mod.rs` |
//! | `gateway_retry` | `upstream_ok` in tower's `retry` with `RetryNeverSent` (2 retries), in `GatewayErrorLayer::new()` |
//! | `gateway_retry_budget` | `gateway_retry` with the crate's `RetryBudget` (10 s, 10 a second, 0.2): each response deposits, into a counter of the thread's own |
//! | `gateway_retry_tps_budget` | `gateway_retry` with tower's `TpsBudget::default()`: each response deposits, under a mutex every thread shares |
//!
//! At the end, each row and variant is checked against `vs bare` ≥ 0.95:
//! a must (PASS/FAIL) for the crate's layers (`app`, `app_everything_on`,
//! `gateway`), reported only ("info") for the other rows; and
//! `gateway_retry_budget` against `gateway_retry` (its `vs bare` over
//! theirs ≥ 0.95, a must: what the budget costs every core). The bench exits
//! with status 1 if a must fails, 2 on a usage error. The numbers mean
//! something only on an otherwise idle machine with at least two cores: a
//! build or another bench on the machine takes cores from the `N`-thread
//! runs, and the ratios fall for every row.
//!
//! No panic hook, no tracing subscriber: no row panics or fails.

use std::fmt::Debug;
use std::hint::black_box;
use std::num::NonZeroUsize;
use std::process::ExitCode;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body::Body;
use tower::retry::budget::TpsBudget;
use tower::{service_fn, Layer, Service, ServiceBuilder};
use tower_http::catch_panic::CatchPanicLayer;
use tower_problem::app::AppErrorLayer;
use tower_problem::gateway::{GatewayErrorLayer, RetryBudget, RetryNeverSent};

mod rows;

use rows::{floor, ok, one, one_cloned, upstream_ok, ArcPerRequest, MinimalCatch, Outcome, Req};

/// The floor's timeout: never reached.
const LONG_TIMEOUT: Duration = Duration::from_secs(30);
/// Requests between two readings of a thread's clock.
const BATCH: u64 = 64;
/// A row must keep this share of `bare`'s ratio.
const MUST: f64 = 0.95;
/// The retry rows' backoff: never waited, no request fails.
const RETRY_BACKOFF: Duration = Duration::from_millis(10);

const DEFAULT_SECONDS: f64 = 1.0;
const DEFAULT_ROUNDS: usize = 5;

/// How a thread calls its service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    /// One clone per thread, called again and again.
    Shared,
    /// A clone per request, `oneshot`.
    ClonePerRequest,
}

const VARIANTS: [Variant; 2] = [Variant::Shared, Variant::ClonePerRequest];

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Shared => "shared clone",
            Variant::ClonePerRequest => "clone per request",
        }
    }
}

/// Whether a row's ratio is held to bare's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Check {
    /// The reference every other row is compared with.
    Reference,
    /// PASS/FAIL, and the exit status.
    Must,
    /// PASS/FAIL against the named row instead of `bare`.
    MustAgainst(&'static str),
    /// Reported only.
    Info,
}

/// Runs the row's service on some threads, for some time: the mean
/// throughput per thread, in requests per second.
type Run = Box<dyn Fn(Variant, usize, Duration) -> f64>;

struct Row {
    name: &'static str,
    check: Check,
    run: Run,
}

/// A row over `svc`, whose responses must be 200 with a body that
/// completes.
fn row<S, B>(name: &'static str, check: Check, svc: S) -> Row
where
    S: Service<Req, Response = Response<B>> + Clone + Send + 'static,
    S::Error: Debug,
    B: Body<Data = Bytes>,
    B::Error: Debug,
{
    let run = move |variant, threads, duration| run(name, &svc, variant, threads, duration);
    Row {
        name,
        check,
        run: Box::new(run),
    }
}

fn rows() -> Vec<Row> {
    use Check::{Info, Must, MustAgainst, Reference};
    vec![
        row("bare", Reference, service_fn(ok)),
        row(
            "towerhttp",
            Info,
            CatchPanicLayer::new().layer(service_fn(ok)),
        ),
        row("minimal", Info, MinimalCatch::new(service_fn(ok))),
        row("arc_per_request", Info, ArcPerRequest::new(service_fn(ok))),
        row("app", Must, AppErrorLayer::new().layer(service_fn(ok))),
        row(
            "app_everything_on",
            Must,
            AppErrorLayer::new()
                .expose_details(true)
                .layer(service_fn(ok)),
        ),
        row(
            "app_custom",
            Info,
            AppErrorLayer::new()
                .type_base("https://example.com/problems/")
                .capture_header(http::header::ACCEPT)
                .layer(service_fn(ok)),
        ),
        row(
            "gateway",
            Must,
            GatewayErrorLayer::new().layer(service_fn(upstream_ok)),
        ),
        row(
            "gateway_floor",
            Info,
            floor(service_fn(upstream_ok), LONG_TIMEOUT),
        ),
        row(
            "gateway_retry",
            Info,
            ServiceBuilder::new()
                .layer(GatewayErrorLayer::new())
                .retry(RetryNeverSent::new(2, RETRY_BACKOFF))
                .service(service_fn(upstream_ok)),
        ),
        row(
            "gateway_retry_budget",
            MustAgainst("gateway_retry"),
            ServiceBuilder::new()
                .layer(GatewayErrorLayer::new())
                .retry(
                    RetryNeverSent::new(2, RETRY_BACKOFF).budget(Box::leak(Box::new(
                        RetryBudget::new(Duration::from_secs(10), 10, 0.2),
                    ))),
                )
                .service(service_fn(upstream_ok)),
        ),
        row(
            "gateway_retry_tps_budget",
            Info,
            ServiceBuilder::new()
                .layer(GatewayErrorLayer::new())
                .retry(
                    RetryNeverSent::new(2, RETRY_BACKOFF)
                        .budget(Box::leak(Box::new(TpsBudget::default()))),
                )
                .service(service_fn(upstream_ok)),
        ),
    ]
}

/// One run: `threads` clones of `svc`, each on its own thread and runtime.
fn run<S, B>(name: &str, svc: &S, variant: Variant, threads: usize, duration: Duration) -> f64
where
    S: Service<Req, Response = Response<B>> + Clone + Send,
    S::Error: Debug,
    B: Body<Data = Bytes>,
    B::Error: Debug,
{
    let barrier = Barrier::new(threads);
    thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let svc = svc.clone();
                let barrier = &barrier;
                scope.spawn(move || drive(name, svc, variant, barrier, duration))
            })
            .collect();
        let per_thread: f64 = handles
            .into_iter()
            .map(|handle| handle.join().expect("a bench thread panicked"))
            .sum();
        per_thread / threads as f64
    })
}

/// One thread of a run: checks a response, warms up, waits for the other
/// threads, then sends requests for `duration`; its requests per second.
fn drive<S, B>(
    name: &str,
    mut svc: S,
    variant: Variant,
    barrier: &Barrier,
    duration: Duration,
) -> f64
where
    S: Service<Req, Response = Response<B>> + Clone,
    S::Error: Debug,
    B: Body<Data = Bytes>,
    B::Error: Debug,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let outcome = one(&mut svc).await;
        let expected = Outcome {
            status: StatusCode::OK,
            complete: true,
        };
        assert_eq!(outcome, expected, "{name} answered wrongly");
        requests_for(&mut svc, variant, duration / 5).await;
    });
    barrier.wait();
    let start = Instant::now();
    let requests = rt.block_on(requests_for(&mut svc, variant, duration));
    requests as f64 / start.elapsed().as_secs_f64()
}

/// Sends requests for at least `duration`, reading the clock every
/// [`BATCH`] requests; how many it sent.
async fn requests_for<S, B>(svc: &mut S, variant: Variant, duration: Duration) -> u64
where
    S: Service<Req, Response = Response<B>> + Clone,
    S::Error: Debug,
    B: Body<Data = Bytes>,
    B::Error: Debug,
{
    let deadline = Instant::now() + duration;
    let mut requests = 0;
    loop {
        for _ in 0..BATCH {
            let outcome = match variant {
                Variant::Shared => one(svc).await,
                Variant::ClonePerRequest => one_cloned(svc).await,
            };
            black_box(outcome);
        }
        requests += BATCH;
        if Instant::now() >= deadline {
            return requests;
        }
    }
}

/// One round's measurements of one row and variant.
#[derive(Clone, Copy, Debug)]
struct Sample {
    /// Requests per second per thread, on 1 thread.
    one: f64,
    /// Requests per second per thread, on `N` threads.
    many: f64,
}

impl Sample {
    fn ratio(self) -> f64 {
        self.many / self.one
    }
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

/// The medians over the rounds of one row and variant.
struct Summary {
    one: f64,
    many: f64,
    ratio: f64,
    ratio_min: f64,
    ratio_max: f64,
    vs_bare: f64,
}

/// `samples[r]`: the row's sample of round `r`; `bare[r]`: bare's.
fn summarise(samples: &[Sample], bare: &[Sample]) -> Summary {
    let ratios: Vec<f64> = samples.iter().map(|s| s.ratio()).collect();
    Summary {
        one: median(samples.iter().map(|s| s.one).collect()),
        many: median(samples.iter().map(|s| s.many).collect()),
        ratio: median(ratios.clone()),
        ratio_min: ratios.iter().copied().fold(f64::INFINITY, f64::min),
        ratio_max: ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        vs_bare: median(
            samples
                .iter()
                .zip(bare)
                .map(|(s, b)| s.ratio() / b.ratio())
                .collect(),
        ),
    }
}

struct Options {
    seconds: f64,
    rounds: usize,
    threads: usize,
    /// Rows to run besides `bare`; all if empty.
    only: Vec<String>,
}

fn usage(rows: &[Row]) -> ExitCode {
    eprintln!(
        "usage: scaling [--seconds <s>] [--rounds <n>] [--threads <n>] [<row>...]\n\
         \x20 --seconds  time of each run, after a warm-up of a fifth of it (default {DEFAULT_SECONDS})\n\
         \x20 --rounds   rounds over all rows; medians are taken over them (default {DEFAULT_ROUNDS})\n\
         \x20 --threads  N, the threads of the many-thread runs (default: available parallelism, at least 2)\n\
         \x20 <row>      rows to run (bare always runs); rows:"
    );
    for row in rows {
        eprintln!("    {}", row.name);
    }
    ExitCode::from(2)
}

fn parse(args: &[String], rows: &[Row]) -> Option<Options> {
    let cores = thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let mut options = Options {
        seconds: DEFAULT_SECONDS,
        rounds: DEFAULT_ROUNDS,
        threads: cores.max(2),
        only: Vec::new(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                options.seconds = args.next()?.parse().ok()?;
                if !(options.seconds.is_finite() && options.seconds > 0.0) {
                    return None;
                }
            }
            "--rounds" => options.rounds = args.next()?.parse().ok().filter(|&n| n > 0)?,
            "--threads" => options.threads = args.next()?.parse().ok().filter(|&n| n > 1)?,
            name if rows.iter().any(|row| row.name == name) => options.only.push(name.to_owned()),
            _ => return None,
        }
    }
    Some(options)
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench` to harness-less benches.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| arg != "--bench")
        .collect();
    let mut rows = rows();
    let Some(options) = parse(&args, &rows) else {
        return usage(&rows);
    };
    if !options.only.is_empty() {
        rows.retain(|row| {
            row.check == Check::Reference || options.only.iter().any(|n| n == row.name)
        });
    }
    let n = options.threads;
    let duration = Duration::from_secs_f64(options.seconds);
    let cores = thread::available_parallelism().map_or(1, NonZeroUsize::get);

    println!(
        "scaling: throughput per thread on 1 and on {n} threads; {} rounds of {} s per run",
        options.rounds, options.seconds
    );
    println!(
        "the numbers mean something only on an otherwise idle machine \
         (cores: {cores}; load average at start: {})",
        load_average().unwrap_or_else(|| "unknown".to_owned())
    );
    if n > cores {
        println!("warning: {n} threads on {cores} cores share cores: ratios measure time slicing, not scaling");
    }

    // samples[variant][row][round]
    let mut samples = vec![vec![Vec::with_capacity(options.rounds); rows.len()]; VARIANTS.len()];
    for round in 0..options.rounds {
        eprintln!("round {}/{}...", round + 1, options.rounds);
        for (r, row) in rows.iter().enumerate() {
            for (v, &variant) in VARIANTS.iter().enumerate() {
                // The two runs of a row are adjacent; which comes first
                // alternates from round to round.
                let (one, many) = if round % 2 == 0 {
                    let one = (row.run)(variant, 1, duration);
                    (one, (row.run)(variant, n, duration))
                } else {
                    let many = (row.run)(variant, n, duration);
                    ((row.run)(variant, 1, duration), many)
                };
                samples[v][r].push(Sample { one, many });
            }
        }
    }

    let bare = rows
        .iter()
        .position(|row| row.check == Check::Reference)
        .expect("the bare row");
    let summaries: Vec<Vec<Summary>> = samples
        .iter()
        .map(|by_row| by_row.iter().map(|s| summarise(s, &by_row[bare])).collect())
        .collect();

    for (v, variant) in VARIANTS.iter().enumerate() {
        println!();
        println!(
            "{}: req/s per thread, medians over {} rounds; ratio = at {n} / at 1; vs bare = ratio / bare's ratio",
            variant.name(),
            options.rounds
        );
        println!(
            "| {:<17} | {:>14} | {:>14} | {:>5} | {:>11} | {:>7} |",
            "row",
            "1 thread",
            format!("{n} threads"),
            "ratio",
            "ratio range",
            "vs bare"
        );
        println!(
            "|{:-<19}|{:->15}:|{:->15}:|{:->6}:|{:->12}:|{:->8}:|",
            "", "", "", "", "", ""
        );
        for (row, s) in rows.iter().zip(&summaries[v]) {
            println!(
                "| {:<17} | {:>14.0} | {:>14.0} | {:>5.2} | {:>11} | {:>7.2} |",
                row.name,
                s.one,
                s.many,
                s.ratio,
                format!("{:.2}–{:.2}", s.ratio_min, s.ratio_max),
                s.vs_bare
            );
        }
    }

    println!();
    println!("musts (PASS/FAIL) and info (reported only): vs bare (or the row named) >= {MUST}");
    let mut failed = false;
    for (v, variant) in VARIANTS.iter().enumerate() {
        for (row, s) in rows.iter().zip(&summaries[v]) {
            let (value, against) = match row.check {
                Check::Reference => continue,
                Check::MustAgainst(other) => {
                    let Some(o) = rows.iter().position(|row| row.name == other) else {
                        continue;
                    };
                    (s.vs_bare / summaries[v][o].vs_bare, other)
                }
                Check::Must | Check::Info => (s.vs_bare, "bare"),
            };
            let verdict = match row.check {
                Check::Info => "    ",
                _ if value >= MUST => "PASS",
                _ => {
                    failed = true;
                    "FAIL"
                }
            };
            let kind = if row.check == Check::Info {
                "info"
            } else {
                "must"
            };
            println!(
                "  {verdict} {kind}  {:<48} {:>5.2} >= {MUST}",
                format!("{} ({}) vs {against}", row.name, variant.name()),
                value
            );
        }
    }
    println!(
        "(only meaningful on an otherwise idle machine with at least 2 cores; load average at end: {})",
        load_average().unwrap_or_else(|| "unknown".to_owned())
    );
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The 1-, 5- and 15-minute load averages, where Linux gives them.
fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(
        text.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    )
}
