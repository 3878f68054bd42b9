//! How every example process starts and stops: it listens and says where,
//! and shuts down gracefully. The first SIGTERM (unix) or Ctrl-C stops the
//! server accepting and asks each connection to close once its requests are
//! answered; the process then waits for them up to
//! `SHUTDOWN_TIMEOUT_MS` (default 30000; 0 = not at all) and exits 0. A
//! second signal exits at once, with status 1.

use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use tokio::net::TcpListener;

/// Binds `addr` and prints `listening on ADDR` (the port chosen, for port
/// 0), the line scripts and tests wait for; an error is printed and is the
/// exit status.
pub async fn listen(addr: SocketAddr) -> Result<TcpListener, ExitCode> {
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        eprintln!("cannot listen on {addr}: {e}");
        ExitCode::FAILURE
    })?;
    let bound = listener.local_addr().map_err(|e| {
        eprintln!("cannot read the bound address: {e}");
        ExitCode::FAILURE
    })?;
    println!("listening on {bound}");
    Ok(listener)
}

/// The signals that end the process, and how long it drains.
pub struct Shutdown {
    signals: Signals,
    timeout: Duration,
}

impl Shutdown {
    /// Listens for the signals from now on (so that one sent while the
    /// server starts is not lost to the default handler, which kills), and
    /// reads `SHUTDOWN_TIMEOUT_MS`.
    pub fn from_env() -> Result<Self, String> {
        let timeout = env_millis("SHUTDOWN_TIMEOUT_MS", "30000")?.unwrap_or_default();
        let signals = Signals::new().map_err(|e| format!("cannot listen for signals: {e}"))?;
        Ok(Self { signals, timeout })
    }

    /// Waits for the first signal.
    pub async fn requested(&mut self) {
        self.signals.next().await;
        tracing::info!(
            timeout_ms = self.timeout.as_millis() as u64,
            "shutting down: no new connections; waiting for the requests in flight"
        );
    }

    /// Waits for `draining` (the connections closing once their requests
    /// are answered) up to the timeout, or until a second signal.
    pub async fn drain(mut self, draining: impl Future<Output = ()>) -> ExitCode {
        tokio::select! {
            () = draining => {
                tracing::info!("shut down: every request in flight was answered");
                ExitCode::SUCCESS
            }
            () = tokio::time::sleep(self.timeout) => {
                tracing::warn!("shut down: SHUTDOWN_TIMEOUT_MS passed; closing the connections left");
                ExitCode::SUCCESS
            }
            () = self.signals.next() => {
                tracing::warn!("a second signal: exiting at once");
                ExitCode::FAILURE
            }
        }
    }
}

/// Milliseconds from the environment variable `name` (or `default`), 0 as
/// `None`; anything else is a one-line message naming the variable.
pub fn env_millis(name: &str, default: &str) -> Result<Option<Duration>, String> {
    let value = std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let ms: u64 = value
        .trim()
        .parse()
        .map_err(|_| format!("invalid {name}={value:?}: expected milliseconds"))?;
    Ok((ms > 0).then(|| Duration::from_millis(ms)))
}

#[cfg(unix)]
struct Signals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    async fn next(&mut self) {
        tokio::select! {
            _ = self.terminate.recv() => {}
            _ = self.interrupt.recv() => {}
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn new() -> std::io::Result<Self> {
        Ok(Self)
    }

    async fn next(&mut self) {
        // An error here means no Ctrl-C can arrive: wait for nothing.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
