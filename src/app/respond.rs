use std::borrow::Cow;

use bytes::Bytes;
use http::{Response, StatusCode};

use super::failure::{Failure, Kind};
use super::layer::Settings;
use crate::context::RequestContext;
use crate::panic::catch;
use crate::problem::{problem_response, Problem, STATIC_INTERNAL_ERROR};
use crate::respond::ResponseForFailure;

/// The consistent body: `type`, `title`, `status`, the `detail` when the
/// user exposes details, and the `kind` and `request_id` members.
pub(super) fn default_problem(
    failure: &Failure,
    request: &RequestContext,
    settings: &Settings,
) -> Problem {
    let mut problem = kind_problem(failure.kind(), settings.type_base.as_deref());
    if settings.expose_details {
        if let Some(details) = failure.details() {
            problem = problem.with_detail(details);
        }
    }
    if let Some(id) = request.request_id_str() {
        problem = problem.with_extension("request_id", id.to_owned());
    }
    problem
}

/// The members every problem of `kind` has: `type`, `title`, `status`, `kind`.
pub(super) fn kind_problem(kind: Kind, type_base: Option<&str>) -> Problem {
    let type_uri: Cow<'static, str> = match type_base {
        None => kind.default_type().into(),
        Some(base) => format!("{base}{kind}").into(),
    };
    Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
        .with_type(type_uri)
        .with_title(kind.title())
        .with_extension("kind", kind.as_str())
}

/// Logs `failure` once, with the request's context, and builds its response.
pub(super) fn failure_response<R: ResponseForFailure<Failure>>(
    failure: &Failure,
    request: &RequestContext,
    settings: &Settings,
    respond: &R,
) -> Response<Bytes> {
    log_failure(failure, request);
    let built = catch(|| {
        let problem = default_problem(failure, request, settings);
        respond.response_for_failure(failure, request, problem)
    });
    match built {
        Ok(res) => res,
        Err(panic) => {
            tracing::error!(
                method = %request.method(),
                path = request.path().unwrap_or("-"),
                request_id = request.request_id_str().unwrap_or("-"),
                panic.message = %panic.message,
                panic.location = panic.location.as_deref().unwrap_or("-"),
                respond = std::any::type_name::<R>(),
                "the ResponseForFailure panicked; answered with the fixed 500 body"
            );
            problem_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                Bytes::from_static(STATIC_INTERNAL_ERROR),
            )
        }
    }
}

fn log_failure(failure: &Failure, request: &RequestContext) {
    let method = request.method();
    let path = request.path().unwrap_or("-");
    let request_id = request.request_id_str().unwrap_or("-");
    match failure.kind() {
        Kind::Panic => tracing::error!(
            kind = "panic",
            %method,
            path,
            request_id,
            panic.message = failure.panic_message().unwrap_or_default(),
            panic.location = failure.panic_location().unwrap_or("-"),
            "request handler panicked"
        ),
        Kind::HandlerError => tracing::error!(
            kind = "handler_error",
            %method,
            path,
            request_id,
            error = %failure.details().unwrap_or_default(),
            "request handler failed"
        ),
        Kind::InternalError => tracing::error!(
            kind = "internal_error",
            %method,
            path,
            request_id,
            "request handler answered 500 without a problem body; body replaced"
        ),
    }
}
