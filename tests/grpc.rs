//! gRPC requests get gRPC answers, over real sockets with tonic's client:
//! from the app layer in front of a tonic server (`examples/grpc.rs`), and
//! from the gateway layer in front of it (`examples/gateway.rs`), directly
//! and through the gateway, with no flag; a plain HTTP request to the same
//! layers still gets problem+json. On SIGTERM the gRPC example finishes
//! the calls in flight and exits 0.

mod example_support;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use example_support::Example;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

const BOUND: Duration = Duration::from_secs(10);

async fn grpc_server() -> Example {
    example_support::start("grpc", &[("GRPC_ADDR", "127.0.0.1:0")]).await
}

async fn gateway_to(upstream: &str, env: &[(&str, &str)]) -> Example {
    // No flag: the gateway sends gRPC calls over HTTP/2 by itself.
    let mut all = vec![("GATEWAY_ADDR", "127.0.0.1:0"), ("UPSTREAM", upstream)];
    all.extend_from_slice(env);
    example_support::start("gateway", &all).await
}

async fn client(addr: SocketAddr) -> HealthClient<Channel> {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(BOUND)
        .connect()
        .await
        .expect("connected");
    HealthClient::new(channel)
}

fn check(service: &str) -> tonic::Request<HealthCheckRequest> {
    tonic::Request::new(HealthCheckRequest {
        service: service.to_owned(),
    })
}

async fn check_of(
    addr: SocketAddr,
    request: tonic::Request<HealthCheckRequest>,
) -> Result<i32, Status> {
    let mut client = client(addr).await;
    tokio::time::timeout(BOUND, client.check(request))
        .await
        .expect("answered in time")
        .map(|res| res.into_inner().status)
}

/// The layer's kind on a gRPC answer.
fn kind_of(status: &Status) -> &str {
    status
        .metadata()
        .get("problem-kind")
        .and_then(|kind| kind.to_str().ok())
        .unwrap_or("-")
}

/// A plain HTTP/2 client (h2c), for requests tonic's would not send.
fn h2_client() -> Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http()
}

/// A `POST` of the health check's path to `addr`, of `content_type`.
fn health_check(addr: SocketAddr, content_type: &str) -> http::request::Builder {
    http::Request::post(format!("http://{addr}/grpc.health.v1.Health/Check"))
        .header("content-type", content_type)
}

/// An upstream that accepts and never says a word, not even HTTP/2's
/// settings; it stops when the handle is dropped.
async fn silent_upstream() -> (SocketAddr, AbortOnDrop) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    (addr, AbortOnDrop(task))
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

// ---- the app layer in front of tonic ----

#[tokio::test]
async fn a_healthy_call_is_served() {
    let server = grpc_server().await;
    assert_eq!(
        check_of(server.addr, check("")).await.unwrap(),
        ServingStatus::Serving as i32
    );
}

#[tokio::test]
async fn a_panicking_handler_is_internal_with_the_kind_panic() {
    let server = grpc_server().await;
    let status = check_of(server.addr, check("panic")).await.unwrap_err();
    assert_eq!(status.code(), Code::Internal, "{status:?}");
    assert_eq!(kind_of(&status), "panic");
    assert_eq!(status.message(), "The request handler panicked");
}

#[tokio::test]
async fn a_tower_level_error_is_internal_with_the_kind_handler_error() {
    let server = grpc_server().await;
    let mut request = check("");
    request
        .metadata_mut()
        .insert("x-fail", "error".parse().unwrap());
    let status = check_of(server.addr, request).await.unwrap_err();
    assert_eq!(status.code(), Code::Internal, "{status:?}");
    assert_eq!(kind_of(&status), "handler_error");
    // No internal detail reaches the client.
    assert!(!status.message().contains("x-fail"), "{status:?}");
}

#[tokio::test]
async fn a_stream_that_panics_ends_with_grpc_status_13() {
    let server = grpc_server().await;
    let mut client = client(server.addr).await;
    let mut stream = client
        .watch(check("panic"))
        .await
        .expect("the stream starts")
        .into_inner();
    let first = tokio::time::timeout(BOUND, stream.message()).await.unwrap();
    assert_eq!(
        first.unwrap().unwrap().status,
        ServingStatus::Serving as i32
    );
    let end = tokio::time::timeout(BOUND, stream.message()).await.unwrap();
    let status = end.expect_err("the stream ends with a status");
    assert_eq!(status.code(), Code::Internal, "{status:?}");
    assert_eq!(kind_of(&status), "panic");
}

#[tokio::test]
async fn a_plain_http_request_to_the_same_layer_gets_problem_json() {
    let server = grpc_server().await;
    let req = health_check(server.addr, "application/json")
        .header("x-fail", "error")
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    let res = tokio::time::timeout(BOUND, h2_client().request(req))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(res.status(), http::StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert!(res.headers().get("grpc-status").is_none());
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["kind"], "handler_error");
}

