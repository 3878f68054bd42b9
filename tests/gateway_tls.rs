//! TLS upstreams through the gateway (features `rustls` and `hyper-util`):
//! real TLS servers on 127.0.0.1 with certificates made at test time
//! (rcgen), hyper-rustls in the gateway's client, and each way a handshake
//! fails named by its RFC 9209 type.
#![cfg(all(feature = "rustls", feature = "hyper-util"))]

mod gateway_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gateway_support::*;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::version::{TLS12, TLS13};
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_problem::gateway::{Failure, GatewayErrorLayer, RequestBody};

const BOUND: Duration = Duration::from_secs(5);

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate authority named `name`.
fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// What a server presents: its certificate and key.
struct Identity {
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

/// A certificate for `name`, valid from `not_before` to `not_after`
/// (years), issued by `issuer`.
fn leaf(issuer: &CertifiedIssuer<'static, KeyPair>, name: &str, years: (i32, i32)) -> Identity {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
    params.not_before = date_time_ymd(years.0, 1, 1);
    params.not_after = date_time_ymd(years.1, 1, 1);
    let cert = params.signed_by(&key, issuer).unwrap();
    Identity {
        cert: cert.der().clone(),
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    }
}

const VALID: (i32, i32) = (2020, 2090);

/// A TLS server of `versions` presenting `identity`, answering `ok` over
/// HTTP/1.1.
async fn tls_upstream(
    identity: Identity,
    versions: &[&'static SupportedProtocolVersion],
) -> SocketAddr {
    let config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![identity.cert], identity.key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let service = hyper::service::service_fn(|_req: Request<Incoming>| async {
                    Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from(
                        "ok over tls",
                    ))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    addr
}

/// A server that reads the client's hello and closes: a handshake cut in
/// the middle.
async fn closes_mid_handshake() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut hello = [0u8; 64];
            let _ = stream.read(&mut hello).await;
        }
    });
    addr
}

/// What a TLS client meets at a plain HTTP port: the server reads the
/// hello, answers 400 in plain text, and keeps the connection open.
async fn plain_http() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut hello = [0u8; 512];
                let _ = stream.read(&mut hello).await;
                let _ = stream
                    .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                    .await;
                tokio::time::sleep(BOUND).await;
            });
        }
    });
    addr
}

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
    assert_eq!(members[0].string("alert-message"), Some("ProtocolVersion"));
    let failure = marker(tls_client(&ca, &[&TLS13]), upstream).await;
    assert!(failure.is_request_never_sent());
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
