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
mod common;
pub mod conformance;
#[cfg(feature = "gateway")]
#[cfg_attr(docsrs, doc(cfg(feature = "gateway")))]
pub mod gateway;
pub mod grpc;
pub mod kinds;
pub mod problem;

pub use self::common::{
    Classify, DefaultClassifier, DefaultResponse, InnerFuture, IntoFailureResponse, RequestContext,
    ResponseForFailure,
};

/// The boxed error that services and bodies are converted into.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Where the `type` URIs point by default: the [`kinds`] page, one anchor
/// per kind, so `{DEFAULT_TYPE_BASE}panic` documents the `panic` kind.
pub const DEFAULT_TYPE_BASE: &str =
    "https://docs.rs/tower-problem/latest/tower_problem/kinds/index.html#";

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
