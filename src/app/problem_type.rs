//! Problem types of the application's own: a domain error that says which
//! problem it is.

use std::error::Error;

use http::{HeaderMap, StatusCode};

use crate::problem::ExtensionValue;

/// An error of the application's own that is one problem type of its API
/// (RFC 9457 §3.1.1): its token, title and status, and what this
/// occurrence adds. Register the type with
/// [`AppErrorLayer::problem_type`](super::AppErrorLayer::problem_type), and
/// return it through `?` (into a [`HandlerError`](super::HandlerError), or
/// as the service's error): the layer finds it at any level of the error's
/// chain, under anyhow's or eyre's context too.
///
/// The answer is a problem whose `type` is the token under the layer's
/// `type_base`, whose `kind` member is the token, with the title, the
/// status, the detail (shown for a 4xx; for a 5xx only where the layer
/// exposes details), the extension members and the headers the status
/// requires. Without a `type_base`, the `type` is `about:blank` and the
/// title the status's phrase (RFC 9457 §4.2.1), the detail kept, and a
/// warning is logged once: the crate's kinds page documents none of the
/// application's types.
///
/// The gateway layer has no problem types: what it answers is an upstream's
/// failure, which RFC 9209's registry names (its `Kind`s); a classifier of
/// yours picks among those, and a responder changes the body.
///
/// The layer keeps for it what it has for every failure: the log line (at
/// `info` for a 4xx), the failure counter and the span's `error.type` (the
/// token), a gRPC request's answer (its status's code,
/// [`Code::of_status`](crate::grpc::Code::of_status), but `NOT_FOUND` for a
/// 404; `grpc-message` its detail where the detail is shown), and the
/// [`Failure`](super::Failure) marker ([`Failure::kind_str`](super::Failure::kind_str)
/// gives the token).
///
/// In a generated OpenAPI document (feature `utoipa`, or `schemars`), a
/// problem type's answers are [`Problem`](crate::problem::Problem)s with
/// its members: its schema is a struct of those members with the `Problem`
/// flattened in, named in a path's responses with `body = OrderNotFound,
/// content_type = "application/problem+json"`:
///
/// ```
/// # #[cfg(feature = "utoipa")] {
/// use tower_problem::problem::Problem;
///
/// /// The `order-not-found` problem.
/// #[derive(utoipa::ToSchema)]
/// struct OrderNotFound {
///     #[serde(flatten)]
///     problem: Problem,
///     /// The order asked for.
///     order_id: u64,
/// }
/// # }
/// ```
///
/// ```
/// use std::fmt;
/// use http::{HeaderMap, StatusCode};
/// use tower_problem::app::{AppErrorLayer, ProblemType};
/// use tower_problem::problem::ExtensionValue;
///
/// #[derive(Debug)]
/// struct OrderNotFound(u64);
///
/// impl fmt::Display for OrderNotFound {
///     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
///         write!(f, "no order {}", self.0)
///     }
/// }
///
/// impl std::error::Error for OrderNotFound {}
///
/// impl ProblemType for OrderNotFound {
///     fn kind(&self) -> &'static str { "order-not-found" }
///     fn title(&self) -> &'static str { "No such order" }
///     fn status(&self) -> StatusCode { StatusCode::NOT_FOUND }
///     fn extensions(&self, members: &mut Vec<(&'static str, ExtensionValue)>) {
///         members.push(("order_id", self.0.into()));
///     }
/// }
///
/// let layer = AppErrorLayer::new()
///     .type_base("https://errors.example.com/")
///     .problem_type::<OrderNotFound>();
/// ```
pub trait ProblemType: Error + Send + Sync + 'static {
    /// The type's token: the `kind` member, and the end of the `type` URI
    /// under the layer's `type_base` (`order-not-found`).
    fn kind(&self) -> &'static str;

    /// The type's title: the same for every occurrence.
    fn title(&self) -> &'static str;

    /// The status of every answer of this type.
    fn status(&self) -> StatusCode;

    /// This occurrence's `detail`: by default the error's `Display`. The
    /// layer sends it for a 4xx, and for a 5xx only where it exposes
    /// details.
    fn detail(&self) -> Option<String> {
        Some(self.to_string())
    }

    /// Extension members of this occurrence (the order's id). A name RFC
    /// 9457 §3.2 advises against, a standard member's, `kind` or
    /// `request_id` is left out, with a warning.
    fn extensions(&self, members: &mut Vec<(&'static str, ExtensionValue)>) {
        let _ = members;
    }

    /// The headers its status requires: `WWW-Authenticate` for a 401,
    /// `Allow` for a 405, `Retry-After` for a 503. The layer adds them to
    /// the answer.
    fn headers(&self, headers: &mut HeaderMap) {
        let _ = headers;
    }
}

/// What a registered [`ProblemType`] said of one error, read when the
/// layer classified it.
#[derive(Clone, Debug)]
pub(super) struct DomainProblem {
    pub(super) kind: &'static str,
    pub(super) title: &'static str,
    pub(super) status: StatusCode,
    pub(super) detail: Option<String>,
    pub(super) members: Vec<(&'static str, ExtensionValue)>,
    pub(super) headers: HeaderMap,
}

/// Reads one level of an error's chain as a registered type, if it is one.
pub(super) type FindProblem = fn(&(dyn Error + 'static)) -> Option<DomainProblem>;

/// The [`FindProblem`] of `T`.
pub(super) fn find<T: ProblemType>(level: &(dyn Error + 'static)) -> Option<DomainProblem> {
    let error = level.downcast_ref::<T>()?;
    let mut members = Vec::new();
    error.extensions(&mut members);
    members.retain(|(name, _)| {
        let allowed = !matches!(*name, "kind" | "request_id")
            && crate::problem::is_extension_name(name);
        if !allowed {
            tracing::warn!(
                target: "tower_problem::app",
                problem_type = error.kind(),
                member = *name,
                "an extension member of a problem type is left out: RFC 9457 advises against its name, or the layer's own members use it"
            );
        }
        allowed
    });
    let mut headers = HeaderMap::new();
    error.headers(&mut headers);
    Some(DomainProblem {
        kind: error.kind(),
        title: error.title(),
        status: error.status(),
        detail: error.detail(),
        members,
        headers,
    })
}
