use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header;
use http::{HeaderMap, Response, StatusCode};
use pin_project_lite::pin_project;

use super::body::AppBody;
use super::failure::Failure;
use super::layer::Settings;
use super::log;
use crate::call_state::{CallState, CallStateProj};
use crate::context::RequestContext;
use crate::panic::catch;
use crate::problem::{keep_replaced, PROBLEM_JSON};
use crate::respond::{default_headers, failure_response, ResponseForFailure};
use crate::BoxError;

pin_project! {
    /// The response future of [`AppErrorService`](super::AppErrorService).
    /// See the [module docs](super).
    pub struct ResponseFuture<F, R> {
        #[pin]
        state: CallState<F, Failure>,
        request: RequestContext,
        settings: Settings<R>,
    }

    impl<F, R> PinnedDrop for ResponseFuture<F, R> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            if let CallStateProj::Running { .. } = this.state.as_mut().project() {
                log::cancelled(this.request);
                let _dropped = catch(|| this.state.set(CallState::Done));
            }
        }
    }
}

impl<F, R> ResponseFuture<F, R> {
    #[inline]
    pub(super) fn running(future: F, request: RequestContext, settings: Settings<R>) -> Self {
        Self {
            state: CallState::Running { future },
            request,
            settings,
        }
    }

    pub(super) fn failed(failure: Failure, request: RequestContext, settings: Settings<R>) -> Self {
        Self {
            state: CallState::failed(failure),
            request,
            settings,
        }
    }
}

impl<F, R, B, E> Future for ResponseFuture<F, R>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Into<BoxError>,
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
    R: ResponseForFailure<Failure>,
{
    type Output = Result<Response<AppBody<B>>, Infallible>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let failure = match this.state.as_mut().project() {
            CallStateProj::Running { future } => {
                // The output goes out through `output`, not as the closure's
                // value, which `catch_unwind` would copy once more; and the
                // closure stays small enough to be inlined, as every frame
                // between a panic and its catch costs the unwinder (see
                // BENCHMARKS.md).
                let mut output = Poll::Pending;
                let polled = catch(|| output = future.poll(cx));
                // Drop the inner future as soon as it is done, caught too: a
                // panic in its `Drop` becomes this request's 500 instead of
                // escaping from wherever this future is dropped.
                let caught = match polled {
                    Ok(()) if output.is_ready() => catch(|| this.state.set(CallState::Done)),
                    polled => polled,
                };
                match (caught, output) {
                    (Ok(()), Poll::Pending) => return Poll::Pending,
                    (Ok(()), Poll::Ready(Ok(res))) => {
                        if res.status() == StatusCode::INTERNAL_SERVER_ERROR {
                            return Poll::Ready(Ok(on_internal_error(
                                res,
                                this.request,
                                this.settings,
                            )));
                        }
                        let guard = this.settings.common.flags.catch_body_panics;
                        return Poll::Ready(Ok(res.map(|body| AppBody::new(body, guard))));
                    }
                    (Ok(()), Poll::Ready(Err(error))) => Failure::logged_error(error.into()),
                    (Err(payload), output) => {
                        let failure = Failure::panic(payload);
                        // A future that panicked may panic again when dropped,
                        // and so may an output its `Drop` panicked after.
                        let _dropped = catch(|| {
                            drop(output);
                            this.state.set(CallState::Done);
                        });
                        failure
                    }
                }
            }
            CallStateProj::Failed { failure } => {
                let failure = failure.take().expect("polled after completion");
                this.state.set(CallState::Done);
                failure
            }
            CallStateProj::Done => panic!("ResponseFuture polled after completion"),
        };
        let res = respond(failure, this.request, this.settings);
        Poll::Ready(Ok(res.map(AppBody::full)))
    }
}

/// Logs `failure` once, with the request's context, and builds its response.
fn respond<R: ResponseForFailure<Failure>>(
    failure: Failure,
    request: &RequestContext,
    settings: &Settings<R>,
) -> Response<Bytes> {
    log::failure(&failure, request);
    let details = settings
        .common
        .expose_details
        .then(|| failure.details())
        .flatten();
    let kind = failure.kind();
    let built = failure_response(
        failure,
        details.as_deref(),
        request,
        &settings.common,
        &settings.respond,
        default_headers,
        |_| {},
    );
    if let Some(panic) = &built.respond_panicked {
        log::respond_panicked(panic, kind, request, std::any::type_name::<R>());
    }
    built.response
}

/// A 500 from the inner service: the consistent body replaces its own,
/// unless it is problem+json already or the layer was told to leave it.
#[cold]
#[inline(never)]
fn on_internal_error<B, R>(
    res: Response<B>,
    request: &RequestContext,
    settings: &Settings<R>,
) -> Response<AppBody<B>>
where
    B: http_body::Body<Data = Bytes>,
    R: ResponseForFailure<Failure>,
{
    let failure = match res.extensions().get::<Failure>() {
        // A `HandlerError` response: the layer logs it, with context.
        Some(failure) if failure.claim_unlogged() => Some(failure.clone()),
        // Made by an inner layer, already logged: pass it on.
        Some(_) => None,
        None if settings.common.flags.intercept_error_responses
            && !is_problem_json(res.headers()) =>
        {
            Some(Failure::internal_error())
        }
        None => None,
    };
    match failure {
        Some(failure) => replace_body(res, failure, request, settings),
        None => res.map(|body| AppBody::new(body, settings.common.flags.catch_body_panics)),
    }
}

/// The failure response, with the handler's other headers and its
/// extensions kept: all but the representation headers, which described the
/// body that is dropped.
fn replace_body<B, R: ResponseForFailure<Failure>>(
    res: Response<B>,
    failure: Failure,
    request: &RequestContext,
    settings: &Settings<R>,
) -> Response<AppBody<B>> {
    let (handler, body) = res.into_parts();
    let _dropped = catch(|| drop(body));
    let (mut parts, data) = respond(failure, request, settings).into_parts();
    keep_replaced(&mut parts, handler);
    Response::from_parts(parts, AppBody::full(data))
}

fn is_problem_json(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).is_some_and(|value| {
        let essence = value
            .as_bytes()
            .split(|&b| b == b';')
            .next()
            .unwrap_or_default();
        essence
            .trim_ascii()
            .eq_ignore_ascii_case(PROBLEM_JSON.as_bytes())
    })
}

impl<F, R> fmt::Debug for ResponseFuture<F, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}