#[cfg(unix)]
#[tokio::test]
async fn on_sigterm_a_stream_in_flight_completes_and_the_server_exits_0() {
    let mut server = grpc_server().await;
    let mut client = client(server.addr).await;
    let mut watch = client.watch(check("")).await.unwrap().into_inner();
    let first = tokio::time::timeout(BOUND, watch.message()).await.unwrap();
    assert!(first.unwrap().is_some(), "the first event");
    // Its second event comes 50 ms after the first: the stream is in
    // flight when the signal arrives.
    server.signal("TERM");
    let second = tokio::time::timeout(BOUND, watch.message()).await.unwrap();
    assert!(second.unwrap().is_some(), "the second event");
    let end = tokio::time::timeout(BOUND, watch.message()).await.unwrap();
    assert!(matches!(end, Ok(None)), "the stream ends with OK: {end:?}");
    assert_eq!(server.exit_within(BOUND).await.code(), Some(0));
    assert!(tokio::net::TcpStream::connect(server.addr).await.is_err());
}

// ---- the gateway layer in front of it ----

#[tokio::test]
async fn through_the_gateway_a_call_is_served_and_a_panic_passes_through() {
    let server = grpc_server().await;
    // With no flag, and with everything sent over HTTP/2.
    for env in [&[][..], &[("UPSTREAM_HTTP2", "1")]] {
        let gateway = gateway_to(&format!("http://{}", server.addr), env).await;
        assert_eq!(
            check_of(gateway.addr, check("")).await.unwrap(),
            ServingStatus::Serving as i32,
            "{env:?}"
        );
        let status = check_of(gateway.addr, check("panic")).await.unwrap_err();
        assert_eq!(status.code(), Code::Internal, "{env:?}: {status:?}");
        assert_eq!(kind_of(&status), "panic");
    }
}

