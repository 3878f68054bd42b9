//! TLS upstreams for the tests: certificates made at test time (rcgen),
//! real TLS servers on 127.0.0.1 (tokio-rustls), and servers that fail a
//! handshake on purpose.
#![allow(dead_code)] // each user takes what it needs

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, Version};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::version::TLS13;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// How long the plain HTTP server keeps a TLS client's connection open.
const HOLD: Duration = Duration::from_secs(5);

pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate authority named `name`.
pub fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// What a server presents: its certificate and key.
pub struct Identity {
    pub cert: CertificateDer<'static>,
    pub key: PrivateKeyDer<'static>,
}

/// A certificate for `name`, valid from `not_before` to `not_after`
/// (years), issued by `issuer`.
pub fn leaf(issuer: &CertifiedIssuer<'static, KeyPair>, name: &str, years: (i32, i32)) -> Identity {
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

pub const VALID: (i32, i32) = (2020, 2090);

/// A TLS server of `versions` presenting `identity`, answering `ok` over
/// HTTP/1.1.
pub async fn tls_upstream(
    identity: Identity,
    versions: &[&'static SupportedProtocolVersion],
) -> SocketAddr {
    let config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![identity.cert], identity.key)
        .unwrap();
    serve_tls(config, |_| "ok over tls".into()).await.0
}

/// A TLS 1.3 server presenting `identity` that offers `h2` before
/// `http/1.1` in ALPN and answers each request with its HTTP version; and
/// how many connections it has accepted.
pub async fn tls_upstream_offering_h2(identity: Identity) -> (SocketAddr, Arc<AtomicUsize>) {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![identity.cert], identity.key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    serve_tls(config, |version| format!("ok over {version:?}")).await
}

/// A TLS 1.3 server presenting `identity` that asks for a client
/// certificate issued by `client_ca`: a client without one gets its
/// `certificate_required` alert (116).
pub async fn tls_upstream_requiring_a_client_certificate(
    identity: Identity,
    client_ca: &CertifiedIssuer<'static, KeyPair>,
) -> SocketAddr {
    let mut roots = RootCertStore::empty();
    roots.add(client_ca.der().clone()).unwrap();
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .unwrap();
    let config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&TLS13])
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![identity.cert], identity.key)
        .unwrap();
    serve_tls(config, |_| "ok over tls".into()).await.0
}

/// Serves `config`'s TLS on a fresh port, over HTTP/1.1 or HTTP/2 as the
/// client speaks, answering each request with `answer` of its version;
/// and how many connections it has accepted.
async fn serve_tls(
    config: ServerConfig,
    answer: fn(Version) -> String,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            count.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let service =
                    hyper::service::service_fn(move |req: Request<Incoming>| async move {
                        let body = Bytes::from(answer(req.version()));
                        Ok::<_, std::convert::Infallible>(Response::new(Full::new(body)))
                    });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (addr, accepted)
}

/// A server that reads the client's hello and answers it with a fatal
/// alert numbered `id` (a plaintext alert record: `15 03 03 00 02 02 id`),
/// then closes: any alert, those rustls has no name for too.
pub async fn sends_alert(id: u8) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut hello = [0u8; 512];
            let _ = stream.read(&mut hello).await;
            let _ = stream
                .write_all(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, id])
                .await;
        }
    });
    addr
}

/// A server that reads the client's hello and closes: a handshake cut in
/// the middle.
pub async fn closes_mid_handshake() -> SocketAddr {
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
pub async fn plain_http() -> SocketAddr {
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
                tokio::time::sleep(HOLD).await;
            });
        }
    });
    addr
}
