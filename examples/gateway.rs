//! A real reverse proxy: hyper-util's client wrapped in `GatewayErrorLayer`,
//! served by hyper-util's HTTP/1 + h2c server.
//!
//! ```sh
//! cargo run --example app                                  # the upstream, on 127.0.0.1:3000
//! GATEWAY_ADDR=127.0.0.1:8080 cargo run --example gateway  # in another terminal
//! curl -i localhost:8080/          # the app's 200, through the gateway
//! curl -i localhost:8080/panic     # the app's own 500 passes through
//! # stop the app, then:
//! curl -i localhost:8080/          # 502, Proxy-Status: tower-problem; error=connection_refused
//! ```
//!
//! Environment (a bad value stops the program with a one-line message):
//!
//! - `GATEWAY_ADDR`: where to listen (default `127.0.0.1:8080`; port 0
//!   picks one); prints `listening on ADDR` once bound;
//! - `UPSTREAM`: `http://host:port` or `https://host:port` with an optional
//!   path prefix (default `http://127.0.0.1:3000`); the request's path and
//!   query are appended; `https://` goes through hyper-rustls, trusting the
//!   system's roots;
//! - `UPSTREAM_CA`: a PEM file of more CA certificates to trust for an
//!   `https://` upstream (a private CA, a test certificate);
//! - `HEAD_TIMEOUT_MS`, `BODY_IDLE_TIMEOUT_MS`, `CONNECT_TIMEOUT_MS`:
//!   milliseconds, 0 = off (defaults 30000, 60000, 0);
//! - `RUST_LOG`: the log filter (default `info`).
//!
//! Requests are forwarded with their method, path, query, headers (less the
//! hop-by-hop ones of RFC 9110 §7.6.1 and those named in `Connection`) and
//! streamed bodies, over HTTP/1.1. WebSocket and other upgrades are not
//! proxied.
//!
//! Build it with the crate's `rustls` and `hyper-util` features to have TLS
//! failures named (`tls_certificate_error`, `tls_alert_received`,
//! `tls_protocol_error`) and connect failures marked never sent:
//! `cargo run --features rustls,hyper-util --example gateway`. Without them
//! an `https://` upstream works the same, and its TLS failures are
//! `proxy_internal_error`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use http::header::{self, HeaderMap, HeaderName};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, Uri, Version};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_problem::gateway::{GatewayErrorLayer, RequestBody};

/// Where requests go: scheme, authority, and a path prefix without its
/// trailing slash.
#[derive(Clone, Debug)]
struct Upstream {
    scheme: Scheme,
    authority: Authority,
    prefix: String,
}

impl Upstream {
    fn parse(value: &str) -> Result<Self, String> {
        let uri: Uri = value.parse().map_err(|e| format!("{e}"))?;
        let scheme = uri
            .scheme()
            .cloned()
            .ok_or("no scheme (use http://host:port)")?;
        if scheme != Scheme::HTTP && scheme != Scheme::HTTPS {
            return Err(format!(
                "scheme {scheme} is not supported (use http or https)"
            ));
        }
        let authority = uri.authority().cloned().ok_or("no host")?;
        if uri.query().is_some() {
            return Err("a query is not allowed".into());
        }
        let prefix = uri.path().trim_end_matches('/').to_owned();
        Ok(Self {
            scheme,
            authority,
            prefix,
        })
    }

    /// The upstream URI for a request's path and query.
    fn uri(&self, path: Option<&PathAndQuery>) -> Uri {
        let path = path.map_or("/", PathAndQuery::as_str);
        let path_and_query = if self.prefix.is_empty() {
            PathAndQuery::try_from(path)
        } else {
            PathAndQuery::try_from(format!("{}{path}", self.prefix))
        };
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(path_and_query.unwrap_or_else(|_| PathAndQuery::from_static("/")))
            .build()
            .unwrap_or_else(|_| Uri::from_static("/"))
    }
}

/// The hop-by-hop headers of RFC 9110 §7.6.1, and the obsolete ones that
/// are used the same way.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authenticate",
    "proxy-authorization",
];

/// Removes the hop-by-hop headers, and those that `Connection` names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::try_from(name.trim()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

