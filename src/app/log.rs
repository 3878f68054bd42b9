//! The app layer's log lines, all under the target `tower_problem::app`.

use std::error::Error;

use http::HeaderName;

use super::failure::{Failure, Kind};
use super::intercept::ReplacedBody;
use crate::common::error_chain::{debug_form, ErrorChain};
use crate::common::log::request_event;
use crate::common::panic::{backtrace_text, Panic};
use crate::RequestContext;

/// The target of every line: users' filters need not know file names.
const TARGET: &str = "tower_problem::app";

/// The one line of a failure the layer answered: at error level, but for
/// a classified 4xx error (info: a domain's "not found" is no failure of
/// the server) and a replaced 4xx response (debug: the client's mistake,
/// which an access log records; warn if content of its body was dropped).
pub(super) fn failure(failure: &Failure, request: &RequestContext) {
    // A 4xx is no error of a server's span (OpenTelemetry's HTTP
    // conventions).
    if failure.status().is_server_error() {
        crate::common::span::record_error_type(failure.kind_str());
    }
    let kind = failure.kind_str();
    let client = failure.status().is_client_error();
    if failure.is_panic() {
        request_event!(
            error,
            TARGET,
            request,
            kind,
            panic.message = failure.panic_message(),
            panic.location = failure.panic_location(),
            panic.backtrace = failure.panic_backtrace().map(backtrace_text).as_deref(),
            "request handler panicked"
        );
    } else if let Some(error) = failure.error() {
        // The chain, and the `Debug` form where it may carry a backtrace
        // (`Error::provide` is unstable); written only when the line is.
        if client {
            request_event!(
                info,
                TARGET,
                request,
                kind,
                error = ErrorChain(error).text().as_str(),
                error.debug = debug_form(error).as_deref(),
                "request handler failed"
            );
        } else {
            request_event!(
                error,
                TARGET,
                request,
                kind,
                error = ErrorChain(error).text().as_str(),
                error.debug = debug_form(error).as_deref(),
                "request handler failed"
            );
        }
    } else if let Some(ReplacedBody::Dropped {
        content_type,
        length,
    }) = failure.replaced_body()
    {
        let status = failure.status().as_u16();
        let (content_type, length) = (content_type.as_deref(), *length);
        if client {
            request_event!(
                warn,
                TARGET,
                request,
                kind,
                status,
                content_type,
                length,
                "error response without a problem body; body replaced, its content dropped"
            );
        } else {
            request_event!(
                error,
                TARGET,
                request,
                kind,
                status,
                content_type,
                length,
                "error response without a problem body; body replaced, its content dropped"
            );
        }
    } else {
        let status = failure.status().as_u16();
        let text = failure.replaced_text();
        if client {
            request_event!(
                debug,
                TARGET,
                request,
                kind,
                status,
                text,
                "error response without a problem body; body replaced"
            );
        } else {
            request_event!(
                error,
                TARGET,
                request,
                kind,
                status,
                text,
                "error response without a problem body; body replaced"
            );
        }
    }
}

/// The user's classifier panicked: the layer's rules were used. The
/// request's context comes from the span (a failed `poll_ready` is
/// classified before there is a request).
pub(super) fn classify_panicked(panic: &Panic, classify: &str) {
    tracing::error!(
        target: TARGET,
        classify,
        panic.message = &*panic.message,
        panic.location = panic.location.as_deref(),
        "the Classify panicked; used the layer's rules"
    );
}

/// The customisation panicked: the default response was sent instead.
pub(super) fn customisation_panicked(
    panic: &Panic,
    kind: Kind,
    request: &RequestContext,
    respond: &str,
) {
    request_event!(
        error,
        TARGET,
        request,
        kind = kind.as_str(),
        panic.message = &*panic.message,
        panic.location = panic.location.as_deref(),
        customisation = respond,
        "a customisation of the layer panicked; the layer went on without it"
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
    crate::common::span::record_error_type(Kind::Panic.as_str());
    #[cfg(feature = "metrics")]
    crate::common::metrics::failure("app", Kind::Panic.as_str(), None, None);
    tracing::error!(
        target: TARGET,
        kind = Kind::Panic.as_str(),
        panic.message = &*panic.message,
        panic.location = panic.location.as_deref(),
        panic.backtrace = panic.backtrace.as_deref().map(backtrace_text).as_deref(),
        "response body panicked after the head was sent; aborting the response"
    );
}

/// An error classified as a status whose answer must carry a header the
/// error does not supply: answered as a `handler_error` instead.
pub(super) fn required_header_missing(
    failure: &Failure,
    header: HeaderName,
    request: &RequestContext,
) {
    request_event!(
        error,
        TARGET,
        request,
        kind = failure.kind_str(),
        status = failure.status().as_u16(),
        header = header.as_str(),
        "the error's status requires a header the error does not supply (a problem type's headers); answered 500 handler_error"
    );
}

/// A problem type answered while the layer has no `type_base`: said once
/// per process, since the default base, the crate's kinds page, documents
/// none of the application's types.
pub(super) fn problem_type_without_base(kind: &str) {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        tracing::warn!(
            target: TARGET,
            problem_type = kind,
            "a problem type of the application's is answered as about:blank: set the layer's type_base to the page that documents the application's types"
        );
    });
}

/// A [`HandlerError`](super::HandlerError) response that no layer saw.
pub(super) fn unseen_handler_error(error: &(dyn Error + 'static)) {
    tracing::error!(
        target: TARGET,
        kind = Kind::HandlerError.as_str(),
        error = ErrorChain(error).text().as_str(),
        error.debug = debug_form(error).as_deref(),
        "handler error (no AppErrorLayer saw the response, so no request context)"
    );
}
