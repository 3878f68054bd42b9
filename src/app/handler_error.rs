use std::error::Error;
use std::fmt;

use axum::response::{IntoResponse, Response};

use super::failure::Failure;
use crate::common::error_chain::ErrorChain;
use crate::common::responder::failure_problem;
use crate::BoxError;

/// An axum handler's error: return `Result<T, HandlerError>` and use `?` on
/// anything that converts into a [`BoxError`]: any `std::error::Error +
/// Send + Sync + 'static`, `anyhow::Error`, `eyre::Report`, a `String`.
///
/// The response is the layer's problem of the kind the layer's classifier
/// gives the error ([`AppErrorLayer::classify_with`]): a 500 of kind
/// `handler_error` by default, a 404 for a domain's "not found" classified
/// as [`Kind::NotFound`](super::Kind::NotFound). Without a layer around it,
/// it is the 500. The error chain is logged exactly once, with its `Debug`
/// form (where anyhow and eyre write their backtrace, when one was
/// captured): by [`AppErrorLayer`](super::AppErrorLayer), with the
/// request's context, or, where no layer sees the response, when the
/// response is dropped.
///
/// [`AppErrorLayer::classify_with`]: super::AppErrorLayer::classify_with
///
/// ```
/// use tower_problem::app::HandlerError;
///
/// async fn handler() -> Result<String, HandlerError> {
///     let config = std::fs::read_to_string("/no/such/file")?;
///     Ok(config)
/// }
/// ```
///
/// It does not implement `std::error::Error` itself: that would clash with
/// the `From` conversion that makes `?` work (the same trade-off as
/// `anyhow::Error`).
pub struct HandlerError {
    error: BoxError,
}

impl HandlerError {
    /// Wraps an error, boxed or not.
    pub fn new(error: impl Into<BoxError>) -> Self {
        Self {
            error: error.into(),
        }
    }

    /// The wrapped error.
    pub fn error(&self) -> &(dyn Error + Send + Sync + 'static) {
        &*self.error
    }
}

impl<E: Into<BoxError>> From<E> for HandlerError {
    fn from(error: E) -> Self {
        Self::new(error)
    }
}

impl fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("HandlerError").field(&self.error).finish()
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        ErrorChain(&*self.error).fmt(f)
    }
}

impl IntoResponse for HandlerError {
    fn into_response(self) -> Response {
        let failure = Failure::unlogged_error(self.error);
        let mut res = failure_problem(&failure, None, None, None).into_response();
        res.extensions_mut().insert(failure);
        res
    }
}
