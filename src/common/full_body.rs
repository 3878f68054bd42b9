//! The body of a response a layer made, for both layers' body types.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use crate::BoxError;

/// A layer's own response body: its bytes in one frame, or nothing; or,
/// with the `axum` feature, the body of an axum response a customisation
/// returned, as it streams.
pub(crate) struct FullBody(Inner);

enum Inner {
    Bytes(Option<Bytes>),
    /// Boxed: every response of the layers moves a body, which this
    /// variant would make larger.
    #[cfg(feature = "axum")]
    Streamed(Box<Streamed>),
}

/// axum's body is not `Sync`: behind `SyncWrapper`, which gives only `&mut`
/// access, with what `&self` methods report kept beside it and renewed
/// after each frame.
#[cfg(feature = "axum")]
struct Streamed {
    body: sync_wrapper::SyncWrapper<axum::body::Body>,
    size_hint: SizeHint,
    is_end_stream: bool,
}

impl FullBody {
    pub(crate) fn new(data: Bytes) -> Self {
        Self(Inner::Bytes((!data.is_empty()).then_some(data)))
    }

    #[cfg(feature = "axum")]
    pub(crate) fn streamed(body: axum::body::Body) -> Self {
        Self(Inner::Streamed(Box::new(Streamed {
            size_hint: body.size_hint(),
            is_end_stream: body.is_end_stream(),
            body: sync_wrapper::SyncWrapper::new(body),
        })))
    }
}

/// A streamed body's panic is caught and logged, and ends it with an
/// error: the client sees it cut, not complete.
impl Body for FullBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match &mut this.0 {
            Inner::Bytes(data) => {
                let _ = cx;
                Poll::Ready(data.take().map(|data| Ok(Frame::data(data))))
            }
            #[cfg(feature = "axum")]
            Inner::Streamed(streamed) => match super::panic::catch(|| {
                let body = streamed.body.get_mut();
                let polled = Pin::new(&mut *body).poll_frame(cx);
                (streamed.size_hint, streamed.is_end_stream) =
                    (body.size_hint(), body.is_end_stream());
                polled
            }) {
                Ok(polled) => polled.map(|frame| frame.map(|result| result.map_err(Into::into))),
                Err(payload) => {
                    let caught = payload.into_panic();
                    tracing::error!(
                        target: "tower_problem",
                        kind = "panic",
                        panic.message = &*caught.message,
                        panic.location = caught.location.as_deref(),
                        "the body of a customisation's response panicked; the response is cut"
                    );
                    this.0 = Inner::Bytes(None);
                    Poll::Ready(Some(Err(
                        "the body of a customisation's response panicked".into()
                    )))
                }
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Inner::Bytes(data) => data.is_none(),
            #[cfg(feature = "axum")]
            Inner::Streamed(streamed) => streamed.is_end_stream,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Inner::Bytes(data) => {
                SizeHint::with_exact(data.as_ref().map_or(0, |data| data.len() as u64))
            }
            #[cfg(feature = "axum")]
            Inner::Streamed(streamed) => streamed.size_hint,
        }
    }
}

impl std::fmt::Debug for FullBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.0 {
            Inner::Bytes(_) => "Bytes",
            #[cfg(feature = "axum")]
            Inner::Streamed(_) => "Streamed",
        };
        f.debug_tuple("FullBody").field(&state).finish()
    }
}
