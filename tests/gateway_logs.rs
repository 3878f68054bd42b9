//! What the gateway layer logs: one error event per upstream failure, with
//! the kind, the upstream's authority, method, path, request id and elapsed
//! time; the body abort with the bytes sent so far. One test, so one
//! subscriber sees only its own events.

mod gateway_support;
mod upstream;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gateway_support::*;
use tower_problem::gateway::GatewayErrorLayer;
use upstream::{Behavior, Upstream};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn take(&self) -> String {
        String::from_utf8(std::mem::take(&mut *self.0.lock().unwrap())).unwrap()
    }
}

#[tokio::test]
async fn failures_are_logged_once_with_context() {
    let logs = Buffer::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_env_filter("tower_problem=debug")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let layer = GatewayErrorLayer::new().body_idle_timeout(Some(Duration::from_millis(200)));
    let gateway = Gateway::start(layer).await;
    let client = downstream();

    let refused = Upstream::start(Behavior::NotListening).await;
    send(
        &client,
        request(&gateway, refused.addr()),
        Duration::from_secs(3),
    )
    .await;
    let text = logs.take();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    let line = lines[0];
    assert!(line.contains("ERROR"), "{line}");
    for needle in [
        "kind=\"connection_refused\"".to_owned(),
        format!("upstream=\"{}\"", refused.addr()),
        "method=GET".to_owned(),
        "path=\"/some/path\"".to_owned(),
        "request_id=\"req-42\"".to_owned(),
        "elapsed_ms=".to_owned(),
        "Connection refused".to_owned(),
    ] {
        assert!(line.contains(&needle), "{needle} missing: {line}");
    }

    let stalled = Upstream::start(Behavior::StalledBody).await;
    let got = send(
        &client,
        request(&gateway, stalled.addr()),
        Duration::from_secs(3),
    )
    .await;
    assert!(got.body.is_err());
    let text = logs.take();
    let line = text
        .lines()
        .find(|line| line.contains("ERROR"))
        .unwrap_or_else(|| panic!("no error event: {text}"));
    assert!(line.contains("kind=\"connection_read_timeout\""), "{line}");
    assert!(
        line.contains(&format!("upstream=\"{}\"", stalled.addr())),
        "{line}"
    );
    assert!(line.contains("bytes=9"), "{line}");

    // A head timeout has no error: the field is left out, never `"-"`.
    let timed =
        Gateway::start(GatewayErrorLayer::new().head_timeout(Some(Duration::from_millis(100))))
            .await;
    let silent = Upstream::start(Behavior::Silent).await;
    let got = send(
        &client,
        request(&timed, silent.addr()),
        Duration::from_secs(3),
    )
    .await;
    assert_eq!(got.status, http::StatusCode::BAD_GATEWAY);
    let text = logs.take();
    let line = text
        .lines()
        .find(|line| line.contains("http_response_timeout"))
        .unwrap_or_else(|| panic!("no timeout event: {text}"));
    assert!(!line.contains("error="), "{line}");
    assert!(!line.contains("\"-\""), "{line}");
}
