//! HTTP/2 upstreams through the gateway (features `h2` and `hyper-util`):
//! a hand-written HTTP/2 server on 127.0.0.1 (h2's own server sends the
//! highest stream id it received in its `GOAWAY`, so a `GOAWAY` below the
//! request's stream needs frames of our own) that refuses a stream, resets
//! one, sends a `GOAWAY` below it, or resets the body after the head.
#![cfg(all(feature = "h2", feature = "hyper-util"))]

mod gateway_support;

use std::net::SocketAddr;
use std::time::Duration;

use gateway_support::*;
use http::StatusCode;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceBuilder;
use tower_problem::gateway::GatewayErrorLayer;

const BOUND: Duration = Duration::from_secs(5);

const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const NO_ERROR: u32 = 0x0;
const INTERNAL_ERROR: u32 = 0x2;
const REFUSED_STREAM: u32 = 0x7;

/// What the server does with the first request's `HEADERS`.
#[derive(Clone, Copy, Debug)]
enum Answer {
    /// `RST_STREAM` with this error code.
    Reset(u32),
    /// `GOAWAY` with this last stream id (below the request's) and code.
    GoAway { last: u32, code: u32 },
    /// A 200 head and some of the body, then `RST_STREAM(INTERNAL_ERROR)`.
    HeadThenReset,
}

async fn frame(stream: &mut TcpStream, kind: u8, flags: u8, id: u32, payload: &[u8]) {
    let len = payload.len() as u32;
    let mut head = [0u8; 9];
    head[..3].copy_from_slice(&len.to_be_bytes()[1..]);
    head[3] = kind;
    head[4] = flags;
    head[5..].copy_from_slice(&id.to_be_bytes());
    stream.write_all(&head).await.unwrap();
    stream.write_all(payload).await.unwrap();
}

/// One connection: the preface and settings, then `answer` to the first
/// `HEADERS`; then reads until the client is done.
async fn serve(mut stream: TcpStream, answer: Answer) {
    let mut preface = [0u8; 24];
    if stream.read_exact(&mut preface).await.is_err() || &preface != PREFACE {
        return;
    }
    frame(&mut stream, SETTINGS, 0, 0, &[]).await;
    let mut answered = false;
    loop {
        let mut head = [0u8; 9];
        if stream.read_exact(&mut head).await.is_err() {
            return;
        }
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let (kind, flags) = (head[3], head[4]);
        let id = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        let mut payload = vec![0u8; len];
        if stream.read_exact(&mut payload).await.is_err() {
            return;
        }
        match kind {
            SETTINGS if flags & ACK == 0 => frame(&mut stream, SETTINGS, ACK, 0, &[]).await,
            HEADERS if !answered => {
                answered = true;
                match answer {
                    Answer::Reset(code) => {
                        frame(&mut stream, RST_STREAM, 0, id, &code.to_be_bytes()).await;
                    }
                    Answer::GoAway { last, code } => {
                        let mut body = last.to_be_bytes().to_vec();
                        body.extend_from_slice(&code.to_be_bytes());
                        frame(&mut stream, GOAWAY, 0, 0, &body).await;
                    }
                    Answer::HeadThenReset => {
                        // HPACK: the static table's `:status: 200`.
                        frame(&mut stream, HEADERS, END_HEADERS, id, &[0x88]).await;
                        frame(&mut stream, DATA, 0, id, b"partial").await;
                        // Time for the gateway to send its head downstream.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        let code = INTERNAL_ERROR.to_be_bytes();
                        frame(&mut stream, RST_STREAM, 0, id, &code).await;
                    }
                }
            }
            _ => {}
        }
    }
}

async fn h2_upstream(answer: Answer) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, answer));
        }
    });
    addr
}

/// The gateway's service: hyper-util's client speaking HTTP/2 with prior
/// knowledge.
fn h2_client() -> Client<HttpConnector, tower_problem::gateway::RequestBody<hyper::body::Incoming>> {
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http()
}

async fn through_gateway(answer: Answer) -> (Got, bool) {
    let upstream = h2_upstream(answer).await;
    let svc = || {
        ServiceBuilder::new()
            .map_request(route)
            .layer(GatewayErrorLayer::new())
            .map_response(strip_hop_by_hop)
            .service(h2_client())
    };
    let gateway = Gateway::serve(svc()).await;
    let got = send(&downstream(), request(&gateway, upstream), BOUND).await;
    let never_sent = if got.status == StatusCode::OK {
        false
    } else {
        marker_of(svc(), upstream).await.is_request_never_sent()
    };
    (got, never_sent)
}

fn assert_terminated(got: &Got) {
    assert_eq!(got.status, StatusCode::BAD_GATEWAY, "{got:?}");
    assert_eq!(got.problem()["kind"], "connection_terminated", "{got:?}");
    assert_eq!(
        got.proxy_status()[0].token("error"),
        Some("connection_terminated")
    );
}

#[tokio::test]
async fn a_refused_stream_was_never_processed() {
    let (got, never_sent) = through_gateway(Answer::Reset(REFUSED_STREAM)).await;
    assert_terminated(&got);
    assert!(never_sent, "REFUSED_STREAM: not processed (RFC 9113 §8.7)");
}

#[tokio::test]
async fn a_stream_above_a_graceful_goaway_was_never_processed() {
    let (got, never_sent) = through_gateway(Answer::GoAway {
        last: 0,
        code: NO_ERROR,
    })
    .await;
    assert_terminated(&got);
    assert!(never_sent, "above GOAWAY's last stream id: not processed");
}

#[tokio::test]
async fn any_other_reset_before_the_head_may_have_been_processed() {
    let (got, never_sent) = through_gateway(Answer::Reset(INTERNAL_ERROR)).await;
    assert_terminated(&got);
    assert!(!never_sent, "INTERNAL_ERROR: it may have acted");
    let (got, never_sent) = through_gateway(Answer::GoAway {
        last: 0,
        code: INTERNAL_ERROR,
    })
    .await;
    assert_terminated(&got);
    assert!(!never_sent, "a GOAWAY with an error reaches every stream");
}

#[tokio::test]
async fn a_reset_after_the_head_aborts_the_response() {
    let (got, _) = through_gateway(Answer::HeadThenReset).await;
    assert_eq!(got.status, StatusCode::OK);
    assert!(got.body.is_err(), "a reset body must not look complete: {got:?}");
}
