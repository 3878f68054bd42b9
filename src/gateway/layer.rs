use std::fmt;
use std::time::Duration;

use http::StatusCode;
use tower_layer::Layer;

use super::failure::{Failure, Kind};
use super::proxy_status::serialize_name;
use super::service::GatewayErrorService;
use crate::common::layer_parts::customisation_methods;
use crate::common::layer_parts::LayerParts;
use crate::common::report::OnFailure;
use crate::common::settings::{common_builder_methods, flag_setter, CommonSettings};
use crate::{DefaultClassifier, DefaultResponse};

/// The default head timeout: 30 seconds.
pub const DEFAULT_HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// The default body idle timeout: 60 seconds.
pub const DEFAULT_BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Turns the failures of an upstream-calling service into 502s (and 503,
/// 504 where configured) with a problem+json body and a `Proxy-Status`
/// header. See the [module docs](super) for an example.
#[derive(Clone)]
pub struct GatewayErrorLayer<C = DefaultClassifier, R = DefaultResponse> {
    parts: LayerParts<GatewaySettings, C, R>,
}

/// What the layer, its services and their futures keep: the flags and
/// timeouts by value, the rest behind the common settings' one `Arc`.
#[derive(Clone, Debug)]
pub(super) struct GatewaySettings {
    pub(super) common: CommonSettings<GatewayOptions>,
    pub(super) head_timeout: Option<Duration>,
    pub(super) body_idle_timeout: Option<Duration>,
    pub(super) recommended_statuses: bool,
    pub(super) proxy_status_details: bool,
    pub(super) proxy_status_next_hop: bool,
    pub(super) intercept_error_responses: bool,
}

/// The gateway's settings that are not flags.
#[derive(Clone, Debug, Default)]
pub(super) struct GatewayOptions {
    /// The proxy's name, already serialized as an sf-token or sf-string.
    proxy_name: Option<Box<str>>,
    statuses: Vec<(Kind, StatusCode)>,
    max_response_body: Option<u64>,
    max_request_body: Option<u64>,
    #[cfg(feature = "metrics")]
    metrics_upstream: bool,
    pub(super) on_failure: Option<OnFailure<Failure>>,
}

/// The proxy name unless one is set.
pub(super) const DEFAULT_PROXY_NAME: &str = "tower-problem";

impl GatewaySettings {
    /// The status the layer answers a failure of `kind` with: the one set
    /// for it, else RFC 9209's recommendation if asked for, else the kind's
    /// default.
    pub(super) fn status(&self, kind: Kind) -> StatusCode {
        let set = self
            .options()
            .and_then(|options| options.statuses.iter().find(|(k, _)| *k == kind));
        if let Some(&(_, status)) = set {
            return status;
        }
        if self.recommended_statuses {
            if kind.is_timeout() {
                return StatusCode::GATEWAY_TIMEOUT;
            }
            if kind == Kind::DestinationUnavailable {
                return StatusCode::SERVICE_UNAVAILABLE;
            }
        }
        kind.default_status()
    }

    fn options(&self) -> Option<&GatewayOptions> {
        self.common.layer()
    }

    /// The cap on an upstream response body, if set.
    pub(super) fn max_response_body(&self) -> Option<u64> {
        self.options()?.max_response_body
    }

    /// The limit on a client's request body, if set.
    pub(super) fn max_request_body(&self) -> Option<u64> {
        self.options()?.max_request_body
    }

    /// Whether the failure counter is labelled with the upstream.
    #[cfg(feature = "metrics")]
    pub(super) fn metrics_upstream(&self) -> bool {
        self.options()
            .is_some_and(|options| options.metrics_upstream)
    }

    /// The proxy's name, serialized for `Proxy-Status`.
    pub(super) fn proxy_name(&self) -> &str {
        self.options()
            .and_then(|options| options.proxy_name.as_deref())
            .unwrap_or(DEFAULT_PROXY_NAME)
    }

    /// The layer's `on_failure`, if it has one.
    pub(super) fn on_failure(&self) -> Option<&OnFailure<Failure>> {
        self.options()?.on_failure.as_ref()
    }
}

impl GatewayErrorLayer {
    /// The layer with the default classifier and problem+json body, a head
    /// timeout of 30 s and a body idle timeout of 60 s.
    pub const fn new() -> Self {
        Self {
            parts: LayerParts {
                settings: GatewaySettings {
                    common: CommonSettings::new(),
                    head_timeout: Some(DEFAULT_HEAD_TIMEOUT),
                    body_idle_timeout: Some(DEFAULT_BODY_IDLE_TIMEOUT),
                    recommended_statuses: false,
                    proxy_status_details: false,
                    proxy_status_next_hop: false,
                    intercept_error_responses: false,
                },
                classify: DefaultClassifier,
                respond: DefaultResponse,
            },
        }
    }
}

impl Default for GatewayErrorLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<C, R> GatewayErrorLayer<C, R> {
    common_builder_methods!();

    customisation_methods! {
        GatewayErrorLayer,
        respond: {
        /// The layer then adds `Proxy-Status` (unless the response has one),
        /// `Retry-After` where configured, and `Content-Length`.
        },
        classify: {
        /// The same classifier is what `RetryNeverSent::classify_with`
        /// takes (feature `tower`).
        ///
        /// The layer asks only about errors of the response head: a failure of
        /// the client's request body is recognised before it (as
        /// [`Kind::RequestBodyError`]), and errors of the upstream's response
        /// body are classified by the layer's rules, for the logs.
        ///
        /// The layer's own rules read the error's `source()` chain for what hyper 1,
        /// hyper-util's legacy client, tokio, tower and std report:
        ///
        /// | found in the chain | kind |
        /// |---|---|
        /// | no level below, but a level of a type none of these rules know whose text starts as hyper-util's `dns error` or std's resolver error (`failed to lookup address information`) does: best effort, by text | [`Kind::DnsError`] |
        /// | `io::ErrorKind::ConnectionRefused` | [`Kind::ConnectionRefused`] |
        /// | `io::ErrorKind::HostUnreachable`, `NetworkUnreachable` | [`Kind::DestinationIpUnroutable`] |
        /// | `io::ErrorKind::TimedOut` (hyper-util's connect timeout) | [`Kind::ConnectionTimeout`] |
        /// | tokio's or tower's `Elapsed` (a timeout around the client), `hyper::Error::is_timeout` | [`Kind::HttpResponseTimeout`] |
        /// | `io::ErrorKind::ConnectionReset`, `ConnectionAborted`, `BrokenPipe` | [`Kind::ConnectionTerminated`] |
        /// | `hyper::Error::is_incomplete_message`, `io::ErrorKind::UnexpectedEof` | [`Kind::HttpResponseIncomplete`] |
        /// | `hyper::Error::is_parse` ("message head is too large") | [`Kind::HttpResponseHeaderSectionSize`] |
        /// | any other `hyper::Error::is_parse` (status line, header, version, conflicting `Content-Length`) | [`Kind::HttpProtocolError`] |
        /// | tower's `load_shed` `Overloaded` (feature `tower`) | [`Kind::ConnectionLimitReached`] |
        /// | anything else | [`Kind::ProxyInternalError`] |
        ///
        /// The first level whose type tells decides, outermost first; only when
        /// none does is the text of the levels of other types read (a name lookup
        /// fails with no typed cause under it). The walk looks inside an
        /// `io::Error` at the error it wraps, which its `source()` skips (so std's
        /// resolver error is read by its text at the level it wraps).
        /// A timeout under a [`ConnectError`], or under an error that
        /// hyper-util's client reports as `is_connect()` (with the `hyper-util`
        /// feature), is a connection timeout, and any other is a response
        /// timeout; either mark also makes the request never sent
        /// ([`Failure::is_request_never_sent`]).
        ///
        /// [`Failure::is_request_never_sent`]: super::Failure::is_request_never_sent
        /// [`ConnectError`]: super::ConnectError
        /// [`Kind::DnsError`]: super::Kind::DnsError
        /// [`Kind::ConnectionRefused`]: super::Kind::ConnectionRefused
        /// [`Kind::DestinationIpUnroutable`]: super::Kind::DestinationIpUnroutable
        /// [`Kind::ConnectionTimeout`]: super::Kind::ConnectionTimeout
        /// [`Kind::HttpResponseTimeout`]: super::Kind::HttpResponseTimeout
        /// [`Kind::ConnectionTerminated`]: super::Kind::ConnectionTerminated
        /// [`Kind::HttpResponseIncomplete`]: super::Kind::HttpResponseIncomplete
        /// [`Kind::HttpResponseHeaderSectionSize`]: super::Kind::HttpResponseHeaderSectionSize
        /// [`Kind::HttpProtocolError`]: super::Kind::HttpProtocolError
        /// [`Kind::ConnectionLimitReached`]: super::Kind::ConnectionLimitReached
        /// [`Kind::ProxyInternalError`]: super::Kind::ProxyInternalError
        /// [`Kind::RequestBodyError`]: super::Kind::RequestBodyError
        },
    }

    /// How long the upstream may take to send its response head, from the
    /// first poll of the response future (30 s by default; `None` or zero
    /// turns it off; tokio's timer rounds it up to whole milliseconds, and
    /// one too long to add to the clock never runs out). When it runs out,
    /// the upstream request is dropped and the client gets
    /// [`Kind::HttpResponseTimeout`].
    ///
    /// The timer is armed only when the inner service's future is not ready
    /// at once, and needs tokio's time driver.
    pub fn head_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.parts.settings.head_timeout = timeout.filter(|timeout| !timeout.is_zero());
        self
    }

    /// How long the upstream's response body may send nothing (60 s by
    /// default; `None` or zero turns it off), timed as the
    /// [head timeout](Self::head_timeout) is. When it runs out, the response
    /// body ends with a [`BodyError`](super::BodyError) and the server
    /// aborts the response: the status was sent, so this cannot be a 502.
    ///
    /// The timer is armed the first time the body is not ready, and reset
    /// once per wait, not per frame.
    pub fn body_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.parts.settings.body_idle_timeout = timeout.filter(|timeout| !timeout.is_zero());
        self
    }

    /// Answers failures of `kind` with `status`, whatever the order of this
    /// and [`recommended_statuses`](Self::recommended_statuses): a status
    /// set here wins. `status_for(Kind::HttpResponseTimeout,
    /// StatusCode::GATEWAY_TIMEOUT)` answers head timeouts with 504, as
    /// nginx and HAProxy do.
    ///
    /// Every 503 the layer makes carries `Retry-After` when
    /// [`retry_after`](Self::retry_after) is set.
    ///
    /// # Panics
    ///
    /// If `status` is not a 4xx or 5xx, or is one whose answer must carry a
    /// header the layer cannot make (401 `WWW-Authenticate`, 405 `Allow`,
    /// 407 `Proxy-Authenticate`, 426 `Upgrade`: RFC 9110 §15.5), or `kind`
    /// is answered with no status of the layer's: the body-phase kinds
    /// ([`Kind::ConnectionReadTimeout`], [`Kind::HttpResponseTransferCoding`]:
    /// the upstream's status was sent) and [`Kind::UpstreamServerError`]
    /// (the upstream's status is kept). All are mistakes in the layer's
    /// set-up, told at start-up.
    pub fn status_for(mut self, kind: Kind, status: StatusCode) -> Self {
        assert!(
            status.is_client_error() || status.is_server_error(),
            "status_for({kind}, {status}): a failure is answered with a 4xx or 5xx status"
        );
        assert!(
            !matches!(status.as_u16(), 401 | 405 | 407 | 426),
            "status_for({kind}, {status}): its answer must carry a header (RFC 9110 §15.5) the layer cannot make"
        );
        assert!(
            kind.has_own_status(),
            "status_for({kind}, {status}): {kind} keeps the status the upstream sent"
        );
        let statuses = &mut self.parts.settings.common.options_mut().layer.statuses;
        statuses.retain(|(k, _)| *k != kind);
        statuses.push((kind, status));
        self
    }

    /// Applies RFC 9209's recommended statuses (§2.3, one per error type)
    /// to the kinds that have no status set with
    /// [`status_for`](Self::status_for):
    ///
    /// | kind | default | with `recommended_statuses` |
    /// |---|---|---|
    /// | `dns_timeout`, `connection_timeout`, `http_response_timeout` | 502 | 504 Gateway Timeout |
    /// | `destination_unavailable` | 502 | 503 Service Unavailable |
    /// | `connection_limit_reached` | 503 | 503 Service Unavailable |
    /// | `dns_error`, `connection_refused`, `destination_ip_unroutable`, `tls_certificate_error`, `tls_alert_received`, `tls_protocol_error`, `connection_terminated`, `http_response_incomplete`, `http_protocol_error`, `http_response_header_section_size` | 502 | 502 Bad Gateway |
    /// | `proxy_internal_error` | 502 | 502 Bad Gateway (RFC 9209 suggests 500, which clients would take for a failure of the origin) |
    /// | `request_body_error`, `request_body_too_large` (not proxy errors) | 400, 413 | 400, 413 |
    ///
    /// The body-phase kinds and `upstream_server_error` have no status of
    /// the layer's: the upstream's was sent or is kept.
    pub fn recommended_statuses(mut self) -> Self {
        self.parts.settings.recommended_statuses = true;
        self
    }

    /// Cuts an upstream response body off after `max` bytes (off by
    /// default): the head is sent by then, so the response is aborted
    /// (`http_response_body_size`, logged with the bytes sent) and the
    /// client never takes the cut body for a complete one. A head whose
    /// `Content-Length` is already over `max` (for a response with a body:
    /// not to `HEAD`, not 1xx, 204 or 304) is answered 502
    /// `http_response_body_size` instead, before any of it is sent. The
    /// head's own size is hyper's to bound
    /// (`http_response_header_section_size`).
    pub fn max_response_body(mut self, max: Option<u64>) -> Self {
        if max.is_some() || self.parts.settings.options().is_some() {
            self.parts
                .settings
                .common
                .options_mut()
                .layer
                .max_response_body = max;
        }
        self
    }

    /// Answers a client's request body over `max` bytes with 413 Content
    /// Too Large ([`Kind::RequestBodyTooLarge`]; off by default). A body
    /// whose size hint is already over it (hyper's and axum's bodies report
    /// their `Content-Length`) is answered before the upstream is called;
    /// one that grows past it while it is forwarded fails instead of
    /// sending the frame that crosses it, and the upstream client aborts
    /// the request.
    ///
    /// [`Kind::RequestBodyTooLarge`]: super::Kind::RequestBodyTooLarge
    pub fn max_request_body(mut self, max: Option<u64>) -> Self {
        if max.is_some() || self.parts.settings.options().is_some() {
            self.parts
                .settings
                .common
                .options_mut()
                .layer
                .max_request_body = max;
        }
        self
    }

    /// Labels the failure counter (feature `metrics`) with the upstream's
    /// authority too (`upstream`; off by default): one series per upstream,
    /// which is as many as the gateway has upstreams. A failure after the
    /// head is counted without it.
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub fn metrics_upstream(mut self, label: bool) -> Self {
        if label || self.parts.settings.options().is_some() {
            self.parts
                .settings
                .common
                .options_mut()
                .layer
                .metrics_upstream = label;
        }
        self
    }

    /// The name of this gateway in `Proxy-Status` (default `tower-problem`).
    ///
    /// Written as an sf-token when it is one (`proxy.example.com`), else as
    /// an sf-string with `"` and `\` escaped and characters outside
    /// printable ASCII replaced by `?`: never an invalid header.
    pub fn proxy_name(mut self, name: impl Into<String>) -> Self {
        let name = serialize_name(&name.into()).into_boxed_str();
        self.parts.settings.common.options_mut().layer.proxy_name = Some(name);
        self
    }

    flag_setter! {
    /// Adds `details="..."` to `Proxy-Status`: the upstream client's error
    /// chain (off by default: it can name internal hosts). Escaped as an
    /// sf-string, characters outside printable ASCII replaced, cut to 1,024
    /// characters (the least every parser must accept, RFC 9651 §3.3.3).
    proxy_status_details
    }

    flag_setter! {
    /// Adds `next-hop="..."` to `Proxy-Status`: the upstream's authority
    /// from the request URI the inner service got (off by default).
    proxy_status_next_hop
    }

    flag_setter! {
    /// Replaces the body of an error response the upstream sent with the
    /// gateway's problem of kind [`Kind::UpstreamServerError`], keeping the
    /// status, like nginx's `proxy_intercept_errors` (off by default: the
    /// upstream's responses pass through untouched, where the app layer's
    /// [`intercept_error_responses`] is on: an application's own errors
    /// should all look alike, a gateway forwards what its upstream says).
    ///
    /// Here that is every 5xx but a problem+json one: an upstream that
    /// answers a problem chose what its clients read, as an application's
    /// own problem passes the app layer (one rule for both layers). The
    /// upstream's headers are kept, its `Retry-After` over the layer's,
    /// except those describing the dropped body
    /// (`Content-Type`, `Content-Length`, `Content-Encoding`,
    /// `Content-Language`, `Content-Location`, `Content-Range`,
    /// `Transfer-Encoding`, `ETag`, `Last-Modified`, the digests); the
    /// gateway's `Proxy-Status` member, with `received-status`, is appended
    /// after the upstream's own members.
    ///
    /// [`intercept_error_responses`]: crate::app::AppErrorLayer::intercept_error_responses
    intercept_error_responses
    }

    #[cfg(test)]
    pub(super) fn settings(&self) -> &GatewaySettings {
        &self.parts.settings
    }
}

