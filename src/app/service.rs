use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use tower_service::Service;

use super::body::AppBody;
use super::failure::Failure;
use super::future::ResponseFuture;
use super::layer::Shared;
use crate::context::RequestContext;
use crate::panic::catch;
use crate::respond::ResponseForFailure;
use crate::BoxError;

/// The service of [`AppErrorLayer`](super::AppErrorLayer): it never fails,
/// answering every panic and error of `S` with a 500. See the
/// [module docs](super).
///
/// # Readiness
///
/// If `S::poll_ready` fails or panics, this service still reports ready,
/// and answers the next request with the 500 without calling `S`. It is not
/// poisoned: the request after that asks `S` for readiness again, so a
/// service that keeps failing costs each request a 500, and one that
/// recovers serves again.
pub struct AppError<S, R> {
    inner: S,
    shared: Arc<Shared<R>>,
    not_ready: Option<Failure>,
}

impl<S, R> AppError<S, R> {
    pub(super) fn new(inner: S, shared: Arc<Shared<R>>) -> Self {
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

impl<S, R, ReqBody, ResBody> Service<Request<ReqBody>> for AppError<S, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: Into<BoxError>,
    ResBody: http_body::Body<Data = Bytes>,
    ResBody::Error: Into<BoxError>,
    R: ResponseForFailure<Failure>,
{
    type Response = Response<AppBody<ResBody>>;
    type Error = std::convert::Infallible;
    type Future = ResponseFuture<S::Future, R>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.not_ready.is_some() {
            return Poll::Ready(Ok(()));
        }
        self.not_ready = match catch(|| self.inner.poll_ready(cx)) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(Ok(()))) => return Poll::Ready(Ok(())),
            Ok(Poll::Ready(Err(error))) => Some(Failure::logged_error(error.into())),
            Err(panic) => Some(Failure::panic(panic)),
        };
        Poll::Ready(Ok(()))
    }

    #[inline]
    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let request = RequestContext::capture(&req, &self.shared.settings.capture);
        let shared = Arc::clone(&self.shared);
        if let Some(failure) = self.not_ready.take() {
            return ResponseFuture::failed(failure, request, shared);
        }
        match catch(|| self.inner.call(req)) {
            Ok(future) => ResponseFuture::running(future, request, shared),
            Err(panic) => ResponseFuture::failed(Failure::panic(panic), request, shared),
        }
    }
}

impl<S: Clone, R> Clone for AppError<S, R> {
    fn clone(&self) -> Self {
        Self::new(self.inner.clone(), Arc::clone(&self.shared))
    }
}

impl<S: fmt::Debug, R> fmt::Debug for AppError<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppError")
            .field("inner", &self.inner)
            .field("settings", &self.shared.settings)
            .field("respond", &std::any::type_name::<R>())
            .field("not_ready", &self.not_ready)
            .finish()
    }
}
