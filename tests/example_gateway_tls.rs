//! The example gateway, run with no flag, in front of `https://` upstreams
//! that fail their handshake each in its own way: every failure is named by
//! its RFC 9209 type in the body's `kind` and in `Proxy-Status`, and the
//! happy path still works. The CA the gateway trusts, `UPSTREAM_CA`, is
//! made at test time.

mod example_support;
mod tls_upstream;

use std::net::SocketAddr;

use rustls::version::TLS13;

use tls_upstream::{
    ca, closes_mid_handshake, leaf, plain_http, tls_upstream, tls_upstream_offering_h2,
    tls_upstream_requiring_a_client_certificate, VALID,
};

/// The answer the example gateway gives for `GET /` with `upstream` at
/// `https://localhost:PORT`, trusting the PEM file `ca`: its head, and its
/// body.
async fn through_the_example(upstream: SocketAddr, ca: &std::path::Path) -> (String, String) {
    let example = example_before(upstream, ca, &[]).await;
    let get = b"GET / HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n";
    let answer = example_support::answer_to(example.addr, get).await;
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    (head.to_ascii_lowercase(), body.to_owned())
}

/// The example gateway before `https://localhost:PORT` of `upstream`,
/// trusting the PEM file `ca`, with `env`.
async fn example_before(
    upstream: SocketAddr,
    ca: &std::path::Path,
    env: &[(&str, &str)],
) -> example_support::Example {
    let target = format!("https://localhost:{}", upstream.port());
    let mut all = vec![
        ("GATEWAY_ADDR", "127.0.0.1:0"),
        ("UPSTREAM", &target),
        ("UPSTREAM_CA", ca.to_str().unwrap()),
    ];
    all.extend_from_slice(env);
    example_support::start("gateway", &all).await
}

#[tokio::test]
async fn every_tls_failure_is_named_with_no_flag() {
    let trusted = ca("Test CA");
    let stranger = ca("Another CA");
    // The same name as the trusted CA, another key: a bad signature.
    let impostor = ca("Test CA");
    let pem = std::env::temp_dir().join(format!("tower-problem-ca-{}.pem", std::process::id()));
    std::fs::write(&pem, trusted.pem()).unwrap();

    let cases = [
        (
            "expired",
            tls_upstream(leaf(&trusted, "localhost", (2000, 2001)), &[&TLS13]).await,
            "tls_certificate_error",
        ),
        (
            "not yet valid",
            tls_upstream(leaf(&trusted, "localhost", (4000, 4001)), &[&TLS13]).await,
            "tls_certificate_error",
        ),
        (
            "unknown CA",
            tls_upstream(leaf(&stranger, "localhost", VALID), &[&TLS13]).await,
            "tls_certificate_error",
        ),
        (
            "wrong name",
            tls_upstream(leaf(&trusted, "other.example", VALID), &[&TLS13]).await,
            "tls_certificate_error",
        ),
        (
            "bad signature",
            tls_upstream(leaf(&impostor, "localhost", VALID), &[&TLS13]).await,
            "tls_certificate_error",
        ),
        (
            "plain HTTP on the TLS port",
            plain_http().await,
            "tls_protocol_error",
        ),
        (
            "a cut handshake",
            closes_mid_handshake().await,
            "tls_protocol_error",
        ),
        (
            "a client certificate required",
            tls_upstream_requiring_a_client_certificate(
                leaf(&trusted, "localhost", VALID),
                &trusted,
            )
            .await,
            "tls_alert_received",
        ),
    ];
    let answers = futures_util::future::join_all(
        cases
            .iter()
            .map(|(_, upstream, _)| through_the_example(*upstream, &pem)),
    )
    .await;
    for ((case, _, kind), (head, body)) in cases.iter().zip(&answers) {
        assert!(head.starts_with("http/1.1 502 "), "{case}: {head}");
        let problem: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(problem["kind"], *kind, "{case}: {body}");
        assert!(
            head.contains(&format!("proxy-status: tower-problem; error={kind}")),
            "{case}: {head}"
        );
    }
    // The alert's number and its name in the TLS Alerts registry:
    // `certificate_required` is 116.
    assert!(
        answers[7]
            .0
            .contains(r#"alert-id=116; alert-message="certificate_required""#),
        "{}",
        answers[7].0
    );

    let healthy = tls_upstream(leaf(&trusted, "localhost", VALID), &[&TLS13]).await;
    let (head, body) = through_the_example(healthy, &pem).await;
    assert!(head.starts_with("http/1.1 200 "), "{head}");
    assert_eq!(body, "ok over tls");
    let _ = std::fs::remove_file(&pem);
}

/// An upstream that offers `h2` in ALPN is spoken to over HTTP/2, and one
/// connection a worker carries every request.
#[tokio::test]
async fn an_upstream_offering_h2_in_alpn_gets_every_request_over_one_connection() {
    let trusted = ca("Test CA");
    let pem = std::env::temp_dir().join(format!("tower-problem-h2-ca-{}.pem", std::process::id()));
    std::fs::write(&pem, trusted.pem()).unwrap();
    let (upstream, accepted) = tls_upstream_offering_h2(leaf(&trusted, "localhost", VALID)).await;
    let example = example_before(upstream, &pem, &[("WORKERS", "1")]).await;
    for _ in 0..5 {
        let get = b"GET / HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n";
        let answer = example_support::answer_to(example.addr, get).await;
        assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
        assert!(answer.ends_with("ok over HTTP/2.0"), "{answer}");
    }
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
    let _ = std::fs::remove_file(&pem);
}
