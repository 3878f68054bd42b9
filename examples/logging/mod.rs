//! The examples' log: `tracing` events, one line each, to stderr without
//! ever making a runtime worker wait on the terminal, a pipe or a file.
//!
//! A worker only appends its line to a queue in memory; a thread of the
//! log's own writes the queue out every 20 ms, one `write` for all the
//! lines queued. A line per failure then costs an outage no wake-up and no
//! system call per line (tracing-appender's non-blocking writer wakes its
//! thread for each line). Past 4 MiB queued, the writer has fallen behind
//! and a line is dropped, counted, and the count reported on stderr. The
//! line is tracing-subscriber's default line, written in one pass by a
//! formatter of the examples' own (`line.rs`), which costs a failure less
//! than tracing-subscriber's.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing_subscriber::EnvFilter;

mod line;

/// How often the queue is written out.
const WRITE_EVERY: Duration = Duration::from_millis(20);
/// The most the queue holds before lines are dropped.
const MAX_QUEUED: usize = 4 << 20;
/// How often a count of dropped lines is reported, at most.
const REPORT_EVERY: Duration = Duration::from_secs(10);

/// Logs `RUST_LOG`'s events (`default` without it) to stderr through the
/// queue, with colours only on a terminal.
///
/// Keep the guard until the process ends: dropping it writes out what is
/// still queued and reports the lines dropped.
pub fn log_to_stderr(default: &str) -> LogGuard {
    let queue = Arc::new(Queue::default());
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| default.into()))
        .with_ansi(std::io::stderr().is_terminal())
        .fmt_fields(line::Fields)
        .event_format(line::Line)
        .with_writer(Arc::clone(&queue))
        .init();
    let writing = Arc::clone(&queue);
    let writer = std::thread::Builder::new()
        .name("log writer".into())
        .spawn(move || writing.write_out_until_closed())
        .expect("a thread for the log");
    LogGuard {
        queue,
        writer: Some(writer),
    }
}

/// The lines queued, and what the writer thread needs to know.
#[derive(Default)]
struct Queue {
    lines: Mutex<Vec<u8>>,
    dropped: AtomicU64,
    closed: AtomicBool,
}

impl Queue {
    fn push(&self, line: &[u8]) {
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        if lines.len() + line.len() > MAX_QUEUED {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        lines.extend_from_slice(line);
    }

    /// The writer thread: every [`WRITE_EVERY`], takes what is queued and
    /// writes it to stderr; once closed, writes the rest and returns.
    fn write_out_until_closed(&self) {
        let mut spare = Vec::new();
        let (mut reported, mut last_report) = (0, Instant::now());
        loop {
            let closed = self.closed.load(Ordering::Acquire);
            if !closed {
                std::thread::park_timeout(WRITE_EVERY);
            }
            std::mem::swap(
                &mut *self.lines.lock().unwrap_or_else(|e| e.into_inner()),
                &mut spare,
            );
            let mut stderr = std::io::stderr().lock();
            let _ = stderr.write_all(&spare);
            spare.clear();
            let dropped = self.dropped.load(Ordering::Relaxed);
            if dropped > reported && (closed || last_report.elapsed() >= REPORT_EVERY) {
                let _ = writeln!(
                    stderr,
                    "{} log lines dropped: the log could not keep up",
                    dropped - reported
                );
                (reported, last_report) = (dropped, Instant::now());
            }
            if closed {
                return;
            }
        }
    }
}

/// The writer of each event: tracing-subscriber formats an event's line
/// whole, then writes it at once (a `MakeWriter` through its impl for
/// `Arc<W>`).
impl Write for &Queue {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        self.push(line);
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes out what is queued when dropped.
pub struct LogGuard {
    queue: Arc<Queue>,
    writer: Option<JoinHandle<()>>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.queue.closed.store(true, Ordering::Release);
        if let Some(writer) = self.writer.take() {
            writer.thread().unpark();
            let _ = writer.join();
        }
    }
}
