use std::convert::Infallible;
use std::fmt;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::UPGRADE;
use http::{HeaderMap, Request, Response};
use http_body::Body;
use tower_service::Service;

use super::body::GatewayBody;
use super::failure::{Failure, Kind};
use super::future::{ResponseFuture, UpstreamCall};
use super::layer::GatewaySettings;
use super::request_body::{too_large, RequestBody};
use crate::common::layer_parts::LayerParts;
use crate::common::readiness::poll_ready_keeping;
use crate::common::settings::inner_accessors;
use crate::{BoxError, Classify, RequestContext, ResponseForFailure};

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
    pub(super) inner: S,
    pub(super) parts: LayerParts<GatewaySettings, C, R>,
    pub(super) not_ready: Option<BoxError>,
}

impl<S, C, R> GatewayErrorService<S, C, R> {
    inner_accessors!(S, "wrapped service");
}

impl<S, C, R, ReqBody, ResBody> Service<Request<ReqBody>> for GatewayErrorService<S, C, R>
where
    S: Service<Request<RequestBody<ReqBody>>, Response = Response<ResBody>>,
    S::Error: Into<BoxError>,
    ReqBody: Body,
    ResBody: Body<Data = Bytes, Error: Into<BoxError>>,
    C: Classify<Kind>,
    R: ResponseForFailure<Failure>,
{
    type Response = Response<GatewayBody<ResBody, R::Body>>;
    type Error = Infallible;
    type Future = ResponseFuture<S::Future, C, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let inner = &mut self.inner;
        poll_ready_keeping(&mut self.not_ready, || {
            inner.poll_ready(cx).map_err(Into::into)
        })
    }

    // Inlined, so that the caller builds the future where it keeps it
    // instead of copying it out.
    #[inline(always)]
    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let grpc = crate::grpc::is_grpc_request(&req);
        let head_timeout = if grpc {
            grpc_head_timeout(self.parts.settings.head_timeout, req.headers())
        } else {
            self.parts.settings.head_timeout
        };
        let call = UpstreamCall {
            request: RequestContext::capture(&req, &self.parts.settings.common),
            upstream: req.uri().authority().cloned(),
            upgrade: req.headers().keys().any(|name| name == UPGRADE),
            grpc,
            head_timeout,
            parts: self.parts.clone(),
        };
        if let Some(error) = self.not_ready.take() {
            return ResponseFuture::new(Err(error), call);
        }
        let limit = self.parts.settings.max_request_body();
        if limit.is_some_and(|limit| req.body().size_hint().lower() > limit) {
            return ResponseFuture::new(Err(too_large()), call);
        }
        let future = self
            .inner
            .call(req.map(|body| RequestBody::new(body, limit)));
        ResponseFuture::new(Ok(future), call)
    }
}

/// A gRPC request's head timeout: the layer's, bounded by the request's
/// `grpc-timeout`, its deadline, if it has one: the client has given up
/// by then.
fn grpc_head_timeout(head_timeout: Option<Duration>, headers: &HeaderMap) -> Option<Duration> {
    match crate::grpc::timeout(headers) {
        Some(deadline) => Some(head_timeout.map_or(deadline, |timeout| timeout.min(deadline))),
        None => head_timeout,
    }
}

impl<S: Clone, C: Clone, R: Clone> Clone for GatewayErrorService<S, C, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            parts: self.parts.clone(),
            not_ready: None,
        }
    }
}

impl<S: fmt::Debug, C, R> fmt::Debug for GatewayErrorService<S, C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayErrorService")
            .field("inner", &self.inner)
            .field("parts", &self.parts)
            .field("not_ready", &self.not_ready)
            .finish()
    }
}
