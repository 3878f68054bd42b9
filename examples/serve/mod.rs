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
//!
//! The gateway serves on a thread per core, each with a current-thread
//! runtime (see [`serve`]); the app and the load target on one tokio
//! runtime.

use std::future::Future;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::process::ExitCode;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
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

/// What [`serve`] runs: a tower service of hyper's requests, cloned for
/// each connection.
pub trait HttpService:
    tower::Service<
        Request<Incoming>,
        Response = Response<Self::Body>,
        Error: Into<BoxError>,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static
{
    /// The responses' body.
    type Body: http_body::Body<Data: Send, Error: Into<BoxError>> + Send + 'static;
}

impl<S, B> HttpService for S
where
    S: tower::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data: Send, Error: Into<BoxError>> + Send + 'static,
{
    type Body = B;
}

/// Binds `addr`, prints `listening on ADDR`, and serves `service` until
/// `shutdown` is requested; then drains, within `shutdown`'s timeout.
///
/// `workers - 1` threads of their own serve it too, each on a
/// current-thread runtime, accepting from the same listening socket: a
/// request stays on the thread that accepted its connection, and what a
/// thread keeps for itself needs no lock (nginx runs a worker process per
/// core the same way).
pub async fn serve<S: HttpService>(
    addr: SocketAddr,
    workers: NonZeroUsize,
    service: S,
    limits: Limits,
    mut shutdown: Shutdown,
) -> ExitCode {
    let listener = match listen(addr).await.map(TcpListener::into_std) {
        Ok(Ok(listener)) => listener,
        Ok(Err(e)) => {
            eprintln!("cannot share the listening socket: {e}");
            return ExitCode::FAILURE;
        }
        Err(status) => return status,
    };
    let (stop, stopped) = watch::channel(false);
    // Closed once every other worker has drained.
    let (drained, mut all_drained) = mpsc::channel::<()>(1);
    for n in 1..workers.get() {
        let started = listener.try_clone().and_then(|listener| {
            let worker = Worker {
                listener,
                stopped: stopped.clone(),
                drained: drained.clone(),
            };
            worker.start(n, service.clone(), limits)
        });
        if let Err(e) = started {
            eprintln!("cannot start worker {n}: {e}");
            return ExitCode::FAILURE;
        }
    }
    drop(drained);
    let listener = match TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("cannot accept on the listening socket: {e}");
            return ExitCode::FAILURE;
        }
    };
    let graceful = accept(listener, service, limits, shutdown.requested()).await;
    let _ = stop.send(true);
    let draining = async move {
        graceful.shutdown().await;
        let _ = all_drained.recv().await;
    };
    shutdown.drain(draining).await
}

/// A worker beyond the first: its share of the listening socket, and what
/// tells it to stop and what it drops once drained.
struct Worker {
    listener: std::net::TcpListener,
    stopped: watch::Receiver<bool>,
    drained: mpsc::Sender<()>,
}

impl Worker {
    /// Starts thread `n`, with a current-thread runtime of its own.
    fn start<S: HttpService>(self, n: usize, service: S, limits: Limits) -> std::io::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let Self {
            listener,
            mut stopped,
            drained,
        } = self;
        std::thread::Builder::new()
            .name(format!("worker {n}"))
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(e) => {
                            tracing::error!(worker = n, error = %e, "a worker cannot accept");
                            return;
                        }
                    };
                    let stop = async move {
                        let _ = stopped.wait_for(|stop| *stop).await;
                    };
                    let graceful = accept(listener, service, limits, stop).await;
                    graceful.shutdown().await;
                    drop(drained);
                });
            })?;
        Ok(())
    }
}

/// Serves `service` on every connection `listener` accepts, until `stop`;
/// then closes the listener and hands back the connections still open, to
/// be drained.
async fn accept<S: HttpService>(
    listener: TcpListener,
    service: S,
    limits: Limits,
    stop: impl Future<Output = ()>,
) -> GracefulShutdown {
    let graceful = GracefulShutdown::new();
    let mut accept_errors = AcceptBackoff::default();
    let mut stop = std::pin::pin!(stop);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
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
                    () = &mut stop => break,
                }
            }
        }
    }
    graceful
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
