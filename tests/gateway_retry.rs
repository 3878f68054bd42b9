//! Retries that never send a request twice (features `tower`, `h2`,
//! `hyper-util`): tower's `retry` with `RetryNeverSent` inside the gateway
//! layer, over real sockets. A refused HTTP/2 stream is retried and the
//! client sees one 200; a POST the upstream read before it reset the
//! connection is answered 502 and reached the upstream once; a failure is
//! one ERROR line however many attempts it took; and once the retry budget
//! is spent, each request costs one connection attempt.
#![cfg(all(feature = "tower", feature = "h2", feature = "hyper-util"))]

mod gateway_support;
mod h2_upstream;
mod support;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use gateway_support::*;
use h2_upstream::{h2_upstream, Answer};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tower::retry::budget::TpsBudget;
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_problem::gateway::{
    Failure, GatewayBody, GatewayErrorLayer, RequestBody, RetryNeverSent,
};

const BOUND: Duration = Duration::from_secs(5);
/// The largest request body the gateway buffers to replay it.
const MAX_REPLAY: usize = 64 * 1024;

type Upstream<C = HttpConnector> = Client<C, RequestBody<Full<Bytes>>>;

/// The gateway layer around tower's `retry` with `policy` around `client`.
fn retrying<C>(
    client: Upstream<C>,
    policy: RetryNeverSent,
) -> impl Service<
    Request<Full<Bytes>>,
    Response = Response<GatewayBody<Incoming>>,
    Error = Infallible,
    Future: Send,
> + Clone
       + Send
       + Sync
       + 'static
where
    C: hyper_util::client::legacy::connect::Connect + Clone + Send + Sync + 'static,
{
    ServiceBuilder::new()
        .layer(GatewayErrorLayer::new().head_timeout(None))
        .retry(policy)
        .map_err(BoxError::from)
        .service(client)
}

/// A gateway that buffers each request body (up to [`MAX_REPLAY`]) so that
/// `RetryNeverSent` can send it again, then retries what was never sent.
async fn retrying_gateway(client: Upstream) -> Gateway {
    let retrying = retrying(client, RetryNeverSent::new(2, Duration::from_millis(10)));
    let svc = tower::service_fn(move |req: Request<Incoming>| {
        let retrying = retrying.clone();
        async move {
            let (parts, body) = route(req).into_parts();
            let body = match Limited::new(body, MAX_REPLAY).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(_) => {
                    let mut res = http::Response::new(Full::from("body too large or broken"));
                    *res.status_mut() = StatusCode::BAD_REQUEST;
                    return Ok::<_, Infallible>(res.map(|b| b.map_err(|e| match e {}).boxed()));
                }
            };
            let req = Request::from_parts(parts, Full::new(body));
            let res = retrying.oneshot(req).await.unwrap_or_else(|e| match e {});
            Ok(res.map(|b| b.map_err(|e| -> BoxError { e.into() }).boxed()))
        }
    });
    Gateway::serve(svc).await
}

#[tokio::test]
async fn a_refused_stream_is_retried_and_the_client_sees_one_200() {
    let (upstream, requests) = h2_upstream(Answer::RefuseFirst).await;
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let gateway = retrying_gateway(client).await;
    let post = Request::post(gateway.url("/orders"))
        .header(X_UPSTREAM, upstream.to_string())
        .body(Full::from("an order"))
        .unwrap();
    let got = send(&downstream(), post, BOUND).await;
    assert_eq!(got.status, StatusCode::OK, "{got:?}");
    assert_eq!(got.text(), "ok");
    assert!(got.headers.get("proxy-status").is_none());
    assert_eq!(
        requests.load(Ordering::SeqCst),
        2,
        "refused once, then served"
    );
}

/// An HTTP/1.1 upstream that reads each request whole, counts it, and
/// resets the connection without answering.
async fn reads_then_resets() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&requests);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let count = Arc::clone(&count);
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 1024];
                // The head, then the 8 bytes of "an order".
                while !seen.ends_with(b"an order") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                count.fetch_add(1, Ordering::SeqCst);
                // A reset, not a clean close.
                let _ = stream.set_zero_linger();
                drop(stream);
            });
        }
    });
    (addr, requests)
}

