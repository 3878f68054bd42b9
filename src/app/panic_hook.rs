//! An optional panic hook that makes the app layer the one place a request's
//! panic is reported.
//!
//! Without it, a panic inside a request is reported twice: std's default hook
//! prints it to stderr, and the layer logs it through `tracing`.
//! `catch_unwind` does not tell the layer where the panic happened, so its log
//! has no location. Under `RUST_BACKTRACE=1`, std's hook also captures and
//! symbolises a backtrace for every panic, which costs far more time per
//! panic than this hook, and resident memory for the symbol tables
//! (BENCHMARKS.md has the numbers).
//!
//! With [`install`], a panic on a thread that is inside the layer (its
//! `call`, its response future, its response body) is not printed: the hook
//! only records the panic's location, and the layer logs the panic once,
//! through `tracing`, with location, message and request context, and no
//! backtrace is captured. Every other panic goes to the hook that was there
//! before, unchanged.
//!
//! A panic that code inside the handler catches itself is also silenced
//! (the hook cannot tell it from one the layer will catch), which is why the
//! hook is opt-in.
//!
//! # Example
//!
//! ```
//! tower_problem::app::panic_hook::install();
//! ```

use std::panic;
use std::sync::Once;

use crate::panic::{in_scope, record_location, start_tracking_scopes};

/// Installs the hook, wrapping the current one; later calls do nothing.
///
/// Install it after any other hook you set (a crash reporter's, say): a hook
/// set later replaces this one.
pub fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        start_tracking_scopes();
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if in_scope() {
                record_location(
                    info.location()
                        .map_or_else(String::new, ToString::to_string),
                );
            } else {
                previous(info);
            }
        }));
    });
}
