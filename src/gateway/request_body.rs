use std::error::Error;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use crate::settings::inner_accessors;
use crate::BoxError;

pin_project! {
    /// The request body the gateway layer hands to the upstream client: the
    /// client's body, forwarded frame by frame, with its errors marked.
    ///
    /// An error of this body is the *client's* (it aborted its upload, or
    /// sent a broken body), not the upstream's: when the upstream client
    /// fails because of it, the layer answers 400 Bad Request
    /// ([`Kind::RequestBodyError`]) instead of a 502, and logs it at debug
    /// level.
    ///
    /// The service inside the layer therefore takes `Request<RequestBody<B>>`:
    /// for hyper-util's client, `Client<HttpConnector, RequestBody<Incoming>>`.
    /// See the [module docs](super).
    ///
    /// [`Kind::RequestBodyError`]: super::Kind::RequestBodyError
    pub struct RequestBody<B> {
        #[pin]
        inner: B,
    }
}

impl<B> RequestBody<B> {
    pub(super) fn new(inner: B) -> Self {
        Self { inner }
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

    #[inline]
    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, BoxError>>> {
        self.project().inner.poll_frame(cx).map_err(mark)
    }

    #[inline]
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    #[inline]
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

#[cold]
fn mark(error: impl Into<BoxError>) -> BoxError {
    Box::new(ClientBodyError(error.into()))
}

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

/// Whether `level` of an error chain is the mark of the client's body.
pub(super) fn is_client_body_error(level: &(dyn Error + 'static)) -> bool {
    level.is::<ClientBodyError>()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A client body error of `kind`, marked as the layer marks it.
    pub(in crate::gateway) fn marked(kind: std::io::ErrorKind) -> BoxError {
        mark(std::io::Error::from(kind))
    }
}
