use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::uri::Authority;
use http::{Response, StatusCode};
use http_body::Body;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use super::answer::HeadFailure;
use super::body::GatewayBody;
use super::failure::{Failure, Kind};
use super::layer::GatewaySettings;
use super::log;
use crate::common::call_state::{CallState, CallStateProj};
use crate::common::layer_parts::LayerParts;
use crate::{BoxError, Classify, InnerFuture, RequestContext, ResponseForFailure};

pin_project! {
    /// The response future of [`GatewayErrorService`](super::GatewayErrorService). See the
    /// [module docs](super).
    ///
    /// It polls the inner future first, and arms the head timer only when
    /// that future is not ready: a response that is ready is never thrown
    /// away for a timeout, and one ready at once starts no timer. The timer
    /// needs tokio's time driver (`enable_time`, or `enable_all`).
    pub struct ResponseFuture<F, C, R> {
        #[pin]
        state: CallState<F, BoxError>,
        #[pin]
        timer: Option<Sleep>,
        started: Option<Instant>,
        call: UpstreamCall<C, R>,
    }

    impl<F, C, R> PinnedDrop for ResponseFuture<F, C, R> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let CallStateProj::Running { .. } = this.state.project() {
                log::cancelled(this.call, *this.started);
            }
        }
    }
}

/// What a request's future keeps to answer its failure: the request's
/// context, the upstream's authority, what the request asked for, and the
/// layer's settings, classifier and responder.
pub(super) struct UpstreamCall<C, R> {
    pub(super) request: RequestContext,
    pub(super) upstream: Option<Authority>,
    /// Whether the request asked for a protocol upgrade, so that a `101`
    /// answer is legitimate.
    pub(super) upgrade: bool,
    pub(super) grpc: bool,
    /// The layer's head timeout, bounded by a gRPC request's deadline.
    pub(super) head_timeout: Option<Duration>,
    pub(super) parts: LayerParts<GatewaySettings, C, R>,
}

impl<C, R> UpstreamCall<C, R> {
    /// The upstream's response, its body watched.
    fn passed_on<B, RB>(
        &mut self,
        res: Response<B>,
        started: Option<Instant>,
    ) -> Response<GatewayBody<B, RB>> {
        let settings = &self.parts.settings;
        let (idle, max) = (settings.body_idle_timeout, settings.max_response_body());
        let upstream = self.upstream.take();
        res.map(|body| GatewayBody::upstream(body, upstream, started, idle, max))
    }

    /// Whether the cap is set, the response has a body (not to `HEAD`, not
    /// 1xx, 204 or 304) and its `Content-Length` (hyper's exact size hint)
    /// is over the cap.
    fn declares_too_long<B: Body>(&self, res: &Response<B>) -> bool {
        let Some(max) = self.parts.settings.max_response_body() else {
            return false;
        };
        let status = res.status();
        let bodiless = self.request.is_head()
            || status.is_informational()
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED;
        !bodiless && res.body().size_hint().lower() > max
    }

    /// The upstream's authority for a log line or a label, if known.
    pub(super) fn upstream(&self) -> Option<&str> {
        self.upstream.as_ref().map(Authority::as_str)
    }
}

impl<F, C, R> ResponseFuture<F, C, R> {
    /// The future of the inner service's `call`, or what failed before
    /// there was one.
    pub(super) fn new(called: Result<F, BoxError>, call: UpstreamCall<C, R>) -> Self {
        let state = match called {
            Ok(future) => CallState::Running { future },
            Err(error) => CallState::failed(error),
        };
        Self {
            state,
            timer: None,
            started: None,
            call,
        }
    }
}

impl<F, C, R> Future for ResponseFuture<F, C, R>
where
    F: InnerFuture,
    C: Classify<Kind>,
    R: ResponseForFailure<Failure>,
{
    type Output = Result<Response<GatewayBody<F::Body, R::Body>>, std::convert::Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let failure = match this.state.as_mut().project() {
            CallStateProj::Running { future } => match future.poll(cx) {
                Poll::Ready(Ok(res))
                    if res.status() == StatusCode::SWITCHING_PROTOCOLS && !this.call.upgrade =>
                {
                    HeadFailure::UnaskedUpgrade
                }
                Poll::Ready(Ok(res)) => {
                    this.state.set(CallState::Done);
                    let call = &mut *this.call;
                    // The head is not sent yet: a body that would be cut at
                    // the cap is a 502 now, not a truncated response later.
                    if call.declares_too_long(&res) {
                        let declared = HeadFailure::DeclaredTooLong(res.body().size_hint().lower());
                        drop(res);
                        let res = call.answer(declared, *this.started);
                        return Poll::Ready(Ok(res.map(GatewayBody::full)));
                    }
                    let started = *this.started;
                    let settings = &call.parts.settings;
                    if settings.intercept_error_responses && res.status().is_server_error() {
                        return Poll::Ready(Ok(match call.intercepted(res, started) {
                            Ok(replaced) => replaced.map(GatewayBody::full),
                            Err(own_problem) => call.passed_on(own_problem, started),
                        }));
                    }
                    return Poll::Ready(Ok(call.passed_on(res, started)));
                }
                Poll::Ready(Err(error)) => HeadFailure::Error(error.into()),
                Poll::Pending => {
                    if this.started.is_none() {
                        let now = Instant::now();
                        *this.started = Some(now);
                        let deadline = this.call.head_timeout.and_then(|t| now.checked_add(t));
                        if let Some(deadline) = deadline {
                            this.timer.set(Some(tokio::time::sleep_until(deadline)));
                        }
                    }
                    let expired = this
                        .timer
                        .as_mut()
                        .as_pin_mut()
                        .is_some_and(|timer| timer.poll(cx).is_ready());
                    if !expired {
                        return Poll::Pending;
                    }
                    HeadFailure::Timeout
                }
            },
            CallStateProj::Failed { failure: error } => {
                HeadFailure::Error(error.take().expect("polled after completion"))
            }
            CallStateProj::Done => panic!("ResponseFuture polled after completion"),
        };
        // Drops the upstream request: a timed-out one is cancelled.
        this.state.set(CallState::Done);
        let res = this.call.answer(failure, *this.started);
        Poll::Ready(Ok(res.map(GatewayBody::full)))
    }
}

impl<F, C, R> fmt::Debug for ResponseFuture<F, C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("request", &self.call.request)
            .field("upstream", &self.call.upstream)
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}
