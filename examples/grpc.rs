//! A tonic server behind the app layer: gRPC's standard health service,
//! whose failures come back as gRPC statuses, never as problem+json.
//!
//! ```sh
//! cargo run --example grpc       # prints `listening on 127.0.0.1:50051`
//! ```
//!
//! - `Check` with service `""` answers `SERVING`; with `"panic"` its
//!   handler panics: the client gets `INTERNAL` (13), `problem-kind: panic`.
//! - `Watch` with `"panic"` sends one `SERVING`, then its stream panics:
//!   the stream ends with the trailers `grpc-status: 13`.
//! - Any call with the metadata `x-fail: error` fails below tonic, at the
//!   tower level (a layer of this example returns an `Err`): `INTERNAL`,
//!   `problem-kind: handler_error`.
//!
//! Environment: `GRPC_ADDR` (default `127.0.0.1:50051`; port 0 picks one),
//! `RUST_LOG` (default `info`). Each call has 30 s, each connection at most
//! 256 calls at once, and idle HTTP/2 connections are pinged. On SIGTERM or
//! Ctrl-C the server stops accepting, sends each connection a `GOAWAY`,
//! lets the calls in flight finish for up to `SHUTDOWN_TIMEOUT_MS` (default
//! 30000), and exits 0; a second signal exits at once
//! (`examples/lifecycle/mod.rs`).

mod lifecycle;
mod logging;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::ExitCode;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::stream::{self, BoxStream, StreamExt};
use tokio::net::TcpListener;
use tonic::{Request, Response, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tower_problem::app::AppErrorLayer;
use tower_problem::BoxError;

use crate::lifecycle::{listen, Shutdown};
use crate::logging::log_to_stderr;

/// The health service: `""` is serving; `"panic"` panics.
struct Checks;

fn serving() -> HealthCheckResponse {
    HealthCheckResponse {
        status: ServingStatus::Serving as i32,
    }
}

#[tonic::async_trait]
impl Health for Checks {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        match request.get_ref().service.as_str() {
            "" => Ok(Response::new(serving())),
            "panic" => panic!("the health check of \"panic\" panics, on purpose"),
            _ => Err(Status::not_found("unknown service")),
        }
    }

    type WatchStream = BoxStream<'static, Result<HealthCheckResponse, Status>>;

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let panics = request.get_ref().service == "panic";
        let first = stream::once(async { Ok(serving()) });
        let then = stream::once(async move {
            // A later event: the first message has gone out by then.
            tokio::time::sleep(Duration::from_millis(50)).await;
            if panics {
                panic!("the watch of \"panic\" panics after its first message, on purpose");
            }
            Ok(serving())
        });
        Ok(Response::new(first.chain(then).boxed()))
    }
}

/// Fails a call whose metadata has `x-fail: error` with an `Err` of the
/// service itself, as a broken middleware would: not a `Status`.
#[derive(Clone)]
struct FailOnAsk<S>(S);

#[derive(Debug)]
struct AskedToFail;

impl std::fmt::Display for AskedToFail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the call asked to fail (x-fail: error)")
    }
}

impl std::error::Error for AskedToFail {}

impl<S, B> tower::Service<http::Request<B>> for FailOnAsk<S>
where
    S: tower::Service<http::Request<B>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.0.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req
            .headers()
            .get("x-fail")
            .is_some_and(|value| value == "error")
        {
            return Box::pin(async { Err(Box::new(AskedToFail) as BoxError) });
        }
        let future = self.0.call(req);
        Box::pin(async move { future.await.map_err(Into::into) })
    }
}

#[derive(Clone)]
struct FailOnAskLayer;

impl<S> tower::Layer<S> for FailOnAskLayer {
    type Service = FailOnAsk<S>;

    fn layer(&self, inner: S) -> FailOnAsk<S> {
        FailOnAsk(inner)
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut shutdown = match Shutdown::from_env() {
        Ok(shutdown) => shutdown,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let _log = log_to_stderr("info");
    tower_problem::app::panic_hook::install();

    let addr = std::env::var("GRPC_ADDR").unwrap_or_else(|_| "127.0.0.1:50051".into());
    let addr: SocketAddr = match addr.parse() {
        Ok(addr) => addr,
        Err(_) => {
            eprintln!("invalid GRPC_ADDR={addr:?}: expected IP:PORT");
            return ExitCode::from(2);
        }
    };
    let listener = match listen(addr).await {
        Ok(listener) => listener,
        Err(status) => return status,
    };

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tonic::transport::Server::builder()
        .timeout(Duration::from_secs(30))
        .concurrency_limit_per_connection(256)
        .http2_keepalive_interval(Some(Duration::from_secs(60)))
        .http2_keepalive_timeout(Some(Duration::from_secs(20)))
        // The app layer outermost: it answers the failures of everything
        // inside it, tonic's routing included.
        .layer(AppErrorLayer::new())
        .layer(FailOnAskLayer)
        .add_service(HealthServer::new(Checks))
        .serve_with_incoming_shutdown(tokio_stream_of(listener), async {
            let _ = stopped.await;
        });
    let mut serving = std::pin::pin!(serving);
    tokio::select! {
        served = &mut serving => return exit_code(served),
        () = shutdown.requested() => {}
    }
    let _ = stop.send(());
    shutdown
        .drain(async {
            if let Err(e) = serving.await {
                tracing::error!(error = %e, "the server failed while shutting down");
            }
        })
        .await
}

fn exit_code(served: Result<(), tonic::transport::Error>) -> ExitCode {
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("the server failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The listener's connections as the stream tonic serves; an accept error
/// (out of file descriptors) waits a moment instead of spinning.
fn tokio_stream_of(
    listener: TcpListener,
) -> impl futures_util::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    stream::unfold(listener, |listener| async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => return Some((Ok(stream), listener)),
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed; waiting 100 ms");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    })
}
