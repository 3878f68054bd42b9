use std::error::Error;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;
use pin_project_lite::pin_project;

use super::failure::Kind;
use super::log;
use crate::common::panic::{catch, Payload};
use crate::grpc;
use crate::BoxError;

pin_project! {
    /// The response body of [`AppErrorService`](super::AppErrorService): the inner body,
    /// guarded against panics, or the failure response's body, of the
    /// responder's type `RB` ([`ResponseForFailure::Body`]: `Full<Bytes>`
    /// unless a customisation answers with an axum response).
    ///
    /// [`ResponseForFailure::Body`]: crate::ResponseForFailure::Body
    ///
    /// A panic while the inner body is polled is logged (inside the current
    /// span: the request's context is not kept this long) and ends the body
    /// with a [`BodyPanicked`] error, so the server aborts the response
    /// instead of presenting it as complete. The response to a gRPC request
    /// ends instead with trailers `grpc-status: 13` (`INTERNAL`),
    /// `grpc-message` and the kind `panic`, which a gRPC client reads as the
    /// call's failure: gRPC can say so after the head, where HTTP cannot.
    /// See the [module docs](super).
    pub struct AppBody<B, RB = Full<Bytes>> {
        #[pin]
        state: State<B, RB>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<B, RB> {
        Guarded { #[pin] body: B },
        // A gRPC response's: a panic ends it with gRPC trailers.
        GuardedGrpc { #[pin] body: B },
        Unguarded { #[pin] body: B },
        Full { #[pin] body: RB },
        Panicked,
    }
}

impl<B, RB> AppBody<B, RB> {
    pub(super) fn full(body: RB) -> Self {
        Self {
            state: State::Full { body },
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

impl<B, RB> Body for AppBody<B, RB>
where
    B: Body<Data = Bytes, Error: Into<BoxError>>,
    RB: Body<Data = Bytes, Error: Into<BoxError>>,
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
            // The responder's body: bytes, or a customisation's axum body.
            StateProj::Full { body } => {
                return match catch(|| body.poll_frame(cx)) {
                    Ok(polled) => {
                        polled.map(|frame| frame.map(|result| result.map_err(Into::into)))
                    }
                    Err(payload) => panicked(state, payload, false),
                };
            }
            StateProj::Panicked => return Poll::Ready(None),
        };
        match catch(|| body.poll_frame(cx)) {
            Ok(polled) => polled.map(|frame| frame.map(|result| result.map_err(Into::into))),
            Err(payload) => panicked(state, payload, grpc),
        }
    }
}

/// A body panicked: logged, the body ended, and the client told (gRPC
/// trailers for a gRPC response, an error that aborts the response else).
fn panicked<B, RB>(
    mut state: Pin<&mut State<B, RB>>,
    payload: Payload,
    grpc: bool,
) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
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

impl<B, RB> fmt::Debug for AppBody<B, RB> {
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
