//! Serving a tower service over HTTP/1 and HTTP/2 (h2c) with hyper-util, as
//! the app and the gateway examples do, with the limits `axum::serve` does
//! not set: a slow or silent client cannot hold a connection open, and the
//! server stops gracefully (see `lifecycle`).
//!
//! - `HEADER_READ_TIMEOUT_MS` (default 10000): how long a client may take to
//!   send its first bytes, and, over HTTP/1, each request's headers; hyper
//!   also closes an HTTP/1 keep-alive connection that stays idle that long;
//! - `IDLE_TIMEOUT_MS` (default 60000): an HTTP/2 connection is pinged when
//!   idle that long, and closed if the ping is not answered within it;
//! - every connection closes after [`CONNECTION_LIFETIME`] at most.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpStream;
use tower_problem::BoxError;

use crate::lifecycle::{env_millis, listen, Shutdown};

/// The longest a connection may stay open, however busy: a bound on what a
/// slow client holds.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(600);

/// The connection limits, from the environment.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `HEADER_READ_TIMEOUT_MS`.
    pub header_read_timeout: Duration,
    /// `IDLE_TIMEOUT_MS`.
    pub idle_timeout: Duration,
}

impl Limits {
    /// Reads `HEADER_READ_TIMEOUT_MS` and `IDLE_TIMEOUT_MS`; neither may be 0.
    pub fn from_env() -> Result<Self, String> {
        Ok(Self {
            header_read_timeout: env_millis("HEADER_READ_TIMEOUT_MS", "10000")?.ok_or(
                "invalid HEADER_READ_TIMEOUT_MS=0: a client must send its headers in time",
            )?,
            idle_timeout: env_millis("IDLE_TIMEOUT_MS", "60000")?
                .ok_or("invalid IDLE_TIMEOUT_MS=0: an idle connection must close in time")?,
        })
    }
}

/// Binds `addr`, prints `listening on ADDR`, and serves `service` on every
/// connection until `shutdown` is requested; then drains.
pub async fn serve<S, B>(
    addr: SocketAddr,
    service: S,
    limits: Limits,
    mut shutdown: Shutdown,
) -> ExitCode
where
    S: tower::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let listener = match listen(addr).await {
        Ok(listener) => listener,
        Err(status) => return status,
    };
    let graceful = GracefulShutdown::new();
    let mut accept_errors = AcceptBackoff::default();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.requested() => break,
        };
        match accepted {
            Ok((stream, _)) => {
                accept_errors.reset();
                let service = TowerToHyperService::new(service.clone());
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let Some(stream) = first_bytes(stream, limits.header_read_timeout).await else {
                        return;
                    };
                    let builder = builder(limits);
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    match tokio::time::timeout(CONNECTION_LIFETIME, watcher.watch(conn)).await {
                        Ok(Err(e)) => tracing::debug!(error = %e, "connection ended with an error"),
                        Ok(Ok(())) => {}
                        Err(_) => {
                            tracing::debug!("connection closed: it outlived CONNECTION_LIFETIME")
                        }
                    }
                });
            }
            Err(e) => {
                // Out of file descriptors, say: retrying at once would spin
                // a core and flood the log. Wait, longer each time, and log
                // once per wait.
                let wait = accept_errors.next();
                tracing::warn!(error = %e, wait_ms = wait.as_millis() as u64, "accept failed; waiting");
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = shutdown.requested() => break,
                }
            }
        }
    }
    drop(listener);
    shutdown.drain(graceful.shutdown()).await
}

/// The stream once its first byte has arrived, `None` if it did not within
/// `timeout`: hyper-util's version sniff waits for it with no timeout of
/// its own.
async fn first_bytes(stream: TcpStream, timeout: Duration) -> Option<TcpStream> {
    let mut first = [0u8; 1];
    match tokio::time::timeout(timeout, stream.peek(&mut first)).await {
        Ok(Ok(n)) if n > 0 => {
            // Responses go out as soon as they are written, as nginx's
            // `tcp_nodelay` does.
            let _ = stream.set_nodelay(true);
            Some(stream)
        }
        _ => None,
    }
}

fn builder(limits: Limits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // A client that goes away cancels its request: with `half_close(true)`
    // hyper would stop reading a half-closed socket and keep the request
    // running. A client that half-closes after a complete request is taken
    // as gone too.
    builder
        .http1()
        .half_close(false)
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(limits.idle_timeout))
        .keep_alive_timeout(limits.idle_timeout);
    builder
}

/// The wait after each consecutive accept error: 10 ms, doubled each time,
/// at most 1 s (as `axum::serve` waits 1 s).
#[derive(Default)]
struct AcceptBackoff {
    failures: u32,
}

impl AcceptBackoff {
    fn next(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        Duration::from_millis(10u64 << self.failures.min(7).saturating_sub(1))
            .min(Duration::from_secs(1))
    }

    fn reset(&mut self) {
        self.failures = 0;
    }
}
