//! The gateway layer's log lines, all under the target
//! `tower_problem::gateway`.

use std::borrow::Cow;
use std::error::Error;
use std::time::Duration;

use http::uri::Authority;
use tokio::time::Instant;

use super::body::BodyError;
use super::failure::{Failure, Kind};
use super::future::UpstreamCall;
use crate::common::error_chain::ErrorChain;
use crate::common::log::request_event;
use crate::common::panic::Panic;

/// The target of every line: users' filters need not know file names.
const TARGET: &str = "tower_problem::gateway";

/// Milliseconds since the first poll of the response future; 0 when the
/// failure came before it waited at all.
fn elapsed_ms(started: Option<Instant>) -> u64 {
    started.map_or(0, |started| {
        u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
    })
}

/// The one line of a failure the layer answered: at debug level for the
/// client's own body, warn for a local limit and a replaced upstream 5xx,
/// error for the rest.
pub(super) fn failure<C, R>(
    failure: &Failure,
    call: &UpstreamCall<C, R>,
    started: Option<Instant>,
    details: Option<&str>,
) {
    let level = match failure.kind() {
        Kind::RequestBodyError | Kind::RequestBodyTooLarge => tracing::Level::DEBUG,
        Kind::ConnectionLimitReached | Kind::UpstreamServerError => tracing::Level::WARN,
        _ => tracing::Level::ERROR,
    };
    // Nothing records this level: skip gathering the fields.
    if !tracing::level_enabled!(level) {
        return;
    }
    // A 4xx is no error of a server's span (OpenTelemetry's HTTP
    // conventions).
    if failure.status().is_server_error() {
        crate::common::span::record_error_type(failure.kind().as_str());
    }
    let request = &call.request;
    let kind = failure.kind().as_str();
    let status = failure.status().as_u16();
    let upstream = call.upstream();
    let attempts = failure.attempts();
    let elapsed_ms = elapsed_ms(started);
    // Formatted only if the event is recorded: tracing evaluates the fields
    // of an enabled event only.
    let error = error_text(failure.error(), details);
    let error = error.as_deref();
    match failure.kind() {
        // The kind tells a failed body from one over the limit.
        Kind::RequestBodyError | Kind::RequestBodyTooLarge => request_event!(
            debug,
            TARGET,
            request,
            kind,
            status,
            upstream,
            elapsed_ms,
            error,
            "the client's request body failed while it was forwarded"
        ),
        Kind::ConnectionLimitReached => request_event!(
            warn,
            TARGET,
            request,
            kind,
            status,
            upstream,
            elapsed_ms,
            error,
            "upstream request refused by a local limit"
        ),
        Kind::UpstreamServerError => request_event!(
            warn,
            TARGET,
            request,
            kind,
            status,
            upstream,
            elapsed_ms,
            "upstream answered with a server error; body replaced"
        ),
        Kind::HttpResponseTimeout if failure.error().is_none() => request_event!(
            error,
            TARGET,
            request,
            kind,
            status,
            upstream,
            attempts,
            elapsed_ms,
            "upstream sent no response head within the head timeout"
        ),
        _ => request_event!(
            error,
            TARGET,
            request,
            kind,
            status,
            upstream,
            attempts,
            elapsed_ms,
            error,
            "upstream request failed"
        ),
    }
}

/// The `error` field of [`failure`]: the details if computed, else the
/// error chain; none without either.
fn error_text<'a>(
    error: Option<&(dyn Error + 'static)>,
    details: Option<&'a str>,
) -> Option<Cow<'a, str>> {
    match (error, details) {
        (_, Some(details)) => Some(Cow::Borrowed(details)),
        (Some(error), None) => Some(Cow::Owned(ErrorChain(error).text())),
        (None, None) => None,
    }
}

/// The user's classifier panicked: the default classification was used.
pub(super) fn classify_panicked<C, R>(panic: &Panic, call: &UpstreamCall<C, R>, classify: &str) {
    request_event!(
        error,
        TARGET,
        &call.request,
        upstream = call.upstream(),
        panic.message = &*panic.message,
        panic.location = panic.location.as_deref(),
        classify,
        "the Classify panicked; used the default classification"
    );
}

/// The customisation panicked: the default response was sent instead.
pub(super) fn customisation_panicked<C, R>(
    panic: &Panic,
    kind: Kind,
    call: &UpstreamCall<C, R>,
    respond: &str,
) {
    request_event!(
        error,
        TARGET,
        &call.request,
        kind = kind.as_str(),
        upstream = call.upstream(),
        panic.message = &*panic.message,
        panic.location = panic.location.as_deref(),
        customisation = respond,
        "a customisation of the layer panicked; the layer went on without it"
    );
}

/// The server dropped the request, usually because the client went away:
/// not a failure of the upstream.
pub(super) fn cancelled<C, R>(call: &UpstreamCall<C, R>, started: Option<Instant>) {
    request_event!(
        debug,
        TARGET,
        &call.request,
        upstream = call.upstream(),
        elapsed_ms = elapsed_ms(started),
        "request cancelled before the upstream answered"
    );
}

/// The upstream body failed after the head was sent; the request's context
/// comes from the span the body is polled in.
pub(super) fn body_failed(
    error: &BodyError,
    upstream: Option<&Authority>,
    bytes: u64,
    started: Option<Instant>,
    idle_timeout: Option<Duration>,
) {
    crate::common::span::record_error_type(error.kind().as_str());
    #[cfg(feature = "metrics")]
    crate::common::metrics::failure("gateway", error.kind().as_str(), None, None);
    let cause = match (error.source(), idle_timeout) {
        (Some(source), _) => Some(ErrorChain(source).text()),
        (None, Some(timeout)) => Some(format!("no body data within {timeout:?}")),
        (None, None) => None,
    };
    tracing::error!(
        target: TARGET,
        kind = error.kind().as_str(),
        upstream = upstream.map(Authority::as_str),
        bytes,
        elapsed_ms = elapsed_ms(started),
        error = cause.as_deref(),
        "upstream response body failed after the head was sent; aborting the response"
    );
}

/// The body of a customisation's response panicked after its head was sent.
pub(super) fn customisation_body_panicked(panic: &Panic) {
    tracing::error!(
        target: TARGET,
        kind = Kind::ProxyInternalError.as_str(),
        panic.message = &*panic.message,
        panic.location = panic.location.as_deref(),
        "the body of a customisation's response panicked; aborting the response"
    );
}
