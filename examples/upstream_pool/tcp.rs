//! The TCP connections under the upstream client (and under TLS for an
//! `https://` upstream).
//!
//! hyper-util's `HttpConnector` opens a socket in blocking mode and then
//! makes it non-blocking, two `fcntl` calls more per connect than tokio's
//! socket, which is non-blocking from its creation. In an outage a request
//! is little more than a failed connect, and those two calls are a tenth of
//! its system calls.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower_problem::BoxError;

/// Connects to the one upstream: to its address at once, or to its name
/// resolved within `dns_timeout`, then each of its addresses in turn.
/// Requests go out as soon as they are written (`TCP_NODELAY`, as nginx's
/// `tcp_nodelay`).
#[derive(Clone, Copy)]
pub struct TcpConnector {
    destination: Destination,
    dns_timeout: Duration,
}

/// Where the upstream is, read once from its URI.
#[derive(Clone, Copy)]
enum Destination {
    Address(SocketAddr),
    /// A name, kept for the process's life, and a port.
    Name(&'static str, u16),
}

impl TcpConnector {
    /// The connector of `origin`'s host and port (80, or 443 for
    /// `https://`, by default).
    pub fn new(origin: &Uri, dns_timeout: Duration) -> Self {
        let host = origin.host().unwrap_or_default();
        let default_port = if origin.scheme() == Some(&http::uri::Scheme::HTTPS) {
            443
        } else {
            80
        };
        let port = origin.port_u16().unwrap_or(default_port);
        let destination = match host.trim_matches(['[', ']']).parse::<IpAddr>() {
            Ok(ip) => Destination::Address(SocketAddr::new(ip, port)),
            Err(_) => Destination::Name(String::leak(host.to_owned()), port),
        };
        Self {
            destination,
            dns_timeout,
        }
    }
}

/// The URI hyper-rustls passes on is the upstream's, which
/// [`TcpConnector::new`] has read already.
impl tower::Service<Uri> for TcpConnector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Uri) -> Self::Future {
        let Self {
            destination,
            dns_timeout,
        } = *self;
        Box::pin(async move {
            let stream = match destination {
                Destination::Address(addr) => TcpStream::connect(addr).await?,
                Destination::Name(host, port) => {
                    connect_any(resolve(host, port, dns_timeout).await?).await?
                }
            };
            stream.set_nodelay(true)?;
            Ok(TokioIo::new(stream))
        })
    }
}

/// `host`'s addresses, within `timeout`.
async fn resolve(
    host: &'static str,
    port: u16,
    timeout: Duration,
) -> Result<Vec<SocketAddr>, BoxError> {
    let unresolved = |cause| Unresolved { host, cause };
    match tokio::time::timeout(timeout, tokio::net::lookup_host((host, port))).await {
        Ok(Ok(addrs)) => Ok(addrs.collect()),
        Ok(Err(error)) => Err(Box::new(unresolved(Some(error)))),
        Err(_) => Err(Box::new(unresolved(None))),
    }
}

/// The first of `addrs` that accepts a connection; else the last one's
/// error.
async fn connect_any(addrs: Vec<SocketAddr>) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the name has no address");
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(error) => last = error,
        }
    }
    Err(last)
}

/// The upstream's name could not be resolved: the resolver's error, or
/// none when it took longer than `DNS_TIMEOUT_MS`.
#[derive(Debug)]
pub struct Unresolved {
    host: &'static str,
    cause: Option<io::Error>,
}

impl Unresolved {
    /// The resolver took longer than its deadline.
    pub fn is_timeout(&self) -> bool {
        self.cause.is_none()
    }
}

impl fmt::Display for Unresolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.cause {
            Some(_) => write!(f, "resolving {} failed", self.host),
            None => write!(f, "resolving {} took longer than DNS_TIMEOUT_MS", self.host),
        }
    }
}

impl Error for Unresolved {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.cause.as_ref().map(|cause| cause as _)
    }
}
