//! The services and the request loop that `instructions.rs` (callgrind
//! instruction counts, allocations) and `wall.rs` (criterion wall-clock
//! time) both measure, so the two benches time the same rows.
//!
//! Each bench binary uses a different subset of these.
#![allow(dead_code)]

use std::convert::Infallible;
use std::fmt::Debug;
use std::future::Future;
use std::hint::black_box;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode, Uri};
use http_body::Body;
use http_body_util::{BodyExt, Empty, Full};
use pin_project_lite::pin_project;
use tower::{Service, ServiceExt};

pub(crate) const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub(crate) const REQUEST_ID: HeaderValue = HeaderValue::from_static("7f3c2a1e-bench");

pub(crate) type Req = Request<Empty<Bytes>>;

// ---------------------------------------------------------------------------
// The inner services

pub(crate) fn ok_response() -> Response<Full<Bytes>> {
    Response::new(Full::new(Bytes::from_static(b"ok")))
}

pub(crate) async fn ok(_req: Req) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(ok_response())
}

pub(crate) async fn fails(_req: Req) -> Result<Response<Full<Bytes>>, io::Error> {
    Err(io::Error::other("database unavailable"))
}

pub(crate) async fn panics(_req: Req) -> Result<Response<Full<Bytes>>, Infallible> {
    panic!("handler panicked")
}

/// The same panic as [`panics`], caught by a bare `catch_unwind` one frame
/// up, where the layer's catch would be. The panicking frame owns the
/// request, as [`panics`]' does: unwinding stops there to drop it, and that
/// landing pad is a good part of a panic's cost.
pub(crate) async fn catches(req: Req) -> Result<Response<Full<Bytes>>, Infallible> {
    let caught = catch_unwind(AssertUnwindSafe(move || {
        let _req = req;
        panic!("handler panicked")
    }));
    black_box(caught.is_err());
    Ok(ok_response())
}

// ---------------------------------------------------------------------------
// The floor: the least a panic-catching wrapper can do

/// Catches panics in `call` and in the response future, answering a bare
/// 500; no boxing, no context, no body guard.
#[derive(Clone)]
pub(crate) struct MinimalCatch<S> {
    pub(crate) inner: S,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for MinimalCatch<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>, Error = Infallible>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = Infallible;
    type Future = MinimalFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        match catch_unwind(AssertUnwindSafe(|| self.inner.call(req))) {
            Ok(future) => MinimalFuture::Running { future },
            Err(payload) => {
                drop(payload);
                MinimalFuture::Panicked
            }
        }
    }
}

pin_project! {
    #[project = MinimalProj]
    pub(crate) enum MinimalFuture<F> {
        Running { #[pin] future: F },
        Panicked,
    }
}

impl<F, B> Future for MinimalFuture<F>
where
    F: Future<Output = Result<Response<B>, Infallible>>,
    B: Default,
{
    type Output = Result<Response<B>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let MinimalProj::Running { future } = self.project() {
            match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
                Ok(polled) => return polled,
                Err(payload) => drop(payload),
            }
        }
        let mut res = Response::new(B::default());
        *res.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        Poll::Ready(Ok(res))
    }
}

// ---------------------------------------------------------------------------
// The loop

pub(crate) fn request() -> Req {
    Request::get(Uri::from_static("/some/path?q=1"))
        .header(X_REQUEST_ID, REQUEST_ID)
        .body(Empty::new())
        .expect("a valid request")
}

/// One request: build it, wait for readiness, call, collect the body.
pub(crate) async fn one<S, B>(svc: &mut S) -> StatusCode
where
    S: Service<Req, Response = Response<B>>,
    S::Error: Debug,
    B: Body<Data = Bytes>,
    B::Error: Debug,
{
    let req = request();
    let res = svc
        .ready()
        .await
        .expect("ready")
        .call(req)
        .await
        .expect("a response");
    let (parts, body) = res.into_parts();
    let body = body.collect().await.expect("a whole body").to_bytes();
    let status = parts.status;
    black_box((parts, body));
    status
}
