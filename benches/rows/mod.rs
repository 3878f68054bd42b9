//! The services and the request loop that `instructions.rs` (callgrind
//! instruction counts, allocations), `wall.rs` (criterion wall-clock time)
//! and `scaling.rs` (throughput per thread across cores) measure, so the
//! benches time the same rows.
//!
//! Each bench binary uses a different subset of these.
#![allow(dead_code)]

use std::convert::Infallible;
use std::error::Error;
use std::fmt::{self, Debug};
use std::future::Future;
use std::hint::black_box;
use std::io;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Empty, Full};
use pin_project_lite::pin_project;
use tower::load_shed::error::Overloaded;
use tower::timeout::Timeout;
use tower::util::MapResult;
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_problem::gateway::Kind;
use tower_problem::BoxError;

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

/// An empty 404, as axum's router answers an unknown path.
pub(crate) async fn not_found(_req: Req) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut res = Response::new(Full::default());
    *res.status_mut() = StatusCode::NOT_FOUND;
    Ok(res)
}

/// The handler's error of `app_error`: zero-sized, so that making it
/// costs nothing, as `axum_json_problem`'s handler makes no error either,
/// and the two rows compare what turns a failure into its answer.
#[derive(Debug)]
pub(crate) struct DatabaseUnavailable;

impl fmt::Display for DatabaseUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("database unavailable")
    }
}

impl Error for DatabaseUnavailable {}

pub(crate) async fn fails(_req: Req) -> Result<Response<Full<Bytes>>, DatabaseUnavailable> {
    Err(DatabaseUnavailable)
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
/// 500; no boxing, no body guard, and no context but what `K` keeps of
/// the request: nothing (`()`), or its method.
#[derive(Clone)]
pub(crate) struct MinimalCatch<S, K = ()> {
    pub(crate) inner: S,
    pub(crate) keep: PhantomData<K>,
}

impl<S> MinimalCatch<S> {
    pub(crate) fn new(inner: S) -> Self {
        Self {
            inner,
            keep: PhantomData,
        }
    }
}

/// What [`MinimalCatch`] keeps of a request in its future.
pub(crate) trait Keep: Sized {
    fn keep<B>(req: &Request<B>) -> Self;
}

impl Keep for () {
    fn keep<B>(_req: &Request<B>) {}
}

impl Keep for Method {
    fn keep<B>(req: &Request<B>) -> Self {
        req.method().clone()
    }
}

impl<S, K, ReqBody, ResBody> Service<Request<ReqBody>> for MinimalCatch<S, K>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>, Error = Infallible>,
    K: Keep,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = Infallible;
    type Future = MinimalFuture<S::Future, K>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    // Forced inline, as is `poll`: without it, once the future keeps any
    // state, the compiler calls `call` out of line and copies the future
    // into place, and the floor would count those copies.
    #[inline(always)]
    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let kept = K::keep(&req);
        match catch_unwind(AssertUnwindSafe(|| self.inner.call(req))) {
            Ok(future) => MinimalFuture::Running { future, kept },
            Err(payload) => {
                drop(payload);
                MinimalFuture::Panicked
            }
        }
    }
}

pin_project! {
    #[project = MinimalProj]
    pub(crate) enum MinimalFuture<F, K> {
        Running { #[pin] future: F, kept: K },
        Panicked,
    }
}

impl<F, K, B> Future for MinimalFuture<F, K>
where
    F: Future<Output = Result<Response<B>, Infallible>>,
    B: Default,
{
    type Output = Result<Response<B>, Infallible>;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let MinimalProj::Running { future, .. } = self.project() {
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
// State shared between requests: the defect `scaling.rs` exists to catch

/// Clones one `Arc`, held by the service and so shared by all its clones,
/// into its future on every request, and drops it when the future is
/// dropped; nothing else. Two atomic read-modify-writes per request on one
/// cache line that every thread calling a clone of the service writes:
/// free on one core, a line bouncing between cores on several.
#[derive(Clone)]
pub(crate) struct ArcPerRequest<S> {
    inner: S,
    shared: Arc<()>,
}

impl<S> ArcPerRequest<S> {
    pub(crate) fn new(inner: S) -> Self {
        Self {
            inner,
            shared: Arc::new(()),
        }
    }
}

impl<S, ReqBody> Service<Request<ReqBody>> for ArcPerRequest<S>
where
    S: Service<Request<ReqBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ArcFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        ArcFuture {
            future: self.inner.call(req),
            _shared: Arc::clone(&self.shared),
        }
    }
}

pin_project! {
    /// The future of [`ArcPerRequest`]: the inner one, and the clone.
    pub(crate) struct ArcFuture<F> {
        #[pin]
        future: F,
        _shared: Arc<()>,
    }
}

impl<F: Future> Future for ArcFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().future.poll(cx)
    }
}

