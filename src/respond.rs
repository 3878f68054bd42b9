//! Customising the failure responses of both layers ([`ResponseForFailure`]),
//! and the one builder of those responses.

use bytes::Bytes;
use std::sync::LazyLock;

use http::header::{CONTENT_LANGUAGE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, Response, StatusCode};

use crate::context::RequestContext;
use crate::grpc;
use crate::kind::{default_problem, fixed_json, FailureKind, LayerFailure};
use crate::panic::{catch, Panic};
use crate::problem::json::with_request_id;
use crate::problem::{fix_content_length, problem_response, response_with, Problem};
use crate::settings::Common;

/// Builds the response for a failure `F` (an [`app::Failure`] or a
/// [`gateway::Failure`]): the problem+json body by default, or any other
/// envelope (an HTML page for browsers, a company's own JSON).
///
/// `problem` is the consistent body the layer would send; add to it with
/// [`Problem::into_builder`] and return it, or ignore it. The layer sets
/// `Content-Length` and, for `HEAD`, drops the body. If this panics, the
/// layer logs the panic and answers with the default response for the same
/// failure.
///
/// The layer keeps its responder by value and clones it into every
/// request's future, as tower-http's `ResponseForPanic` is: the default and
/// a closure that captures nothing are zero-sized and cost nothing; keep
/// shared state behind an `Arc` (one reference-count increment per
/// request).
///
/// Closures implement it:
///
/// ```
/// use tower_problem::app::{AppErrorLayer, Failure};
/// use tower_problem::problem::Problem;
/// use tower_problem::RequestContext;
///
/// let layer = AppErrorLayer::new().respond_with(
///     |_failure: &Failure, _request: &RequestContext, problem: Problem| {
///         problem
///             .into_builder()
///             .extension("support", "https://example.com/support")
///             .build()
///             .expect("a valid extension name")
///     },
/// );
/// ```
///
/// [`ProblemBuilder::build`] checks only what is added to the problem, so
/// here it fails only for a refused extension name (a standard member's, or
/// one RFC 9457 §3.2 advises against): a bug that a fixed name shows on the
/// first failure, which is why `expect` suits it.
///
/// [`ProblemBuilder::build`]: crate::problem::ProblemBuilder::build
///
/// [`app::Failure`]: crate::app::Failure
/// [`gateway::Failure`]: crate::gateway::Failure
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot build the response for a `{F}`",
    label = "not a `ResponseForFailure<{F}>`",
    note = "implement `ResponseForFailure<{F}>`, or pass a closure `|failure: &{F}, request: &RequestContext, problem: Problem| -> impl Into<Response<Bytes>>` that is `Clone + Send + Sync + 'static`"
)]
pub trait ResponseForFailure<F>: Clone + Send + Sync + 'static {
    /// The response for `failure` of the request described by `request`.
    fn response_for_failure(
        &self,
        failure: &F,
        request: &RequestContext,
        problem: Problem,
    ) -> Response<Bytes>;

    /// The response for `failure` of a gRPC request (see
    /// [`grpc`](crate::grpc)), with the gRPC `code` and `message`
    /// the layer chose: by default [`grpc::trailers_only`]. The layer then
    /// adds its kind in [`grpc::KIND_HEADER`] and its own headers, as for
    /// [`response_for_failure`](Self::response_for_failure). A closure
    /// answers gRPC requests this default way.
    fn grpc_response_for_failure(
        &self,
        failure: &F,
        request: &RequestContext,
        code: grpc::Code,
        message: &str,
    ) -> Response<Bytes> {
        let _ = (failure, request);
        grpc::trailers_only(code, message)
    }
}

impl<Fun, F, T> ResponseForFailure<F> for Fun
where
    Fun: Fn(&F, &RequestContext, Problem) -> T + Clone + Send + Sync + 'static,
    T: Into<Response<Bytes>>,
{
    fn response_for_failure(
        &self,
        failure: &F,
        request: &RequestContext,
        problem: Problem,
    ) -> Response<Bytes> {
        self(failure, request, problem).into()
    }
}

/// The default [`ResponseForFailure`]: the problem+json body, unchanged,
/// with `Content-Language: en` for its English titles.
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct DefaultResponse;

impl<F> ResponseForFailure<F> for DefaultResponse {
    fn response_for_failure(&self, _: &F, _: &RequestContext, problem: Problem) -> Response<Bytes> {
        default_response(problem)
    }
}

fn default_response(problem: Problem) -> Response<Bytes> {
    response_with(problem.status(), problem.to_json(), default_headers())
}

