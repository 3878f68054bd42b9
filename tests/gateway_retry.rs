//! Retries that never send a request twice (features `tower`, `h2`,
//! `hyper-util`): tower's `retry` with `RetryNeverSent` around the gateway
//! layer, over real sockets. A refused HTTP/2 stream is retried and the
//! client sees one 200; a POST the upstream read before it reset the
//! connection is answered 502 and reached the upstream once.
#![cfg(all(feature = "tower", feature = "h2", feature = "hyper-util"))]

mod gateway_support;
mod h2_upstream;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use gateway_support::*;
use h2_upstream::{h2_upstream, Answer};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tower::{ServiceBuilder, ServiceExt};
use tower_problem::gateway::{GatewayErrorLayer, RequestBody, RetryNeverSent};

const BOUND: Duration = Duration::from_secs(5);
/// The largest request body the gateway buffers to replay it.
const MAX_REPLAY: usize = 64 * 1024;

type Upstream = Client<HttpConnector, RequestBody<Full<Bytes>>>;

/// A gateway that buffers each request body (up to [`MAX_REPLAY`]) so that
/// `RetryNeverSent` can send it again, then retries what was never sent.
async fn retrying_gateway(client: Upstream) -> Gateway {
    let retrying = ServiceBuilder::new()
        .retry(RetryNeverSent::new(2, Duration::from_millis(10)))
        .layer(GatewayErrorLayer::new())
        .service(client);
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

#[tokio::test]
async fn a_refused_connection_is_retried_up_to_the_limit() {
    // Nothing listens: every attempt is refused, never sent; two retries,
    // then the 502.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let gateway = retrying_gateway(Client::builder(TokioExecutor::new()).build_http()).await;
    let get = request(&gateway, port);
    let got = send(&downstream(), get, BOUND).await;
    assert_eq!(got.status, StatusCode::BAD_GATEWAY);
    assert_eq!(got.problem()["kind"], "connection_refused");
    assert!(
        got.elapsed >= Duration::from_millis(20),
        "two backoffs: {got:?}"
    );
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
        .retry(RetryNeverSent::new(2, Duration::from_millis(10)))
        .map_request(move |req: Request<Full<Bytes>>| {
            let tenant = req.extensions().get::<Tenant>().cloned();
            record.lock().unwrap().push(tenant);
            req
        })
        .layer(GatewayErrorLayer::new())
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
