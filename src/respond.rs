//! Customising the failure responses of both layers: [`ResponseForFailure`].

use bytes::Bytes;
use http::Response;

use crate::context::RequestContext;
use crate::problem::Problem;

/// Builds the response for a failure `F` (an [`app::Failure`] or a
/// [`gateway::Failure`]): the problem+json body by default, or any other
/// envelope (an HTML page for browsers, a company's own JSON).
///
/// `problem` is the consistent body the layer would send; add to it with
/// [`Problem::into_builder`] and return it, or ignore it. The layer sets
/// `Content-Length` and, for `HEAD`, drops the body. If this panics, the
/// layer still answers with a fixed, valid problem+json body and logs both
/// failures.
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
    note = "implement `ResponseForFailure<{F}>`, or pass a closure `|failure: &{F}, request: &RequestContext, problem: Problem| -> impl Into<Response<Bytes>>` that is `Send + Sync + 'static`"
)]
pub trait ResponseForFailure<F>: Send + Sync + 'static {
    /// The response for `failure` of the request described by `request`.
    fn response_for_failure(
        &self,
        failure: &F,
        request: &RequestContext,
        problem: Problem,
    ) -> Response<Bytes>;
}

impl<Fun, F, T> ResponseForFailure<F> for Fun
where
    Fun: Fn(&F, &RequestContext, Problem) -> T + Send + Sync + 'static,
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

/// The default [`ResponseForFailure`]: the problem+json body, unchanged.
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct DefaultResponse;

impl<F> ResponseForFailure<F> for DefaultResponse {
    fn response_for_failure(&self, _: &F, _: &RequestContext, problem: Problem) -> Response<Bytes> {
        problem.into()
    }
}
