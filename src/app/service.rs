use std::task::{Context, Poll};

use http::Request;

use super::body::AppBody;
use super::classify::classified;
use super::failure::{Failure, Kind};
use super::future::ResponseFuture;
use super::layer::Settings;
use crate::context::RequestContext;
use crate::layer_impls::{layer_service, poll_ready_keeping, service_impl};
use crate::panic::catch;

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

service_impl! {
    AppErrorService: Request<ReqBody> => AppBody where [] {
        #[inline]
        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            let (inner, settings) = (&mut self.inner, &self.settings);
            poll_ready_keeping(&mut self.not_ready, || {
                match catch(|| inner.poll_ready(cx)) {
                    Ok(Poll::Pending) => Poll::Pending,
                    Ok(Poll::Ready(Ok(()))) => Poll::Ready(Ok(())),
                    Ok(Poll::Ready(Err(error))) => Poll::Ready(Err(classified(error.into(), settings))),
                    Err(panic) => Poll::Ready(Err(Failure::panic(panic))),
                }
            })
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
}