// ---------------------------------------------------------------------------
// A body that panics

/// A response body that panics on its first `poll_frame`.
pub(crate) struct PanicBody;

impl Body for PanicBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        panic!("body panicked")
    }
}

/// Answers 200 at once, with a body that panics when it is read.
pub(crate) async fn body_panics(_req: Req) -> Result<Response<PanicBody>, Infallible> {
    Ok(Response::new(PanicBody))
}

// ---------------------------------------------------------------------------
// axum

/// The handler of the axum rows: 200 "ok".
pub(crate) async fn axum_ok() -> &'static str {
    "ok"
}

/// The problem an axum handler writes by hand today, with the members the
/// layers' default problem has.
#[derive(serde::Serialize)]
pub(crate) struct HandWrittenProblem {
    r#type: &'static str,
    title: &'static str,
    status: u16,
    kind: &'static str,
}

/// The handler of `axum_json_problem`: the error answer users write by
/// hand, `(StatusCode, Json(problem))`.
pub(crate) async fn axum_json_problem(
) -> Result<&'static str, (StatusCode, axum::Json<HandWrittenProblem>)> {
    let problem = HandWrittenProblem {
        r#type: "https://example.com/problems/database_unavailable",
        title: "The database is unavailable",
        status: 500,
        kind: "database_unavailable",
    };
    Err((StatusCode::INTERNAL_SERVER_ERROR, axum::Json(problem)))
}

/// [`axum_router`] whose handler answers [`axum_json_problem`].
pub(crate) fn axum_router_json_problem() -> axum::Router {
    axum::Router::new()
        .route("/some/path", axum::routing::get(axum_json_problem))
        .with_state(())
}

/// `HandleErrorLayer`'s handler for the axum timeout row.
pub(crate) async fn axum_timed_out(_error: BoxError) -> StatusCode {
    StatusCode::REQUEST_TIMEOUT
}

/// `Router::new().route(...)` answering the bench's request path.
pub(crate) fn axum_router() -> axum::Router {
    axum::Router::new()
        .route("/some/path", axum::routing::get(axum_ok))
        .with_state(())
}

/// [`axum_router`] with axum's `HandleErrorLayer` and tower's `timeout`
/// (30 s), as axum's docs show them.
pub(crate) fn axum_router_timeout() -> axum::Router {
    axum_router().layer(
        ServiceBuilder::new()
            .layer(axum::error_handling::HandleErrorLayer::new(axum_timed_out))
            .timeout(Duration::from_secs(30)),
    )
}

// ---------------------------------------------------------------------------
// Upstream-calling services for the gateway rows
//
// Generic over the request body: the gateway layer hands its inner service
// `Request<RequestBody<B>>`, the floor hands it `Request<B>`.

/// The upstream answers 200 "ok" at once.
pub(crate) async fn upstream_ok<B>(_req: Request<B>) -> Result<Response<Full<Bytes>>, BoxError> {
    Ok(ok_response())
}

/// The upstream is ready at once, but its response future returns `Pending`
/// once (waking itself at once) before it answers 200 "ok": the head timer
/// of the layer, or tower's `Timeout`, really registers.
#[derive(Clone, Copy)]
pub(crate) struct PendingOnceUpstream;

impl<B> Service<Request<B>> for PendingOnceUpstream {
    type Response = Response<Full<Bytes>>;
    type Error = BoxError;
    type Future = PendingOnce;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _req: Request<B>) -> PendingOnce {
        PendingOnce { yielded: false }
    }
}

/// The future of [`PendingOnceUpstream`].
pub(crate) struct PendingOnce {
    yielded: bool,
}

