use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::uri::Authority;
use http::StatusCode;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use super::body::GatewayBody;
use super::failure::{Failure, Kind};
use super::layer::Settings;
use super::log;
use super::respond::{failure_response, intercepted, Cause};
use crate::call_state::{CallState, CallStateProj};
use crate::context::RequestContext;
use crate::layer_impls::response_future_impl;
use crate::BoxError;

/// What the layer keeps of a call for its logs: the request and the
/// upstream's authority (a cheap, reference-counted clone).
#[derive(Debug)]
pub(super) struct Call {
    pub(super) request: RequestContext,
    pub(super) upstream: Option<Authority>,
    /// Whether the request asked for a protocol upgrade, so that a `101`
    /// answer is legitimate.
    pub(super) upgrade: bool,
}

impl Call {
    pub(super) fn upstream(&self) -> &str {
        self.upstream.as_ref().map_or("-", Authority::as_str)
    }
}

pin_project! {
    /// The response future of [`GatewayErrorService`](super::GatewayErrorService). See the
    /// [module docs](super).
    ///
    /// It polls the inner future first, and arms the head timer only when
    /// that future is not ready: a response that is ready is never thrown
    /// away for a timeout, and one ready at once costs no timer. The timer
    /// needs tokio's time driver (`enable_time`, or `enable_all`).
    pub struct ResponseFuture<F, C, R> {
        #[pin]
        state: CallState<F, BoxError>,
        #[pin]
        timer: Option<Sleep>,
        started: Option<Instant>,
        call: Call,
        settings: Settings<C, R>,
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

impl<F, C, R> ResponseFuture<F, C, R> {
    pub(super) fn running(future: F, call: Call, settings: Settings<C, R>) -> Self {
        Self {
            state: CallState::Running { future },
            timer: None,
            started: None,
            call,
            settings,
        }
    }

    pub(super) fn failed(error: BoxError, call: Call, settings: Settings<C, R>) -> Self {
        Self {
            state: CallState::failed(error),
            timer: None,
            started: None,
            call,
            settings,
        }
    }
}

response_future_impl! {
    GatewayBody {
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            let mut this = self.project();
            let cause = match this.state.as_mut().project() {
                CallStateProj::Running { future } => match future.poll(cx) {
                    Poll::Ready(Ok(res))
                        if res.status() == StatusCode::SWITCHING_PROTOCOLS && !this.call.upgrade =>
                    {
                        Cause::UnaskedUpgrade
                    }
                    Poll::Ready(Ok(res)) => {
                        this.state.set(CallState::Done);
                        let settings = &*this.settings;
                        if settings.common.flags.intercept_error_responses
                            && res.status().is_server_error()
                        {
                            let res = intercepted(res, this.call, *this.started, settings);
                            return Poll::Ready(Ok(res.map(GatewayBody::full)));
                        }
                        let upstream = this.call.upstream.take();
                        let idle = settings.common.flags.body_idle_timeout_ms();
                        let max = settings.max_response_body();
                        let started = *this.started;
                        return Poll::Ready(Ok(
                            res.map(|body| GatewayBody::upstream(body, upstream, started, idle, max))
                        ));
                    }
                    Poll::Ready(Err(error)) => Cause::Error(error.into()),
                    Poll::Pending => {
                        if this.started.is_none() {
                            let now = Instant::now();
                            *this.started = Some(now);
                            if let Some(timeout) = this.settings.common.flags.head_timeout() {
                                this.timer
                                    .set(Some(tokio::time::sleep_until(now + timeout)));
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
                        Cause::HeadTimeout
                    }
                },
                CallStateProj::Failed { failure: error } => {
                    Cause::Error(error.take().expect("polled after completion"))
                }
                CallStateProj::Done => panic!("ResponseFuture polled after completion"),
            };
            // Drops the upstream request: a timed-out one is cancelled.
            this.state.set(CallState::Done);
            let res = failure_response(cause, this.call, *this.started, this.settings);
            Poll::Ready(Ok(res.map(GatewayBody::full)))
        }
    }
}

impl<F, C, R> fmt::Debug for ResponseFuture<F, C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("call", &self.call)
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}
