use std::any::Any;
use std::backtrace::Backtrace;
use std::borrow::Cow;
use std::cell::Cell;
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
/// frames between std's markers: from the panic to the thread's or
/// runtime's start, without the hook's own frames) unless the process asks
/// for full ones.
pub(crate) fn backtrace_text(backtrace: &Backtrace) -> String {
    let text = backtrace.to_string();
    if FULL_BACKTRACES.load(Ordering::Relaxed) {
        return text;
    }
    short_backtrace(&text)
}

/// The frames of a backtrace's text after the one of
/// `__rust_end_short_backtrace` and before the one of
/// `__rust_begin_short_backtrace`, as std's short style prints them; the
/// whole text if it has neither.
fn short_backtrace(text: &str) -> String {
    let mut frames: Vec<&str> = Vec::new();
    let mut start = 0;
    let starts_frame = |line: &str| {
        let line = line.trim_start();
        line.find(": ")
            .is_some_and(|colon| line[..colon].bytes().all(|b| b.is_ascii_digit()) && colon > 0)
    };
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if starts_frame(line) && offset > start {
            frames.push(&text[start..offset]);
            start = offset;
        }
        offset += line.len();
    }
    frames.push(&text[start..]);
    let end = frames
        .iter()
        .position(|frame| frame.contains("__rust_end_short_backtrace"));
    let begin = frames
        .iter()
        .position(|frame| frame.contains("__rust_begin_short_backtrace"));
    let from = end.map_or(0, |end| end + 1);
    let to = begin.filter(|&begin| begin >= from).unwrap_or(frames.len());
    frames[from..to].concat()
}

/// Called by the hook's installation, before it is set.
pub(crate) fn start_tracking_scopes() {
    HOOK_INSTALLED.store(true, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::short_backtrace;

    #[test]
    fn a_short_backtrace_keeps_the_frames_between_stds_markers() {
        let text = "   0: hook\n             at src/hook.rs:1:1\n   1: std::sys::backtrace::__rust_end_short_backtrace\n   2: core::panicking::panic_fmt\n   3: app::handler\n             at src/app.rs:9:5\n   4: std::sys::backtrace::__rust_begin_short_backtrace\n   5: start_thread\n";
        assert_eq!(
            short_backtrace(text),
            "   2: core::panicking::panic_fmt\n   3: app::handler\n             at src/app.rs:9:5\n"
        );
        assert_eq!(short_backtrace("   0: main\n"), "   0: main\n");
    }
}
