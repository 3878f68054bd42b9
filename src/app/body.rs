use std::error::Error;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::failure::Kind;
use super::log;
use crate::common::full_body::FullBody;
use crate::common::panic::catch;
use crate::grpc;
use crate::BoxError;

pin_project! {
    /// The response body of [`AppErrorService`](super::AppErrorService): the inner body,
    /// guarded against panics, or the failure response's body.
    ///
    /// A panic while the inner body is polled is logged (inside the current
    /// span: the request's context is not kept this long) and ends the body
    /// with a [`BodyPanicked`] error, so the server aborts the response
    /// instead of presenting it as complete. The response to a gRPC request
    /// ends instead with trailers `grpc-status: 13` (`INTERNAL`),
    /// `grpc-message` and the kind `panic`, which a gRPC client reads as the
    /// call's failure: gRPC can say so after the head, where HTTP cannot.
    /// See the [module docs](super).
    pub struct AppBody<B> {
        #[pin]
        state: State<B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<B> {
        Guarded { #[pin] body: B },
        // A gRPC response's: a panic ends it with gRPC trailers.
        GuardedGrpc { #[pin] body: B },
        Unguarded { #[pin] body: B },
        Full { body: FullBody },
        Panicked,
    }
}

impl<B> AppBody<B> {
    pub(super) fn full(data: Bytes) -> Self {
        Self {
            state: State::Full {
                body: FullBody::new(data),
            },
        }
    }

    /// The inner body, its panics caught when `guard` is set: for a gRPC
    /// response (`grpc`), answered with gRPC trailers.
    #[inline]
    pub(super) fn new(body: B, guard: bool, grpc: bool) -> Self {
        let state = match (guard, grpc) {
            (false, _) => State::Unguarded { body },
            (true, false) => State::Guarded { body },
            (true, true) => State::GuardedGrpc { body },
        };
        Self { state }
    }
}

impl<B: Body<Data = Bytes>> Body for AppBody<B>
where
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn is_end_stream(&self) -> bool {
        match &self.state {
            State::Guarded { body } | State::GuardedGrpc { body } | State::Unguarded { body } => {
                body.is_end_stream()
            }
            State::Full { body } => body.is_end_stream(),
            State::Panicked => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.state {
            State::Guarded { body } | State::GuardedGrpc { body } | State::Unguarded { body } => {
                body.size_hint()
            }
            State::Full { body } => body.size_hint(),
            State::Panicked => SizeHint::with_exact(0),
        }
    }

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let mut state = self.project().state;
        let (body, grpc) = match state.as_mut().project() {
            StateProj::Guarded { body } => (body, false),
            StateProj::GuardedGrpc { body } => (body, true),
            StateProj::Unguarded { body } => {
                return body
                    .poll_frame(cx)
                    .map(|frame| frame.map(|result| result.map_err(Into::into)));
            }
            StateProj::Full { body } => return body.poll_frame(),
            StateProj::Panicked => return Poll::Ready(None),
        };
        match catch(|| body.poll_frame(cx)) {
            Ok(polled) => polled.map(|frame| frame.map(|result| result.map_err(Into::into))),
            Err(payload) => {
                log::body_panicked(&payload.into_panic());
                // Dropping a body that panicked may panic again.
                let _dropped = catch(|| state.set(State::Panicked));
                Poll::Ready(Some(if grpc {
                    Ok(Frame::trailers(grpc::trailers(
                        grpc::Code::Internal,
                        "the response body panicked",
                        Kind::Panic.as_str(),
                    )))
                } else {
                    Err(Box::new(BodyPanicked(())))
                }))
            }
        }
    }
}

impl<B> fmt::Debug for AppBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Guarded { .. } => "Guarded",
            State::GuardedGrpc { .. } => "GuardedGrpc",
            State::Unguarded { .. } => "Unguarded",
            State::Full { .. } => "Full",
            State::Panicked => "Panicked",
        };
        f.debug_struct("AppBody").field("state", &state).finish()
    }
}

/// The error that ends a response body whose inner body panicked.
#[derive(Debug)]
pub struct BodyPanicked(());

impl fmt::Display for BodyPanicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the response body panicked")
    }
}

impl Error for BodyPanicked {}
