//! The cost of the app layer per request, as rows that each run the same
//! request loop over a different service.
//!
//! - `cargo bench --bench instructions` prints the row names.
//! - `cargo bench --bench instructions -- <row> <iters>` runs one row's loop
//!   `iters` times: `benches/callgrind.sh` counts its instructions with
//!   callgrind at two iteration counts, so the set-up cancels out.
//! - `cargo bench --bench instructions -- --allocs` prints, for every row, the
//!   heap allocations (`alloc`, `alloc_zeroed` and `realloc` calls) per
//!   request, counted by this binary's global allocator over
//!   [`ALLOC_ITERS`] requests after [`WARM_UP`] requests.
//!
//! The services and the request loop live in `rows/mod.rs`, shared with
//! `wall.rs` (criterion wall-clock time of the same rows).
//!
//! Every row builds the request, waits for the service to be ready, calls
//! it, and collects the response body, on one current-thread tokio runtime.
//! A no-op panic hook is installed for every row, and no tracing subscriber,
//! so the rows that panic pay for unwinding only, not for printing.
//!
//! | row | service |
//! |---|---|
//! | `bare` | a `service_fn` answering 200 "ok" |
//! | `app_ok_nocapture` | `bare` in `AppErrorLayer::new().capture_request(false)` |
//! | `app_ok` | `bare` in `AppErrorLayer::new()`: every check on |
//! | `app_error` | a `service_fn` failing with an `io::Error`, in `AppErrorLayer::new()` |
//! | `app_panic` | a `service_fn` that panics, in `AppErrorLayer::new()` |
//! | `towerhttp_ok`, `towerhttp_panic` | `bare` / the panicking one in tower-http's `CatchPanicLayer::new()` |
//! | `raw_catch_unwind` | a `service_fn` that panics inside its own `catch_unwind` and answers "ok": the cost of the panic alone |
//! | `minimal_catch_unwind_ok`, `minimal_catch_unwind_panic` | `bare` / the panicking one in [`MinimalCatch`], the least a catching wrapper can do: the floor |

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Debug;
use std::future::Future;
use std::hint::black_box;
use std::process::ExitCode;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body::Body;
use tokio::runtime::Runtime;
use tower::{service_fn, Layer, Service};
use tower_http::catch_panic::CatchPanicLayer;
use tower_problem::app::AppErrorLayer;

mod rows;

use rows::{catches, fails, ok, one, panics, MinimalCatch, Req};

/// The rows, in the order `callgrind.sh` prints them.
const ROWS: [&str; 10] = [
    "bare",
    "app_ok_nocapture",
    "app_ok",
    "app_error",
    "app_panic",
    "towerhttp_ok",
    "towerhttp_panic",
    "raw_catch_unwind",
    "minimal_catch_unwind_ok",
    "minimal_catch_unwind_panic",
];

/// Requests before allocations are counted: lazy statics, thread-locals and
/// the runtime's buffers allocate once, on the first requests.
const WARM_UP: u64 = 100;
/// Requests over which allocations are counted.
const ALLOC_ITERS: u64 = 1000;

// ---------------------------------------------------------------------------
// Counting allocator

/// The system allocator, counting allocations made on a thread while its
/// `COUNTING` flag is set.
struct CountingAlloc;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// Counts one allocation. Must not allocate: the thread-locals are
/// const-initialised and have no destructor, so touching them never does.
fn count_allocation() {
    let _ = COUNTING.try_with(|counting| {
        if counting.get() {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        }
    });
}

// SAFETY: every method forwards to `System` with the caller's arguments.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_allocation();
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_allocation();
        // SAFETY: the caller upholds `GlobalAlloc::alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_allocation();
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Allocations on this thread while `f` runs.
async fn allocations_in<F: Future<Output = ()>>(f: F) -> u64 {
    ALLOCATIONS.with(|n| n.set(0));
    COUNTING.with(|counting| counting.set(true));
    f.await;
    COUNTING.with(|counting| counting.set(false));
    ALLOCATIONS.with(Cell::get)
}

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

/// Checks the row answers as it should, then runs it; returns the
/// allocations per request in [`Mode::Allocations`].
async fn drive<S, B>(mut svc: S, expected: StatusCode, mode: Mode) -> f64
where
    S: Service<Req, Response = Response<B>>,
    S::Error: Debug,
    B: Body<Data = Bytes>,
    B::Error: Debug,
{
    let status = one(&mut svc).await;
    assert_eq!(status, expected, "the row answered with the wrong status");
    match mode {
        Mode::Run(iters) => {
            for _ in 0..iters {
                black_box(one(&mut svc).await);
            }
            0.0
        }
        Mode::Allocations => {
            for _ in 0..WARM_UP {
                black_box(one(&mut svc).await);
            }
            let allocations = allocations_in(async {
                for _ in 0..ALLOC_ITERS {
                    black_box(one(&mut svc).await);
                }
            })
            .await;
            allocations as f64 / ALLOC_ITERS as f64
        }
    }
}

/// Runs `row`; `None` if there is no such row.
fn run(rt: &Runtime, row: &str, mode: Mode) -> Option<f64> {
    const OK: StatusCode = StatusCode::OK;
    const FAILED: StatusCode = StatusCode::INTERNAL_SERVER_ERROR;
    let result = match row {
        "bare" => rt.block_on(drive(service_fn(ok), OK, mode)),
        "app_ok_nocapture" => {
            let layer = AppErrorLayer::new().capture_request(false);
            rt.block_on(drive(layer.layer(service_fn(ok)), OK, mode))
        }
        "app_ok" => rt.block_on(drive(AppErrorLayer::new().layer(service_fn(ok)), OK, mode)),
        "app_error" => rt.block_on(drive(
            AppErrorLayer::new().layer(service_fn(fails)),
            FAILED,
            mode,
        )),
        "app_panic" => rt.block_on(drive(
            AppErrorLayer::new().layer(service_fn(panics)),
            FAILED,
            mode,
        )),
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
        "minimal_catch_unwind_ok" => rt.block_on(drive(
            MinimalCatch {
                inner: service_fn(ok),
            },
            OK,
            mode,
        )),
        "minimal_catch_unwind_panic" => rt.block_on(drive(
            MinimalCatch {
                inner: service_fn(panics),
            },
            FAILED,
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
