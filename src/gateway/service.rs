use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use tower_service::Service;

use super::body::GatewayBody;
use super::failure::{Failure, Kind};
use super::future::{Call, ResponseFuture};
use super::layer::Settings;
use super::request_body::{too_large, RequestBody};
use crate::classify::Classify;
use crate::context::RequestContext;
use crate::respond::ResponseForFailure;
use crate::settings::layer_service;
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
pub struct GatewayErrorService<S, C, R> {
    inner: S,
    settings: Settings<C, R>,
    not_ready: Option<BoxError>,
}

layer_service!(GatewayErrorService);

impl<S, C, R, ReqBody, ResBody> Service<Request<ReqBody>> for GatewayErrorService<S, C, R>
where
    S: Service<Request<RequestBody<ReqBody>>, Response = Response<ResBody>>,
    S::Error: Into<BoxError>,
    ReqBody: http_body::Body,
    ResBody: http_body::Body<Data = Bytes, Error: Into<BoxError>>,
    C: Classify<Kind>,
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

    #[inline(always)]
    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        // A gRPC request's head timeout, bounded by its deadline.
        let grpc = self.settings.common.flags.grpc_head_timeout(&req);
        let mut upgrade = false;
        let request = RequestContext::capture_and_find(
            &req,
            &self.settings.common,
            Some(&http::header::UPGRADE),
            &mut upgrade,
        );
        let call = Call {
            request,
            upstream: req.uri().authority().cloned(),
            upgrade,
        };
        let mut settings = self.settings.clone();
        if let Some(head_timeout_ms) = grpc {
            settings.common.grpc_request = true;
            settings.common.flags.set_head_timeout_ms(head_timeout_ms);
        }
        if let Some(error) = self.not_ready.take() {
            return ResponseFuture::failed(error, call, settings);
        }
        let limit = self.settings.max_request_body();
        if limit.is_some_and(|limit| req.body().size_hint().lower() > limit) {
            return ResponseFuture::failed(too_large(), call, settings);
        }
        let future = self
            .inner
            .call(req.map(|body| RequestBody::new(body, limit)));
        ResponseFuture::running(future, call, settings)
    }
}
