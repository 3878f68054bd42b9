#![doc = include_str!("../docs/crate.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub,
    clippy::incompatible_msrv
)]

pub mod app;
mod call_state;
mod chain;
mod classify;
mod context;
mod full_body;
#[cfg(feature = "gateway")]
#[cfg_attr(docsrs, doc(cfg(feature = "gateway")))]
pub mod gateway;
pub mod grpc;
mod kind;
pub mod kinds;
mod layer_impls;
mod log;
#[cfg(feature = "metrics")]
mod metrics;
mod panic;
pub mod problem;
mod report;
mod respond;
mod settings;
mod span;

pub use self::classify::{Classify, DefaultClassifier};
pub use self::context::RequestContext;
pub use self::respond::{DefaultResponse, ResponseForFailure};

/// The boxed error that services and bodies are converted into.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Where the `type` URIs point by default: the [`kinds`] page, one anchor
/// per kind, so `{DEFAULT_TYPE_BASE}panic` documents the `panic` kind.
pub const DEFAULT_TYPE_BASE: &str = default_type_base!();

macro_rules! default_type_base {
    () => {
        "https://docs.rs/tower-problem/latest/tower_problem/kinds/index.html#"
    };
}
pub(crate) use default_type_base;

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
