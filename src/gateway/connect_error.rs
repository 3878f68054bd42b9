//! The mark of an upstream client's connect-phase failure, for clients
//! other than hyper-util's.

use std::error::Error;
use std::fmt;

use crate::BoxError;

/// An error an upstream client met while connecting: resolving the name,
/// the TCP connect or the TLS handshake, before any byte of the request
/// was written.
///
/// hyper-util's client says so itself (`is_connect()`, read with the
/// `hyper-util` feature). A client built on hyper's `client::conn` wraps
/// its connector's errors in this, and the gateway's rules read them the
/// same way: the request was never sent (so
/// [`RetryNeverSent`](super::RetryNeverSent) may send it again, whatever
/// its method), a timeout under it is `connection_timeout`, and a
/// connection cut under it is the handshake's failure
/// (`tls_protocol_error` with the `rustls` feature, else
/// `connection_terminated`).
///
/// ```
/// use tokio::net::TcpStream;
/// use tower_problem::gateway::ConnectError;
///
/// async fn connect(addr: &str) -> Result<TcpStream, ConnectError> {
///     TcpStream::connect(addr).await.map_err(ConnectError::new)
/// }
/// ```
#[derive(Debug)]
pub struct ConnectError {
    source: BoxError,
}

impl ConnectError {
    /// Marks `error` as met while connecting.
    pub fn new(error: impl Into<BoxError>) -> Self {
        Self {
            source: error.into(),
        }
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connecting to the upstream failed")
    }
}

impl Error for ConnectError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&*self.source)
    }
}
