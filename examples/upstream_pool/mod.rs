//! The gateway's connections to its one upstream: hyper's own client
//! connections (`hyper::client::conn`), kept by each thread for itself.
//!
//! hyper-util's pooled client shares one pool between every thread: per
//! request it takes a lock, hashes the upstream's name and, for HTTP/1,
//! spawns a task to put the connection back. Here a thread keeps its idle
//! connections in a list of its own: no lock, no hash, no task.
//!
//! - HTTP/1.1: a connection carries one request at a time. It is kept
//!   again once its response body has ended, up to [`MAX_IDLE`] a thread
//!   (as nginx's `keepalive 64`); one the upstream closed is dropped when
//!   next taken.
//! - HTTP/2 (prior knowledge, or TLS with `h2` in ALPN): one connection a
//!   thread carries every request, until it closes.
//! - A request that meets a kept connection the upstream has just closed
//!   comes back from hyper unsent and goes again on another, as hyper-util's
//!   client does.
//! - Connecting (resolving, TCP through [`tcp::TcpConnector`], TLS, the
//!   HTTP/2 handshake) has one deadline; hyper-util's `connect_timeout`
//!   covers only the TCP connect, per address. A failure to connect, the
//!   deadline's included, is a [`ConnectError`], which the layer reads as
//!   never sent.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, Uri, Version};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::client::legacy::connect::Connection;
use hyper_util::rt::TokioExecutor;
use tower::ServiceExt;
use tower_problem::gateway::ConnectError;
use tower_problem::BoxError;

use crate::UpstreamBody;

pub mod tcp;

/// The most idle HTTP/1.1 connections a thread keeps.
pub const MAX_IDLE: usize = 64;

thread_local! {
    static KEPT: RefCell<Kept> = const { RefCell::new(Kept { http1: Vec::new(), http2: None, alpn_http2: None }) };
}

/// A thread's connections.
struct Kept {
    /// Idle HTTP/1.1 connections, the most recent last.
    http1: Vec<http1::SendRequest<UpstreamBody>>,
    /// The connection of the requests that must go over HTTP/2.
    http2: Option<http2::SendRequest<UpstreamBody>>,
    /// The connection of the others, when the upstream chose HTTP/2 in
    /// ALPN.
    alpn_http2: Option<http2::SendRequest<UpstreamBody>>,
}

/// A connection taken for one request.
enum Taken {
    Http1(http1::SendRequest<UpstreamBody>),
    Http2(http2::SendRequest<UpstreamBody>),
}

/// The client of the one upstream.
pub struct UpstreamClient<C> {
    connector: C,
    /// The upstream's scheme and authority, which the connector reads.
    origin: Uri,
    /// What an HTTP/1.1 request's `Host` says.
    host: HeaderValue,
    /// The deadline over connecting.
    connect_timeout: Duration,
}

impl<C, T> UpstreamClient<C>
where
    C: tower::Service<Uri, Response = T> + Clone + Send + Sync + 'static,
    C::Error: Into<BoxError>,
    C::Future: Send,
    T: hyper::rt::Read + hyper::rt::Write + Connection + Unpin + Send + 'static,
{
    /// A client of `origin` (scheme and authority) through `connector`,
    /// connecting within `connect_timeout`.
    pub fn new(connector: C, origin: Uri, connect_timeout: Duration) -> Self {
        // Static: a clone of shared bytes is a count every thread shares.
        let authority = origin.authority().expect("an origin has an authority");
        let host = HeaderValue::from_static(String::leak(authority.as_str().to_owned()));
        Self {
            connector,
            origin,
            host,
            connect_timeout,
        }
    }

    /// Sends `req` (with an absolute URI) over HTTP/2 if `http2`, else over
    /// HTTP/1.1 or what the upstream chose in ALPN.
    pub async fn request(
        &'static self,
        mut req: Request<UpstreamBody>,
        http2: bool,
    ) -> Result<Response<PooledBody>, BoxError> {
        loop {
            let (taken, kept) = match take(http2).await {
                Some(taken) => (taken, true),
                // Boxed: connecting is rare on kept connections, and its
                // future would make every request's future larger.
                None => (Box::pin(self.connect_in_time(http2)).await?, false),
            };
            let sent = match taken {
                Taken::Http1(mut conn) => {
                    *req.version_mut() = Version::HTTP_11;
                    let uri = std::mem::take(req.uri_mut());
                    *req.uri_mut() = origin_form(uri);
                    req.headers_mut()
                        .entry(header::HOST)
                        .or_insert_with(|| self.host.clone());
                    let sent = conn.try_send_request(req).await;
                    sent.map(|res| res.map(|body| PooledBody::kept_at_end(body, conn)))
                }
                Taken::Http2(mut conn) => {
                    *req.version_mut() = Version::HTTP_2;
                    let sent = conn.try_send_request(req).await;
                    sent.map(|res| res.map(|body| PooledBody { body, conn: None }))
                }
            };
            match sent {
                Ok(res) => return Ok(res),
                Err(mut error) => match error.take_message() {
                    // Never written, on a connection kept from before: the
                    // upstream closed it meanwhile.
                    Some(unsent) if kept => req = unsent,
                    _ => return Err(error.into_error().into()),
                },
            }
            // Its target was made origin-form for HTTP/1.1: made whole
            // again, for HTTP/2.
            if req.uri().scheme().is_none() {
                let mut parts = req.uri().clone().into_parts();
                parts.scheme = self.origin.scheme().cloned();
                parts.authority = self.origin.authority().cloned();
                *req.uri_mut() = Uri::from_parts(parts).expect("the parts of a valid URI");
            }
        }
    }

    /// [`connect`](Self::connect) within the deadline.
    async fn connect_in_time(&self, http2: bool) -> Result<Taken, ConnectError> {
        match tokio::time::timeout(self.connect_timeout, self.connect(http2)).await {
            Ok(connected) => connected,
            // The layer's rules name a timeout under `ConnectError`
            // `connection_timeout`.
            Err(_) => Err(ConnectError::new(io::Error::new(
                io::ErrorKind::TimedOut,
                "connecting took longer than the connect timeout",
            ))),
        }
    }

    /// A new connection, over HTTP/2 if `http2` or if the upstream chose it
    /// in ALPN; kept by this thread if it is HTTP/2.
    async fn connect(&self, http2: bool) -> Result<Taken, ConnectError> {
        // The stream and the handshakes' futures are kilobytes: boxed once
        // connected, they are no part of a connect that fails, as each one
        // fails in an outage.
        let handshake = self
            .connector
            .clone()
            .oneshot(self.origin.clone())
            .await
            .map(|io| Box::pin(handshake(io, http2)))
            .map_err(ConnectError::new)?;
        handshake.await
    }
}

