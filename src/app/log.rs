//! The app layer's log lines, all under the target `tower_problem::app`.

use std::error::Error;

use super::failure::{Failure, Kind};
use crate::chain::ErrorChain;
use crate::log::request_event;
use crate::panic::Panic;
use crate::RequestContext;

/// The target of every line: users' filters need not know file names.
const TARGET: &str = "tower_problem::app";

/// The one line of a failure the layer answered.
pub(super) fn failure(failure: &Failure, request: &RequestContext) {
    let kind = failure.kind().as_str();
    match failure.kind() {
        Kind::Panic => request_event!(
            error,
            TARGET,
            request,
            kind,
            panic.message = failure.panic_message(),
            panic.location = failure.panic_location(),
            "request handler panicked"
        ),
        Kind::HandlerError => {
            if let Some(error) = failure.error() {
                request_event!(
                    error,
                    TARGET,
                    request,
                    kind,
                    error = ErrorChain(error).to_string().as_str(),
                    "request handler failed"
                );
            }
        }
        Kind::InternalError => request_event!(
            error,
            TARGET,
            request,
            kind,
            "request handler answered 500 without a problem body; body replaced"
        ),
    }
}

/// The customisation panicked: the default response was sent instead.
pub(super) fn respond_panicked(panic: &Panic, kind: Kind, request: &RequestContext, respond: &str) {
    request_event!(
        error,
        TARGET,
        request,
        kind = kind.as_str(),
        panic.message = &*panic.message,
        panic.location = panic.location.as_deref(),
        respond,
        "the ResponseForFailure panicked; answered with the default response"
    );
}

/// The server dropped the request, usually because the client went away:
/// not a failure of the application.
pub(super) fn cancelled(request: &RequestContext) {
    request_event!(
        debug,
        TARGET,
        request,
        "request cancelled before the response was ready"
    );
}

/// A panic while the response body was polled: the request's context comes
/// from the span the body is polled in.
pub(super) fn body_panicked(panic: &Panic) {
    tracing::error!(
        target: TARGET,
        kind = Kind::Panic.as_str(),
        panic.message = &*panic.message,
        panic.location = panic.location.as_deref(),
        "response body panicked after the head was sent; aborting the response"
    );
}

/// A [`HandlerError`](super::HandlerError) response that no layer saw.
pub(super) fn unseen_handler_error(error: &(dyn Error + 'static)) {
    tracing::error!(
        target: TARGET,
        kind = Kind::HandlerError.as_str(),
        error = ErrorChain(error).to_string().as_str(),
        "handler error (no AppErrorLayer saw the response, so no request context)"
    );
}
