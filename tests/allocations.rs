//! The app layer adds no heap allocation to a request that succeeds: in a
//! hyper stack, a request costs as many allocations with the layer as
//! without it; inside axum, as many as with a layer that only wraps the body
//! (axum boxes any such body).
//!
//! Allocations are counted by this binary's global allocator, only on a
//! thread that asked for it (tests run in parallel threads), and no socket is
//! involved, so the counts are exact. A negative control checks that a
//! wrapper that boxes its future is caught by the same measurement.

mod counting_alloc;

use std::convert::Infallible;
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode, Uri};
use http_body::Body;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::service::TowerToHyperService;
use tower::{service_fn, Layer, Service, ServiceBuilder, ServiceExt};
use tower_problem::app::AppErrorLayer;

use counting_alloc::{allocations, REQUESTS};

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const REQUEST_ID: HeaderValue = HeaderValue::from_static("7f3c2a1e-test");

// ---------------------------------------------------------------------------
// Requests and responses

fn request<B>(body: B) -> Request<B> {
    Request::get(Uri::from_static("/"))
        .header(X_REQUEST_ID, REQUEST_ID)
        .body(body)
        .expect("a valid request")
}

/// Checks a response is the handler's 200 "ok", reading its whole body.
async fn expect_ok<B>(res: Response<B>)
where
    B: Body<Data = Bytes>,
    B::Error: Debug,
{
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.into_body().collect().await.expect("a whole body");
    assert_eq!(body.to_bytes(), "ok");
}

async fn ok(_req: Request<Empty<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"ok"))))
}

async fn handler() -> &'static str {
    "ok"
}

// ---------------------------------------------------------------------------
// hyper

/// Allocations of [`REQUESTS`] requests through a hyper service, called
/// through `hyper::service::Service` as hyper's connection would.
async fn hyper_allocations<S, B>(svc: S) -> u64
where
    S: hyper::service::Service<Request<Empty<Bytes>>, Response = Response<B>>,
    S::Error: Debug,
    B: Body<Data = Bytes>,
    B::Error: Debug,
{
    allocations(|| async {
        let res = svc.call(request(Empty::new())).await.expect("a response");
        expect_ok(res).await;
    })
    .await
}

#[tokio::test]
async fn no_extra_allocation_in_a_hyper_stack() {
    let without = hyper_allocations(TowerToHyperService::new(
        ServiceBuilder::new().service(service_fn(ok)),
    ))
    .await;
    let with = hyper_allocations(TowerToHyperService::new(
        ServiceBuilder::new()
            .layer(AppErrorLayer::new())
            .service(service_fn(ok)),
    ))
    .await;
    assert_eq!(
        with, without,
        "allocations over {REQUESTS} requests: {with} with AppErrorLayer, {without} without"
    );
}

// ---------------------------------------------------------------------------
// axum

/// Allocations of [`REQUESTS`] requests through a tower service of axum
/// requests.
async fn axum_allocations<S, B>(svc: S) -> u64
where
    S: Service<Request<axum::body::Body>, Response = Response<B>> + Clone,
    S::Error: Debug,
    B: Body<Data = Bytes>,
    B::Error: Debug,
{
    allocations(|| {
        let svc = svc.clone();
        async move {
            let res = svc
                .oneshot(request(axum::body::Body::empty()))
                .await
                .expect("a response");
            expect_ok(res).await;
        }
    })
    .await
}

/// The routers as `axum::serve` runs them: it calls `Router::with_state` for
/// each connection, which turns every handler into a route once. A router
/// that skips it converts the handler, and so applies the layer, on every
/// request: one more allocation per request for any layer that is not
/// zero-sized, whatever it does.
fn routed<L>(layer: L) -> Router
where
    L: Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
    L::Service:
        Service<Request<axum::body::Body>, Error = Infallible> + Clone + Send + Sync + 'static,
    <L::Service as Service<Request<axum::body::Body>>>::Response:
        axum::response::IntoResponse + 'static,
    <L::Service as Service<Request<axum::body::Body>>>::Future: Send + 'static,
{
    Router::new()
        .route("/", get(handler))
        .layer(layer)
        .with_state(())
}

/// The layer on the routes, with `Router::layer`. axum turns the layer's
/// response into its own with `IntoResponse for Response<B>`, which boxes
/// any body that is not already `axum::body::Body`: any layer that wraps the
/// body pays that one allocation per request here, whatever it does. So the
/// app layer is held to the cheapest body-wrapping layer, and that one is
/// checked to cost exactly the box over `Identity`.
#[tokio::test]
async fn no_extra_allocation_inside_axum() {
    let identity = axum_allocations(routed(tower_layer::Identity::new())).await;
    let wrapping = axum_allocations(routed(WrapBodyLayer)).await;
    let with = axum_allocations(routed(AppErrorLayer::new())).await;
    assert_eq!(
        wrapping,
        identity + REQUESTS,
        "axum boxes a wrapped body once per request: {wrapping} with a pass-through \
         body wrapper, {identity} with Identity"
    );
    assert_eq!(
        with, wrapping,
        "allocations over {REQUESTS} requests: {with} with Router::layer(AppErrorLayer), \
         {wrapping} with Router::layer(a pass-through body wrapper)"
    );
}

/// The cheapest layer that wraps the response body: the body is forwarded
/// untouched, frame by frame.
#[derive(Clone)]
struct WrapBodyLayer;

impl<S> Layer<S> for WrapBodyLayer {
    type Service = tower::util::MapResponse<S, fn(Response<axum::body::Body>) -> Response<Wrapped>>;

    fn layer(&self, inner: S) -> Self::Service {
        tower::util::MapResponse::new(inner, |res: Response<axum::body::Body>| res.map(Wrapped))
    }
}

struct Wrapped(axum::body::Body);

impl Body for Wrapped {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.0).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.0.size_hint()
    }
}

/// The layer around the whole router, as served by hyper (`axum::serve`
/// wants axum's own response type, so it would box the body as above).
#[tokio::test]
async fn no_extra_allocation_around_an_axum_router() {
    let router = || Router::new().route("/", get(handler)).with_state(());
    let without = axum_allocations(router()).await;
    let with = axum_allocations(
        ServiceBuilder::new()
            .layer(AppErrorLayer::new())
            .service(router()),
    )
    .await;
    assert_eq!(
        with, without,
        "allocations over {REQUESTS} requests: {with} with AppErrorLayer around the Router, \
         {without} without"
    );
}

// ---------------------------------------------------------------------------
// Negative control

/// A wrapper that boxes its response future: one allocation per request,
/// which the measurement above must see.
#[derive(Clone)]
struct Boxing<S>(S);

impl<S, Req> Service<Req> for Boxing<S>
where
    S: Service<Req>,
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

#[derive(Clone)]
struct BoxingLayer;

impl<S> Layer<S> for BoxingLayer {
    type Service = Boxing<S>;

    fn layer(&self, inner: S) -> Boxing<S> {
        Boxing(inner)
    }
}

#[tokio::test]
async fn the_measurement_sees_a_boxing_wrapper() {
    let without = hyper_allocations(TowerToHyperService::new(
        ServiceBuilder::new()
            .layer(AppErrorLayer::new())
            .service(service_fn(ok)),
    ))
    .await;
    let with = hyper_allocations(TowerToHyperService::new(
        ServiceBuilder::new()
            .layer(AppErrorLayer::new())
            .layer(BoxingLayer)
            .service(service_fn(ok)),
    ))
    .await;
    assert_eq!(
        with,
        without + REQUESTS,
        "a wrapper that boxes its future costs one allocation per request"
    );
}
