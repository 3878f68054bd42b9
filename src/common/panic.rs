use std::any::Any;
use std::backtrace::Backtrace;
use std::borrow::Cow;
use std::cell::Cell;
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Set once the panic hook is installed: until then no location is recorded,
/// so a caught panic does not look for one.
static HOOK_INSTALLED: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// How many of the layers' `catch_unwind` scopes this thread is inside.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// Where the last panic inside a scope happened, and its backtrace if
    /// one was captured, left by the panic hook.
    static CAUGHT: Cell<Option<(String, Option<Arc<Backtrace>>)>> = const { Cell::new(None) };
}

/// A panic caught by a layer, its payload already turned into text so the
/// failure can be `Sync` and cloned.
#[derive(Debug)]
pub(crate) struct Panic {
    pub(crate) message: Cow<'static, str>,
    pub(crate) location: Option<String>,
    pub(crate) backtrace: Option<Arc<Backtrace>>,
}

/// What [`catch`] caught: turn it [`into_panic`](Payload::into_panic) at
/// once, before anything else can panic and overwrite what the hook left.
// Not a `Panic`: `catch` keeps `catch_unwind`'s result type, as a larger
// error would make every caught value (a response, among them) larger.
pub(crate) struct Payload(Box<dyn Any + Send>);

impl Payload {
    /// The panic: its message, and, with the panic hook installed, its
    /// location and backtrace.
    pub(crate) fn into_panic(self) -> Panic {
        caught(self.0)
    }
}

/// Runs `f`, catching a panic.
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, Payload> {
    catch_in_scope(f).map_err(Payload)
}

/// `catch_unwind` inside one of the layers' scopes, which the hook tells.
fn catch_in_scope<T>(f: impl FnOnce() -> T) -> Result<T, Box<dyn Any + Send>> {
    DEPTH.with(|depth| depth.set(depth.get() + 1));
    let result = catch_unwind(AssertUnwindSafe(f));
    DEPTH.with(|depth| depth.set(depth.get() - 1));
    result
}

/// The panic of `payload`, with what the hook left.
fn caught(payload: Box<dyn Any + Send>) -> Panic {
    let (location, backtrace) = if HOOK_INSTALLED.load(Ordering::Relaxed) {
        CAUGHT
            .with(Cell::take)
            .map_or((None, None), |(location, backtrace)| {
                (Some(location), backtrace)
            })
    } else {
        (None, None)
    };
    Panic {
        message: payload_message(payload),
        location,
        backtrace,
    }
}

/// The payload's text: `panic!("literal")` leaves a `&'static str`, a
/// formatted `panic!` a `String`.
fn payload_message(payload: Box<dyn Any + Send>) -> Cow<'static, str> {
    let payload = match payload.downcast::<&'static str>() {
        Ok(message) => return Cow::Borrowed(*message),
        Err(payload) => payload,
    };
    let payload = match payload.downcast::<String>() {
        Ok(message) => return Cow::Owned(*message),
        Err(payload) => payload,
    };
    // A payload whose `Drop` panics must not unwind out of the layer, and
    // the second panic's payload, which may do the same, is never dropped.
    // In a scope, so the panic hook keeps this second panic quiet too.
    if let Err(second) = catch_in_scope(|| drop(payload)) {
        std::mem::forget(second);
    }
    Cow::Borrowed("<panic payload of a non-string type>")
}

/// Whether this thread is inside one of the layer's scopes: called by the hook.
pub(crate) fn in_scope() -> bool {
    DEPTH.with(Cell::get) > 0
}

pub(crate) fn record(location: String, backtrace: Option<Arc<Backtrace>>) {
    CAUGHT.with(|slot| slot.set(Some((location, backtrace))));
}

/// Set when the process asks for full backtraces (`RUST_BACKTRACE=full`):
/// otherwise a backtrace is written short, as std writes it.
static FULL_BACKTRACES: AtomicBool = AtomicBool::new(false);

pub(crate) fn write_full_backtraces(full: bool) {
    FULL_BACKTRACES.store(full, Ordering::Relaxed);
}

/// `backtrace` as the layer logs it: as std prints a panic's, short (the
/// frames between std's markers, without the hook's own frames), then
/// without the runtime under the handler's caller (see
/// [`without_the_runtime`]), unless the process asks for full ones.
pub(crate) fn backtrace_text(backtrace: &Backtrace) -> String {
    let text = backtrace.to_string();
    if FULL_BACKTRACES.load(Ordering::Relaxed) {
        return text;
    }
    let frames = frames(&text);
    let short = short_backtrace(&frames);
    without_the_runtime(short)
}

/// The most frames a logged backtrace keeps; the rest are counted.
const MAX_BACKTRACE_FRAMES: usize = 32;

/// The crates of the runtime and the standard library: the frames under
/// the last one of another crate are the runtime's, cut from a log line.
const RUNTIME_CRATES: [&str; 7] = [
    "tokio::",
    "hyper::",
    "hyper_util::",
    "tower::",
    "std::",
    "core::",
    "alloc::",
];