impl Future for PendingOnce {
    type Output = Result<Response<Full<Bytes>>, BoxError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.yielded {
            Poll::Ready(Ok(ok_response()))
        } else {
            self.yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// The upstream never answers (and never wakes): the head timeout must end
/// the request.
#[derive(Clone, Copy)]
pub(crate) struct SilentUpstream;

impl<B> Service<Request<B>> for SilentUpstream {
    type Response = Response<Full<Bytes>>;
    type Error = BoxError;
    type Future = std::future::Pending<Result<Response<Full<Bytes>>, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _req: Request<B>) -> Self::Future {
        std::future::pending()
    }
}

/// The upstream client fails at once with [`UpstreamError`] over its
/// [`Cause`], as hyper-util's client wraps its connector's error: two levels
/// of `source()`, and no allocation (the error is zero-sized, as the app
/// rows' handler error is), so the rows count the layer's own cost. A real
/// client's error costs the client its allocations, whatever layer is
/// around it.
pub(crate) struct FailingUpstream<C>(PhantomData<C>);

impl<C> FailingUpstream<C> {
    pub(crate) fn new() -> Self {
        Self(PhantomData)
    }
}

impl<C> Clone for FailingUpstream<C> {
    fn clone(&self) -> Self {
        Self::new()
    }
}

impl<B, C: Cause> Service<Request<B>> for FailingUpstream<C> {
    type Response = Response<Full<Bytes>>;
    type Error = BoxError;
    type Future = std::future::Ready<Result<Response<Full<Bytes>>, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _req: Request<B>) -> Self::Future {
        std::future::ready(Err(Box::new(UpstreamError::<C>(PhantomData))))
    }
}

/// What [`FailingUpstream`]'s error wraps: a static error, so that the
/// upstream's error is zero-sized.
pub(crate) trait Cause: Send + Sync + 'static {
    fn source() -> &'static (dyn Error + Send + Sync + 'static);
}

/// An `io::Error` of each kind, as the connector returns it.
macro_rules! io_causes {
    ($($name:ident => $kind:ident;)*) => {$(
        pub(crate) struct $name;

        impl Cause for $name {
            fn source() -> &'static (dyn Error + Send + Sync + 'static) {
                static ERROR: LazyLock<io::Error> =
                    LazyLock::new(|| io::Error::from(io::ErrorKind::$kind));
                &*ERROR
            }
        }
    )*};
}

io_causes! {
    Refused => ConnectionRefused;
    HostUnreachable => HostUnreachable;
    TimedOut => TimedOut;
    Reset => ConnectionReset;
    Eof => UnexpectedEof;
    InvalidData => InvalidData;
    Other => Other;
}

/// hyper-util's private `ConnectError` for a failed lookup, whose text
/// (`dns error`) is all that tells it. Its source, the resolver's
/// `io::Error`, is left out: this level decides first.
#[derive(Debug)]
pub(crate) struct DnsConnectError;

impl fmt::Display for DnsConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("dns error")
    }
}

impl Error for DnsConnectError {}

impl Cause for DnsConnectError {
    fn source() -> &'static (dyn Error + Send + Sync + 'static) {
        &DnsConnectError
    }
}

/// tower's `load_shed` refused the request: its `Overloaded`.
pub(crate) struct Shed;

impl Cause for Shed {
    fn source() -> &'static (dyn Error + Send + Sync + 'static) {
        static OVERLOADED: LazyLock<Overloaded> = LazyLock::new(Overloaded::new);
        &*OVERLOADED
    }
}

/// What [`FailingUpstream`] fails with.
pub(crate) struct UpstreamError<C>(PhantomData<C>);

impl<C> fmt::Debug for UpstreamError<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UpstreamError")
    }
}

impl<C> fmt::Display for UpstreamError<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("client error (Connect)")
    }
}

impl<C: Cause> Error for UpstreamError<C> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(C::source())
    }
}

