//! The app layer's own rules for telling what failed from an error.

use std::error::Error;

use super::failure::{Failure, Kind};
use super::log;
use crate::common::panic::catch;
use crate::{BoxError, Classify};

/// `error` as the failure of the kind the user's classifier gives it (its
/// panic logged and ignored), else the kind the layer's rules give it.
pub(super) fn classified<C: Classify<Kind>>(error: BoxError, classify: &C) -> Failure {
    let kind = kind_of(&*error, classify);
    Failure::logged_error(error, kind)
}

/// The kind of `error`: the user's classifier's, else the layer's rules'.
pub(super) fn kind_of<C: Classify<Kind>>(error: &(dyn Error + 'static), classifier: &C) -> Kind {
    match catch(|| classifier.classify(error)) {
        Ok(Some(kind)) => kind,
        Ok(None) => kind_by_rules(error),
        Err(payload) => {
            log::classify_panicked(&payload.into_panic(), std::any::type_name::<C>());
            kind_by_rules(error)
        }
    }
}

/// tower's timeout and load shedding by their errors, anywhere in the
/// chain (feature `tower`); any other error is the handler's.
fn kind_by_rules(error: &(dyn Error + 'static)) -> Kind {
    #[cfg(feature = "tower")]
    for level in crate::common::error_chain::sources(error) {
        if level.error.is::<tower::timeout::error::Elapsed>() {
            return Kind::Timeout;
        }
        if level.error.is::<tower::load_shed::error::Overloaded>() {
            return Kind::Overloaded;
        }
    }
    #[cfg(not(feature = "tower"))]
    let _ = error;
    Kind::HandlerError
}
