use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::uri::Authority;
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use super::classify::classify_body;
use super::failure::Kind;
use super::log;
use crate::common::panic::catch;
use crate::BoxError;

pin_project! {
    /// The response body of [`GatewayErrorService`](super::GatewayErrorService): the
    /// upstream's body, forwarded frame by frame, or the failure response's
    /// body, of the responder's type `RB` ([`ResponseForFailure::Body`]:
    /// `Full<Bytes>` unless a customisation answers with an axum response).
    ///
    /// [`ResponseForFailure::Body`]: crate::ResponseForFailure::Body
    ///
    /// The status was sent before the upstream body is read, so its failures
    /// cannot become a 502: when the upstream body fails (reset, fewer bytes
    /// than its `Content-Length`, a broken chunk) or sends nothing for the
    /// body idle timeout, this body is logged and ends with a [`BodyError`],
    /// and the server aborts the connection (HTTP/1) or resets the stream
    /// (HTTP/2). The client never gets a short body that looks complete,
    /// except where nothing can tell: an HTTP/1 upstream body delimited only
    /// by the connection's close, cut short by a clean close, ends like a
    /// complete one. See the [module docs](super).
    pub struct GatewayBody<B, RB = Full<Bytes>> {
        #[pin]
        state: State<B, RB>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<B, RB> {
        Upstream {
            #[pin]
            body: B,
            #[pin]
            idle: Option<Sleep>,
            watch: Watch,
        },
        Full { #[pin] body: RB },
        Failed,
    }
}

/// What the upstream body keeps for its idle timer and its logs: not the
/// request's context, which would make every response dearer to move; a
/// failure is logged inside the span the body is polled in.
#[derive(Debug)]
struct Watch {
    upstream: Option<Authority>,
    started: Option<Instant>,
    idle_timeout: Option<Duration>,
    /// Set on the first `Pending` of a wait, cleared by the next frame: the
    /// idle timer is reset once per wait, not on every poll.
    waiting: bool,
    /// The most bytes forwarded before the body is cut off: `u64::MAX`
    /// without a cap.
    max_bytes: u64,
    /// The bytes it may still forward: one subtraction a frame both counts
    /// what was sent and checks the cap.
    room: u64,
}

impl<B, RB> GatewayBody<B, RB> {
    pub(super) fn upstream(
        body: B,
        upstream: Option<Authority>,
        started: Option<Instant>,
        idle_timeout: Option<Duration>,
        max_bytes: Option<u64>,
    ) -> Self {
        Self {
            state: State::Upstream {
                body,
                idle: None,
                watch: Watch {
                    upstream,
                    started,
                    idle_timeout,
                    waiting: false,
                    max_bytes: max_bytes.unwrap_or(u64::MAX),
                    room: max_bytes.unwrap_or(u64::MAX),
                },
            },
        }
    }

    pub(super) fn full(body: RB) -> Self {
        Self {
            state: State::Full { body },
        }
    }
}

impl<B, RB> Body for GatewayBody<B, RB>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
    RB: Body<Data = Bytes, Error: Into<BoxError>>,
{
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let mut state = self.project().state;
        let error = match state.as_mut().project() {
            StateProj::Upstream {
                body,
                mut idle,
                watch,
            } => match body.poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    watch.waiting = false;
                    let len = frame.data_ref().map_or(0, |data| data.len() as u64);
                    if let Some(room) = watch.room.checked_sub(len) {
                        watch.room = room;
                        return Poll::Ready(Some(Ok(frame)));
                    }
                    // Over the cap: this frame is not forwarded.
                    over_cap(watch.max_bytes, frame)
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Ready(Some(Err(error))) => {
                    let error = error.into();
                    BodyError {
                        kind: classify_body(&*error),
                        source: Some(error),
                    }
                }
                Poll::Pending => {
                    let Some(timeout) = watch.idle_timeout else {
                        return Poll::Pending;
                    };
                    if !watch.waiting {
                        watch.waiting = true;
                        let now = Instant::now();
                        watch.started.get_or_insert(now);
                        // One too long to add to the clock never runs out.
                        let Some(deadline) = now.checked_add(timeout) else {
                            return Poll::Pending;
                        };
                        match idle.as_mut().as_pin_mut() {
                            Some(timer) => timer.reset(deadline),
                            None => idle.set(Some(tokio::time::sleep_until(deadline))),
                        }
                    }
                    let expired = idle
                        .as_pin_mut()
                        .is_some_and(|timer| timer.poll(cx).is_ready());
                    if !expired {
                        return Poll::Pending;
                    }
                    BodyError {
                        kind: Kind::ConnectionReadTimeout,
                        source: None,
                    }
                }
            },
            // The responder's body: bytes, or a customisation's axum body,
            // whose failure is no upstream's.
            StateProj::Full { body } => match catch(|| body.poll_frame(cx)) {
                Ok(polled) => {
                    return polled.map_err(|source| BodyError {
                        kind: Kind::ProxyInternalError,
                        source: Some(source.into()),
                    });
                }
                Err(payload) => {
                    log::customisation_body_panicked(&payload.into_panic());
                    // Dropping a body that panicked may panic again.
                    let _dropped = catch(|| state.set(State::Failed));
                    return Poll::Ready(Some(Err(BodyError {
                        kind: Kind::ProxyInternalError,
                        source: None,
                    })));
                }
            },
            StateProj::Failed => return Poll::Ready(None),
        };
        fail(state, &error);
        Poll::Ready(Some(Err(error)))
    }

    fn is_end_stream(&self) -> bool {
        match &self.state {
            State::Upstream { body, .. } => body.is_end_stream(),
            State::Full { body } => body.is_end_stream(),
            State::Failed => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.state {
            State::Upstream { body, .. } => body.size_hint(),
            State::Full { body } => body.size_hint(),
            State::Failed => SizeHint::with_exact(0),
        }
    }
}

impl<B, RB> fmt::Debug for GatewayBody<B, RB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Upstream { .. } => "Upstream",
            State::Full { .. } => "Full",
            State::Failed => "Failed",
        };
        f.debug_struct("GatewayBody")
            .field("state", &state)
            .finish()
    }
}

