//! Customising the failure responses of both layers ([`ResponseForFailure`]),
//! and the one builder of those responses.

use std::borrow::Cow;

use bytes::Bytes;
use http::header::{
    HeaderName, CONTENT_ENCODING, CONTENT_LANGUAGE, CONTENT_LENGTH, CONTENT_LOCATION,
    CONTENT_RANGE, CONTENT_TYPE, ETAG, LAST_MODIFIED, RETRY_AFTER, TRANSFER_ENCODING,
};
use http::response::Parts;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body::Body;
use http_body_util::Full;

use super::context::RequestContext;
use super::kind_table::{status_phrase, LayerFailure};
use super::panic::{catch, Panic};
use super::settings::CommonSettings;
use crate::grpc;
use crate::problem::{ExtensionValue, Problem};
use crate::BoxError;

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
/// request's future, as tower-http does its `ResponseForPanic`: keep state
/// that requests share behind an `Arc`.
///
/// A closure is given to a layer's `respond_with`, which types its
/// arguments (no annotation needed); a type of your own that implements
/// this trait to its `responder`:
///
/// ```
/// use tower_problem::app::AppErrorLayer;
///
/// let layer = AppErrorLayer::new().respond_with(|_failure, _request, problem| {
///     problem
///         .into_builder()
///         .extension("support", "https://example.com/support")
///         .build()
///         .expect("a valid extension name")
/// });
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
    note = "implement `ResponseForFailure<{F}>` and pass it to `responder`, or pass a closure `|failure, request, problem| -> impl IntoFailureResponse` to `respond_with`"
)]
pub trait ResponseForFailure<F>: Clone + Send + Sync + 'static {
    /// The body of the responses it builds: `Full<Bytes>` for bytes and
    /// problems; with the `axum` feature, axum's body for an axum response
    /// (which is not `Sync`, so neither is then the layer's body). The
    /// layer's own answers (the default one when this panics, an empty body
    /// for `HEAD`) are made `From<Bytes>`.
    type Body: Body<Data = Bytes, Error: Into<BoxError>> + From<Bytes> + Send + 'static;

    /// The response for `failure` of the request described by `request`.
    fn response_for_failure(
        &self,
        failure: &F,
        request: &RequestContext,
        problem: Problem,
    ) -> Response<Self::Body>;

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
    ) -> Response<Self::Body> {
        let _ = (failure, request);
        grpc::trailers_only(code, message).map(Self::Body::from)
    }
}

impl<Fun, F, T> ResponseForFailure<F> for Fun
where
    Fun: Fn(&F, &RequestContext, Problem) -> T + Clone + Send + Sync + 'static,
    T: IntoFailureResponse,
{
    type Body = T::Body;

    fn response_for_failure(
        &self,
        failure: &F,
        request: &RequestContext,
        problem: Problem,
    ) -> Response<T::Body> {
        self(failure, request, problem).into_failure_response()
    }
}

/// What a closure given to a layer's `respond_with` returns: a
/// [`Problem`], an `http::Response<Bytes>`, or, with the `axum` feature,
/// an `axum::response::Response` (anything axum's `IntoResponse` takes,
/// through `.into_response()`), whose body is sent as it streams.
///
/// The body type is the responder's: a closure that answers with bytes
/// costs the layer's happy path nothing over the default.
///
/// ```
/// # #[cfg(feature = "axum")] {
/// use axum::response::{Html, IntoResponse};
/// use tower_problem::app::AppErrorLayer;
///
/// let layer = AppErrorLayer::new().respond_with(|failure, _request, problem| {
///     let page = format!("<h1>{}</h1>", problem.title().unwrap_or("Error"));
///     (failure.status(), Html(page)).into_response()
/// });
/// # }
/// ```
pub trait IntoFailureResponse {
    /// The response's body.
    type Body: Body<Data = Bytes, Error: Into<BoxError>> + From<Bytes> + Send + 'static;

    /// The response.
    fn into_failure_response(self) -> Response<Self::Body>;
}

impl IntoFailureResponse for Response<Bytes> {
    type Body = Full<Bytes>;

    fn into_failure_response(self) -> Response<Full<Bytes>> {
        self.map(Full::new)
    }
}

impl IntoFailureResponse for Problem {
    type Body = Full<Bytes>;

    fn into_failure_response(self) -> Response<Full<Bytes>> {
        Response::<Bytes>::from(self).map(Full::new)
    }
}

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
impl IntoFailureResponse for axum::response::Response {
    type Body = axum::body::Body;

