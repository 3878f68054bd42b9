//! What both layers share: telling what failed ([`Classify`]), what the
//! layer keeps of a request ([`RequestContext`]), the settings both have,
//! and the one way a failure becomes a response ([`ResponseForFailure`]),
//! a log line, a count and a report.
//!
//! The app and gateway layers each import from here and never from each
//! other.

pub(crate) mod call_state;
mod classify;
pub(crate) mod context;
pub(crate) mod error_chain;
pub(crate) mod kind_table;
pub(crate) mod layer_parts;
pub(crate) mod log;
#[cfg(feature = "metrics")]
pub(crate) mod metrics;
pub(crate) mod panic;
pub(crate) mod readiness;
pub(crate) mod report;
pub(crate) mod responder;
pub(crate) mod settings;
pub(crate) mod span;

pub use self::call_state::InnerFuture;
pub use self::classify::{Classify, DefaultClassifier};
pub use self::context::RequestContext;
pub use self::responder::{DefaultResponse, IntoFailureResponse, ResponseForFailure};
