//! The failure reporter both layers call: `on_failure`.

use std::fmt;
use std::sync::Arc;

use super::context::RequestContext;
use super::panic::{catch, Panic, Payload};

/// What `on_failure` is given.
type Report<F> = dyn Fn(&F, &RequestContext) + Send + Sync;

/// A layer's `on_failure` callback, shared by its services and futures.
pub(crate) struct OnFailure<F>(Arc<Report<F>>);

impl<F> OnFailure<F> {
    pub(crate) fn new(report: impl Fn(&F, &RequestContext) + Send + Sync + 'static) -> Self {
        Self(Arc::new(report))
    }

    /// Reports `failure`; the callback's panic, if it panicked, for the
    /// layer to log: it reaches neither the client nor the server.
    pub(crate) fn report(&self, failure: &F, request: &RequestContext) -> Option<Panic> {
        catch(|| (self.0)(failure, request))
            .err()
            .map(Payload::into_panic)
    }
}

impl<F> Clone for OnFailure<F> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<F> fmt::Debug for OnFailure<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OnFailure(..)")
    }
}