    fn into_failure_response(self) -> axum::response::Response {
        self
    }
}

/// The default [`ResponseForFailure`]: the problem+json body, unchanged,
/// with `Content-Language: en` for its English titles.
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct DefaultResponse;

impl<F> ResponseForFailure<F> for DefaultResponse {
    type Body = Full<Bytes>;

    fn response_for_failure(
        &self,
        _: &F,
        _: &RequestContext,
        problem: Problem,
    ) -> Response<Full<Bytes>> {
        default_response(problem).map(Full::new)
    }
}

/// [`DefaultResponse`]'s answer.
fn default_response(problem: Problem) -> Response<Bytes> {
    let mut res = Response::from(problem);
    res.headers_mut()
        .insert(CONTENT_LANGUAGE, HeaderValue::from_static("en"));
    res
}

/// The consistent problem of `failure`: `type` (its kind's token under the
/// type base, or `about:blank`), `title`, `status`, the `detail` the layer
/// chose, and the `kind` and `request_id` members.
pub(crate) fn failure_problem<F: LayerFailure>(
    failure: &F,
    detail: Option<&str>,
    request_id: Option<&str>,
    type_base: Option<&str>,
) -> Problem {
    // An application's own type is named under its own base only: without
    // one, it means no more than its status (RFC 9457 §4.2.1).
    let blank_domain = failure.is_the_applications() && type_base.is_none();
    let type_uri = if failure.has_own_type() && !blank_domain {
        let (base, token) = (
            type_base.unwrap_or(crate::DEFAULT_TYPE_BASE),
            failure.token(),
        );
        let mut type_uri = String::with_capacity(base.len() + token.len());
        type_uri.push_str(base);
        type_uri.push_str(token);
        Cow::Owned(type_uri)
    } else {
        Cow::Borrowed("about:blank")
    };
    let mut extensions = Vec::with_capacity(2);
    extensions.push((Cow::Borrowed("kind"), ExtensionValue::from(failure.token())));
    if let Some(id) = request_id {
        extensions.push((
            Cow::Borrowed("request_id"),
            ExtensionValue::from(id.to_owned()),
        ));
    }
    failure.add_members(&mut extensions);
    let title = if blank_domain {
        status_phrase(failure.status()).unwrap_or(failure.title())
    } else {
        failure.title()
    };
    Problem::layer_problem(
        failure.status(),
        type_uri,
        title,
        detail.map(str::to_owned),
        extensions,
    )
}

/// Builds the response for `failure`: its problem (with `detail`, which the
/// layer chose to show) handed to `respond`, or, for a gRPC request, the
/// responder's gRPC answer with the kind in [`grpc::KIND_HEADER`]; when the
/// responder panics, the default answer, so the marker, the body and the
/// headers tell one story. Then `Content-Length` made right, no body for
/// `HEAD` (its length stays: it is what a `GET` would get), and `failure`
/// as the marker in the extensions. The layer adds its own headers after.
///
/// Returns the responder's panic, if it panicked, for the layer to log.
pub(crate) fn failure_response<F, R, O>(
    failure: F,
    detail: Option<&str>,
    request: &RequestContext,
    grpc: bool,
    common: &CommonSettings<O>,
    respond: &R,
) -> (Response<R::Body>, Option<Panic>)
where
    F: LayerFailure,
    R: ResponseForFailure<F>,
{
    let (mut response, respond_panicked) = if grpc {
        grpc_response(&failure, detail, request, respond)
    } else {
        let problem = || {
            failure_problem(
                &failure,
                detail,
                request.request_id_str(),
                common.type_base(),
            )
        };
        match catch(|| respond.response_for_failure(&failure, request, problem())) {
            Ok(response) => (response, None),
            Err(payload) => (
                default_response(problem()).map(R::Body::from),
                Some(payload.into_panic()),
            ),
        }
    };
    let head = request.is_head();
    // A body of no exact size keeps the length its maker stated, if any.
    if let Some(len) = response.body().size_hint().exact() {
        fix_content_length(response.headers_mut(), len, head);
    }
    if head {
        *response.body_mut() = R::Body::from(Bytes::new());
    }
    response.extensions_mut().insert(failure);
    (response, respond_panicked)
}

