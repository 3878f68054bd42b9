//! The body of a response a layer made, for both layers' body types.

use std::task::Poll;

use bytes::Bytes;
use http_body::{Frame, SizeHint};

/// A layer's own response body: its bytes in one frame, or nothing.
#[derive(Debug)]
pub(crate) struct FullBody(Option<Bytes>);

impl FullBody {
    pub(crate) fn new(data: Bytes) -> Self {
        Self((!data.is_empty()).then_some(data))
    }

    pub(crate) fn poll_frame<E>(&mut self) -> Poll<Option<Result<Frame<Bytes>, E>>> {
        Poll::Ready(self.0.take().map(|data| Ok(Frame::data(data))))
    }

    pub(crate) fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }

    pub(crate) fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.as_ref().map_or(0, |data| data.len() as u64))
    }
}
