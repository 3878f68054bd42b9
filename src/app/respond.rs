use std::borrow::Cow;

use bytes::Bytes;
use http::{Response, StatusCode};

use super::context::RequestContext;
use super::failure::{Failure, Kind};
use super::layer::Settings;
use super::panic::catch;
use crate::problem::{problem_response, Problem, STATIC_INTERNAL_ERROR};

/// Builds the response for a failure: the problem+json body by default, or
/// any other envelope (an HTML page for browsers, a company's own JSON).
///
/// `problem` is the consistent body the layer would send; change it and
/// return it, or ignore it. The layer sets `Content-Length` and, for `HEAD`,
/// drops the body. If this panics, the layer still answers with a fixed,
/// valid problem+json 500 and logs both failures.
///
/// Closures implement it:
///
/// ```
/// use bytes::Bytes;
/// use http::Response;
/// use tower_problem::app::{AppErrorLayer, Failure, RequestContext};
/// use tower_problem::problem::Problem;
///
/// let layer = AppErrorLayer::new().respond_with(
///     |_failure: &Failure, request: &RequestContext, problem: Problem| {
///         problem.with_extension("support", "https://example.com/support")
///     },
/// );
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot build the response for a failure",
    label = "not a `ResponseForFailure`",
    note = "implement `ResponseForFailure`, or pass a closure `|failure: &Failure, request: &RequestContext, problem: Problem| -> impl Into<Response<Bytes>>` that is `Send + Sync + 'static`"
)]
pub trait ResponseForFailure: Send + Sync + 'static {
    /// The response for `failure` of the request described by `request`.
    fn response_for_failure(
        &self,
        failure: &Failure,
        request: &RequestContext,
        problem: Problem,
    ) -> Response<Bytes>;
}

impl<F, T> ResponseForFailure for F
where
    F: Fn(&Failure, &RequestContext, Problem) -> T + Send + Sync + 'static,
    T: Into<Response<Bytes>>,
{
    fn response_for_failure(
        &self,
        failure: &Failure,
        request: &RequestContext,
        problem: Problem,
    ) -> Response<Bytes> {
        self(failure, request, problem).into()
    }
}

/// The default [`ResponseForFailure`]: the problem+json body, unchanged.
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct DefaultResponse;

impl ResponseForFailure for DefaultResponse {
    fn response_for_failure(
        &self,
        _: &Failure,
        _: &RequestContext,
        problem: Problem,
    ) -> Response<Bytes> {
        problem.into()
    }
}

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
pub(super) fn failure_response<R: ResponseForFailure>(
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