#[tokio::test]
async fn through_the_gateway_an_upstream_down_is_unavailable() {
    // A port that was bound, then freed: nothing listens.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let gateway = gateway_to(&format!("http://{port}"), &[("RETRIES", "0")]).await;
    let status = check_of(gateway.addr, check("")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(kind_of(&status), "connection_refused");
    assert!(
        status
            .metadata()
            .get("proxy-status")
            .is_some_and(|value| value.to_str().unwrap().contains("error=connection_refused")),
        "{status:?}"
    );
}

#[tokio::test]
async fn through_the_gateway_an_upstream_that_hangs_is_deadline_exceeded() {
    let (addr, _silent) = silent_upstream().await;
    let gateway = gateway_to(&format!("http://{addr}"), &[("HEAD_TIMEOUT_MS", "300")]).await;
    let status = check_of(gateway.addr, check("")).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert_eq!(kind_of(&status), "http_response_timeout");
}

#[tokio::test]
async fn a_grpc_timeout_bounds_the_gateways_head_timeout() {
    let (addr, _silent) = silent_upstream().await;
    // The head timeout is 30 s; the call's deadline, 300 ms. A client of
    // its own (tonic's gives up at the deadline itself): the gateway's
    // answer is what is read.
    let gateway = gateway_to(&format!("http://{addr}"), &[]).await;
    let req = health_check(gateway.addr, "application/grpc")
        .header("te", "trailers")
        .header("grpc-timeout", "300m")
        .body(Full::new(Bytes::from_static(&[0, 0, 0, 0, 0])))
        .unwrap();
    let client = h2_client();
    let started = std::time::Instant::now();
    let res = tokio::time::timeout(BOUND, client.request(req))
        .await
        .unwrap()
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(res.status(), http::StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/grpc");
    assert_eq!(res.headers()["grpc-status"], "4");
    assert_eq!(res.headers()["problem-kind"], "http_response_timeout");
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert!(
        body.is_empty(),
        "a trailers-only answer has no body: {body:?}"
    );
}

/// Serves `svc` (a layer in front of a service, in this process) over
/// HTTP/1 and h2c on a fresh port.
async fn serve_in_process<S, B>(svc: S) -> SocketAddr
where
    S: tower::Service<http::Request<hyper::body::Incoming>, Response = http::Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<tower_problem::BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<tower_problem::BoxError>,
{
    use hyper_util::rt::TokioIo;
    use hyper_util::server::conn::auto;
    use hyper_util::service::TowerToHyperService;

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let svc = TowerToHyperService::new(svc.clone());
            tokio::spawn(async move {
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

/// gRPC's trailers-only form, as the app layer answers a failed call: HTTP
/// 200, `content-type: application/grpc`, `grpc-status` and a
/// percent-encoded `grpc-message` in the head, whose frame ends the stream.
#[tokio::test]
async fn the_app_layers_answer_is_trailers_only() {
    use tower::ServiceBuilder;
    use tower_problem::app::AppErrorLayer;

    let svc = ServiceBuilder::new()
        .layer(AppErrorLayer::new().expose_details(true))
        .service(tower::service_fn(
            |_: http::Request<hyper::body::Incoming>| async {
                Err::<http::Response<Full<Bytes>>, _>(std::io::Error::other("100% sure: \u{e9}"))
            },
        ));
    let addr = serve_in_process(svc).await;
    let req = health_check(addr, "application/grpc")
        .header("te", "trailers")
        .body(Full::new(Bytes::from_static(&[0, 0, 0, 0, 0])))
        .unwrap();
    let res = tokio::time::timeout(BOUND, h2_client().request(req))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(res.status(), http::StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/grpc");
    assert_eq!(res.headers()["grpc-status"], "13");
    assert_eq!(res.headers()["grpc-message"], "100%25 sure: %C3%A9");
    assert_eq!(res.headers()["problem-kind"], "handler_error");
    // The head's frame ended the stream: no data, no trailers after it.
    assert!(http_body::Body::is_end_stream(res.body()));
    let body = res.into_body().collect().await.unwrap();
    assert!(body.trailers().is_none());
    assert!(body.to_bytes().is_empty());
}

// ---- a responder of one's own ----

/// Answers gRPC requests its own way (`UNAVAILABLE`, a retry hint), and
/// others with the layer's problem.
#[derive(Clone)]
struct OwnGrpcAnswers;

impl tower_problem::ResponseForFailure<tower_problem::app::Failure> for OwnGrpcAnswers {
    type Body = Full<Bytes>;

    fn response_for_failure(
        &self,
        _: &tower_problem::app::Failure,
        _: &tower_problem::RequestContext,
        problem: tower_problem::problem::Problem,
    ) -> http::Response<Full<Bytes>> {
        tower_problem::IntoFailureResponse::into_failure_response(problem)
    }

    fn grpc_response_for_failure(
        &self,
        failure: &tower_problem::app::Failure,
        _: &tower_problem::RequestContext,
        _: tower_problem::grpc::Code,
        _: &str,
    ) -> http::Response<Full<Bytes>> {
        let message = format!("try again later ({})", failure.kind());
        let mut res =
            tower_problem::grpc::trailers_only(tower_problem::grpc::Code::Unavailable, &message);
        res.headers_mut().insert(
            "grpc-retry-pushback-ms",
            http::HeaderValue::from_static("100"),
        );
        res.map(Full::new)
    }
}

#[tokio::test]
async fn a_responder_of_ones_own_answers_grpc_requests_its_way() {
    use tower::ServiceBuilder;
    use tower_problem::app::AppErrorLayer;

    let svc = ServiceBuilder::new()
        .layer(AppErrorLayer::new().responder(OwnGrpcAnswers))
        .service(tower::service_fn(
            |_: http::Request<hyper::body::Incoming>| async {
                panic!("on purpose");
                #[allow(unreachable_code)]
                Ok::<_, std::convert::Infallible>(http::Response::new(Full::<Bytes>::default()))
            },
        ));
    let addr = serve_in_process(svc).await;
    let status = check_of(addr, check("")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(status.message(), "try again later (panic)");
    assert_eq!(kind_of(&status), "panic", "the layer adds its kind");
    assert_eq!(
        status.metadata().get("grpc-retry-pushback-ms").unwrap(),
        "100"
    );
}

// ---- a problem type of the application's own ----

/// A domain error of the application's: a 404 problem type.
#[derive(Debug)]
struct NoSuchService;

impl std::fmt::Display for NoSuchService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no service named \"billing\"")
    }
}

impl std::error::Error for NoSuchService {}

impl tower_problem::app::ProblemType for NoSuchService {
    fn kind(&self) -> &'static str {
        "service-not-found"
    }

    fn title(&self) -> &'static str {
        "No such service"
    }

    fn status(&self) -> http::StatusCode {
        http::StatusCode::NOT_FOUND
    }
}

#[tokio::test]
async fn a_problem_type_answers_a_grpc_request_with_its_status_code() {
    use tower::ServiceBuilder;
    use tower_problem::app::AppErrorLayer;

    let svc = ServiceBuilder::new()
        .layer(AppErrorLayer::new().problem_type::<NoSuchService>())
        .service(tower::service_fn(
            |_: http::Request<hyper::body::Incoming>| async {
                Err::<http::Response<Full<Bytes>>, _>(NoSuchService)
            },
        ));
    let addr = serve_in_process(svc).await;
    let status = check_of(addr, check("")).await.unwrap_err();
    // 404 is gRPC's NOT_FOUND; a 4xx's detail is the message.
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert_eq!(status.message(), "no service named \"billing\"");
    assert_eq!(kind_of(&status), "service-not-found");
}
