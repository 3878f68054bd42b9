use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::header::{self, HeaderName};
use http::{Response, StatusCode};
use pin_project_lite::pin_project;

use super::body::AppBody;
use super::classify::classified;
use super::failure::{Failure, Kind};
use super::intercept::on_error_status;
use super::layer::AppSettings;
use super::log;
use crate::common::call_state::{CallState, CallStateProj};
use crate::common::layer_parts::LayerParts;
use crate::common::panic::catch;
use crate::common::responder::{add_retry_after, failure_response};
use crate::{Classify, InnerFuture, RequestContext, ResponseForFailure};

pin_project! {
    /// The response future of [`AppErrorService`](super::AppErrorService).
    /// See the [module docs](super).
    pub struct ResponseFuture<F, C, R> {
        #[pin]
        state: CallState<F, Failure>,
        call: HandlerCall<C, R>,
    }

    impl<F, C, R> PinnedDrop for ResponseFuture<F, C, R> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            if let CallStateProj::Running { .. } = this.state.as_mut().project() {
                log::cancelled(&this.call.request);
                let _dropped = catch(|| this.state.set(CallState::Done));
            }
        }
    }
}

/// What a request's future keeps to answer its failure: the request's
/// context, whether it is gRPC, and the layer's settings, classifier and
/// responder.
pub(super) struct HandlerCall<C, R> {
    pub(super) request: RequestContext,
    pub(super) grpc: bool,
    pub(super) parts: LayerParts<AppSettings, C, R>,
}

impl<F, C, R> ResponseFuture<F, C, R> {
    /// The future of the inner service's `call`, or what failed before
    /// there was one.
    pub(super) fn new(called: Result<F, Failure>, call: HandlerCall<C, R>) -> Self {
        let state = match called {
            Ok(future) => CallState::Running { future },
            Err(failure) => CallState::failed(failure),
        };
        Self { state, call }
    }
}

impl<F, C, R> Future for ResponseFuture<F, C, R>
where
    F: InnerFuture,
    C: Classify<Kind>,
    R: ResponseForFailure<Failure>,
{
    type Output = Result<Response<AppBody<F::Body, R::Body>>, std::convert::Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let call = &*this.call;
        let failure = match this.state.as_mut().project() {
            CallStateProj::Running { future } => {
                let output = match catch(|| future.poll(cx)) {
                    Ok(Poll::Pending) => return Poll::Pending,
                    // Drop the inner future as soon as it is done, caught
                    // too: a panic in its `Drop` becomes this request's 500
                    // instead of escaping from wherever this future is
                    // dropped, and the output it leaves may panic when
                    // dropped too.
                    Ok(Poll::Ready(output)) => match catch(|| this.state.set(CallState::Done)) {
                        Ok(()) => Ok(output),
                        Err(payload) => {
                            let _dropped = catch(move || drop(output));
                            Err(payload)
                        }
                    },
                    // A future that panicked may panic again when dropped.
                    Err(payload) => {
                        let _dropped = catch(|| this.state.set(CallState::Done));
                        Err(payload)
                    }
                };
                match output {
                    Ok(Ok(res)) if res.status().as_u16() >= 400 => {
                        return Poll::Ready(Ok(on_error_status(res, cx, call)));
                    }
                    Ok(Ok(res)) => {
                        let guard = call.parts.settings.catch_body_panics;
                        return Poll::Ready(Ok(
                            res.map(|body| AppBody::new(body, guard, call.grpc))
                        ));
                    }
                    Ok(Err(error)) => classified(
                        error.into(),
                        call.parts.settings.problem_types(),
                        &call.parts.classify,
                    ),
                    Err(payload) => Failure::panic(payload),
                }
            }
            CallStateProj::Failed { failure } => {
                let failure = failure.take().expect("polled after completion");
                this.state.set(CallState::Done);
                failure
            }
            CallStateProj::Done => panic!("ResponseFuture polled after completion"),
        };
        Poll::Ready(Ok(call.respond(failure).map(AppBody::full)))
    }
}

impl<C, R: ResponseForFailure<Failure>> HandlerCall<C, R> {
    /// Logs `failure` once, with the request's context, counts it, reports
    /// it, and builds its response.
    pub(super) fn respond(&self, failure: Failure) -> Response<R::Body> {
        let (request, settings) = (&self.request, &self.parts.settings);
        let failure = match missing_required_header(&failure) {
            // A 401 without `WWW-Authenticate` (RFC 9110 §15.5.2) would
            // break a MUST: the classification is the bug, and a 500 says so.
            Some(header) => {
                log::required_header_missing(&failure, header, request);
                failure.with_kind(Kind::HandlerError, None)
            }
            None => failure,
        };
        log::failure(&failure, request);
        #[cfg(feature = "metrics")]
        crate::common::metrics::failure("app", failure.kind_str(), Some(failure.status()), None);
        if let Some(on_failure) = settings.on_failure() {
            if let Some(panic) = on_failure.report(&failure, request) {
                log::customisation_panicked(&panic, failure.kind(), request, "on_failure");
            }
        }
        let exposed = settings.common.expose_details;
        let (details, required) = match failure.domain() {
            // A problem type's own detail is the client's to read for a
            // 4xx; a 5xx's only where details are exposed.
            Some(domain) => {
                if settings.common.type_base().is_none() {
                    log::problem_type_without_base(domain.kind);
                }
                let shown = exposed || domain.status.is_client_error();
                let detail = domain.detail.clone().filter(|_| shown);
                (detail, Some(domain.headers.clone()))
            }
            None => match failure.replaced_text() {
                Some(text) if failure.status().is_client_error() => {
                    (settings.client_error_detail.then(|| text.to_owned()), None)
                }
                _ => (exposed.then(|| failure.details()).flatten(), None),
            },
        };
        let (kind, status) = (failure.kind(), failure.status());
        let (mut response, respond_panicked) = failure_response(
            failure,
            details.as_deref(),
            request,
            self.grpc,
            &settings.common,
            &self.parts.respond,
        );
        // A replaced 503's own `Retry-After` wins over it (`keep_replaced`).
        add_retry_after(response.headers_mut(), status, &settings.common);
        // The headers a problem type's status requires, over the layer's.
        if let Some(required) = required {
            response.headers_mut().extend(required);
        }
        if let Some(panic) = respond_panicked {
            log::customisation_panicked(&panic, kind, request, std::any::type_name::<R>());
        }
        response
    }
}

/// The header RFC 9110 requires of `failure`'s status (401, 405, 407,
/// 426) if the error classified as it does not supply it (a problem type's
/// headers). A replaced response keeps its own.
fn missing_required_header(failure: &Failure) -> Option<HeaderName> {
    if !failure.is_handler_error() {
        return None;
    }
    let required = match failure.status() {
        StatusCode::UNAUTHORIZED => header::WWW_AUTHENTICATE,
        StatusCode::METHOD_NOT_ALLOWED => header::ALLOW,
        StatusCode::PROXY_AUTHENTICATION_REQUIRED => header::PROXY_AUTHENTICATE,
        StatusCode::UPGRADE_REQUIRED => header::UPGRADE,
        _ => return None,
    };
    let supplied = failure
        .domain()
        .is_some_and(|domain| domain.headers.contains_key(&required));
    (!supplied).then_some(required)
}

impl<F, C, R> fmt::Debug for ResponseFuture<F, C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("request", &self.call.request)
            .field("grpc", &self.call.grpc)
            .finish_non_exhaustive()
    }
}