/// A backtrace's text, cut into frames: each starts with its `N: ` line,
/// its `at file:line` lines with it.
fn frames(text: &str) -> Vec<&str> {
    let starts_frame = |line: &str| {
        let line = line.trim_start();
        line.find(": ")
            .is_some_and(|colon| colon > 0 && line[..colon].bytes().all(|b| b.is_ascii_digit()))
    };
    let mut frames = Vec::new();
    let (mut start, mut offset) = (0, 0);
    for line in text.split_inclusive('\n') {
        if starts_frame(line) && offset > start {
            frames.push(&text[start..offset]);
            start = offset;
        }
        offset += line.len();
    }
    frames.push(&text[start..]);
    frames
}

/// The frames after the one of `__rust_end_short_backtrace` and before the
/// one of `__rust_begin_short_backtrace`, as std's short style prints
/// them; all of them if it has neither.
fn short_backtrace<'a, 'f>(frames: &'f [&'a str]) -> &'f [&'a str] {
    let end = frames
        .iter()
        .position(|frame| frame.contains("__rust_end_short_backtrace"));
    let begin = frames
        .iter()
        .position(|frame| frame.contains("__rust_begin_short_backtrace"));
    let from = end.map_or(0, |end| end + 1);
    let to = begin.filter(|&begin| begin >= from).unwrap_or(frames.len());
    &frames[from..to]
}

/// Whether a frame is a function of the runtime or the standard library:
/// its name (or, for `<T as Trait>::f`, its type) is in one of
/// [`RUNTIME_CRATES`].
fn is_runtime(frame: &str) -> bool {
    let name = frame
        .trim_start()
        .split_once(": ")
        .map_or("", |(_, name)| name)
        .trim_start_matches('<');
    RUNTIME_CRATES.iter().any(|krate| name.starts_with(krate))
}

/// `frames` up to the last one outside the runtime (the handler's caller,
/// a layer), at most [`MAX_BACKTRACE_FRAMES`] of them, and a line that
/// counts what was cut.
fn without_the_runtime(frames: &[&str]) -> String {
    let last = frames.iter().rposition(|frame| !is_runtime(frame));
    let kept = last.map_or(frames.len(), |last| last + 1);
    let runtime = frames.len() - kept;
    let beyond_cap = kept.saturating_sub(MAX_BACKTRACE_FRAMES);
    let mut text = frames[..kept - beyond_cap].concat();
    if beyond_cap > 0 {
        let _ = writeln!(text, "      … {beyond_cap} more frames");
    }
    if runtime > 0 {
        let _ = writeln!(text, "      … {runtime} frames of the runtime");
    }
    text
}

/// Called by the hook's installation, before it is set.
pub(crate) fn start_tracking_scopes() {
    HOOK_INSTALLED.store(true, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::{frames, short_backtrace, without_the_runtime, MAX_BACKTRACE_FRAMES};

    #[test]
    fn a_short_backtrace_keeps_the_frames_between_stds_markers() {
        let text = "   0: hook\n             at src/hook.rs:1:1\n   1: std::sys::backtrace::__rust_end_short_backtrace\n   2: core::panicking::panic_fmt\n   3: app::handler\n             at src/app.rs:9:5\n   4: std::sys::backtrace::__rust_begin_short_backtrace\n   5: start_thread\n";
        assert_eq!(
            short_backtrace(&frames(text)).concat(),
            "   2: core::panicking::panic_fmt\n   3: app::handler\n             at src/app.rs:9:5\n"
        );
        assert_eq!(
            short_backtrace(&frames("   0: main\n")).concat(),
            "   0: main\n"
        );
    }

    #[test]
    fn the_runtime_under_the_last_frame_of_another_crate_is_cut_and_counted() {
        let text = "   2: core::panicking::panic_fmt\n   3: app::handler::{{closure}}\n             at src/app.rs:9:5\n   4: <core::pin::Pin<P> as core::future::future::Future>::poll\n   5: <tower_problem::app::ResponseFuture<F> as core::future::future::Future>::poll\n   6: <hyper::proto::h1::dispatch::Server<S> as hyper::proto::h1::dispatch::Dispatch>::poll_msg\n   7: tokio::runtime::task::harness::poll_future\n   8: std::panicking::try\n";
        assert_eq!(
            without_the_runtime(&frames(text)),
            "   2: core::panicking::panic_fmt\n   3: app::handler::{{closure}}\n             at src/app.rs:9:5\n   4: <core::pin::Pin<P> as core::future::future::Future>::poll\n   5: <tower_problem::app::ResponseFuture<F> as core::future::future::Future>::poll\n      … 3 frames of the runtime\n"
        );
    }

    #[test]
    fn a_deep_backtrace_keeps_its_first_frames() {
        let text: String = (0..100).map(|i| format!("  {i}: app::f{i}\n")).collect();
        let logged = without_the_runtime(&frames(&text));
        assert_eq!(logged.lines().count(), MAX_BACKTRACE_FRAMES + 1);
        assert!(logged.ends_with(&format!("… {} more frames\n", 100 - MAX_BACKTRACE_FRAMES)));
    }
}
