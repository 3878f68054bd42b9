use std::borrow::Cow;
use std::error::Error;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::panic::Payload;
use crate::BoxError;

/// What failed, as the stable token in the problem's `kind` member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// The handler or a service inside the layer panicked: `panic`.
    Panic,
    /// The handler or a service inside the layer returned an error:
    /// `handler_error`.
    HandlerError,
    /// The handler answered 500 with a body that is not problem+json, and the
    /// layer replaced the body: `internal_error`.
    InternalError,
}

impl Kind {
    /// The snake_case token: the `kind` member and the end of the `type` URI.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Panic => "panic",
            Self::HandlerError => "handler_error",
            Self::InternalError => "internal_error",
        }
    }

    /// The problem's `title`: the same for every occurrence of the kind.
    pub const fn title(self) -> &'static str {
        match self {
            Self::Panic => "The request handler panicked",
            Self::HandlerError => "The request handler failed",
            Self::InternalError => "Internal Server Error",
        }
    }

    /// The `type` URI under the default base, [`DEFAULT_TYPE_BASE`](crate::DEFAULT_TYPE_BASE).
    pub(super) const fn default_type(self) -> &'static str {
        match self {
            Self::Panic => concat!(crate::default_type_base!(), "panic"),
            Self::HandlerError => concat!(crate::default_type_base!(), "handler_error"),
            Self::InternalError => concat!(crate::default_type_base!(), "internal_error"),
        }
    }

    /// The whole default problem of this kind as JSON, when the request had
    /// no id and details are not exposed.
    pub(super) const fn default_json(self) -> &'static str {
        macro_rules! json {
            ($kind:literal, $title:literal) => {
                concat!(
                    r#"{"type":""#,
                    crate::default_type_base!(),
                    $kind,
                    r#"","title":""#,
                    $title,
                    r#"","status":500,"kind":""#,
                    $kind,
                    r#""}"#
                )
            };
        }
        match self {
            Self::Panic => json!("panic", "The request handler panicked"),
            Self::HandlerError => json!("handler_error", "The request handler failed"),
            Self::InternalError => json!("internal_error", "Internal Server Error"),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The marker on every response the app layer generates, and what its
/// customisation sees: the kind of failure and its cause.
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
            tracing::error!(
                kind = Kind::HandlerError.as_str(),
                error = %ErrorChain(&*self.error),
                "handler error (no AppErrorLayer saw the response, so no request context)"
            );
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

    /// The handler's or service's error.
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

/// Displays an error and its sources as `outer: middle: root`.
pub(super) struct ErrorChain<'a>(pub(super) &'a (dyn Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(error) = source {
            write!(f, ": {error}")?;
            source = error.source();
        }
        Ok(())
    }
}
