//! The failure counter (feature `metrics`), read through metrics-util's
//! `DebuggingRecorder` after real requests over TCP: one count per
//! failure, labelled `layer`, `kind` and `status`, none for a success, and
//! the gateway's upstream only when asked for.
#![cfg(feature = "metrics")]

mod gateway_support;
mod upstream;

use std::collections::BTreeMap;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use gateway_support::*;
use http::StatusCode;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use tower_problem::app::AppErrorLayer;
use tower_problem::gateway::GatewayErrorLayer;
use upstream::{Behavior, Upstream};

const BOUND: Duration = Duration::from_secs(5);

/// Each counter the recorder saw, by name and sorted labels.
type Counts = BTreeMap<(String, Vec<(String, String)>), u64>;

/// Runs `requests` on a current-thread runtime (a local recorder sees only
/// its own thread) and returns what was counted.
fn counted(requests: impl std::future::Future<Output = ()>) -> Counts {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(requests)
    });
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter_map(|(key, _, _, value)| {
            let DebugValue::Counter(count) = value else {
                return None;
            };
            let key = key.key();
            let mut labels: Vec<_> = key
                .labels()
                .map(|label| (label.key().to_owned(), label.value().to_owned()))
                .collect();
            labels.sort();
            Some(((key.name().to_owned(), labels), count))
        })
        .collect()
}

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut labels: Vec<_> = pairs
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    labels.sort();
    labels
}

fn failures(pairs: &[(&str, &str)]) -> (String, Vec<(String, String)>) {
    ("tower_problem.failures".to_owned(), labels(pairs))
}

async fn get_status(url: String) -> Result<StatusCode, String> {
    let client = downstream();
    let res = within(BOUND, client.get(url.parse().unwrap())).await;
    let res = res.map_err(|e| e.to_string())?;
    let status = res.status();
    // The body to its end, or its error.
    use http_body_util::BodyExt;
    let body = res.into_body().collect().await;
    body.map(|_| status).map_err(|e| e.to_string())
}

async fn panics() -> &'static str {
    panic!("on purpose")
}

#[test]
fn the_app_layer_counts_each_failure_and_no_success() {
    let counts = counted(async {
        let app = Router::new()
            .route("/ok", get(|| async { "ok" }))
            .route("/panic", get(panics))
            .route(
                "/body-panic",
                get(|| async {
                    let stream = futures_util::stream::once(async {
                        panic!("on purpose, in the body");
                        #[allow(unreachable_code)]
                        Ok::<_, std::io::Error>(bytes::Bytes::new())
                    });
                    axum::body::Body::from_stream(stream)
                }),
            )
            .layer(AppErrorLayer::new());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        for _ in 0..3 {
            assert_eq!(
                get_status(format!("http://{addr}/ok")).await,
                Ok(StatusCode::OK)
            );
        }
        for _ in 0..2 {
            let status = get_status(format!("http://{addr}/panic")).await;
            assert_eq!(status, Ok(StatusCode::INTERNAL_SERVER_ERROR));
        }
        assert!(get_status(format!("http://{addr}/body-panic"))
            .await
            .is_err());
    });
    assert_eq!(
        counts.get(&failures(&[
            ("layer", "app"),
            ("kind", "panic"),
            ("status", "500")
        ])),
        Some(&2),
        "{counts:?}"
    );
    // A failure after the head: no status of its own.
    assert_eq!(
        counts.get(&failures(&[
            ("layer", "app"),
            ("kind", "panic"),
            ("status", "")
        ])),
        Some(&1),
        "{counts:?}"
    );
    assert_eq!(
        counts.len(),
        2,
        "nothing else counted, the successes least: {counts:?}"
    );
}

#[test]
fn the_gateway_counts_each_failure_and_labels_the_upstream_only_when_asked() {
    let counts = counted(async {
        let refused = Upstream::start(Behavior::NotListening).await;
        let healthy = Upstream::start(Behavior::Ok).await;
        let plain = Gateway::start(GatewayErrorLayer::new()).await;
        let labelled = Gateway::start(GatewayErrorLayer::new().metrics_upstream(true)).await;
        let client = downstream();
        for gateway in [&plain, &labelled] {
            let got = send(&client, request(gateway, refused.addr()), BOUND).await;
            assert_eq!(got.status, StatusCode::BAD_GATEWAY);
            let got = send(&client, request(gateway, healthy.addr()), BOUND).await;
            assert_eq!(got.status, StatusCode::OK);
        }
    });
    let refused = [
        ("layer", "gateway"),
        ("kind", "connection_refused"),
        ("status", "502"),
    ];
    assert_eq!(counts.get(&failures(&refused)), Some(&1), "{counts:?}");
    let upstream = counts
        .keys()
        .find_map(|(_, labels)| labels.iter().find(|(key, _)| key == "upstream"))
        .map(|(_, value)| value.clone())
        .expect("the labelled gateway's count has its upstream");
    assert!(upstream.starts_with("127.0.0.1:"), "{upstream}");
    assert_eq!(counts.len(), 2, "{counts:?}");
}

#[test]
fn retries_and_a_spent_budget_are_counted_and_a_failure_once() {
    use bytes::Bytes;
    use http_body_util::Full;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    use tower::{ServiceBuilder, ServiceExt};
    use tower_problem::gateway::{RequestBody, RetryBudget, RetryNeverSent};

    // One retry in all: a floor of one a second, nothing from deposits.
    let budget = Box::leak(Box::new(RetryBudget::new(Duration::from_secs(1), 1, 0.0)));
    let counts = counted(async {
        let refused = Upstream::start(Behavior::NotListening).await;
        let client = Client::builder(TokioExecutor::new()).build_http::<RequestBody<Full<Bytes>>>();
        let gateway = ServiceBuilder::new()
            .layer(GatewayErrorLayer::new())
            .retry(RetryNeverSent::new(2, Duration::from_millis(1)).budget(budget))
            .map_err(BoxError::from)
            .service(client);
        for _ in 0..2 {
            let req = http::Request::get(format!("http://{}/", refused.addr()))
                .body(Full::new(Bytes::new()))
                .unwrap();
            let res = gateway
                .clone()
                .oneshot(req)
                .await
                .unwrap_or_else(|e| match e {});
            assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
        }
    });
    let refused = [
        ("layer", "gateway"),
        ("kind", "connection_refused"),
        ("status", "502"),
    ];
    assert_eq!(
        counts.get(&failures(&refused)),
        Some(&2),
        "one per request: {counts:?}"
    );
    let retries = ("tower_problem.retries".to_owned(), Vec::new());
    assert_eq!(counts.get(&retries), Some(&1), "{counts:?}");
    let spent = (
        "tower_problem.retry_budget_exhausted".to_owned(),
        Vec::new(),
    );
    // The first request's second retry, and the second request's first.
    assert_eq!(counts.get(&spent), Some(&2), "{counts:?}");
}
