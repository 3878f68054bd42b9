use std::borrow::Cow;
use std::error::Error;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use http::StatusCode;

use crate::chain::ErrorChain;
use crate::kind::kinds;
use crate::panic::Payload;
use crate::BoxError;

kinds! {
    /// What failed, as the stable token in the problem's `kind` member. Each
    /// kind is documented on the [kinds page](crate::kinds).
    pub enum Kind {
        /// The handler or a service inside the layer panicked: `panic`.
        Panic => "panic", 500, "The request handler panicked";
        /// The handler or a service inside the layer returned an error:
        /// `handler_error`.
        HandlerError => "handler_error", 500, "The request handler failed";
        /// The handler answered 500 with a body that is not problem+json, and
        /// the layer replaced the body: `internal_error`.
        InternalError => "internal_error", 500, "Internal Server Error";
    }
}

/// The marker on every response the app layer generates, and what its
/// customisation sees: the kind of failure, the status sent, and the cause.
///
/// Find it in the response extensions to tell a generated 500 from one the
/// handler made:
///
/// ```
/// # fn check(res: http::Response<()>) {
/// use tower_problem::app::{Failure, Kind};
///
/// if let Some(failure) = res.extensions().get::<Failure>() {
///     assert_eq!(failure.kind(), Kind::Panic);
/// }
/// # }
/// ```
///
/// Cloning is cheap for errors (they are shared) and for the message of a
/// `panic!` with a literal; a formatted panic's message is copied.
#[derive(Clone)]
pub struct Failure {
    cause: Cause,
}

#[derive(Clone)]
enum Cause {
    Panic {
        message: Cow<'static, str>,
        location: Option<String>,
    },
    Error(Arc<ErrorReport>),
    InternalError,
}

/// An error and whether it still has to be logged.
///
/// A [`HandlerError`](super::HandlerError) turned into a response is logged
/// by the layer, with request context; where no layer sees it, the report logs
/// it when the response is dropped, so it is logged exactly once either way.
pub(super) struct ErrorReport {
    error: BoxError,
    unlogged: AtomicBool,
}

impl Drop for ErrorReport {
    fn drop(&mut self) {
        if *self.unlogged.get_mut() {
            super::log::unseen_handler_error(&*self.error);
        }
    }
}

impl Failure {
    pub(super) fn panic(payload: Payload) -> Self {
        let panic = payload.into_panic();
        Self {
            cause: Cause::Panic {
                message: panic.message,
                location: panic.location,
            },
        }
    }

    /// An error the layer logs itself.
    pub(super) fn logged_error(error: BoxError) -> Self {
        Self::error_report(error, false)
    }

    /// An error that logs itself on drop unless the layer logs it first.
    #[cfg(feature = "axum")]
    pub(super) fn unlogged_error(error: BoxError) -> Self {
        Self::error_report(error, true)
    }

    fn error_report(error: BoxError, unlogged: bool) -> Self {
        let report = ErrorReport {
            error,
            unlogged: AtomicBool::new(unlogged),
        };
        Self {
            cause: Cause::Error(Arc::new(report)),
        }
    }

    pub(super) const fn internal_error() -> Self {
        Self {
            cause: Cause::InternalError,
        }
    }

    /// Takes over the logging of a handler error that nobody logged yet.
    pub(super) fn claim_unlogged(&self) -> bool {
        match &self.cause {
            Cause::Error(report) => report.unlogged.swap(false, Ordering::AcqRel),
            _ => false,
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> Kind {
        match self.cause {
            Cause::Panic { .. } => Kind::Panic,
            Cause::Error(_) => Kind::HandlerError,
            Cause::InternalError => Kind::InternalError,
        }
    }

    /// The status of the response the layer made for it: 500 Internal
    /// Server Error.
    pub fn status(&self) -> StatusCode {
        self.kind().default_status()
    }

    /// Whether a panic caused it.
    pub fn is_panic(&self) -> bool {
        matches!(self.cause, Cause::Panic { .. })
    }

    /// Whether a handler or service error caused it.
    pub fn is_handler_error(&self) -> bool {
        matches!(self.cause, Cause::Error(_))
    }

    /// Whether it is a handler-made 500 whose body the layer replaced.
    pub fn is_internal_error(&self) -> bool {
        matches!(self.cause, Cause::InternalError)
    }

    /// The panic's message: its payload if that was a `&str` or a `String`.
    pub fn panic_message(&self) -> Option<&str> {
        match &self.cause {
            Cause::Panic { message, .. } => Some(message),
            _ => None,
        }
    }

    /// Where the panic happened, as `file:line:column`; known only with the
    /// [`panic_hook`](super::panic_hook) installed.
    pub fn panic_location(&self) -> Option<&str> {
        match &self.cause {
            Cause::Panic { location, .. } => location.as_deref(),
            _ => None,
        }
    }

    /// The error that caused it: the handler's or the service's. `None` for
    /// a panic and for [`Kind::InternalError`].
    pub fn error(&self) -> Option<&(dyn Error + Send + Sync + 'static)> {
        match &self.cause {
            Cause::Error(report) => Some(&*report.error),
            _ => None,
        }
    }

    /// What a developer would want to read: the panic message with its
    /// location, or the error chain.
    pub(super) fn details(&self) -> Option<String> {
        match &self.cause {
            Cause::Panic {
                message,
                location: Some(location),
            } => Some(format!("{message} (at {location})")),
            Cause::Panic { message, .. } => Some(message.to_string()),
            Cause::Error(report) => Some(ErrorChain(&*report.error).to_string()),
            Cause::InternalError => None,
        }
    }
}

crate::kind::layer_failure!();

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Failure");
        debug.field("kind", &self.kind());
        match &self.cause {
            Cause::Panic { message, location } => {
                debug.field("message", message).field("location", location)
            }
            Cause::Error(report) => debug.field("error", &report.error),
            Cause::InternalError => &mut debug,
        };
        debug.finish()
    }
}
