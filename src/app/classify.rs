//! The app layer's own rules for telling what failed from an error.

use std::error::Error;
use std::sync::Arc;

use super::failure::{Failure, Kind};
use super::log;
use super::problem_type::{DomainProblem, FindProblem};
use crate::common::panic::catch;
use crate::{BoxError, Classify};

/// `error` as the failure its classification gives it (see [`kind_of`]).
pub(super) fn classified<C: Classify<Kind>>(
    error: BoxError,
    problem_types: &[FindProblem],
    classify: &C,
) -> Failure {
    let (kind, domain) = kind_of(&*error, problem_types, classify);
    Failure::logged_error(error, kind, domain)
}

/// The kind of `error`, in one walk of its chain, outermost level first:
/// the first level a registered problem type or the user's classifier
/// names (a problem type's kind is its status's, and the problem it said
/// comes with it), else the first the layer's rules know, else
/// `handler_error`. A panic of the classifier is logged, and the rules
/// answer.
pub(super) fn kind_of<C: Classify<Kind>>(
    error: &(dyn Error + 'static),
    problem_types: &[FindProblem],
    classifier: &C,
) -> (Kind, Option<Arc<DomainProblem>>) {
    let walk = || {
        let mut by_rules = None;
        for level in crate::common::error_chain::sources(error) {
            if let Some(domain) = problem_types.iter().find_map(|find| find(level.error)) {
                return (Kind::of_status(domain.status), Some(Arc::new(domain)));
            }
            if let Some(kind) = classifier.classify(level.error) {
                return (kind, None);
            }
            by_rules = by_rules.or_else(|| kind_by_rules(level.error));
        }
        (by_rules.unwrap_or(Kind::HandlerError), None)
    };
    match catch(walk) {
        Ok(found) => found,
        Err(payload) => {
            log::classify_panicked(&payload.into_panic(), std::any::type_name::<C>());
            let kind = crate::common::error_chain::sources(error)
                .find_map(|level| kind_by_rules(level.error))
                .unwrap_or(Kind::HandlerError);
            (kind, None)
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
