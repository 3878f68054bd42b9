//! The readiness rule both layers' services follow.

use std::convert::Infallible;
use std::task::Poll;

/// A layer's `poll_ready`: ready at once while a failure of the inner
/// service's readiness waits for the next request, which it answers;
/// otherwise the inner service's readiness through `poll`, whose failure
/// (already the layer's, `E`) is kept for the next request and reported
/// as ready. The layer is not poisoned: the request after that one asks
/// the inner service again.
pub(crate) fn poll_ready_keeping<E>(
    not_ready: &mut Option<E>,
    poll: impl FnOnce() -> Poll<Result<(), E>>,
) -> Poll<Result<(), Infallible>> {
    if not_ready.is_none() {
        match poll() {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(failure)) => *not_ready = Some(failure),
        }
    }
    Poll::Ready(Ok(()))
}
