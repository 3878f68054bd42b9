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

/// The kind of `error`, in one walk of its chain, outermost level first:
/// the first level the user's classifier names, else the first the layer's
/// rules know, else `handler_error`. A panic of the classifier is logged,
/// and the rules answer.
pub(super) fn kind_of<C: Classify<Kind>>(error: &(dyn Error + 'static), classifier: &C) -> Kind {
    let walk = || {
        let mut by_rules = None;
        for level in crate::common::error_chain::sources(error) {
            if let Some(kind) = classifier.classify(level.error) {
                return kind;
            }
            by_rules = by_rules.or_else(|| kind_by_rules(level.error));
        }
        by_rules.unwrap_or(Kind::HandlerError)
    };
    match catch(walk) {
        Ok(kind) => kind,
        Err(payload) => {
            log::classify_panicked(&payload.into_panic(), std::any::type_name::<C>());
            crate::common::error_chain::sources(error)
                .find_map(|level| kind_by_rules(level.error))
                .unwrap_or(Kind::HandlerError)
        }
    }
}

/// tower's timeout and load shedding by their errors (feature `tower`).
fn kind_by_rules(level: &(dyn Error + 'static)) -> Option<Kind> {
    #[cfg(feature = "tower")]
    {
        if level.is::<tower::timeout::error::Elapsed>() {
            return Some(Kind::Timeout);
        }
        if level.is::<tower::load_shed::error::Overloaded>() {
            return Some(Kind::Overloaded);
        }
    }
    #[cfg(not(feature = "tower"))]
    let _ = level;
    None
}
