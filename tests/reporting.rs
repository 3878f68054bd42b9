//! Error reporters: every failure the layers answer reaches `on_failure`
//! with its request's context, over real TCP, and a reporter that panics
//! changes nothing for the client.

mod gateway_support;
mod upstream;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use gateway_support::*;
use http::StatusCode;
use tower_problem::app::AppErrorLayer;
use tower_problem::gateway::GatewayErrorLayer;
use upstream::{Behavior, Upstream};

const BOUND: Duration = Duration::from_secs(5);

/// What a reporter was told: kind, status, method, path, request id.
type Seen = Arc<Mutex<Vec<(String, u16, String, Option<String>, Option<String>)>>>;

async fn panics() -> &'static str {
    panic!("on purpose")
}

async fn serve(app: Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn get_with_id(url: String) -> StatusCode {
    let req = http::Request::get(url)
        .header("x-request-id", "req-7")
        .body(http_body_util::Full::default())
        .unwrap();
    within(BOUND, downstream().request(req))
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn the_app_layer_reports_each_failure_with_its_request() {
    let seen = Seen::default();
    let record = Arc::clone(&seen);
    let app = Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route("/orders/{id}", get(panics))
        .layer(AppErrorLayer::new().on_failure(move |failure, request| {
            record.lock().unwrap().push((
                failure.kind().to_string(),
                failure.status().as_u16(),
                request.method().to_string(),
                request.path().map(str::to_owned),
                request
                    .request_id()
                    .and_then(|id| id.to_str().ok())
                    .map(str::to_owned),
            ));
        }));
    let addr = serve(app).await;
    assert_eq!(
        get_with_id(format!("http://{addr}/ok")).await,
        StatusCode::OK
    );
    assert_eq!(
        get_with_id(format!("http://{addr}/orders/42")).await,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [(
            "panic".to_owned(),
            500,
            "GET".to_owned(),
            Some("/orders/42".to_owned()),
            Some("req-7".to_owned())
        )]
    );
}

#[tokio::test]
async fn a_reporter_that_panics_changes_nothing_for_the_client() {
    let app = Router::new()
        .route("/panic", get(panics))
        .layer(AppErrorLayer::new().on_failure(|_, _| panic!("the reporter is broken")));
    let addr = serve(app).await;
    let res = within(
        BOUND,
        downstream().get(format!("http://{addr}/panic").parse().unwrap()),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    // The server goes on serving.
    let again = within(
        BOUND,
        downstream().get(format!("http://{addr}/panic").parse().unwrap()),
    )
    .await
    .unwrap();
    assert_eq!(again.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn the_gateway_reports_each_failure_with_its_request() {
    let seen = Seen::default();
    let record = Arc::clone(&seen);
    let layer = GatewayErrorLayer::new().on_failure(move |failure, request| {
        record.lock().unwrap().push((
            failure.kind().to_string(),
            failure.status().as_u16(),
            request.method().to_string(),
            request.path().map(str::to_owned),
            None,
        ));
    });
    let gateway = Gateway::start(layer).await;
    let refused = Upstream::start(Behavior::NotListening).await;
    let healthy = Upstream::start(Behavior::Ok).await;
    let client = downstream();
    assert_eq!(
        send(&client, request(&gateway, healthy.addr()), BOUND)
            .await
            .status,
        StatusCode::OK
    );
    let got = send(&client, request(&gateway, refused.addr()), BOUND).await;
    assert_eq!(got.status, StatusCode::BAD_GATEWAY);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!((seen[0].0.as_str(), seen[0].1), ("connection_refused", 502));
    assert!(seen[0].3.is_some(), "{seen:?}");
}
