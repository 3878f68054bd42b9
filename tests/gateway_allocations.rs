//! The gateway layer adds no heap allocation to a request that succeeds:
//! in a hyper stack, a request costs as many allocations with the layer as
//! without it, both when the inner service is ready at once and when its
//! future is `Pending` once (so the head timer is armed and registered), and
//! with the body idle timeout on.
//!
//! Allocations are counted by this binary's global allocator, only on a
//! thread that asked for it, and no socket is involved, so the counts are
//! exact. A negative control checks that the measurement sees one boxing.

mod counting_alloc;

use std::convert::Infallible;
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode, Uri};
use http_body::Body;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::service::TowerToHyperService;
use tower::{service_fn, ServiceBuilder};
use tower_problem::gateway::GatewayErrorLayer;

use counting_alloc::{allocations, REQUESTS};

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const REQUEST_ID: HeaderValue = HeaderValue::from_static("7f3c2a1e-test");

// ---------------------------------------------------------------------------
// Requests, responses, inner services

/// A request as a reverse proxy hands it to its client: absolute URI.
fn request() -> Request<Empty<Bytes>> {
    Request::get(Uri::from_static(
        "http://upstream.internal:8080/some/path?q=1",
    ))
    .header(X_REQUEST_ID, REQUEST_ID)
    .body(Empty::new())
    .expect("a valid request")
}

async fn expect_ok<B>(res: Response<B>)
where
    B: Body<Data = Bytes>,
    B::Error: Debug,
{
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.into_body().collect().await.expect("a whole body");
    assert_eq!(body.to_bytes(), "ok");
}

fn ok_response() -> Response<Full<Bytes>> {
    Response::new(Full::new(Bytes::from_static(b"ok")))
}

async fn ready<B>(_req: Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(ok_response())
}

/// A future that is `Pending` once (waking itself), then ready: what the
/// layer sees from a real upstream client.
struct PendingOnce(bool);

impl Future for PendingOnce {
    type Output = Result<Response<Full<Bytes>>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.0 {
            return Poll::Ready(Ok(ok_response()));
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn pending_once<B>(_req: Request<B>) -> PendingOnce {
    PendingOnce(false)
}

async fn hyper_allocations<S, B>(svc: S) -> u64
where
    S: hyper::service::Service<Request<Empty<Bytes>>, Response = Response<B>>,
    S::Error: Debug,
    B: Body<Data = Bytes>,
    B::Error: Debug,
{
    allocations(|| async {
        let res = svc.call(request()).await.expect("a response");
        expect_ok(res).await;
    })
    .await
}

fn layer() -> GatewayErrorLayer {
    GatewayErrorLayer::new()
        .head_timeout(Some(Duration::from_secs(30)))
        .body_idle_timeout(Some(Duration::from_secs(60)))
}

#[tokio::test]
async fn no_extra_allocation_when_the_upstream_is_ready_at_once() {
    let without = hyper_allocations(TowerToHyperService::new(
        ServiceBuilder::new().service(service_fn(ready)),
    ))
    .await;
    let with = hyper_allocations(TowerToHyperService::new(
        ServiceBuilder::new()
            .layer(layer())
            .service(service_fn(ready)),
    ))
    .await;
    assert_eq!(
        with, without,
        "allocations over {REQUESTS} requests: {with} with GatewayErrorLayer, {without} without"
    );
}

#[tokio::test]
async fn no_extra_allocation_when_the_head_timer_is_armed() {
    let without = hyper_allocations(TowerToHyperService::new(
        ServiceBuilder::new().service(service_fn(pending_once)),
    ))
    .await;
    let with = hyper_allocations(TowerToHyperService::new(
        ServiceBuilder::new()
            .layer(layer())
            .service(service_fn(pending_once)),
    ))
    .await;
    assert_eq!(
        with, without,
        "allocations over {REQUESTS} requests whose future is Pending once: \
         {with} with GatewayErrorLayer, {without} without"
    );
}

/// A body that is `Pending` once (waking itself) before its one frame, so
/// the body idle timer is armed.
struct SlowBody(Option<Bytes>, bool);

impl Body for SlowBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        if !self.1 {
            self.1 = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(self.0.take().map(|data| Ok(http_body::Frame::data(data))))
    }
}

async fn slow_body<B>(_req: Request<B>) -> Result<Response<SlowBody>, Infallible> {
    Ok(Response::new(SlowBody(
        Some(Bytes::from_static(b"ok")),
        false,
    )))
}

#[tokio::test]
async fn no_extra_allocation_when_the_body_idle_timer_is_armed() {
    let without = hyper_allocations(TowerToHyperService::new(
        ServiceBuilder::new().service(service_fn(slow_body)),
    ))
    .await;
    let with = hyper_allocations(TowerToHyperService::new(
        ServiceBuilder::new()
            .layer(layer())
            .service(service_fn(slow_body)),
    ))
    .await;
    assert_eq!(
        with, without,
        "allocations over {REQUESTS} requests whose body is Pending once: \
         {with} with GatewayErrorLayer, {without} without"
    );
}

/// A wrapper that boxes its response future: one allocation per request,
/// which the measurement must see.
#[derive(Clone)]
struct Boxing<S>(S);

impl<S, Req> tower::Service<Req> for Boxing<S>
where
    S: tower::Service<Req>,
    S::Future: 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        Box::pin(self.0.call(req))
    }
}

#[tokio::test]
async fn the_measurement_sees_a_boxing_wrapper() {
    let without = hyper_allocations(TowerToHyperService::new(
        ServiceBuilder::new()
            .layer(layer())
            .service(service_fn(ready)),
    ))
    .await;
    let with = hyper_allocations(TowerToHyperService::new(
        ServiceBuilder::new()
            .layer(layer())
            .layer_fn(Boxing)
            .service(service_fn(ready)),
    ))
    .await;
    assert_eq!(with, without + REQUESTS);
}