#[tokio::test]
async fn a_post_the_upstream_read_is_never_sent_twice() {
    let (upstream, requests) = reads_then_resets().await;
    let gateway = retrying_gateway(Client::builder(TokioExecutor::new()).build_http()).await;
    let post = Request::builder()
        .method(Method::POST)
        .uri(gateway.url("/orders"))
        .header(X_UPSTREAM, upstream.to_string())
        .body(Full::from("an order"))
        .unwrap();
    let got = send(&downstream(), post, BOUND).await;
    assert_eq!(got.status, StatusCode::BAD_GATEWAY, "{got:?}");
    assert_eq!(got.problem()["kind"], "connection_terminated");
    // Give a wrong retry the time to arrive.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        requests.load(Ordering::SeqCst),
        1,
        "the POST reached the upstream once"
    );
}

/// hyper-util's connector, counting its connection attempts, sending the
/// next `refuse` of them to a port where nothing listens.
#[derive(Clone)]
struct CountingConnector {
    inner: HttpConnector,
    attempts: Arc<AtomicUsize>,
    refuse: Arc<AtomicUsize>,
    closed: SocketAddr,
}

impl CountingConnector {
    fn new() -> Self {
        // A port that was bound, then freed: nothing listens.
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        Self {
            inner: HttpConnector::new(),
            attempts: Arc::default(),
            refuse: Arc::new(AtomicUsize::new(usize::MAX)),
            closed,
        }
    }

    fn attempts(&self) -> usize {
        self.attempts.load(Ordering::SeqCst)
    }
}

impl Service<Uri> for CountingConnector {
    type Response = <HttpConnector as Service<Uri>>::Response;
    type Error = <HttpConnector as Service<Uri>>::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let refused = self
            .refuse
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        let uri = if refused {
            format!("http://{}/", self.closed).parse().unwrap()
        } else {
            uri
        };
        Box::pin(self.inner.call(uri))
    }
}

/// The ERROR lines of the events recorded while `f` runs on this thread.
async fn error_lines<F: Future>(f: F) -> (F::Output, Vec<String>) {
    let (logs, _guard) = support::Logs::capture();
    let output = f.await;
    let errors = logs
        .text()
        .lines()
        .filter(|line| line.contains("ERROR"))
        .map(str::to_owned)
        .collect();
    (output, errors)
}

fn get(authority: &str) -> Request<Full<Bytes>> {
    Request::get(format!("http://{authority}/"))
        .body(Full::default())
        .unwrap()
}

#[tokio::test]
async fn a_refused_connection_is_retried_up_to_the_limit_and_logged_once() {
    let connector = CountingConnector::new();
    let client = Client::builder(TokioExecutor::new()).build(connector.clone());
    let gateway = retrying(client, RetryNeverSent::new(2, Duration::from_millis(10)));
    let (res, errors) = error_lines(gateway.oneshot(get("127.0.0.1:9"))).await;
    let res = res.unwrap_or_else(|e| match e {});
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    let failure = res.extensions().get::<Failure>().unwrap();
    assert_eq!(failure.kind().as_str(), "connection_refused");
    assert_eq!(failure.attempts(), Some(3));
    assert_eq!(connector.attempts(), 3, "two retries");
    assert_eq!(errors.len(), 1, "one line for one failure: {errors:#?}");
    assert!(errors[0].contains("attempts=3"), "{}", errors[0]);
}

