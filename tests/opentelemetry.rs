//! The kind reaches the exported server span as `error.type`, for both
//! layers: tower-http's `TraceLayer` outside the layer, tracing-opentelemetry
//! exporting to the SDK's in-memory exporter, requests over real TCP.
#![cfg(feature = "opentelemetry")]

mod gateway_support;
mod upstream;

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use gateway_support::*;
use http::StatusCode;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tower::ServiceBuilder;
use tower_http::trace::TraceLayer;
use tower_problem::app::AppErrorLayer;
use tower_problem::gateway::GatewayErrorLayer;
use tracing_subscriber::layer::SubscriberExt;
use upstream::{Behavior, Upstream};

const BOUND: Duration = Duration::from_secs(5);

/// Exports every span of this thread to memory while the guard lives.
fn exporting() -> (
    SdkTracerProvider,
    InMemorySpanExporter,
    tracing::subscriber::DefaultGuard,
) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = provider.tracer("tower-problem-tests");
    let subscriber =
        tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer));
    let guard = tracing::subscriber::set_default(subscriber);
    (provider, exporter, guard)
}

/// The `error.type` of each exported span, in the order they ended.
fn error_types(
    provider: &SdkTracerProvider,
    exporter: &InMemorySpanExporter,
) -> Vec<Option<String>> {
    provider.force_flush().unwrap();
    exporter
        .get_finished_spans()
        .unwrap()
        .into_iter()
        .map(|span| {
            span.attributes
                .iter()
                .find(|attribute| attribute.key.as_str() == "error.type")
                .map(|attribute| attribute.value.to_string())
        })
        .collect()
}

async fn panics() -> &'static str {
    panic!("on purpose")
}

async fn status_of(url: String) -> StatusCode {
    let res = within(BOUND, downstream().get(url.parse().unwrap()))
        .await
        .unwrap();
    let status = res.status();
    use http_body_util::BodyExt;
    let _ = res.into_body().collect().await;
    status
}

#[tokio::test(flavor = "current_thread")]
async fn the_app_layer_puts_the_kind_on_the_server_span() {
    let (provider, exporter, _guard) = exporting();
    let app = Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route("/panic", get(panics))
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .layer(AppErrorLayer::new().intercept_error_responses(true))
        .layer(TraceLayer::new_for_http());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    assert_eq!(status_of(format!("http://{addr}/ok")).await, StatusCode::OK);
    assert_eq!(
        status_of(format!("http://{addr}/panic")).await,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        status_of(format!("http://{addr}/missing")).await,
        StatusCode::NOT_FOUND
    );
    // The spans end when the responses are done: give the server a moment.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let types = error_types(&provider, &exporter);
    // A success and a 4xx (no error of a server's span) have none.
    assert_eq!(types, [None, Some("panic".to_owned()), None], "{types:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn the_gateway_layer_puts_the_kind_on_the_server_span() {
    let (provider, exporter, _guard) = exporting();
    let refused = Upstream::start(Behavior::NotListening).await;
    let svc = ServiceBuilder::new()
        .layer(TraceLayer::new_for_http())
        .map_request(route)
        .layer(GatewayErrorLayer::new())
        .map_response(strip_hop_by_hop)
        .service(upstream_client(None));
    let gateway = Gateway::serve(svc).await;
    let got = send(&downstream(), request(&gateway, refused.addr()), BOUND).await;
    assert_eq!(got.status, StatusCode::BAD_GATEWAY);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let types = error_types(&provider, &exporter);
    assert!(
        types.contains(&Some("connection_refused".to_owned())),
        "{types:?}"
    );
}