fn forward(upstream: &Upstream, mut req: Request<Incoming>) -> Request<Incoming> {
    *req.uri_mut() = upstream.uri(req.uri().path_and_query());
    *req.version_mut() = Version::HTTP_11;
    let headers = req.headers_mut();
    strip_hop_by_hop(headers);
    // The client sets the upstream's own `Host`.
    headers.remove(header::HOST);
    req
}

fn backward<B>(mut res: Response<B>) -> Response<B> {
    let headers = res.headers_mut();
    if headers.contains_key(header::TRANSFER_ENCODING) {
        // RFC 9112 §6.3: chunked wins, the length must not be forwarded.
        headers.remove(header::CONTENT_LENGTH);
    }
    strip_hop_by_hop(headers);
    res
}

struct Config {
    addr: SocketAddr,
    upstream: Upstream,
    head_timeout: Option<Duration>,
    body_idle_timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    upstream_ca: Option<std::path::PathBuf>,
}

fn var(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn millis(name: &str, default: &str) -> Result<Option<Duration>, String> {
    let value = var(name, default);
    let ms: u64 = value
        .trim()
        .parse()
        .map_err(|_| format!("invalid {name}={value:?}: expected milliseconds (0 = off)"))?;
    Ok((ms > 0).then(|| Duration::from_millis(ms)))
}

/// The TLS client configuration for `https://` upstreams: the system's
/// roots, and those of the PEM file `ca` if given.
fn tls_config(ca: Option<&std::path::Path>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        tracing::warn!(error = %error, "a system root certificate could not be read");
    }
    roots.add_parsable_certificates(native.certs);
    if let Some(ca) = ca {
        let certs = CertificateDer::pem_file_iter(ca)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("invalid UPSTREAM_CA={}: {e}", ca.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "invalid UPSTREAM_CA={}: no certificate in it",
                ca.display()
            ));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| format!("invalid UPSTREAM_CA={}: {e}", ca.display()))?;
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn config() -> Result<Config, String> {
    let addr = var("GATEWAY_ADDR", "127.0.0.1:8080");
    let addr = addr
        .parse()
        .map_err(|_| format!("invalid GATEWAY_ADDR={addr:?}: expected IP:PORT"))?;
    let upstream = var("UPSTREAM", "http://127.0.0.1:3000");
    let upstream =
        Upstream::parse(&upstream).map_err(|e| format!("invalid UPSTREAM={upstream:?}: {e}"))?;
    Ok(Config {
        addr,
        upstream,
        head_timeout: millis("HEAD_TIMEOUT_MS", "30000")?,
        body_idle_timeout: millis("BODY_IDLE_TIMEOUT_MS", "60000")?,
        connect_timeout: millis("CONNECT_TIMEOUT_MS", "0")?,
        upstream_ca: std::env::var_os("UPSTREAM_CA").map(std::path::PathBuf::from),
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let config = match config() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();

    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(config.connect_timeout);
    // hyper-rustls takes `https://` URIs, which the plain connector refuses.
    connector.enforce_http(false);
    let tls = match tls_config(config.upstream_ca.as_deref()) {
        Ok(tls) => tls,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(connector);
    let client: Client<HttpsConnector<HttpConnector>, RequestBody<Incoming>> =
        Client::builder(TokioExecutor::new()).build(connector);

    let upstream = config.upstream.clone();
    // The request is routed before the layer, so its logs (and an opt-in
    // `next-hop`) name the upstream.
    let gateway = ServiceBuilder::new()
        .map_request(move |req| forward(&upstream, req))
        .layer(
            GatewayErrorLayer::new()
                .head_timeout(config.head_timeout)
                .body_idle_timeout(config.body_idle_timeout),
        )
        .map_response(backward)
        .service(client);

    let listener = match TcpListener::bind(config.addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("cannot listen on GATEWAY_ADDR={}: {e}", config.addr);
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(addr) => println!("listening on {addr}"),
        Err(e) => {
            eprintln!("cannot read the bound address: {e}");
            return ExitCode::FAILURE;
        }
    }

    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        let service = TowerToHyperService::new(gateway.clone());
        tokio::spawn(async move {
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder.http1().half_close(true);
            if let Err(e) = builder
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
}
