//! An optional panic hook that makes the app layer the one place a request's
//! panic is reported.
//!
//! Without it, a panic inside a request is reported twice: std's default hook
//! prints it to stderr, and the layer logs it through `tracing`.
//! `catch_unwind` does not tell the layer where the panic happened, so its log
//! has no location. Under `RUST_BACKTRACE=1`, std's hook also captures,
//! symbolises and prints a backtrace for every panic, apart from the
//! layer's log line.
//!
//! With [`install`], a panic on a thread that is inside the layer (its
//! `call`, its response future, its response body) is not printed: the hook
//! records the panic's location, and the layer logs the panic once,
//! through `tracing`, with location, message and request context. Every
//! other panic goes to the hook that was there before, unchanged.
//!
//! The hook captures a backtrace for a panic inside the layer when std's
//! own hook would print one (`RUST_BACKTRACE` set and not `0`;
//! `RUST_LIB_BACKTRACE` does not decide, as it does not for std's panics),
//! and the failure's one log line carries it (`panic.backtrace`); otherwise
//! nothing is captured. The line's backtrace is short, as std's is, and
//! stops at the handler's caller: the frames of the runtime under the last
//! frame of another crate than tokio, hyper, hyper-util, tower, std, core
//! and alloc are cut and counted (`… 87 frames of the runtime`), and at
//! most 32 frames are kept; `RUST_BACKTRACE=full` writes every frame.
//! [`PanicHook::backtrace`] forces
//! it on or off. [`PanicHook::on_panic`] hands each of these panics to an
//! error reporter of yours, which would otherwise never see them: the
//! previous hook is not called for them, since std's default hook would
//! print them again.
//!
//! A panic that code inside the handler catches itself is also silenced
//! (the hook cannot tell it from one the layer will catch), which is why the
//! hook is opt-in.
//!
//! # Example
//!
//! ```
//! use tower_problem::app::panic_hook::PanicHook;
//!
//! PanicHook::new()
//!     .on_panic(|info, backtrace| {
//!         // Hand it to your error reporter.
//!         let _ = (info.location(), backtrace.is_some());
//!     })
//!     .install();
//! ```

use std::backtrace::Backtrace;
use std::fmt;
use std::panic::{self, PanicHookInfo};
use std::sync::{Arc, Once};

use crate::common::panic::{in_scope, record, start_tracking_scopes, write_full_backtraces};

/// What [`PanicHook::on_panic`] is given.
type OnPanic = dyn Fn(&PanicHookInfo<'_>, Option<&Backtrace>) + Send + Sync;

/// The hook's settings; [`install`](Self::install) sets it.
#[must_use = "a PanicHook does nothing until it is installed"]
pub struct PanicHook {
    backtrace: Option<bool>,
    on_panic: Option<Box<OnPanic>>,
}

impl PanicHook {
    /// The hook as [`install`] installs it: backtraces as std decides, no
    /// reporter.
    pub fn new() -> Self {
        Self {
            backtrace: None,
            on_panic: None,
        }
    }

    /// Captures a backtrace for every panic inside the layer (`true`) or
    /// for none (`false`), whatever `RUST_BACKTRACE` says. Panics outside
    /// the layer go to the previous hook, which decides for them.
    ///
    /// The first backtrace the process writes loads the binary's symbol
    /// tables, a one-off delay of tens of milliseconds on that request;
    /// the later ones reuse them.
    pub fn backtrace(mut self, capture: bool) -> Self {
        self.backtrace = Some(capture);
        self
    }

    /// Calls `report` with each panic inside the layer, and its backtrace
    /// when one is captured, from inside the panic hook: it runs on the
    /// panicking thread before the layer answers. It must not panic: a
    /// panic inside a panic hook aborts the process.
    pub fn on_panic(
        mut self,
        report: impl Fn(&PanicHookInfo<'_>, Option<&Backtrace>) + Send + Sync + 'static,
    ) -> Self {
        self.on_panic = Some(Box::new(report));
        self
    }

    /// Installs the hook, wrapping the current one. Only the first hook of
    /// this crate installed in a process is: later calls do nothing.
    ///
    /// Install it after any other hook you set (a crash reporter's, say): a
    /// hook set later replaces this one.
    pub fn install(self) {
        static INSTALL: Once = Once::new();
        INSTALL.call_once(|| {
            let capture = self.backtrace.unwrap_or_else(|| {
                std_prints_backtraces(std::env::var("RUST_BACKTRACE").ok().as_deref())
            });
            let on_panic = self.on_panic;
            write_full_backtraces(
                std::env::var("RUST_BACKTRACE").is_ok_and(|value| value == "full"),
            );
            start_tracking_scopes();
            let previous = panic::take_hook();
            panic::set_hook(Box::new(move |info| {
                if !in_scope() {
                    return previous(info);
                }
                let backtrace = capture.then(|| Arc::new(Backtrace::force_capture()));
                if let Some(report) = &on_panic {
                    report(info, backtrace.as_deref());
                }
                let location = info
                    .location()
                    .map_or_else(String::new, ToString::to_string);
                record(location, backtrace);
            }));
        });
    }
}

impl Default for PanicHook {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for PanicHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PanicHook")
            .field("backtrace", &self.backtrace)
            .field("on_panic", &self.on_panic.is_some())
            .finish()
    }
}

/// Installs the hook with its defaults ([`PanicHook::new`]); later calls
/// do nothing.
pub fn install() {
    PanicHook::new().install();
}

/// Whether std's default hook prints a backtrace for a panic, by the value
/// of `RUST_BACKTRACE`: set, and not `0`.
fn std_prints_backtraces(rust_backtrace: Option<&str>) -> bool {
    rust_backtrace.is_some_and(|value| value != "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backtraces_are_captured_when_std_would_print_them() {
        assert!(!std_prints_backtraces(None));
        assert!(!std_prints_backtraces(Some("0")));
        assert!(std_prints_backtraces(Some("1")));
        assert!(std_prints_backtraces(Some("full")));
    }
}
