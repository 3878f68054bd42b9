use std::error::Error;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Buf;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use crate::common::settings::inner_accessors;
use crate::BoxError;

pin_project! {
    /// The request body the gateway layer hands to the upstream client: the
    /// client's body, forwarded frame by frame, with its errors marked.
    ///
    /// An error of this body is the *client's* (it aborted its upload, or
    /// sent a broken body), not the upstream's: when the upstream client
    /// fails because of it, the layer answers 400 Bad Request
    /// ([`Kind::RequestBodyError`]) instead of a 502, and logs it at debug
    /// level. Under the layer's
    /// [`max_request_body`](super::GatewayErrorLayer::max_request_body), a
    /// body that grows past the limit fails instead of forwarding the frame
    /// that crosses it, and the client gets 413
    /// ([`Kind::RequestBodyTooLarge`]).
    ///
    /// The service inside the layer therefore takes `Request<RequestBody<B>>`:
    /// for hyper-util's client, `Client<HttpConnector, RequestBody<Incoming>>`.
    /// See the [module docs](super).
    ///
    /// [`Kind::RequestBodyError`]: super::Kind::RequestBodyError
    /// [`Kind::RequestBodyTooLarge`]: super::Kind::RequestBodyTooLarge
    pub struct RequestBody<B> {
        #[pin]
        inner: B,
        // The bytes the body may still forward: `u64::MAX` without a limit.
        remaining: u64,
    }
}

/// A copy of the body as it stands, for a retry policy that sends the
/// request again (`RetryNeverSent`, whose bodies are buffered).
impl<B: Clone> Clone for RequestBody<B> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            remaining: self.remaining,
        }
    }
}

impl<B> RequestBody<B> {
    pub(super) fn new(inner: B, limit: Option<u64>) -> Self {
        Self {
            inner,
            remaining: limit.unwrap_or(u64::MAX),
        }
    }

    inner_accessors!(B, "client's body");
}

impl<B> Body for RequestBody<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, BoxError>>> {
        let this = self.project();
        let frame = match this.inner.poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            other => return other.map_err(mark),
        };
        let len = frame.data_ref().map_or(0, |data| data.remaining() as u64);
        match this.remaining.checked_sub(len) {
            Some(remaining) => {
                *this.remaining = remaining;
                Poll::Ready(Some(Ok(frame)))
            }
            None => Poll::Ready(Some(Err(too_large()))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> fmt::Debug for RequestBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBody")
            .field("inner", &std::any::type_name::<B>())
            .finish()
    }
}

fn mark(error: impl Into<BoxError>) -> BoxError {
    Box::new(ClientBodyError(error.into()))
}

/// The error of a body over the layer's limit, marked as the client's.
pub(super) fn too_large() -> BoxError {
    mark(RequestBodyTooLarge)
}

/// A request body over the layer's
/// [`max_request_body`](super::GatewayErrorLayer::max_request_body).
#[derive(Debug)]
struct RequestBodyTooLarge;

impl fmt::Display for RequestBodyTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the request body is over the gateway's limit")
    }
}

impl Error for RequestBodyTooLarge {}

/// The mark on an error of the client's request body. Private: nothing
/// outside the crate can make one, so finding it in an upstream client's
/// error chain proves the client's body failed.
#[derive(Debug)]
struct ClientBodyError(BoxError);

impl fmt::Display for ClientBodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the client's request body failed")
    }
}

impl Error for ClientBodyError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&*self.0)
    }
}

/// What `level` of an error chain says of the client's body: nothing
/// (`None`), that it failed, or that it was over the layer's limit.
pub(super) fn client_body_error(level: &(dyn Error + 'static)) -> Option<ClientBodyFailure> {
    let mark = level.downcast_ref::<ClientBodyError>()?;
    Some(if mark.0.is::<RequestBodyTooLarge>() {
        ClientBodyFailure::TooLarge
    } else {
        ClientBodyFailure::Failed
    })
}

/// How the client's body failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ClientBodyFailure {
    /// It could not be read.
    Failed,
    /// It was over the layer's limit.
    TooLarge,
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A client body error of `kind`, marked as the layer marks it.
    pub(in crate::gateway) fn marked(kind: std::io::ErrorKind) -> BoxError {
        mark(std::io::Error::from(kind))
    }
}