#[tokio::test(start_paused = true)]
async fn once_the_budget_is_spent_each_request_costs_one_attempt() {
    let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let live = upstream.local_addr().unwrap();
    let connector = CountingConnector::new();
    let client = Client::builder(TokioExecutor::new()).build(connector.clone());
    // One retry a second, and nothing earned from deposits: tower's own
    // budget, as any `Budget` goes.
    let budget = Box::leak(Box::new(TpsBudget::new(Duration::from_secs(1), 1, 0.0)));
    let gateway = retrying(
        client,
        RetryNeverSent::new(2, Duration::from_millis(10)).budget(budget),
    );

    let outage = async {
        for _ in 0..10 {
            let res = gateway.clone().oneshot(get(&live.to_string())).await;
            let res = res.unwrap_or_else(|e| match e {});
            assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
        }
    };
    let ((), errors) = error_lines(outage).await;
    assert_eq!(
        connector.attempts(),
        11,
        "the first request spends the budget's one retry; each later one is tried once"
    );
    assert_eq!(errors.len(), 10, "one line per client request: {errors:#?}");

    // The upstream is back, and its first connection is refused: after the
    // window, the budget allows the retry again, which is served.
    tokio::spawn(async move {
        loop {
            let (stream, _) = upstream.accept().await.unwrap();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_req: Request<Incoming>| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"back"))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    tokio::time::advance(Duration::from_secs(2)).await;
    connector.refuse.store(1, Ordering::SeqCst);
    let before = connector.attempts();
    let res = gateway.oneshot(get(&live.to_string())).await;
    let res = res.unwrap_or_else(|e| match e {});
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        connector.attempts() - before,
        2,
        "refused once, then served"
    );
}

/// A budget that refuses every retry, and counts how often it is asked.
#[derive(Default)]
struct Refusing(AtomicUsize);

impl tower::retry::budget::Budget for Refusing {
    fn deposit(&self) {}

    fn withdraw(&self) -> bool {
        self.0.fetch_add(1, Ordering::SeqCst);
        false
    }
}

#[tokio::test(start_paused = true)]
async fn a_thread_the_budget_refused_asks_it_again_only_10_ms_later() {
    let closed = CountingConnector::new();
    let client = Client::builder(TokioExecutor::new()).build(closed.clone());
    let budget: &'static Refusing = Box::leak(Box::default());
    // One service for every request, as a connection's is: the policy it
    // holds must not keep what it was told of the requests before.
    let mut gateway = retrying(
        client,
        RetryNeverSent::new(2, Duration::from_millis(1)).budget(budget),
    );
    let target = closed.closed.to_string();
    let mut refused = async || {
        let ready = gateway.ready().await.unwrap_or_else(|e| match e {});
        let res = ready
            .call(get(&target))
            .await
            .unwrap_or_else(|e| match e {});
        assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    };

    let ((), errors) = error_lines(async {
        for _ in 0..5 {
            refused().await;
        }
    })
    .await;
    assert_eq!(budget.0.load(Ordering::SeqCst), 1, "asked once, then spent");
    assert_eq!(closed.attempts(), 5, "one attempt a request");
    assert_eq!(errors.len(), 5, "one line per client request: {errors:#?}");

    tokio::time::advance(Duration::from_millis(9)).await;
    refused().await;
    assert_eq!(budget.0.load(Ordering::SeqCst), 1, "still spent");
    tokio::time::advance(Duration::from_millis(1)).await;
    refused().await;
    assert_eq!(budget.0.load(Ordering::SeqCst), 2, "asked again");
    assert_eq!(closed.attempts(), 7);
}

/// A value the service outside the retry puts on the request.
#[derive(Clone, Debug, PartialEq)]
struct Tenant(&'static str);

#[tokio::test]
async fn an_extension_set_outside_the_retry_reaches_the_second_attempt() {
    let (upstream, requests) = h2_upstream(Answer::RefuseFirst).await;
    let client: Upstream = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let retrying = ServiceBuilder::new()
        .layer(GatewayErrorLayer::new())
        .retry(RetryNeverSent::new(2, Duration::from_millis(10)))
        .map_err(BoxError::from)
        .map_request(move |req: Request<RequestBody<Full<Bytes>>>| {
            let tenant = req.extensions().get::<Tenant>().cloned();
            record.lock().unwrap().push(tenant);
            req
        })
        .service(client);
    let mut post = Request::post(format!("http://{upstream}/orders"))
        .body(Full::from("an order"))
        .unwrap();
    post.extensions_mut().insert(Tenant("acme"));
    let res = tokio::time::timeout(BOUND, retrying.oneshot(post))
        .await
        .expect("answered in time")
        .unwrap_or_else(|e| match e {});
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        requests.load(Ordering::SeqCst),
        2,
        "refused once, then served"
    );
    assert_eq!(
        *seen.lock().unwrap(),
        [Some(Tenant("acme")), Some(Tenant("acme"))],
        "both attempts carry the extension"
    );
}
