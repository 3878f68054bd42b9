use std::task::{Context, Poll};

use http::Request;

use super::body::GatewayBody;
use super::failure::{Failure, Kind};
use super::future::{Call, ResponseFuture};
use super::layer::Settings;
use super::request_body::{too_large, RequestBody};
use crate::context::RequestContext;
use crate::layer_impls::{layer_service, poll_ready_keeping, service_impl};
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

service_impl! {
    GatewayErrorService: Request<RequestBody<ReqBody>> => GatewayBody where [ReqBody: http_body::Body,] {
        #[inline]
        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            let inner = &mut self.inner;
            poll_ready_keeping(&mut self.not_ready, || inner.poll_ready(cx).map_err(Into::into))
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
}
