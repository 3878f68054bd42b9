//! The cost of one panic inside the app layer, by panic hook: std's default
//! (with and without `RUST_BACKTRACE=1`) against the crate's
//! (`panic_hook::PanicHook`, with and without backtraces). Each mode runs in
//! a process of its own (a hook is process-wide), its stderr discarded,
//! and a `tracing` subscriber formats every log line into a sink, so that
//! a captured backtrace is symbolised and written as it would be.
//!
//! `cargo bench --bench panic_hook` prints microseconds per panic.

use std::process::{Command, Stdio};
use std::time::Instant;

use tower::{Layer, Service, ServiceExt};
use tower_problem::app::panic_hook::PanicHook;
use tower_problem::app::AppErrorLayer;

const MODES: [(&str, bool); 4] = [
    ("std", false),
    ("std-backtrace", true),
    ("hook", false),
    ("hook-backtrace", true),
];
const WARM_UP: u32 = 50;
const PANICS: u32 = 1_000;

fn main() {
    let mode = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));
    let Some(mode) = mode else {
        println!("| hook | RUST_BACKTRACE | µs per panic |\n|---|---|---:|");
        for (mode, backtrace) in MODES {
            let out = Command::new(std::env::current_exe().unwrap())
                .arg(mode)
                .env("RUST_BACKTRACE", if backtrace { "1" } else { "0" })
                .stderr(Stdio::null())
                .output()
                .expect("the bench runs itself");
            let micros = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            println!("| {mode} | {} | {micros} |", u8::from(backtrace));
        }
        return;
    };
    match mode.as_str() {
        "hook" => PanicHook::new().install(),
        "hook-backtrace" => PanicHook::new().backtrace(true).install(),
        _ => {}
    }
    tracing_subscriber::fmt().with_writer(std::io::sink).init();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut svc = AppErrorLayer::new().layer(tower::service_fn(|_: http::Request<()>| async {
        if true {
            panic!("on purpose");
        }
        Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
    }));
    let mut one = || {
        rt.block_on(async {
            let res = svc
                .ready()
                .await
                .unwrap()
                .call(http::Request::new(()))
                .await;
            assert_eq!(res.unwrap().status(), 500);
        })
    };
    for _ in 0..WARM_UP {
        one();
    }
    let start = Instant::now();
    for _ in 0..PANICS {
        one();
    }
    let micros = start.elapsed().as_secs_f64() * 1e6 / f64::from(PANICS);
    println!("{micros:.1}");
}
