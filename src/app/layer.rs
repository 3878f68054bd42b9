use std::fmt;

use http::StatusCode;
use tower_layer::Layer;

use super::failure::{Failure, Kind};
use super::problem_type::{find, FindProblem, ProblemType};
use super::service::AppErrorService;
use crate::common::layer_parts::customisation_methods;
use crate::common::layer_parts::LayerParts;
use crate::common::report::OnFailure;
use crate::common::settings::{common_builder_methods, flag_setter, CommonSettings};
use crate::{DefaultClassifier, DefaultResponse};

/// Turns every panic and error of the service it wraps into a 500 with a
/// problem+json body (and, when told, every error response of the stack
/// into the same shape). See the [module docs](super) for an example.
#[derive(Clone)]
pub struct AppErrorLayer<C = DefaultClassifier, R = DefaultResponse> {
    parts: LayerParts<AppSettings, C, R>,
}

/// What the layer, its services and their futures keep: the flags by
/// value, the rest behind the common settings' one `Arc`.
#[derive(Clone, Debug)]
pub(super) struct AppSettings {
    pub(super) common: CommonSettings<AppOptions>,
    pub(super) catch_body_panics: bool,
    pub(super) intercept_error_responses: bool,
    pub(super) intercept_all_errors: bool,
    pub(super) client_error_detail: bool,
}

/// The app layer's settings that are not flags.
#[derive(Clone, Debug, Default)]
pub(super) struct AppOptions {
    /// The statuses [`AppErrorLayer::intercept_only`] names.
    only: Option<StatusSet>,
    pub(super) on_failure: Option<OnFailure<Failure>>,
    /// The registered [`ProblemType`]s, asked in order at each level of an
    /// error's chain.
    pub(super) problem_types: Vec<FindProblem>,
}

/// A set of 4xx and 5xx statuses.
#[derive(Clone, Copy, Debug, Default)]
struct StatusSet([u64; 4]);

impl StatusSet {
    fn insert(&mut self, status: StatusCode) {
        let bit = usize::from(status.as_u16() - 400);
        self.0[bit / 64] |= 1 << (bit % 64);
    }

    fn contains(&self, status: StatusCode) -> bool {
        let Some(bit) = status.as_u16().checked_sub(400).map(usize::from) else {
            return false;
        };
        bit < 256 && self.0[bit / 64] & (1 << (bit % 64)) != 0
    }
}

impl AppSettings {
    /// Whether the layer replaces the body of the inner stack's response
    /// with `status` (an error status), unless it is problem+json.
    pub(super) fn intercepts(&self, status: StatusCode) -> bool {
        if !self.intercept_error_responses {
            return false;
        }
        match self.common.layer().and_then(|options| options.only) {
            Some(only) => only.contains(status),
            None => status == StatusCode::INTERNAL_SERVER_ERROR || self.intercept_all_errors,
        }
    }

    /// The layer's `on_failure`, if it has one.
    pub(super) fn on_failure(&self) -> Option<&OnFailure<Failure>> {
        self.common.layer()?.on_failure.as_ref()
    }

    /// The registered problem types.
    pub(super) fn problem_types(&self) -> &[FindProblem] {
        self.common
            .layer()
            .map_or(&[], |options| &options.problem_types)
    }
}

impl AppErrorLayer {
    /// The layer with the default problem+json body and every check on;
    /// only 500s among the inner stack's error responses are replaced.
    pub const fn new() -> Self {
        Self {
            parts: LayerParts {
                settings: AppSettings {
                    common: CommonSettings::new(),
                    catch_body_panics: true,
                    intercept_error_responses: true,
                    intercept_all_errors: false,
                    client_error_detail: true,
                },
                classify: DefaultClassifier,
                respond: DefaultResponse,
            },
        }
    }
}

impl Default for AppErrorLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<C, R> AppErrorLayer<C, R> {
    common_builder_methods!();

    customisation_methods! {
        AppErrorLayer,
        respond: {},
        classify: {
        /// This is how a domain error returned through `?` (into a
        /// [`HandlerError`](super::HandlerError), or as the service's error)
        /// gets one of the crate's kinds: a "no such order" classified as
        /// [`Kind::NotFound`] is answered 404, a conflict as [`Kind::Conflict`]
        /// 409 (an error of the API's own problem type goes through
        /// [`problem_type`](Self::problem_type)). The answer is the kind's problem at the
        /// kind's status; the error is logged, at `info` for a 4xx kind.
        ///
        /// The layer's own rules (feature `tower`): tower's
        /// `timeout::error::Elapsed` anywhere in the chain is [`Kind::Timeout`],
        /// `load_shed::error::Overloaded` [`Kind::Overloaded`] (both 503);
        /// anything else is [`Kind::HandlerError`] (500).
        },
    }

    /// Answers errors of type `T` (at any level of an error's chain, asked
    /// before the classifier) as the problem type `T` says it is: see
    /// [`ProblemType`].
    pub fn problem_type<T: ProblemType>(mut self) -> Self {
        self.parts
            .settings
            .common
            .options_mut()
            .layer
            .problem_types
            .push(find::<T>);
        self
    }

