//! What both layers' services and response futures have, written once:
//! the readiness rule, and the shapes of their `Service` and `Future`
//! impls (the bounds they put on the inner service, its future and its
//! body, the classifier and the responder). A layer writes only its own
//! `call` and `poll`.

use std::convert::Infallible;
use std::task::Poll;

/// A layer's `poll_ready`: ready at once while a failure of the inner
/// service's readiness waits for the next request, which it answers;
/// otherwise the inner service's readiness through `poll`, whose failure
/// (already the layer's, `E`) is kept for the next request and reported
/// as ready. The layer is not poisoned: the request after that one asks
/// the inner service again.
#[inline(always)]
pub(crate) fn poll_ready_keeping<E>(
    not_ready: &mut Option<E>,
    poll: impl FnOnce() -> Poll<Result<(), E>>,
) -> Poll<Result<(), Infallible>> {
    if not_ready.is_none() {
        match poll() {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(failure)) => *not_ready = Some(failure),
        }
    }
    Poll::Ready(Ok(()))
}

/// What a layer's service `$name<S, C, R>` (fields `inner`, `settings`,
/// `not_ready`) has besides its `Service` impl: `new`, `get_ref`,
/// `get_mut`, `into_inner`, `Clone` and `Debug`.
macro_rules! layer_service {
    ($name:ident) => {
        impl<S, C, R> $name<S, C, R> {
            pub(super) fn new(inner: S, settings: Settings<C, R>) -> Self {
                Self {
                    inner,
                    settings,
                    not_ready: None,
                }
            }

            crate::settings::inner_accessors!(S, "wrapped service");
        }

        impl<S: Clone, C: Clone, R: Clone> Clone for $name<S, C, R> {
            fn clone(&self) -> Self {
                Self::new(self.inner.clone(), self.settings.clone())
            }
        }

        impl<S: std::fmt::Debug, C, R> std::fmt::Debug for $name<S, C, R> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("inner", &self.inner)
                    .field("settings", &self.settings)
                    .field("not_ready", &self.not_ready)
                    .finish()
            }
        }
    };
}
pub(crate) use layer_service;

/// The `Service` impl of a layer's service `$name<S, C, R>`: it calls its
/// inner service `S` with `Request<$inner>`, answers with `$body<ResBody>`
/// and never fails; `[$($extra)*]` are the layer's own bounds, and the
/// rest is its `poll_ready` and `call`. Expands where the layer's `Kind`,
/// `Failure` and `ResponseFuture` are in scope.
macro_rules! service_impl {
    (
        $name:ident: Request<$inner:ty> => $body:ident where [$($extra:tt)*]
        { $($methods:tt)* }
    ) => {
        impl<S, C, R, ReqBody, ResBody> tower_service::Service<http::Request<ReqBody>>
            for $name<S, C, R>
        where
            S: tower_service::Service<http::Request<$inner>, Response = http::Response<ResBody>>,
            S::Error: Into<crate::BoxError>,
            ResBody: http_body::Body<Data = bytes::Bytes, Error: Into<crate::BoxError>>,
            C: crate::classify::Classify<Kind>,
            R: crate::respond::ResponseForFailure<Failure>,
            $($extra)*
        {
            type Response = http::Response<$body<ResBody>>;
            type Error = std::convert::Infallible;
            type Future = ResponseFuture<S::Future, C, R>;

            $($methods)*
        }
    };
}
pub(crate) use service_impl;

/// The `Future` impl of a layer's `ResponseFuture<F, C, R>`: the inner
/// future's response, with body `B`, comes out as `$body<B>`, and the
/// future never fails; the rest is the layer's `poll`. Expands where the
/// layer's `Kind`, `Failure` and `ResponseFuture` are in scope.
macro_rules! response_future_impl {
    ($body:ident { $($poll:tt)* }) => {
        impl<F, C, R, B, E> std::future::Future for ResponseFuture<F, C, R>
        where
            F: std::future::Future<Output = Result<http::Response<B>, E>>,
            E: Into<crate::BoxError>,
            B: http_body::Body<Data = bytes::Bytes, Error: Into<crate::BoxError>>,
            C: crate::classify::Classify<Kind>,
            R: crate::respond::ResponseForFailure<Failure>,
        {
            type Output = Result<http::Response<$body<B>>, std::convert::Infallible>;

            $($poll)*
        }
    };
}
pub(crate) use response_future_impl;
