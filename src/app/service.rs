use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use tower_service::Service;

use super::body::AppBody;
use super::classify::classified;
use super::failure::{Failure, Kind};
use super::future::ResponseFuture;
use super::layer::Settings;
use crate::classify::Classify;
use crate::context::RequestContext;
use crate::panic::catch;
use crate::respond::ResponseForFailure;
use crate::settings::layer_service;
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
pub struct AppErrorService<S, C, R> {
    inner: S,
    settings: Settings<C, R>,
    not_ready: Option<Failure>,
}

layer_service!(AppErrorService);

impl<S, C, R, ReqBody, ResBody> Service<Request<ReqBody>> for AppErrorService<S, C, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: Into<BoxError>,
    ResBody: http_body::Body<Data = Bytes, Error: Into<BoxError>>,
    C: Classify<Kind>,
    R: ResponseForFailure<Failure>,
{
    type Response = Response<AppBody<ResBody>>;
    type Error = std::convert::Infallible;
    type Future = ResponseFuture<S::Future, C, R>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.not_ready.is_some() {
            return Poll::Ready(Ok(()));
        }
        self.not_ready = match catch(|| self.inner.poll_ready(cx)) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(Ok(()))) => return Poll::Ready(Ok(())),
            Ok(Poll::Ready(Err(error))) => Some(classified(error.into(), &self.settings)),
            Err(panic) => Some(Failure::panic(panic)),
        };
        Poll::Ready(Ok(()))
    }

    #[inline(always)]
    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let request = RequestContext::capture(&req, &self.settings.common);
        let mut settings = self.settings.clone();
        settings.common.grpc_request = crate::grpc::is_grpc_request(&req);
        if let Some(failure) = self.not_ready.take() {
            return ResponseFuture::failed(failure, request, settings);
        }
        match catch(|| self.inner.call(req)) {
            Ok(future) => ResponseFuture::running(future, request, settings),
            Err(panic) => ResponseFuture::failed(Failure::panic(panic), request, settings),
        }
    }
}