/// The responder's answer to a gRPC request (the default one if it
/// panics, and the panic), with the layer's kind.
fn grpc_response<F, R>(
    failure: &F,
    detail: Option<&str>,
    request: &RequestContext,
    respond: &R,
) -> (Response<R::Body>, Option<Panic>)
where
    F: LayerFailure,
    R: ResponseForFailure<F>,
{
    let (code, message) = (failure.grpc_code(), detail.unwrap_or(failure.title()));
    let (mut response, respond_panicked) =
        match catch(|| respond.grpc_response_for_failure(failure, request, code, message)) {
            Ok(response) => (response, None),
            Err(payload) => (
                grpc::trailers_only(code, message).map(R::Body::from),
                Some(payload.into_panic()),
            ),
        };
    let headers = response.headers_mut();
    if !headers.contains_key(grpc::KIND_HEADER) {
        headers.insert(grpc::KIND_HEADER, HeaderValue::from_static(failure.token()));
    }
    (response, respond_panicked)
}

/// `Retry-After` on a 503 whose head has none, when the layer sets one.
pub(crate) fn add_retry_after<O>(
    headers: &mut HeaderMap,
    status: StatusCode,
    common: &CommonSettings<O>,
) {
    if status != StatusCode::SERVICE_UNAVAILABLE || headers.contains_key(RETRY_AFTER) {
        return;
    }
    if let Some(secs) = common.retry_after() {
        headers.insert(RETRY_AFTER, HeaderValue::from(secs));
    }
}

/// Headers that describe a response's body (its representation, RFC 9110
/// §8, and its digests, RFC 9530 and RFC 3230) or its framing: dropped when
/// a layer replaces that body with its problem.
const REPRESENTATION_HEADERS: [HeaderName; 12] = [
    CONTENT_TYPE,
    CONTENT_LENGTH,
    CONTENT_ENCODING,
    CONTENT_LANGUAGE,
    CONTENT_LOCATION,
    CONTENT_RANGE,
    TRANSFER_ENCODING,
    ETAG,
    LAST_MODIFIED,
    HeaderName::from_static("content-digest"),
    HeaderName::from_static("repr-digest"),
    HeaderName::from_static("digest"),
];

/// Gives a generated problem's head what the response it replaces had: its
/// headers, but those that described its dropped body (a 416's
/// `Content-Range` stays) and those the problem sets (but `Retry-After`,
/// whose replaced value wins), and its extensions, under the problem's own.
pub(crate) fn keep_replaced(generated: &mut Parts, replaced: Parts) {
    // A 416's `Content-Range` gives the representation's length, which the
    // client needs (RFC 9110 §15.5.17), not the range of a body.
    let range_length = replaced.status == StatusCode::RANGE_NOT_SATISFIABLE;
    // The replaced response knew when to come back better than the layer's
    // setting: its own `Retry-After` wins.
    if replaced.headers.contains_key(RETRY_AFTER) {
        generated.headers.remove(RETRY_AFTER);
    }
    for name in replaced.headers.keys() {
        let keep = !generated.headers.contains_key(name)
            && (!REPRESENTATION_HEADERS.contains(name) || (range_length && name == CONTENT_RANGE));
        if keep {
            for value in replaced.headers.get_all(name) {
                generated.headers.append(name.clone(), value.clone());
            }
        }
    }
    let mut extensions = replaced.extensions;
    extensions.extend(std::mem::take(&mut generated.extensions));
    generated.extensions = extensions;
}

/// Makes `Content-Length` say `len` where it is stated (a customisation may
/// have changed the body but not its length) or where the body will be
/// dropped (`head`: the response to a `HEAD` states what a `GET` would
/// get). Elsewhere it stays unstated: the body's exact size gives it, as
/// hyper writes it.
fn fix_content_length(headers: &mut HeaderMap, len: u64, head: bool) {
    let stated = match headers.get(CONTENT_LENGTH) {
        None if !head => return,
        None => None,
        Some(value) => value.to_str().ok().and_then(|text| text.parse().ok()),
    };
    if stated != Some(len) {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    }
}

/// Whether a response is problem+json already: the app's or an upstream's
/// own problem, which both layers pass through when they intercept.
pub(crate) fn is_problem_json(headers: &HeaderMap) -> bool {
    has_media_type(headers, crate::problem::PROBLEM_JSON.as_bytes())
}

/// Whether `Content-Type` names `media_type`, whatever its parameters.
pub(crate) fn has_media_type(headers: &HeaderMap, media_type: &[u8]) -> bool {
    headers.get(CONTENT_TYPE).is_some_and(|value| {
        let essence = value
            .as_bytes()
            .split(|&b| b == b';')
            .next()
            .unwrap_or_default();
        essence.trim_ascii().eq_ignore_ascii_case(media_type)
    })
}
