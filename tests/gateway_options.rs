//! The gateway layer's settings and customisations, over real TCP on
//! 127.0.0.1 (upstreams from `tests/upstream`, a hyper server in front).

mod gateway_support;
mod upstream;

use std::error::Error;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use gateway_support::*;
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::{Layer, Service, ServiceBuilder, ServiceExt};
use tower_problem::gateway::{
    BodyError, Failure, GatewayBody, GatewayErrorLayer, GatewayErrorService, Kind, RequestBody,
    ResponseFuture,
};
use tower_problem::problem::Problem;
use tower_problem::RequestContext;
use upstream::{Behavior, Upstream};

const SHORT: Duration = Duration::from_millis(200);
const BOUND: Duration = Duration::from_secs(3);

async fn fails(
    layer: GatewayErrorLayer<
        impl tower_problem::Classify<Kind>,
        impl tower_problem::ResponseForFailure<Failure>,
    >,
    behavior: Behavior,
) -> (Got, Upstream) {
    let gateway = Gateway::with_client(layer, upstream_client(Some(SHORT))).await;
    let upstream = Upstream::start(behavior).await;
    let got = send(&downstream(), request(&gateway, upstream.addr()), BOUND).await;
    (got, upstream)
}

#[tokio::test]
async fn status_for_answers_timeouts_with_504() {
    let layer = GatewayErrorLayer::new()
        .head_timeout(Some(SHORT))
        .status_for(Kind::HttpResponseTimeout, StatusCode::GATEWAY_TIMEOUT)
        .status_for(Kind::ConnectionTimeout, StatusCode::GATEWAY_TIMEOUT);
    for (behavior, kind) in [
        (Behavior::Silent, "http_response_timeout"),
        (Behavior::Blackhole, "connection_timeout"),
    ] {
        let (got, _upstream) = fails(layer.clone(), behavior).await;
        assert_eq!(got.status, StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(got.problem()["kind"], kind);
        assert_eq!(got.problem()["status"], 504);
        assert_eq!(got.proxy_status()[0].token("error"), Some(kind));
    }
    // Other kinds keep their 502.
    let (got, _upstream) = fails(layer, Behavior::NotListening).await;
    assert_eq!(got.status, StatusCode::BAD_GATEWAY);
}

#[tokio::test]
async fn recommended_statuses_are_504_and_503_but_unclassified_stays_502() {
    let layer = GatewayErrorLayer::new()
        .head_timeout(Some(SHORT))
        .recommended_statuses();
    let (got, _upstream) = fails(layer.clone(), Behavior::Silent).await;
    assert_eq!(got.status, StatusCode::GATEWAY_TIMEOUT);

    // Unreachable and unclassified errors, from a service that fails so.
    for (error, status, kind) in [
        (
            // RFC 9209 recommends 502 for an unroutable address.
            io::Error::from(io::ErrorKind::NetworkUnreachable),
            StatusCode::BAD_GATEWAY,
            "destination_ip_unroutable",
        ),
        (
            io::Error::other("something odd"),
            StatusCode::BAD_GATEWAY,
            "proxy_internal_error",
        ),
    ] {
        let error = Arc::new(std::sync::Mutex::new(Some(error)));
        let svc = ServiceBuilder::new().layer(layer.clone()).service_fn(
            move |_req: Request<RequestBody<Full<Bytes>>>| {
                let error = error.lock().unwrap().take().unwrap();
                async move { Err::<Response<Full<Bytes>>, _>(error) }
            },
        );
        let res = oneshot(svc, Request::new(Full::default())).await;
        assert_eq!(res.status(), status);
        assert_eq!(
            res.extensions().get::<Failure>().unwrap().kind().as_str(),
            kind
        );
    }

    // RFC 9209 §2.3.1: a resolver's deadline (named by a classifier of
    // yours) is a timeout, 504 like the others.
    let svc = ServiceBuilder::new()
        .layer(layer.classify_with(|_: &(dyn Error + 'static)| Some(Kind::DnsTimeout)))
        .service_fn(|_req: Request<RequestBody<Full<Bytes>>>| async {
            Err::<Response<Full<Bytes>>, _>(io::Error::other("resolver deadline"))
        });
    let res = oneshot(svc, Request::new(Full::default())).await;
    assert_eq!(res.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(
        res.headers()["proxy-status"],
        "tower-problem; error=dns_timeout"
    );
}

#[tokio::test]
async fn overload_is_503_connection_limit_reached_with_retry_after() {
    let layer = GatewayErrorLayer::new()
        .head_timeout(Some(Duration::from_secs(1)))
        .retry_after(Some(Duration::from_millis(1500)));
    let svc = ServiceBuilder::new()
        .map_request(route)
        .layer(layer)
        .load_shed()
        .concurrency_limit(1)
        .service(upstream_client(None));
    let gateway = Gateway::serve(svc).await;
    let silent = Upstream::start(Behavior::Silent).await;
    let client = downstream();
    // One request holds the only slot...
    let (first_client, first_req) = (client.clone(), request(&gateway, silent.addr()));
    let first = tokio::spawn(async move { send(&first_client, first_req, BOUND).await });
    within(BOUND, async {
        while silent.requests() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    // ...so the next is shed at once.
    let got = send(&client, request(&gateway, silent.addr()), BOUND).await;
    assert_eq!(got.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(got.headers["retry-after"], "2");
    assert_eq!(got.problem()["kind"], "connection_limit_reached");
    assert_eq!(
        got.proxy_status()[0].token("error"),
        Some("connection_limit_reached")
    );
    assert!(got.elapsed < Duration::from_millis(500));
    let first = first.await.unwrap();
    assert_eq!(first.problem()["kind"], "http_response_timeout");
    assert!(first.headers.get("retry-after").is_none());
}

// ---- the client's request body ----

type Boxed = BoxBody<Bytes, BoxError>;

#[tokio::test]
async fn a_failed_upload_is_400_not_502() {
    let upstream = Upstream::start(Behavior::Silent).await;
    let client: Client<HttpConnector, RequestBody<Boxed>> =
        Client::builder(TokioExecutor::new()).build_http();
    let svc = ServiceBuilder::new()
        .layer(GatewayErrorLayer::new().head_timeout(Some(Duration::from_secs(2))))
        .service(client);
    let frames: Vec<Result<Frame<Bytes>, BoxError>> = vec![
        Ok(Frame::data(Bytes::from_static(b"abc"))),
        Err(io::Error::from(io::ErrorKind::ConnectionReset).into()),
    ];
    let req = Request::post(upstream.url("/upload"))
        .body(StreamBody::new(futures_util::stream::iter(frames)).boxed())
        .unwrap();
    let res = within(BOUND, oneshot(svc, req)).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get("proxy-status").is_none());
    let failure = res.extensions().get::<Failure>().unwrap();
    assert_eq!(failure.kind(), Kind::RequestBodyError);
    // The client's io error (a reset) did not make it `connection_terminated`.
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["kind"], "request_body_error");
    assert_eq!(problem["status"], 400);
}

#[tokio::test]
async fn an_upload_aborted_by_the_downstream_client_is_not_a_502() {
    let gateway = Gateway::start(GatewayErrorLayer::new().head_timeout(Some(BOUND))).await;
    let upstream = Upstream::start(Behavior::Silent).await;
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    let head = format!(
        "POST /upload HTTP/1.1\r\nhost: gateway\r\n{X_UPSTREAM}: {}\r\ncontent-length: 1000\r\n\r\nonly ten b",
        upstream.addr()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // The upstream got the head and waits for the rest of the body.
    within(BOUND, async {
        while upstream.accepted() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The client gives up on its upload (half-close: it still reads).
    stream.shutdown().await.unwrap();
    let mut answer = Vec::new();
    within(BOUND, stream.read_to_end(&mut answer))
        .await
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    // The server allows half-closed connections (see `gateway_support`), so
    // the client still gets the answer: a 400, not a 502.
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(
        answer.contains(r#""kind":"request_body_error""#),
        "{answer}"
    );
    assert!(!answer.contains("proxy-status"), "{answer}");
}

/// Sends `head` and then `rest` (after `pause`) to the gateway on one
/// connection, half-closes, and reads the whole answer.
async fn upload(gateway: &Gateway, head: &str, rest: &[u8], pause: Duration) -> String {
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(pause).await;
    // The gateway may answer and close before it reads the rest.
    let _ = stream.write_all(rest).await;
    let _ = stream.shutdown().await;
    let mut answer = Vec::new();
    let _ = within(BOUND, stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_content_length_over_the_limit_is_413_and_the_upstream_is_never_called() {
    let gateway = Gateway::start(GatewayErrorLayer::new().max_request_body(Some(16))).await;
    let upstream = Upstream::start(Behavior::Ok).await;
    let head = format!(
        "POST /upload HTTP/1.1\r\nhost: gateway\r\n{X_UPSTREAM}: {}\r\ncontent-length: 17\r\nconnection: close\r\n\r\n",
        upstream.addr()
    );
    let answer = upload(&gateway, &head, &[b'x'; 17], Duration::ZERO).await;
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    assert!(
        answer.contains("content-type: application/problem+json"),
        "{answer}"
    );
    assert!(
        answer.contains(r#""kind":"request_body_too_large""#),
        "{answer}"
    );
    assert!(!answer.contains("proxy-status"), "{answer}");
    assert_eq!(upstream.accepted(), 0, "the upstream was called");

    // At the limit, the body is forwarded.
    let head = head.replace("content-length: 17", "content-length: 16");
    let answer = upload(&gateway, &head, &[b'x'; 16], Duration::ZERO).await;
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert_eq!(upstream.requests(), 1);
}

#[tokio::test]
async fn a_chunked_body_that_grows_over_the_limit_is_413_and_its_last_frame_never_leaves() {
    let gateway = Gateway::start(
        GatewayErrorLayer::new()
            .max_request_body(Some(16))
            .head_timeout(Some(BOUND)),
    )
    .await;
    // An upstream that keeps all it is sent, until the gateway closes.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut got = Vec::new();
        let _ = stream.read_to_end(&mut got).await;
        String::from_utf8_lossy(&got).into_owned()
    });
    let head = format!(
        "POST /upload HTTP/1.1\r\nhost: gateway\r\n{X_UPSTREAM}: {addr}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n8\r\naaaaaaaa\r\n8\r\nbbbbbbbb\r\n"
    );
    let answer = upload(&gateway, &head, b"4\r\nZZZZ\r\n0\r\n\r\n", SHORT).await;
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    assert!(
        answer.contains(r#""kind":"request_body_too_large""#),
        "{answer}"
    );
    let received = within(BOUND, received).await.unwrap();
    // The 16 bytes within the limit were forwarded, the frame over it not,
    // and the upstream request was aborted (no last chunk).
    assert!(received.contains("bbbbbbbb"), "{received}");
    assert!(!received.contains('Z'), "{received}");
    assert!(!received.ends_with("0\r\n\r\n"), "{received}");
}

// ---- intercepting upstream 5xx ----

/// An upstream that answers every request with a 503 carrying its own
/// `Proxy-Status` member, as an inner proxy would.
async fn inner_proxy_503() -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    upstream_answering(
        b"HTTP/1.1 503 Service Unavailable\r\n\
          proxy-status: inner-proxy; error=connection_refused\r\n\
          content-type: text/html\r\nx-upstream-header: kept\r\n\
          content-language: de\r\nrepr-digest: sha-256=:AAAA:\r\n\
          content-length: 21\r\nconnection: close\r\n\r\n<h1>backend down</h1>",
    )
    .await
}

/// An upstream that answers every request with `answer`, then closes.
async fn upstream_answering(
    answer: &'static [u8],
) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let _ = stream.write_all(answer).await;
            });
        }
    });
    (addr, task)
}

#[tokio::test]
async fn intercepted_upstream_errors_get_the_gateways_problem() {
    for (client, protocol) in [(downstream(), "HTTP/1.1"), (downstream_h2(), "h2c")] {
        let (addr, task) = inner_proxy_503().await;
        let layer = GatewayErrorLayer::new()
            .intercept_error_responses(true)
            .retry_after(Some(Duration::from_secs(3)));
        let gateway = Gateway::start(layer).await;
        let got = send(&client, request(&gateway, addr), BOUND).await;
        task.abort();
        assert_eq!(got.status, StatusCode::SERVICE_UNAVAILABLE, "{protocol}");
        // Every 503 the gateway makes says when to retry; the replaced
        // body's representation headers are gone, the problem's said.
        assert_eq!(got.headers["retry-after"], "3", "{protocol}");
        assert_eq!(got.headers["content-language"], "en", "{protocol}");
        assert!(!got.headers.contains_key("repr-digest"), "{protocol}");
        let problem = got.problem();
        assert_eq!(problem["kind"], "upstream_server_error", "{protocol}");
        assert_eq!(problem["status"], 503, "{protocol}");
        assert_eq!(got.headers["x-upstream-header"], "kept", "{protocol}");
        assert!(!got.text().contains("backend down"), "{protocol}");
        let members = got.proxy_status();
        assert_eq!(members.len(), 2, "{protocol}: {members:?}");
        assert_eq!(members[0].name, "inner-proxy");
        assert_eq!(members[0].token("error"), Some("connection_refused"));
        assert_eq!(members[1].name, "tower-problem");
        assert_eq!(
            members[1].params.get("received-status"),
            Some(&Value::Integer(503))
        );
        assert_eq!(members[1].token("error"), None);

        // Off (the default), the same response passes through.
        let (addr, task) = inner_proxy_503().await;
        let gateway = Gateway::start(GatewayErrorLayer::new()).await;
        let got = send(&client, request(&gateway, addr), BOUND).await;
        task.abort();
        assert_eq!(got.text(), "<h1>backend down</h1>", "{protocol}");
        assert_eq!(got.proxy_status().len(), 1, "{protocol}");
    }
}

/// RFC 9113 §8.2.2: over HTTP/2 no answer carries a connection-specific
/// field, the layer's own 502 nor an intercepted 503 whose upstream head
/// had them, even where nothing strips them before the layer (the layer
/// keeps an upstream's fields; hyper's HTTP/2 server drops these).
#[tokio::test]
async fn over_http2_no_answer_carries_a_connection_specific_field() {
    let (addr, task) = upstream_answering(
        b"HTTP/1.1 503 Service Unavailable\r\n\
          connection: keep-alive, x-hop\r\nkeep-alive: timeout=5\r\n\
          proxy-connection: keep-alive\r\nupgrade: example/1\r\nx-hop: 1\r\n\
          content-type: text/plain\r\ncontent-length: 4\r\n\r\ndown",
    )
    .await;
    let svc = ServiceBuilder::new()
        .map_request(route)
        .layer(GatewayErrorLayer::new().intercept_error_responses(true))
        .service(upstream_client(None));
    let gateway = Gateway::serve(svc).await;
    let closed = Upstream::start(Behavior::NotListening).await;
    let client = downstream_h2();
    let intercepted = send(&client, request(&gateway, addr), BOUND).await;
    task.abort();
    assert_eq!(intercepted.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(intercepted.problem()["kind"], "upstream_server_error");
    let refused = send(&client, request(&gateway, closed.addr()), BOUND).await;
    assert_eq!(refused.problem()["kind"], "connection_refused");
    for got in [intercepted, refused] {
        for name in [
            "connection",
            "keep-alive",
            "proxy-connection",
            "transfer-encoding",
            "upgrade",
            "te",
            "x-hop",
        ] {
            assert!(!got.headers.contains_key(name), "{name}: {got:?}");
        }
    }
}

/// One intercept rule for both layers: the replaced response's own
/// `Retry-After` wins over the layer's, and a problem+json body is the
/// upstream's to send.
#[tokio::test]
async fn an_intercepted_503_keeps_its_retry_after_and_a_problem_passes_through() {
    let layer = GatewayErrorLayer::new()
        .intercept_error_responses(true)
        .retry_after(Some(Duration::from_secs(3)));
    let gateway = Gateway::start(layer).await;
    let client = downstream();

    let (addr, task) = upstream_answering(
        b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 9\r\n\
          content-type: text/plain\r\ncontent-length: 4\r\nconnection: close\r\n\r\ndown",
    )
    .await;
    let got = send(&client, request(&gateway, addr), BOUND).await;
    task.abort();
    assert_eq!(got.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(got.problem()["kind"], "upstream_server_error");
    assert_eq!(got.headers["retry-after"], "9");
    assert_eq!(got.headers.get_all("retry-after").iter().count(), 1);

    let problem = r#"{"type":"https://upstream.example/down","title":"Down","status":500}"#;
    let answer = format!(
        "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/problem+json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{problem}",
        problem.len()
    );
    let (addr, task) = upstream_answering(answer.leak().as_bytes()).await;
    let got = send(&client, request(&gateway, addr), BOUND).await;
    task.abort();
    assert_eq!(got.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(got.text(), problem);
}

// ---- customisation ----

#[tokio::test]
async fn a_classifier_closure_decides_and_none_falls_through() {
    let layer = GatewayErrorLayer::new()
        .recommended_statuses()
        // Asked of each level of the chain: the `io::Error` sits under
        // hyper-util's. No annotation: the method's bound types the closure.
        .classify_with(|error| {
            let io = error.downcast_ref::<io::Error>()?;
            (io.kind() == io::ErrorKind::ConnectionRefused).then_some(Kind::DestinationUnavailable)
        });
    let (got, _upstream) = fails(layer.clone(), Behavior::NotListening).await;
    assert_eq!(got.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(got.problem()["kind"], "destination_unavailable");
    let (got, _upstream) = fails(layer, Behavior::ResetAfterRequest).await;
    assert_eq!(got.problem()["kind"], "connection_terminated");
}

#[tokio::test]
async fn a_panicking_classifier_falls_back_to_the_default() {
    let layer = GatewayErrorLayer::new()
        .classify_with(|_: &(dyn Error + 'static)| -> Option<Kind> { panic!("classifier bug") });
    let (got, _upstream) = fails(layer, Behavior::NotListening).await;
    assert_eq!(got.status, StatusCode::BAD_GATEWAY);
    assert_eq!(got.problem()["kind"], "connection_refused");
}

/// With axum, the gateway's customisation answers with an axum response:
/// its own page, `Content-Length` from its size, and the layer's
/// `Proxy-Status` still on it.
#[tokio::test]
async fn a_customisation_can_answer_with_an_axum_response() {
    use axum::response::{Html, IntoResponse};

    let layer = GatewayErrorLayer::new().respond_with(|failure, _request, _problem| {
        let page = format!("<h1>upstream down: {}</h1>", failure.kind());
        (failure.status(), Html(page)).into_response()
    });
    let (got, _upstream) = fails(layer, Behavior::NotListening).await;
    assert_eq!(got.status, StatusCode::BAD_GATEWAY);
    assert_eq!(got.headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(got.text(), "<h1>upstream down: connection_refused</h1>");
    assert_eq!(
        got.headers["content-length"],
        got.text().len().to_string().as_str()
    );
    assert_eq!(
        got.proxy_status()[0].token("error"),
        Some("connection_refused")
    );
}

#[tokio::test]
async fn a_panicking_customisation_gets_the_default_response_of_the_same_failure() {
    let layer = GatewayErrorLayer::new().respond_with(
        |_: &Failure, _: &RequestContext, _: Problem| -> Response<Bytes> {
            panic!("customisation bug")
        },
    );
    let (got, _upstream) = fails(layer, Behavior::NotListening).await;
    // The marker, the body and Proxy-Status tell one story.
    assert_eq!(got.status, StatusCode::BAD_GATEWAY);
    let problem = got.problem();
    assert_eq!(problem["kind"], "connection_refused");
    assert_eq!(problem["status"], 502);
    assert_eq!(
        got.proxy_status()[0].token("error"),
        Some("connection_refused")
    );

    // The marker, seen inside the process.
    let layer = GatewayErrorLayer::new().respond_with(
        |_: &Failure, _: &RequestContext, _: Problem| -> Response<Bytes> {
            panic!("customisation bug")
        },
    );
    let svc = ServiceBuilder::new().layer(layer).service_fn(
        |_req: Request<RequestBody<Full<Bytes>>>| async {
            Err::<Response<Full<Bytes>>, _>(io::Error::from(io::ErrorKind::ConnectionRefused))
        },
    );
    let res = oneshot(svc, Request::new(Full::default())).await;
    let failure = res.extensions().get::<Failure>().unwrap();
    assert_eq!(failure.kind(), Kind::ConnectionRefused);
    assert_eq!(failure.status(), res.status());
}

#[tokio::test]
async fn every_503_carries_retry_after_and_a_destination_considered_down_is_one() {
    let layer = GatewayErrorLayer::new()
        .recommended_statuses()
        .retry_after(Some(Duration::from_secs(7)))
        .classify_with(|_: &(dyn Error + 'static)| Some(Kind::DestinationUnavailable));
    let svc = ServiceBuilder::new().layer(layer.clone()).service_fn(
        |_req: Request<RequestBody<Full<Bytes>>>| async {
            Err::<Response<Full<Bytes>>, _>(io::Error::other("circuit open"))
        },
    );
    let res = oneshot(svc, Request::new(Full::default())).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers()["retry-after"], "7");
    let failure = res.extensions().get::<Failure>().unwrap();
    assert_eq!(failure.kind(), Kind::DestinationUnavailable);
    assert!(failure.is_request_never_sent());

    // A 503 set for another kind carries it too; a 502 does not.
    let layer = layer.status_for(Kind::DestinationUnavailable, StatusCode::BAD_GATEWAY);
    let svc = ServiceBuilder::new().layer(layer).service_fn(
        |_req: Request<RequestBody<Full<Bytes>>>| async {
            Err::<Response<Full<Bytes>>, _>(io::Error::other("circuit open"))
        },
    );
    let res = oneshot(svc, Request::new(Full::default())).await;
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    assert!(!res.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn a_customisation_sees_the_failure_and_the_request() {
    let seen = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&seen);
    let layer = GatewayErrorLayer::new()
        .type_base("https://errors.example.com/")
        .respond_with(
            move |failure: &Failure, request: &RequestContext, problem: Problem| {
                assert_eq!(failure.kind(), Kind::ConnectionRefused);
                assert!(failure.is_request_never_sent());
                assert_eq!(request.path(), Some("/some/path"));
                flag.store(true, Ordering::SeqCst);
                problem
                    .into_builder()
                    .extension("support", "https://example.com/support")
                    .build()
                    .expect("a valid extension name")
            },
        );
    let (got, _upstream) = fails(layer, Behavior::NotListening).await;
    assert!(seen.load(Ordering::SeqCst));
    let problem = got.problem();
    assert_eq!(
        problem["type"],
        "https://errors.example.com/connection_refused"
    );
    assert_eq!(problem["support"], "https://example.com/support");
    assert_eq!(
        got.proxy_status()[0].token("error"),
        Some("connection_refused")
    );
}

#[tokio::test]
async fn head_requests_get_the_headers_and_no_body() {
    let gateway = Gateway::with_client(GatewayErrorLayer::new(), upstream_client(None)).await;
    let upstream = Upstream::start(Behavior::NotListening).await;
    let mut req = request(&gateway, upstream.addr());
    *req.method_mut() = Method::HEAD;
    let got = send(&downstream(), req, BOUND).await;
    assert_eq!(got.status, StatusCode::BAD_GATEWAY);
    assert_eq!(got.headers["content-type"], "application/problem+json");
    assert_eq!(got.body(), "");
    // The length a GET's answer has (RFC 9110 §8.6).
    let get = send(&downstream(), request(&gateway, upstream.addr()), BOUND).await;
    assert_eq!(
        got.headers["content-length"],
        get.body().len().to_string().as_str()
    );
    assert_eq!(
        got.proxy_status()[0].token("error"),
        Some("connection_refused")
    );
}

#[tokio::test]
async fn opt_in_details_next_hop_and_a_name_that_is_not_a_token() {
    let layer = GatewayErrorLayer::new()
        .proxy_name("edge \"1\" \u{e9}")
        .proxy_status_details(true)
        .proxy_status_next_hop(true)
        .expose_details(true);
    let (got, upstream) = fails(layer, Behavior::NotListening).await;
    let members = got.proxy_status();
    assert_eq!(members[0].name, "edge \"1\" ?");
    assert_eq!(members[0].token("error"), Some("connection_refused"));
    assert_eq!(
        members[0].string("next-hop"),
        Some(upstream.addr().to_string().as_str())
    );
    let details = members[0].string("details").unwrap();
    assert!(details.contains("Connection refused"), "{details}");
    let detail = got.problem()["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("tcp connect error"), "{detail}");
}

#[tokio::test]
async fn a_failed_poll_ready_answers_the_next_call_then_recovers() {
    #[derive(Clone)]
    struct NotReadyOnce(Arc<AtomicBool>);
    impl tower::Service<Request<RequestBody<Full<Bytes>>>> for NotReadyOnce {
        type Response = Response<Full<Bytes>>;
        type Error = io::Error;
        type Future = std::future::Ready<Result<Self::Response, io::Error>>;
        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
            if self.0.swap(false, Ordering::SeqCst) {
                Poll::Ready(Err(io::ErrorKind::ConnectionRefused.into()))
            } else {
                Poll::Ready(Ok(()))
            }
        }
        fn call(&mut self, _req: Request<RequestBody<Full<Bytes>>>) -> Self::Future {
            std::future::ready(Ok(Response::new(Full::new(Bytes::from_static(b"ok")))))
        }
    }
    let mut svc = GatewayErrorLayer::new().layer(NotReadyOnce(Arc::new(AtomicBool::new(true))));
    let res = svc
        .ready()
        .await
        .unwrap()
        .call(Request::new(Full::default()))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(
        res.extensions().get::<Failure>().unwrap().kind(),
        Kind::ConnectionRefused
    );
    let res = svc
        .ready()
        .await
        .unwrap()
        .call(Request::new(Full::default()))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[test]
fn public_types_are_send_sync_and_clone() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    fn clone<T: Clone>() {}
    type Svc = GatewayErrorService<
        UpstreamClient,
        tower_problem::DefaultClassifier,
        tower_problem::DefaultResponse,
    >;
    send_sync::<Svc>();
    clone::<Svc>();
    send_sync::<GatewayErrorLayer>();
    send_sync::<Failure>();
    clone::<Failure>();
    send_sync::<BodyError>();
    send_sync::<GatewayBody<hyper::body::Incoming>>();
    send::<
        ResponseFuture<
            hyper_util::client::legacy::ResponseFuture,
            tower_problem::DefaultClassifier,
            tower_problem::DefaultResponse,
        >,
    >();
    send_sync::<RequestBody<hyper::body::Incoming>>();
}