impl<C, R> fmt::Debug for GatewayErrorLayer<C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayErrorLayer")
            .field("parts", &self.parts)
            .finish()
    }
}

impl<S, C: Clone, R: Clone> Layer<S> for GatewayErrorLayer<C, R> {
    type Service = GatewayErrorService<S, C, R>;

    fn layer(&self, inner: S) -> Self::Service {
        GatewayErrorService {
            inner,
            parts: self.parts.clone(),
            not_ready: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_set_for_a_kind_wins_whatever_the_order() {
        let kind = Kind::HttpResponseTimeout;
        let teapot = StatusCode::from_u16(599).unwrap();
        let before = GatewayErrorLayer::new()
            .status_for(kind, teapot)
            .recommended_statuses();
        let after = GatewayErrorLayer::new()
            .recommended_statuses()
            .status_for(kind, teapot);
        for layer in [before, after] {
            assert_eq!(layer.settings().status(kind), teapot);
            let other = Kind::ConnectionTimeout;
            assert_eq!(layer.settings().status(other), StatusCode::GATEWAY_TIMEOUT);
        }
        let twice = GatewayErrorLayer::new()
            .status_for(kind, teapot)
            .status_for(kind, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            twice.settings().status(kind),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }

    /// RFC 9209 §2.3: the recommended status of each proxy error type, for
    /// every kind answered with a status of the layer's; `None` for those
    /// that are not (the upstream's status was sent or is kept).
    fn rfc_9209_status(kind: Kind) -> Option<u16> {
        match kind {
            Kind::DnsTimeout | Kind::ConnectionTimeout | Kind::HttpResponseTimeout => Some(504),
            Kind::DestinationUnavailable | Kind::ConnectionLimitReached => Some(503),
            Kind::DnsError
            | Kind::ConnectionRefused
            | Kind::DestinationIpUnroutable
            | Kind::TlsCertificateError
            | Kind::TlsAlertReceived
            | Kind::TlsProtocolError
            | Kind::ConnectionTerminated
            | Kind::HttpResponseIncomplete
            | Kind::HttpProtocolError
            | Kind::HttpResponseHeaderSectionSize => Some(502),
            // RFC 9209 says 500; the layer keeps 502 on purpose (see
            // `recommended_statuses`).
            Kind::ProxyInternalError => Some(502),
            // Not proxy errors: the client's own request body.
            Kind::RequestBodyError => Some(400),
            Kind::RequestBodyTooLarge => Some(413),
            Kind::ConnectionReadTimeout
            | Kind::HttpResponseBodySize
            | Kind::HttpResponseTransferCoding
            | Kind::UpstreamServerError => None,
        }
    }

    #[test]
    fn recommended_statuses_are_those_of_rfc_9209() {
        let layer = GatewayErrorLayer::new().recommended_statuses();
        for &kind in Kind::ALL {
            assert_eq!(
                kind.has_own_status()
                    .then(|| layer.settings().status(kind).as_u16()),
                rfc_9209_status(kind),
                "{kind}"
            );
        }
    }

    #[test]
    fn the_default_configuration_shares_nothing() {
        let layer = GatewayErrorLayer::new()
            .retry_after(None)
            .max_request_body(None);
        assert!(layer.settings().options().is_none());
        let layer = layer.retry_after(Some(Duration::from_millis(1500)));
        assert_eq!(layer.settings().common.retry_after(), Some(2));
        let layer = layer.retry_after(None);
        assert_eq!(layer.settings().common.retry_after(), None);
        let timeouts = GatewayErrorLayer::new()
            .head_timeout(Some(Duration::from_micros(1500)))
            .body_idle_timeout(Some(Duration::ZERO));
        let settings = timeouts.settings();
        assert_eq!(settings.head_timeout, Some(Duration::from_micros(1500)));
        assert_eq!(settings.body_idle_timeout, None);
        assert_eq!(layer.settings().proxy_name(), DEFAULT_PROXY_NAME);
        let named = layer.proxy_name("edge 1");
        assert_eq!(named.settings().proxy_name(), "\"edge 1\"");
    }

    /// A head and a body that are each pending once, under timeouts too
    /// long to add to the clock: they never run out, and nothing panics.
    #[tokio::test]
    async fn a_timeout_too_long_for_the_clock_never_runs_out() {
        use std::convert::Infallible;

        use bytes::Bytes;
        use http::{Request, Response};
        use http_body::Frame;
        use http_body_util::{BodyExt, StreamBody};
        use tower::ServiceExt;

        let upstream =
            tower::service_fn(|_req: Request<super::super::RequestBody<String>>| async {
                tokio::task::yield_now().await;
                let frame = futures_util::stream::once(async {
                    tokio::task::yield_now().await;
                    Ok::<_, Infallible>(Frame::data(Bytes::from("ok")))
                });
                Ok::<_, Infallible>(Response::new(StreamBody::new(frame)))
            });
        let gateway = GatewayErrorLayer::new()
            .head_timeout(Some(Duration::MAX))
            .body_idle_timeout(Some(Duration::MAX))
            .layer(upstream);
        let res = gateway.oneshot(Request::new(String::new())).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "ok");
    }

    #[test]
    #[should_panic(expected = "keeps the status the upstream sent")]
    fn a_body_phase_kind_has_no_status_to_set() {
        let _ = GatewayErrorLayer::new()
            .status_for(Kind::ConnectionReadTimeout, StatusCode::BAD_GATEWAY);
    }

    #[test]
    #[should_panic(expected = "4xx or 5xx")]
    fn a_failure_is_never_answered_with_a_success() {
        let _ = GatewayErrorLayer::new().status_for(Kind::DnsError, StatusCode::OK);
    }

    #[test]
    #[should_panic(expected = "must carry a header")]
    fn a_status_that_needs_a_header_the_layer_cannot_make_is_refused() {
        let _ = GatewayErrorLayer::new().status_for(Kind::DnsError, StatusCode::UNAUTHORIZED);
    }
}
