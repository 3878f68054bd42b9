use std::convert::Infallible;
use std::fmt;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use tower_service::Service;

use super::body::AppBody;
use super::classify::classified;
use super::failure::{Failure, Kind};
use super::future::{HandlerCall, ResponseFuture};
use super::layer::AppSettings;
use crate::common::layer_parts::LayerParts;
use crate::common::panic::catch;
use crate::common::readiness::poll_ready_keeping;
use crate::common::settings::inner_accessors;
use crate::{BoxError, Classify, RequestContext, ResponseForFailure};

/// The service of [`AppErrorLayer`](super::AppErrorLayer): it never fails,
/// answering every panic and error of `S` with a 500. See the
/// [module docs](super).
///
/// # Readiness
///
/// If `S::poll_ready` fails or panics, this service still reports ready,
/// and answers the next request with the 500 without calling `S`. It is not
/// poisoned: the request after that asks `S` for readiness again, so a
/// service that keeps failing answers each request with a 500, and one
/// that recovers serves again.
pub struct AppErrorService<S, C, R> {
    pub(super) inner: S,
    pub(super) parts: LayerParts<AppSettings, C, R>,
    pub(super) not_ready: Option<Failure>,
}

impl<S, C, R> AppErrorService<S, C, R> {
    inner_accessors!(S, "wrapped service");
}

impl<S, C, R, ReqBody, ResBody> Service<Request<ReqBody>> for AppErrorService<S, C, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: Into<BoxError>,
    ResBody: Body<Data = Bytes, Error: Into<BoxError>>,
    C: Classify<Kind>,
    R: ResponseForFailure<Failure>,
{
    type Response = Response<AppBody<ResBody, R::Body>>;
    type Error = Infallible;
    type Future = ResponseFuture<S::Future, C, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let (inner, parts) = (&mut self.inner, &self.parts);
        poll_ready_keeping(&mut self.not_ready, || {
            match catch(|| inner.poll_ready(cx)) {
                Ok(Poll::Pending) => Poll::Pending,
                Ok(Poll::Ready(Ok(()))) => Poll::Ready(Ok(())),
                Ok(Poll::Ready(Err(error))) => Poll::Ready(Err(classified(
                    error.into(),
                    parts.settings.problem_types(),
                    &parts.classify,
                ))),
                Err(panic) => Poll::Ready(Err(Failure::panic(panic))),
            }
        })
    }

    // Inlined, so that the caller builds the future where it keeps it
    // instead of copying it out.
    #[inline(always)]
    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let request = RequestContext::capture(&req, &self.parts.settings.common);
        let grpc = crate::grpc::is_grpc_request(&req);
        let called = match self.not_ready.take() {
            Some(failure) => Err(failure),
            None => catch(|| self.inner.call(req)).map_err(Failure::panic),
        };
        let call = HandlerCall {
            request,
            grpc,
            parts: self.parts.clone(),
        };
        ResponseFuture::new(called, call)
    }
}

impl<S: Clone, C: Clone, R: Clone> Clone for AppErrorService<S, C, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            parts: self.parts.clone(),
            not_ready: None,
        }
    }
}

impl<S: fmt::Debug, C, R> fmt::Debug for AppErrorService<S, C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppErrorService")
            .field("inner", &self.inner)
            .field("parts", &self.parts)
            .field("not_ready", &self.not_ready)
            .finish()
    }
}
