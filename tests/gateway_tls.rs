//! TLS upstreams through the gateway (features `rustls` and `hyper-util`):
//! real TLS servers on 127.0.0.1 with certificates made at test time
//! (rcgen), hyper-rustls in the gateway's client, and each way a handshake
//! fails named by its RFC 9209 type.
#![cfg(all(feature = "rustls", feature = "hyper-util"))]

mod gateway_support;
mod tls_upstream;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use gateway_support::*;
use http::{Request, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rcgen::{CertifiedIssuer, KeyPair};
use rustls::version::{TLS12, TLS13};
use rustls::{ClientConfig, RootCertStore, SupportedProtocolVersion};
use tls_upstream::{
    ca, closes_mid_handshake, leaf, plain_http, provider, sends_alert, tls_upstream, VALID,
};
use tower::ServiceBuilder;
use tower_problem::gateway::{Failure, GatewayErrorLayer, RequestBody};

const BOUND: Duration = Duration::from_secs(5);

type TlsClient = Client<HttpsConnector<HttpConnector>, RequestBody<Incoming>>;

/// hyper-util's client over hyper-rustls, trusting `ca` only, speaking
/// `versions`.
fn tls_client(
    ca: &CertifiedIssuer<'static, KeyPair>,
    versions: &[&'static SupportedProtocolVersion],
) -> TlsClient {
    let mut roots = RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    let config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_only()
        .enable_http1()
        .build();
    Client::builder(TokioExecutor::new()).build(connector)
}

/// Points the request at `https://localhost:PORT`, the port from its
/// `x-upstream` header.
fn route_tls<B>(mut req: Request<B>) -> Request<B> {
    let port = req
        .headers()
        .get(X_UPSTREAM)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(':').next())
        .unwrap_or("9")
        .to_owned();
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    *req.uri_mut() = format!("https://localhost:{port}{path}").parse().unwrap();
    *req.version_mut() = http::Version::HTTP_11;
    req
}

async fn tls_gateway(client: TlsClient) -> Gateway {
    let svc = ServiceBuilder::new()
        .map_request(route_tls)
        .layer(GatewayErrorLayer::new())
        .map_response(strip_hop_by_hop)
        .service(client);
    Gateway::serve(svc).await
}

/// The marker of the failure of a request to `upstream` through `client`.
async fn marker(client: TlsClient, upstream: SocketAddr) -> Failure {
    let svc = ServiceBuilder::new()
        .map_request(route_tls)
        .layer(GatewayErrorLayer::new())
        .service(client);
    marker_of(svc, upstream).await
}

fn upstream_request(gateway: &Gateway, upstream: SocketAddr) -> Request<Full<Bytes>> {
    request(gateway, upstream)
}

async fn assert_kind(client: TlsClient, upstream: SocketAddr, kind: &str) -> Got {
    let gateway = tls_gateway(client).await;
    let got = send(&downstream(), upstream_request(&gateway, upstream), BOUND).await;
    assert_eq!(got.status, StatusCode::BAD_GATEWAY, "{got:?}");
    assert_eq!(got.problem()["kind"], kind, "{got:?}");
    let members = got.proxy_status();
    assert_eq!(members[0].token("error"), Some(kind));
    assert_nothing_leaked(&got, upstream);
    got
}

#[tokio::test]
async fn the_happy_path_over_tls() {
    let ca = ca("Test CA");
    let upstream = tls_upstream(leaf(&ca, "localhost", VALID), &[&TLS13]).await;
    let gateway = tls_gateway(tls_client(&ca, &[&TLS13])).await;
    let got = send(&downstream(), upstream_request(&gateway, upstream), BOUND).await;
    assert_eq!(got.status, StatusCode::OK, "{got:?}");
    assert_eq!(got.text(), "ok over tls");
    assert!(got.headers.get("proxy-status").is_none());
}

#[tokio::test]
async fn certificate_failures_are_tls_certificate_errors_never_sent() {
    let trusted = ca("Test CA");
    let stranger = ca("Another CA");
    // The same name as the trusted CA, another key: a bad signature.
    let impostor = ca("Test CA");
    for (identity, says) in [
        (leaf(&trusted, "localhost", (2000, 2001)), "Expired"),
        (leaf(&trusted, "localhost", (4000, 4001)), "NotValidYet"),
        (leaf(&stranger, "localhost", VALID), "UnknownIssuer"),
        (leaf(&trusted, "other.example", VALID), "NotValidForName"),
        (leaf(&impostor, "localhost", VALID), "BadSignature"),
    ] {
        let upstream = tls_upstream(identity, &[&TLS13]).await;
        assert_kind(
            tls_client(&trusted, &[&TLS13]),
            upstream,
            "tls_certificate_error",
        )
        .await;
        let failure = marker(tls_client(&trusted, &[&TLS13]), upstream).await;
        assert!(failure.is_request_never_sent(), "{failure:?}");
        // The error says which certificate problem it was.
        let chain = format!("{:?}", failure.error().unwrap());
        assert!(chain.contains(says), "{says}: {chain}");
    }
}

#[tokio::test]
async fn an_alert_from_the_upstream_carries_its_id_and_name() {
    let ca = ca("Test CA");
    // The upstream speaks TLS 1.2 only, the gateway 1.3 only: the upstream
    // refuses with a `protocol_version` alert (70).
    let upstream = tls_upstream(leaf(&ca, "localhost", VALID), &[&TLS12]).await;
    let got = assert_kind(tls_client(&ca, &[&TLS13]), upstream, "tls_alert_received").await;
    let members = got.proxy_status();
    assert_eq!(
        members[0].params.get("alert-id"),
        Some(&gateway_support::Value::Integer(70)),
        "{members:?}"
    );
    // RFC 9209 §2.3.15: the TLS Alerts registry's description.
    assert_eq!(members[0].string("alert-message"), Some("protocol_version"));
    let failure = marker(tls_client(&ca, &[&TLS13]), upstream).await;
    assert!(failure.is_request_never_sent());
}

/// RFC 9209 §2.3.15: `alert-message` is the description IANA's TLS Alerts
/// registry gives the alert's number (rustls's names are not: `UnknownCA`,
/// `EncryptedClientHelloRequired`, none for 52); an alert the registry
/// does not name has its `alert-id` only.
#[tokio::test]
async fn an_alert_is_named_as_the_tls_alerts_registry_names_it() {
    let ca = ca("Test CA");
    for (id, message) in [
        (48, Some("unknown_ca")),
        (52, Some("too_many_cids_requested")),
        (113, Some("bad_certificate_status_response")),
        (120, Some("no_application_protocol")),
        (121, Some("ech_required")),
        (255, None),
    ] {
        let upstream = sends_alert(id).await;
        let got = assert_kind(tls_client(&ca, &[&TLS13]), upstream, "tls_alert_received").await;
        let members = got.proxy_status();
        assert_eq!(
            members[0].params.get("alert-id"),
            Some(&gateway_support::Value::Integer(id.into())),
            "{members:?}"
        );
        assert_eq!(members[0].string("alert-message"), message, "{members:?}");
        assert_eq!(
            members[0].params.contains_key("alert-message"),
            message.is_some()
        );
    }
}

#[tokio::test]
async fn plain_http_and_a_cut_handshake_are_tls_protocol_errors() {
    let ca = ca("Test CA");
    let plain = plain_http().await;
    assert_kind(tls_client(&ca, &[&TLS13]), plain, "tls_protocol_error").await;
    let cut = closes_mid_handshake().await;
    assert_kind(tls_client(&ca, &[&TLS13]), cut, "tls_protocol_error").await;
    let failure = marker(tls_client(&ca, &[&TLS13]), cut).await;
    assert!(failure.is_request_never_sent());
}
