use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use tower_service::Service;

use super::body::GatewayBody;
use super::classify::Classify;
use super::failure::Failure;
use super::future::{Call, ResponseFuture};
use super::layer::Shared;
use super::request_body::RequestBody;
use crate::context::RequestContext;
use crate::respond::ResponseForFailure;
use crate::BoxError;

/// The service of [`GatewayErrorLayer`](super::GatewayErrorLayer): it never
/// fails, answering every failure of the upstream-calling service `S` with
/// a 502 (or the status configured for its kind). See the
/// [module docs](super).
///
/// `S` gets the request with its body wrapped in a
/// [`RequestBody`](super::RequestBody), which lets the layer tell a failure
/// of the client's upload from one of the upstream.
///
/// # Readiness
///
/// If `S::poll_ready` fails, this service still reports ready, and answers
/// the next request with the classified failure without calling `S`. It is
/// not poisoned: the request after that asks `S` for readiness again.
///
/// Panics of `S` are not caught: wrap the gateway in the
/// [app layer](crate::app) or tower-http's `CatchPanic` for that.
pub struct GatewayError<S, C, R> {
    inner: S,
    shared: Arc<Shared<C, R>>,
    not_ready: Option<BoxError>,
}

impl<S, C, R> GatewayError<S, C, R> {
    pub(super) fn new(inner: S, shared: Arc<Shared<C, R>>) -> Self {
        Self {
            inner,
            shared,
            not_ready: None,
        }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, C, R, ReqBody, ResBody> Service<Request<ReqBody>> for GatewayError<S, C, R>
where
    S: Service<Request<RequestBody<ReqBody>>, Response = Response<ResBody>>,
    S::Error: Into<BoxError>,
    ResBody: http_body::Body<Data = Bytes>,
    ResBody::Error: Into<BoxError>,
    C: Classify,
    R: ResponseForFailure<Failure>,
{
    type Response = Response<GatewayBody<ResBody>>;
    type Error = std::convert::Infallible;
    type Future = ResponseFuture<S::Future, C, R>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.not_ready.is_some() {
            return Poll::Ready(Ok(()));
        }
        match self.inner.poll_ready(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Ready(Err(error)) => {
                self.not_ready = Some(error.into());
                Poll::Ready(Ok(()))
            }
        }
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let (request, upgrade) = RequestContext::capture_and_find(
            &req,
            &self.shared.settings.capture,
            Some(&http::header::UPGRADE),
        );
        let call = Call {
            request,
            upstream: req.uri().authority().cloned(),
            upgrade,
        };
        let shared = Arc::clone(&self.shared);
        if let Some(error) = self.not_ready.take() {
            return ResponseFuture::failed(error, call, shared);
        }
        let future = self.inner.call(req.map(RequestBody::new));
        ResponseFuture::running(future, call, shared)
    }
}

impl<S: Clone, C, R> Clone for GatewayError<S, C, R> {
    fn clone(&self) -> Self {
        Self::new(self.inner.clone(), Arc::clone(&self.shared))
    }
}

impl<S: fmt::Debug, C, R> fmt::Debug for GatewayError<S, C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayError")
            .field("inner", &self.inner)
            .field("settings", &self.shared.settings)
            .field("classify", &std::any::type_name::<C>())
            .field("respond", &std::any::type_name::<R>())
            .field("not_ready", &self.not_ready)
            .finish()
    }
}