/// The HTTP/2 or HTTP/1.1 handshake over a new connection, as in
/// [`UpstreamClient::connect`].
async fn handshake<T>(io: T, http2: bool) -> Result<Taken, ConnectError>
where
    T: hyper::rt::Read + hyper::rt::Write + Connection + Unpin + Send + 'static,
{
    let alpn_http2 = io.connected().is_negotiated_h2();
    if http2 || alpn_http2 {
        let (conn, driver) = http2::handshake(TokioExecutor::new(), io)
            .await
            .map_err(ConnectError::new)?;
        tokio::spawn(drive(driver));
        KEPT.with_borrow_mut(|kept| {
            let slot = if http2 {
                &mut kept.http2
            } else {
                &mut kept.alpn_http2
            };
            *slot = Some(conn.clone());
        });
        Ok(Taken::Http2(conn))
    } else {
        let (conn, driver) = http1::handshake(io).await.map_err(ConnectError::new)?;
        tokio::spawn(drive(driver));
        Ok(Taken::Http1(conn))
    }
}

/// Runs a connection until it closes.
async fn drive(connection: impl Future<Output = hyper::Result<()>>) {
    if let Err(error) = connection.await {
        tracing::debug!(error = %error, "an upstream connection ended with an error");
    }
}

/// A connection this thread keeps, if one is open: HTTP/2's for `http2`;
/// else the ALPN-chosen HTTP/2 one, or the most recent idle HTTP/1.1 one.
async fn take(http2: bool) -> Option<Taken> {
    let shared = KEPT.with_borrow_mut(|kept| {
        let slot = if http2 {
            &mut kept.http2
        } else {
            &mut kept.alpn_http2
        };
        slot.take_if(|conn| conn.is_closed());
        slot.clone()
    });
    if let Some(conn) = shared {
        return Some(Taken::Http2(conn));
    }
    if http2 {
        return None;
    }
    while let Some(mut conn) = KEPT.with_borrow_mut(|kept| kept.http1.pop()) {
        // One put back as its body ended is ready once hyper has read that
        // end, at most a wake-up later.
        if conn.is_ready() || (!conn.is_closed() && conn.ready().await.is_ok()) {
            return Some(Taken::Http1(conn));
        }
    }
    None
}

/// `uri`'s path and query alone, as an HTTP/1.1 request line has them.
fn origin_form(uri: Uri) -> Uri {
    let mut parts = uri.into_parts();
    parts.scheme = None;
    parts.authority = None;
    Uri::from_parts(parts).unwrap_or_else(|_| Uri::from_static("/"))
}

/// An upstream response's body; an HTTP/1.1 connection is kept again once
/// it has ended.
pub struct PooledBody {
    body: Incoming,
    conn: Option<http1::SendRequest<UpstreamBody>>,
}

impl PooledBody {
    fn kept_at_end(body: Incoming, conn: http1::SendRequest<UpstreamBody>) -> Self {
        let mut pooled = Self {
            body,
            conn: Some(conn),
        };
        // A response with no body (a 204, a HEAD's) has ended already.
        if pooled.body.is_end_stream() {
            pooled.keep();
        }
        pooled
    }

    fn keep(&mut self) {
        if let Some(conn) = self.conn.take() {
            KEPT.with_borrow_mut(|kept| {
                if kept.http1.len() < MAX_IDLE {
                    kept.http1.push(conn);
                }
            });
        }
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let frame = Pin::new(&mut self.body).poll_frame(cx);
        match frame {
            Poll::Ready(None) => self.keep(),
            // A body of known length ends with its last frame: hyper's
            // server may not ask for more. A chunked one ends at `None`.
            Poll::Ready(Some(Ok(_))) if self.body.is_end_stream() => self.keep(),
            _ => {}
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