/// The error of a body over its cap; `frame`, the one that went over, is
/// not forwarded.
fn over_cap(max: u64, frame: Frame<Bytes>) -> BodyError {
    drop(frame);
    BodyError {
        kind: Kind::HttpResponseBodySize,
        source: Some(Box::new(OverCap(max))),
    }
}

/// Logs the failure of the upstream body and drops it.
fn fail<B, RB>(mut state: Pin<&mut State<B, RB>>, error: &BodyError) {
    if let StateProj::Upstream { watch, .. } = state.as_mut().project() {
        let upstream = watch.upstream.as_ref();
        log::body_failed(
            error,
            upstream,
            watch.max_bytes - watch.room,
            watch.started,
            watch.idle_timeout,
        );
    }
    state.set(State::Failed);
}

/// The cause of a body cut off at the layer's
/// [`max_response_body`](super::GatewayErrorLayer::max_response_body).
#[derive(Debug)]
struct OverCap(u64);

impl fmt::Display for OverCap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the upstream body is longer than the gateway's cap of {} bytes",
            self.0
        )
    }
}

impl Error for OverCap {}

/// The error that ends a [`GatewayBody`] whose upstream body failed or sent
/// nothing for the body idle timeout. Its `source()` is the upstream's
/// error, if there was one.
#[derive(Debug)]
pub struct BodyError {
    kind: Kind,
    source: Option<BoxError>,
}

impl BodyError {
    /// What failed: [`Kind::ConnectionReadTimeout`] for the idle timeout,
    /// [`Kind::HttpResponseIncomplete`] for a body cut short,
    /// [`Kind::ConnectionTerminated`] for a reset connection,
    /// [`Kind::HttpResponseTransferCoding`] for a broken chunk, or
    /// [`Kind::ProxyInternalError`] for anything else.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Whether the upstream body sent nothing for the body idle timeout.
    pub fn is_idle_timeout(&self) -> bool {
        self.kind == Kind::ConnectionReadTimeout
    }

    /// Whether the upstream body ended before it was complete.
    pub fn is_incomplete(&self) -> bool {
        self.kind == Kind::HttpResponseIncomplete
    }

    /// Whether the upstream connection was reset or aborted.
    pub fn is_terminated(&self) -> bool {
        self.kind == Kind::ConnectionTerminated
    }

    /// Whether the upstream body's framing was broken (an invalid chunk).
    pub fn is_transfer_coding(&self) -> bool {
        self.kind == Kind::HttpResponseTransferCoding
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            Kind::ConnectionReadTimeout => "the upstream response body timed out",
            Kind::HttpResponseIncomplete => "the upstream response body was incomplete",
            Kind::ConnectionTerminated => "the upstream connection was terminated",
            Kind::HttpResponseTransferCoding => "the upstream response body was badly framed",
            Kind::HttpResponseBodySize => "the upstream response body was longer than the cap",
            _ => "the upstream response body failed",
        })
    }
}

impl Error for BodyError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source.as_deref().map(|error| error as _)
    }
}