    flag_setter! {
    /// Catches panics while the response body is polled (on by default).
    ///
    /// The head is sent by then, so the body ends with an error and the
    /// server aborts the connection (HTTP/1) or resets the stream (HTTP/2):
    /// the client never sees a body that looks complete. Off, such a panic
    /// unwinds into the server, which does the same without the layer's log.
    catch_body_panics
    }

    flag_setter! {
    /// Replaces the body of an error response the inner stack made with
    /// the consistent problem (on by default, as the gateway layer's
    /// [`intercept_error_responses`] is off by default: an application's
    /// own errors should all look alike, a gateway forwards what its
    /// upstream says unless told otherwise).
    ///
    /// By default that is a 500 whose body is not already problem+json
    /// (the application's own problem is the one it meant to send): it
    /// becomes the problem of kind `internal_error`, its status kept.
    /// [`intercept_all_errors`](Self::intercept_all_errors) and
    /// [`intercept_only`](Self::intercept_only) widen or narrow which
    /// statuses. The representation and framing headers (`Content-Type`,
    /// `Content-Length`, `Content-Encoding`, `Content-Language`,
    /// `Content-Location`, `Content-Range` but on a 416, `Transfer-Encoding`,
    /// `ETag`, `Last-Modified`, the digests) are dropped, the others kept:
    /// `Allow` on a 405, `Retry-After` on a 429 or 503, `WWW-Authenticate`
    /// on a 401, `Proxy-Authenticate` on a 407, `Upgrade` on a 426.
    ///
    /// [`intercept_error_responses`]: crate::gateway::GatewayErrorLayer::intercept_error_responses
    intercept_error_responses
    }

    flag_setter! {
    /// Replaces every error response (4xx and 5xx) of the inner stack whose
    /// body is not problem+json, not only its 500s (off by default): axum's
    /// rejections (400, 415, 422), its router's empty 404 and 405,
    /// tower-http's `TimeoutLayer` (408, or the status it is given) and
    /// body limits (413), a handler's own plain-text 400. Each status has
    /// its kind ([`Kind::of_status`]): a problem of type `about:blank`
    /// (RFC 9457 §4.2.1: the status says all there is), its title the
    /// status's phrase.
    ///
    /// axum's rejections carry no mark, so a handler's own plain-text 4xx
    /// is converted the same way; answer problem+json to keep your own.
    /// The text of a replaced 4xx body goes into `detail`
    /// ([`client_error_detail`](Self::client_error_detail)); a 5xx's goes
    /// to the log only.
    ///
    /// With the `serde` feature, a handler's `application/json` 4xx body
    /// (`409 {"error":"order 2 shipped","code":"E42"}`) keeps its top-level
    /// members as the problem's extension members; those whose names the
    /// problem cannot take (`status`, `kind`, a name RFC 9457 §3.2 advises
    /// against) go together under `original`. A 5xx's members are carried
    /// only with [`expose_details`](Self::expose_details). Such a body is
    /// read when its length is known, at most 16 KiB, and it is all there
    /// with the head (axum's `Json` is); it is never waited for. Any other
    /// body with content is replaced, and the failure's line (warn level
    /// for a 4xx) says so, with its `content_type` and `length`.
    intercept_all_errors
    }

    flag_setter! {
    /// Puts the text of a replaced 4xx body into the problem's `detail` (on
    /// by default): it is about the client's own request ("Failed to parse
    /// the request body as JSON: expected value at line 1 column 1"). The
    /// text is read only from a `text/plain` body of at most 1 KiB that is
    /// ready at once, as axum's rejections are; of any other body the
    /// problem says nothing. A 5xx's text is logged, and goes into `detail`
    /// only with [`expose_details`](Self::expose_details).
    client_error_detail
    }

    /// Replaces the error responses with these statuses only (each a 4xx or
    /// a 5xx), whose bodies are not problem+json, instead of 500s only or
    /// [every error](Self::intercept_all_errors).
    ///
    /// # Panics
    ///
    /// If a status is not a 4xx or a 5xx: a mistake in the layer's set-up,
    /// told at start-up.
    pub fn intercept_only(mut self, statuses: impl IntoIterator<Item = StatusCode>) -> Self {
        let mut only = StatusSet::default();
        for status in statuses {
            assert!(
                status.is_client_error() || status.is_server_error(),
                "intercept_only({status}): not a 4xx or 5xx status"
            );
            only.insert(status);
        }
        self.parts.settings.common.options_mut().layer.only = Some(only);
        self
    }
}

impl<C, R> fmt::Debug for AppErrorLayer<C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppErrorLayer")
            .field("parts", &self.parts)
            .finish()
    }
}

impl<S, C: Clone, R: Clone> Layer<S> for AppErrorLayer<C, R> {
    type Service = AppErrorService<S, C, R>;

    fn layer(&self, inner: S) -> Self::Service {
        AppErrorService {
            inner,
            parts: self.parts.clone(),
            not_ready: None,
        }
    }
}
