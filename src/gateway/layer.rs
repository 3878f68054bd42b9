use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue, StatusCode};
use tower_layer::Layer;

use super::classify::{Classify, DefaultClassifier};
use super::failure::Kind;
use super::proxy_status::serialize_name;
use super::service::GatewayError;
use crate::context::Capture;
use crate::respond::{DefaultResponse, ResponseForFailure};

/// The default proxy name in `Proxy-Status`, as a literal for `concat!`.
macro_rules! default_proxy_name {
    () => {
        "tower-problem"
    };
}
pub(super) use default_proxy_name;

/// The default head timeout: 30 seconds.
pub const DEFAULT_HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// The default body idle timeout: 60 seconds.
pub const DEFAULT_BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Turns the failures of an upstream-calling service into 502s (and 503,
/// 504 where configured) with a problem+json body and a `Proxy-Status`
/// header. See the [module docs](super) for an example.
pub struct GatewayErrorLayer<C = DefaultClassifier, R = DefaultResponse> {
    shared: Arc<Shared<C, R>>,
}

/// What the layer and all its services, futures and bodies share.
pub(super) struct Shared<C, R> {
    pub(super) settings: Settings,
    pub(super) classify: Arc<C>,
    pub(super) respond: Arc<R>,
}

impl<C, R> Clone for Shared<C, R> {
    fn clone(&self) -> Self {
        Self {
            settings: self.settings.clone(),
            classify: Arc::clone(&self.classify),
            respond: Arc::clone(&self.respond),
        }
    }
}

#[derive(Clone, Debug)]
pub(super) struct Settings {
    pub(super) head_timeout: Option<Duration>,
    pub(super) body_idle_timeout: Option<Duration>,
    pub(super) timeout_status: StatusCode,
    pub(super) unavailable_status: StatusCode,
    pub(super) retry_after: Option<HeaderValue>,
    /// The proxy's name, already serialized as an sf-token or sf-string.
    pub(super) proxy_name: Arc<str>,
    pub(super) proxy_status_details: bool,
    pub(super) proxy_status_next_hop: bool,
    pub(super) expose_details: bool,
    pub(super) intercept_upstream_errors: bool,
    pub(super) type_base: Option<Arc<str>>,
    pub(super) capture: Capture,
}

impl Settings {
    /// The status the layer answers a failure of `kind` with.
    pub(super) fn status(&self, kind: Kind) -> StatusCode {
        if kind.is_timeout() {
            self.timeout_status
        } else if kind == Kind::DestinationUnavailable {
            self.unavailable_status
        } else {
            kind.default_status()
        }
    }
}

impl GatewayErrorLayer {
    /// The layer with the default classifier and problem+json body, a head
    /// timeout of 30 s and a body idle timeout of 60 s.
    pub fn new() -> Self {
        let settings = Settings {
            head_timeout: Some(DEFAULT_HEAD_TIMEOUT),
            body_idle_timeout: Some(DEFAULT_BODY_IDLE_TIMEOUT),
            timeout_status: StatusCode::BAD_GATEWAY,
            unavailable_status: StatusCode::BAD_GATEWAY,
            retry_after: None,
            proxy_name: Arc::from(default_proxy_name!()),
            proxy_status_details: false,
            proxy_status_next_hop: false,
            expose_details: false,
            intercept_upstream_errors: false,
            type_base: None,
            capture: Capture::default(),
        };
        Self {
            shared: Arc::new(Shared {
                settings,
                classify: Arc::new(DefaultClassifier),
                respond: Arc::new(DefaultResponse),
            }),
        }
    }
}

impl Default for GatewayErrorLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<C, R> GatewayErrorLayer<C, R> {
    fn settings_mut(&mut self) -> &mut Settings {
        &mut Arc::make_mut(&mut self.shared).settings
    }

    /// How long the upstream may take to send its response head, from the
    /// first poll of the response future (30 s by default; `None` or zero
    /// turns it off). When it runs out, the upstream request is dropped and
    /// the client gets [`Kind::HttpResponseTimeout`].
    ///
    /// The timer is armed only when the inner service's future is not ready
    /// at once, and needs tokio's time driver.
    pub fn head_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.settings_mut().head_timeout = timeout.filter(|t| !t.is_zero());
        self
    }

    /// How long the upstream's response body may send nothing (60 s by
    /// default; `None` or zero turns it off). When it runs out, the response
    /// body ends with a [`BodyError`](super::BodyError) and the server
    /// aborts the response: the status was sent, so this cannot be a 502.
    ///
    /// The timer is armed the first time the body is not ready, and reset
    /// once per wait, not per frame.
    pub fn body_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.settings_mut().body_idle_timeout = timeout.filter(|t| !t.is_zero());
        self
    }

    /// The status for [`Kind::ConnectionTimeout`] and
    /// [`Kind::HttpResponseTimeout`] (502 by default):
    /// `StatusCode::GATEWAY_TIMEOUT` answers them with 504, as nginx and
    /// HAProxy do.
    pub fn timeout_status(mut self, status: StatusCode) -> Self {
        self.settings_mut().timeout_status = status;
        self
    }

    /// Applies RFC 9209's recommended statuses: 504 Gateway Timeout for
    /// timeouts and 503 Service Unavailable for
    /// [`Kind::DestinationUnavailable`]. Unclassified failures stay 502 (RFC
    /// 9209 suggests 500 for `proxy_internal_error`, which clients would
    /// take for a failure of the origin).
    pub fn recommended_statuses(mut self) -> Self {
        let settings = self.settings_mut();
        settings.timeout_status = StatusCode::GATEWAY_TIMEOUT;
        settings.unavailable_status = StatusCode::SERVICE_UNAVAILABLE;
        self
    }

    /// Sends `Retry-After` (in whole seconds, rounded up) with the 503 of
    /// [`Kind::ConnectionLimitReached`].
    pub fn retry_after(mut self, after: Duration) -> Self {
        let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
        self.settings_mut().retry_after = Some(HeaderValue::from(secs));
        self
    }

    /// The name of this gateway in `Proxy-Status` (default `tower-problem`).
    ///
    /// Written as an sf-token when it is one (`proxy.example.com`), else as
    /// an sf-string with `"` and `\` escaped and characters outside
    /// printable ASCII replaced by `?`: never an invalid header.
    pub fn proxy_name(mut self, name: impl Into<String>) -> Self {
        self.settings_mut().proxy_name = Arc::from(serialize_name(&name.into()));
        self
    }

    /// Adds `details="..."` to `Proxy-Status`: the upstream client's error
    /// chain (off by default: it can name internal hosts). Escaped as an
    /// sf-string, characters outside printable ASCII replaced, cut at 1 KiB.
    pub fn proxy_status_details(mut self, details: bool) -> Self {
        self.settings_mut().proxy_status_details = details;
        self
    }

    /// Adds `next-hop="..."` to `Proxy-Status`: the upstream's authority
    /// from the request URI the inner service got (off by default).
    pub fn proxy_status_next_hop(mut self, next_hop: bool) -> Self {
        self.settings_mut().proxy_status_next_hop = next_hop;
        self
    }

    /// Puts the upstream client's error chain into the problem's `detail`.
    ///
    /// Off by default: it can hold internal addresses. Turn it on for
    /// development only.
    pub fn expose_details(mut self, expose: bool) -> Self {
        self.settings_mut().expose_details = expose;
        self
    }

    /// Replaces the body of every 5xx response of the upstream with the
    /// gateway's problem of kind [`Kind::UpstreamServerError`], keeping the
    /// status, like nginx's `proxy_intercept_errors` (off by default: the
    /// upstream's responses pass through untouched).
    ///
    /// The upstream's headers are kept, except those describing the dropped
    /// body (`Content-Type`, `Content-Length`, `Content-Encoding`,
    /// `Transfer-Encoding`, `ETag`, `Content-Range`, `Last-Modified`); the
    /// gateway's `Proxy-Status` member, with `received-status`, is appended
    /// after the upstream's own members.
    pub fn intercept_upstream_errors(mut self, intercept: bool) -> Self {
        self.settings_mut().intercept_upstream_errors = intercept;
        self
    }

    /// The start of every `type` URI: the kind's token is appended to it.
    ///
    /// Defaults to [`DEFAULT_TYPE_BASE`](crate::DEFAULT_TYPE_BASE), where each
    /// kind is documented.
    pub fn type_base(mut self, base: impl Into<Arc<str>>) -> Self {
        self.settings_mut().type_base = Some(base.into());
        self
    }

    /// The request header that holds the request id (default
    /// `x-request-id`): logged and copied into the problem's `request_id`.
    pub fn request_id_header(mut self, name: HeaderName) -> Self {
        self.settings_mut().capture.request_id_header = name;
        self
    }

    /// Keeps the request header `name` for customisations, in
    /// [`RequestContext::headers`](crate::RequestContext::headers).
    ///
    /// Costs one allocation per request while any header is captured.
    pub fn capture_header(mut self, name: HeaderName) -> Self {
        self.settings_mut().capture.headers.push(name);
        self
    }

    /// Keeps the request's path, query, request id and captured headers for
    /// logs and customisations (on by default). Off, only the method (and
    /// the upstream authority, for the logs) is kept.
    pub fn capture_request(mut self, capture: bool) -> Self {
        self.settings_mut().capture.enabled = capture;
        self
    }

    /// Classifies upstream errors with `classify` first, falling back to the
    /// [`DefaultClassifier`] where it returns `None`: a [`Classify`] or a
    /// closure `|error: &(dyn Error + 'static)| -> Option<Kind>`.
    pub fn classify_with<C2: Classify>(self, classify: C2) -> GatewayErrorLayer<C2, R> {
        GatewayErrorLayer {
            shared: Arc::new(Shared {
                settings: self.shared.settings.clone(),
                classify: Arc::new(classify),
                respond: Arc::clone(&self.shared.respond),
            }),
        }
    }

    /// Builds the failure responses with `respond` instead of the default
    /// problem+json: a [`ResponseForFailure`] or a closure
    /// `|failure: &Failure, request: &RequestContext, problem: Problem| -> impl Into<Response<Bytes>>`.
    ///
    /// The layer then adds `Proxy-Status` (unless the response has one),
    /// `Retry-After` where configured, and `Content-Length`.
    ///
    /// [`Failure`]: super::Failure
    /// [`RequestContext`]: crate::RequestContext
    /// [`Problem`]: crate::problem::Problem
    pub fn respond_with<R2: ResponseForFailure<super::Failure>>(
        self,
        respond: R2,
    ) -> GatewayErrorLayer<C, R2> {
        GatewayErrorLayer {
            shared: Arc::new(Shared {
                settings: self.shared.settings.clone(),
                classify: Arc::clone(&self.shared.classify),
                respond: Arc::new(respond),
            }),
        }
    }
}

#[cfg(test)]
impl<C, R> GatewayErrorLayer<C, R> {
    pub(super) fn settings_for_tests(&self) -> Settings {
        self.shared.settings.clone()
    }
}

impl<C, R> Clone for GatewayErrorLayer<C, R> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<C, R> fmt::Debug for GatewayErrorLayer<C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayErrorLayer")
            .field("settings", &self.shared.settings)
            .field("classify", &std::any::type_name::<C>())
            .field("respond", &std::any::type_name::<R>())
            .finish()
    }
}

impl<S, C, R> Layer<S> for GatewayErrorLayer<C, R> {
    type Service = GatewayError<S, C, R>;

    fn layer(&self, inner: S) -> Self::Service {
        GatewayError::new(inner, Arc::clone(&self.shared))
    }
}
