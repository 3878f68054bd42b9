//! Without an OpenTelemetry layer, the kind is recorded into an
//! `error.type` field of the request's span when the span declares one, as
//! the README's `TraceLayer` `MakeSpan` does: seen here in the span's close
//! event, over real TCP.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use tower_http::trace::TraceLayer;
use tower_problem::app::AppErrorLayer;
use tracing_subscriber::fmt::format::FmtSpan;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().write(bytes)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn panics() -> &'static str {
    panic!("on purpose")
}

#[tokio::test(flavor = "current_thread")]
async fn a_span_that_declares_error_type_gets_the_kind() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = Router::new()
        .route("/panic", get(panics))
        .layer(AppErrorLayer::new())
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &http::Request<_>| {
                tracing::info_span!(
                    "request",
                    method = %req.method(),
                    uri = %req.uri(),
                    error.type = tracing::field::Empty,
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(b"GET /panic HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 500"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let close = logs
        .lines()
        .find(|line| line.contains("close"))
        .unwrap_or_else(|| panic!("no close event in {logs}"));
    assert!(
        close.contains(r#"error.type="panic""#) || close.contains("error.type=panic"),
        "{close}"
    );
}