/// A user classifier, as `GatewayErrorLayer::classify_with` takes it: the
/// first level of the chain that `matches` is of `kind`; `None` (the
/// default classifier) if no level does. For the kinds the default
/// classifier cannot tell here (see `instructions.rs`).
pub(crate) fn classifier<P>(
    kind: Kind,
    matches: P,
) -> impl Fn(&(dyn Error + 'static)) -> Option<Kind> + Clone + Send + Sync + 'static
where
    P: Fn(&(dyn Error + 'static)) -> bool + Clone + Send + Sync + 'static,
{
    move |error: &(dyn Error + 'static)| {
        let mut level = Some(error);
        while let Some(error) = level {
            if matches(error) {
                return Some(kind);
            }
            level = error.source();
        }
        None
    }
}

/// Whether `error` is an `io::Error` of kind `io::ErrorKind::InvalidData`:
/// what the user classifiers take for hyper's parse errors (a real
/// `hyper::Error` cannot be built outside hyper).
pub(crate) fn is_invalid_data(error: &(dyn Error + 'static)) -> bool {
    error
        .downcast_ref::<io::Error>()
        .is_some_and(|io| io.kind() == io::ErrorKind::InvalidData)
}

/// Whether `error` is tower's `load_shed` `Overloaded` (which the default
/// classifier only knows under the crate's `tower` feature).
pub(crate) fn is_overloaded(error: &(dyn Error + 'static)) -> bool {
    error.is::<Overloaded>()
}

// ---------------------------------------------------------------------------
// The gateway floor: tower's `timeout` + `map_result`, by hand

/// The problem body of the floor's 502.
const FLOOR_PROBLEM: &[u8] = br#"{"type":"about:blank","title":"Bad Gateway","status":502}"#;

/// What a hand-written gateway does with its upstream's result: an error
/// (the timeout's included) becomes a static 502 problem with a static
/// `Proxy-Status`. Never `Err` (`map_result` wants an error type that
/// `Timeout`'s readiness error converts into).
pub(crate) fn floor_result(
    result: Result<Response<Full<Bytes>>, BoxError>,
) -> Result<Response<Full<Bytes>>, BoxError> {
    Ok(result.unwrap_or_else(|_error| {
        let mut res = Response::new(Full::new(Bytes::from_static(FLOOR_PROBLEM)));
        *res.status_mut() = StatusCode::BAD_GATEWAY;
        let headers = res.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        headers.insert(
            HeaderName::from_static("proxy-status"),
            HeaderValue::from_static("bench; error=proxy_internal_error"),
        );
        res
    }))
}

/// The type of [`floor_result`].
pub(crate) type FloorResult =
    fn(Result<Response<Full<Bytes>>, BoxError>) -> Result<Response<Full<Bytes>>, BoxError>;

/// The floor: `ServiceBuilder::new().map_result(floor_result).timeout(timeout)`
/// around `inner`.
pub(crate) fn floor<S>(inner: S, timeout: Duration) -> MapResult<Timeout<S>, FloorResult>
where
    S: Service<Req, Response = Response<Full<Bytes>>>,
    S::Error: Into<BoxError>,
{
    ServiceBuilder::new()
        .map_result(floor_result as FloorResult)
        .timeout(timeout)
        .service(inner)
}

// ---------------------------------------------------------------------------
// The loop

pub(crate) fn request() -> Req {
    Request::get(Uri::from_static("/some/path?q=1"))
        .header(X_REQUEST_ID, REQUEST_ID)
        .body(Empty::new())
        .expect("a valid request")
}

/// What one request gave: its status, and whether its body ended cleanly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) status: StatusCode,
    /// `false` if the body ended with an error (an aborted response).
    pub(crate) complete: bool,
}

/// One request: build it, wait for readiness, call, collect the body (until
/// its end, or its error).
pub(crate) async fn one<S, B>(svc: &mut S) -> Outcome
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
    let body = body.collect().await.map(|body| body.to_bytes());
    let outcome = Outcome {
        status: parts.status,
        complete: body.is_ok(),
    };
    let _ = black_box((parts, body));
    outcome
}

/// [`one`] as hyper-util's `TowerToHyperService` makes every request under
/// `axum::serve`: clone the service, then `oneshot` the clone (readiness,
/// call; the clone is dropped as soon as it is called).
pub(crate) async fn one_cloned<S, B>(svc: &S) -> Outcome
where
    S: Service<Req, Response = Response<B>> + Clone,
    S::Error: Debug,
    B: Body<Data = Bytes>,
    B::Error: Debug,
{
    let res = svc.clone().oneshot(request()).await.expect("a response");
    outcome(res).await
}

/// Collects a response's body (until its end, or its error), as [`one`]
/// does. [`one`] keeps these lines inline: calling this from it adds 131
/// instructions per request to `bare` in callgrind.
async fn outcome<B>(res: Response<B>) -> Outcome
where
    B: Body<Data = Bytes>,
    B::Error: Debug,
{
    let (parts, body) = res.into_parts();
    let body = body.collect().await.map(|body| body.to_bytes());
    let outcome = Outcome {
        status: parts.status,
        complete: body.is_ok(),
    };
    let _ = black_box((parts, body));
    outcome
}