/// The head of the default response: a problem response's, and
/// `Content-Language: en` for its English titles. Built once: a clone costs
/// its two allocations and no hashing, where inserting costs a hash and a
/// probe per header, which the error path's bound cannot afford
/// (BENCHMARKS.md).
pub(crate) fn default_headers() -> HeaderMap {
    static HEADERS: LazyLock<HeaderMap> = LazyLock::new(|| {
        let mut headers = problem_response(StatusCode::INTERNAL_SERVER_ERROR, Bytes::new())
            .into_parts()
            .0
            .headers;
        headers.insert(CONTENT_LANGUAGE, HeaderValue::from_static("en"));
        headers
    });
    HEADERS.clone()
}

/// `Retry-After` on a 503, when the layer sets one.
pub(crate) fn retry_after<X, F>(
    headers: &mut HeaderMap,
    status: StatusCode,
    common: &Common<X, F>,
) {
    if status == StatusCode::SERVICE_UNAVAILABLE {
        if let Some(secs) = common.retry_after() {
            headers.insert(RETRY_AFTER, HeaderValue::from(secs));
        }
    }
}

/// The layer's own response: `headers` state no length, which only a
/// response to `HEAD` needs (its body goes).
#[inline]
fn layer_response(
    status: StatusCode,
    body: Bytes,
    headers: HeaderMap,
    head: bool,
) -> Response<Bytes> {
    let len = body.len();
    let mut res = response_with(status, body, headers);
    if head {
        fix_content_length(res.headers_mut(), len, head);
    }
    res
}

/// A failure's response, and the panic of its customisation, if it
/// panicked (for the layer to log).
pub(crate) struct Built {
    pub(crate) response: Response<Bytes>,
    pub(crate) respond_panicked: Option<Panic>,
}

/// Builds the response for `failure`: the default response written from
/// its kind's [fixed JSON](crate::kind::fixed_json) where that is what the
/// default responder would render, else the kind's default problem (with
/// `detail`, which the layer chose to show) handed to
/// `respond` (when that panics, the default response of the same problem,
/// so the marker, the body and the headers tell one story); then
/// `Content-Length` made right, no body for `HEAD` (its length stays: it is
/// what a `GET` would get), and `failure` as the marker in the extensions.
///
/// The layer's own headers come from `layer_head`, the whole head of the
/// layer's default response ([`default_headers`] and the layer's own), and
/// go onto a customised response through `own_headers`.
pub(crate) fn failure_response<F, R, X, Flags>(
    failure: F,
    detail: Option<&str>,
    request: &RequestContext,
    common: &Common<X, Flags>,
    respond: &R,
    layer_head: impl FnOnce() -> HeaderMap,
    own_headers: impl FnOnce(&mut HeaderMap),
) -> Built
where
    F: LayerFailure,
    R: ResponseForFailure<F>,
{
    let (kind, status) = (failure.kind(), failure.status());
    let problem = || default_problem(kind, status, detail, request.request_id_str(), common);
    let head = request.is_head();
    let (mut response, respond_panicked) = if common.grpc_request {
        let (mut response, panicked) = grpc_response(&failure, detail, request, respond);
        own_headers(response.headers_mut());
        (response, panicked)
    } else {
        match fixed_json::<R, _, _, _>(kind, status, detail, common) {
            Some(json) => {
                let body = with_request_id(json, request.request_id_str());
                (layer_response(status, body, layer_head(), head), None)
            }
            None => match catch(|| respond.response_for_failure(&failure, request, problem())) {
                Ok(mut response) => {
                    own_headers(response.headers_mut());
                    let len = response.body().len();
                    fix_content_length(response.headers_mut(), len, head);
                    (response, None)
                }
                Err(payload) => {
                    let panic = payload.into_panic();
                    let json = problem().to_json();
                    (
                        layer_response(status, json, layer_head(), head),
                        Some(panic),
                    )
                }
            },
        }
    };
    if head {
        *response.body_mut() = Bytes::new();
    }
    response.extensions_mut().insert(failure);
    Built {
        response,
        respond_panicked,
    }
}

/// The responder's answer to a gRPC request (the default one if it
/// panics, and the panic), with the layer's kind.
#[cold]
#[inline(never)]
fn grpc_response<F, R>(
    failure: &F,
    detail: Option<&str>,
    request: &RequestContext,
    respond: &R,
) -> (Response<Bytes>, Option<Panic>)
where
    F: LayerFailure,
    R: ResponseForFailure<F>,
{
    let kind = failure.kind();
    let (code, message) = (failure.grpc_code(), detail.unwrap_or(kind.title()));
    let (mut response, respond_panicked) =
        match catch(|| respond.grpc_response_for_failure(failure, request, code, message)) {
            Ok(response) => (response, None),
            Err(payload) => (
                grpc::trailers_only(code, message),
                Some(payload.into_panic()),
            ),
        };
    let headers = response.headers_mut();
    if !headers.contains_key(grpc::KIND_HEADER) {
        headers.insert(grpc::KIND_HEADER, HeaderValue::from_static(kind.token()));
    }
    (response, respond_panicked)
}
