//! A hand-written HTTP/2 server (prior knowledge) for the gateway tests:
//! h2's own server sends the highest stream id it received in its
//! `GOAWAY`, so a `GOAWAY` below the request's stream needs frames of our
//! own.

// Each test binary uses a different subset.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
const ACK: u8 = 0x1;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
pub const NO_ERROR: u32 = 0x0;
pub const PROTOCOL_ERROR: u32 = 0x1;
pub const INTERNAL_ERROR: u32 = 0x2;
pub const REFUSED_STREAM: u32 = 0x7;

/// What the server does with the first request's `HEADERS`.
#[derive(Clone, Copy, Debug)]
pub enum Answer {
    /// `RST_STREAM` with this error code.
    Reset(u32),
    /// `GOAWAY` with this last stream id (below the request's) and code.
    GoAway { last: u32, code: u32 },
    /// A 200 head and some of the body, then `RST_STREAM(INTERNAL_ERROR)`.
    HeadThenReset,
    /// `RST_STREAM(REFUSED_STREAM)` to the first request of the server,
    /// a 200 `ok` to every later one.
    RefuseFirst,
    /// The head of a `DATA` frame one byte over the client's maximum frame
    /// size (16,384 bytes, RFC 9113 §6.5.2): a `FRAME_SIZE_ERROR` (RFC 9113
    /// §4.2), which the client answers with a `GOAWAY`.
    OversizedFrame,
    /// A `HEADERS` frame whose block is HPACK's index 0, which no table
    /// has (RFC 7541 §6.1): h2 answers with a `GOAWAY(PROTOCOL_ERROR)`.
    BadHeaderBlock,
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
/// `HEADERS` (each counted in `requests`); then reads until the client is
/// done.
async fn serve(mut stream: TcpStream, answer: Answer, requests: Arc<AtomicUsize>) {
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
            HEADERS if matches!(answer, Answer::RefuseFirst) => {
                if requests.fetch_add(1, Ordering::SeqCst) == 0 {
                    let code = REFUSED_STREAM.to_be_bytes();
                    frame(&mut stream, RST_STREAM, 0, id, &code).await;
                } else {
                    frame(&mut stream, HEADERS, END_HEADERS, id, &[0x88]).await;
                    frame(&mut stream, DATA, END_STREAM, id, b"ok").await;
                }
            }
            HEADERS if !answered => {
                answered = true;
                requests.fetch_add(1, Ordering::SeqCst);
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
                    Answer::OversizedFrame => {
                        let mut head = [0, 0x40, 0x01, DATA, 0, 0, 0, 0, 0];
                        head[5..].copy_from_slice(&id.to_be_bytes());
                        stream.write_all(&head).await.unwrap();
                    }
                    Answer::BadHeaderBlock => {
                        frame(&mut stream, HEADERS, END_HEADERS, id, &[0x80]).await;
                    }
                    Answer::RefuseFirst => unreachable!("answered above"),
                }
            }
            _ => {}
        }
    }
}

/// The server, and the count of the requests it received.
pub async fn h2_upstream(answer: Answer) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&requests);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, answer, Arc::clone(&count)));
        }
    });
    (addr, requests)
}
