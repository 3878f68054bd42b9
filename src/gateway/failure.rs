use std::error::Error;
use std::fmt;
use std::sync::Arc;

use http::StatusCode;

use crate::BoxError;

use crate::common::kind_table::{kinds, LayerFailure};

kinds! {
    /// What failed, as a stable token: the problem's `kind` member, the end
    /// of its `type` URI, and the `error` parameter of the `Proxy-Status`
    /// header.
    ///
    /// The tokens are the error types of RFC 9209 (the HTTP Proxy-Status
    /// Parameter registry), except the three that are not proxy errors:
    /// [`Kind::RequestBodyError`] (the client's upload failed),
    /// [`Kind::RequestBodyTooLarge`] (it was over the layer's limit) and
    /// [`Kind::UpstreamServerError`] (the upstream answered 5xx and the
    /// layer replaced its body). Each kind is documented, with its title and
    /// status, on the [kinds page](crate::kinds).
    pub enum Kind {
        /// The upstream's host name could not be resolved: `dns_error`.
        DnsError => "dns_error", 502, "The upstream host name could not be resolved";
        /// Resolving the upstream's host name took too long (told by a
        /// classifier of yours, for a resolver with a deadline): `dns_timeout`.
        DnsTimeout => "dns_timeout", 502, "Resolving the upstream host name timed out";
        /// The upstream refused the connection: `connection_refused`.
        ConnectionRefused => "connection_refused", 502, "The upstream refused the connection";
        /// No route leads to the upstream's address (host or network
        /// unreachable): `destination_ip_unroutable`.
        DestinationIpUnroutable => "destination_ip_unroutable", 502, "The upstream address is unreachable";
        /// The gateway considers the upstream down (a circuit breaker, a
        /// health check; told by a [`Classify`](crate::Classify) of your
        /// own): `destination_unavailable`.
        DestinationUnavailable => "destination_unavailable", 502, "The upstream is unavailable";
        /// Connecting to the upstream timed out: `connection_timeout`.
        ConnectionTimeout => "connection_timeout", 502, "Connecting to the upstream timed out";
        /// The upstream sent no complete response head within the head
        /// timeout: `http_response_timeout`.
        HttpResponseTimeout => "http_response_timeout", 502, "The upstream did not answer in time";
        /// The upstream's TLS certificate was refused (expired, not yet
        /// valid, of an unknown issuer, for another name, badly signed;
        /// feature `rustls`): `tls_certificate_error`.
        TlsCertificateError => "tls_certificate_error", 502, "The upstream TLS certificate was refused";
        /// The upstream ended the TLS handshake or the connection with a
        /// fatal alert (feature `rustls`): `tls_alert_received`, with its
        /// `alert-id` and `alert-message` (the TLS Alerts registry's name) in
        /// `Proxy-Status`.
        TlsAlertReceived => "tls_alert_received", 502, "The upstream sent a TLS alert";
        /// The TLS handshake with the upstream failed otherwise: plain HTTP
        /// on a TLS port, a malformed record, a connection closed in the
        /// middle of it (feature `rustls`): `tls_protocol_error`.
        TlsProtocolError => "tls_protocol_error", 502, "The TLS handshake with the upstream failed";
        /// The connection was reset, aborted or broken: `connection_terminated`.
        ConnectionTerminated => "connection_terminated", 502, "The upstream connection was terminated";
        /// The upstream closed the connection before its response was
        /// complete: `http_response_incomplete`.
        HttpResponseIncomplete => "http_response_incomplete", 502, "The upstream response was incomplete";
        /// The upstream's response is not valid HTTP: `http_protocol_error`.
        HttpProtocolError => "http_protocol_error", 502, "The upstream response was not valid HTTP";
        /// The upstream's response head is too large:
        /// `http_response_header_section_size`.
        HttpResponseHeaderSectionSize => "http_response_header_section_size", 502, "The upstream response head was too large";
        /// A local limit refused the request (tower's `load_shed`):
        /// `connection_limit_reached`, 503 Service Unavailable.
        ConnectionLimitReached => "connection_limit_reached", 503, "The gateway is over its limit of upstream requests";
        /// Any other failure of the upstream client: `proxy_internal_error`.
        ProxyInternalError => "proxy_internal_error", 502, "The gateway failed to forward the request";
        /// The upstream's response body sent nothing for the body idle
        /// timeout (body phase only, never a status): `connection_read_timeout`.
        ConnectionReadTimeout => "connection_read_timeout", 502, "The upstream response body stalled";
        /// The upstream's response body was longer than the layer's cap
        /// ([`GatewayErrorLayer::max_response_body`]), or its head declared
        /// so (then answered 502, before the head): `http_response_body_size`.
        ///
        /// [`GatewayErrorLayer::max_response_body`]: super::GatewayErrorLayer::max_response_body
        HttpResponseBodySize => "http_response_body_size", 502, "The upstream response body was too long";
        /// The upstream's response body has a broken transfer coding, such as
        /// an invalid chunk (in the body, after the head), or a head whose
        /// transfer coding the gateway cannot forward (told by a classifier
        /// of yours): `http_response_transfer_coding`.
        HttpResponseTransferCoding => "http_response_transfer_coding", 502, "The upstream response body was badly framed";
        /// The client's request body failed (it aborted its upload, or sent a
        /// broken body) while it was forwarded: `request_body_error`, 400 Bad
        /// Request. Not an upstream failure.
        RequestBodyError => "request_body_error", 400, "The request body could not be read";
        /// The client's request body was over the layer's
        /// [`GatewayErrorLayer::max_request_body`]: by its size hint
        /// (hyper's bodies report their `Content-Length`) before the
        /// upstream is called, or while it was forwarded:
        /// `request_body_too_large`, 413 Content Too Large. Not an upstream
        /// failure.
        ///
        /// [`GatewayErrorLayer::max_request_body`]: super::GatewayErrorLayer::max_request_body
        RequestBodyTooLarge => "request_body_too_large", 413, "The request body is larger than the gateway accepts";
        /// The upstream answered with a 5xx and the layer replaced its body
        /// ([`GatewayErrorLayer::intercept_error_responses`]), keeping its
        /// status: `upstream_server_error`.
        ///
        /// [`GatewayErrorLayer::intercept_error_responses`]: super::GatewayErrorLayer::intercept_error_responses
        UpstreamServerError => "upstream_server_error", 502, "The upstream server failed";
    }
}

impl Kind {
    /// Whether the request cannot have reached the upstream: the failure
    /// came before a connection existed (DNS, refused, unroutable, a
    /// destination considered down, connect timeout, a local limit). Retrying such a request is safe whatever its
    /// method.
    pub const fn is_request_never_sent(self) -> bool {
        matches!(
            self,
            Self::DnsError
                | Self::DnsTimeout
                | Self::ConnectionRefused
                | Self::DestinationIpUnroutable
                | Self::DestinationUnavailable
                | Self::ConnectionTimeout
                | Self::ConnectionLimitReached
        )
    }

    /// The gRPC status code that tells a gRPC client what it can do:
    /// `UNAVAILABLE` for every failure to reach the upstream or to get a
    /// valid answer from it (gRPC's clients retry it with a backoff where
    /// the call allows: the never-sent kinds are always safe to retry);
    /// `DEADLINE_EXCEEDED` for the head timeout (the upstream may have
    /// acted: no blind retry); `INTERNAL` for `proxy_internal_error`;
    /// `CANCELLED` for the client's own failed upload and
    /// `RESOURCE_EXHAUSTED` for one over the limit; `UNAVAILABLE` for an
    /// intercepted upstream 5xx of no other status ([`Failure::grpc_code`]
    /// reads its status).
    pub const fn grpc_code(self) -> crate::grpc::Code {
        use crate::grpc::Code;
        match self {
            Self::HttpResponseTimeout => Code::DeadlineExceeded,
            Self::ProxyInternalError => Code::Internal,
            Self::RequestBodyError => Code::Cancelled,
            Self::RequestBodyTooLarge => Code::ResourceExhausted,
            _ => Code::Unavailable,
        }
    }

    /// Whether it is an RFC 9209 proxy error type, written into the
    /// `Proxy-Status` header's `error` parameter.
    pub(super) const fn is_proxy_error(self) -> bool {
        !matches!(
            self,
            Self::RequestBodyError | Self::RequestBodyTooLarge | Self::UpstreamServerError
        )
    }

    /// Whether it is a timeout before the response head (resolving,
    /// connecting, waiting for the head), answered with 504 under
    /// `recommended_statuses` as RFC 9209 §2.3.1, §2.3.9 and §2.3.26
    /// recommend.
    pub(super) const fn is_timeout(self) -> bool {
        matches!(
            self,
            Self::DnsTimeout | Self::ConnectionTimeout | Self::HttpResponseTimeout
        )
    }

    /// Whether a failure of this kind is answered with a status the layer
    /// chooses: not the body-phase kinds (the status was sent) nor
    /// [`Kind::UpstreamServerError`] (the upstream's status is kept).
    pub(super) const fn has_own_status(self) -> bool {
        !matches!(
            self,
            Self::ConnectionReadTimeout
                | Self::HttpResponseBodySize
                | Self::HttpResponseTransferCoding
                | Self::UpstreamServerError
        )
    }
}

/// The marker on every response the gateway layer generates, and what its
/// customisation sees: the kind of failure, the status sent, and the cause.
///
/// Find it in the response extensions to tell a generated 502 from one the
/// upstream sent, or to decide whether a retry is safe:
///
/// ```
/// # fn check(res: http::Response<()>) {
/// use tower_problem::gateway::Failure;
///
/// if let Some(failure) = res.extensions().get::<Failure>() {
///     if failure.is_request_never_sent() {
///         // The upstream never saw the request: retrying is safe.
///     }
/// }
/// # }
/// ```
///
/// A clone shares the error it carries. See the [module docs](super).
#[derive(Clone)]
pub struct Failure {
    kind: Kind,
    status: StatusCode,
    never_sent: bool,
    attempts: Option<u32>,
    // Shared as it came, boxed: an `Arc<dyn Error>` would need a new box.
    error: Option<Arc<BoxError>>,
}

impl Failure {
    pub(super) fn new(
        kind: Kind,
        status: StatusCode,
        never_sent: bool,
        error: Option<Arc<BoxError>>,
    ) -> Self {
        Self {
            kind,
            status,
            never_sent: never_sent || kind.is_request_never_sent(),
            attempts: None,
            error,
        }
    }

    pub(super) fn with_attempts(mut self, attempts: Option<u32>) -> Self {
        self.attempts = attempts;
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The kind's token, the `kind` member: [`kind`](Self::kind)'s, as the
    /// app layer's marker gives it.
    pub fn kind_str(&self) -> &'static str {
        self.kind.as_str()
    }

    /// How many times the request was sent, where a
    /// [`RetryNeverSent`](super::RetryNeverSent) inside the layer sent it
    /// more than once; `None` for once.
    pub fn attempts(&self) -> Option<u32> {
        self.attempts
    }

    /// The status of the response the layer made for it.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The gRPC status code a gRPC request's failure is answered with
    /// ([`Kind::grpc_code`]; an intercepted upstream 5xx by its status,
    /// through [`Code::of_status`](crate::grpc::Code::of_status)).
    pub fn grpc_code(&self) -> crate::grpc::Code {
        match self.kind {
            Kind::UpstreamServerError => crate::grpc::Code::of_status(self.status),
            kind => kind.grpc_code(),
        }
    }

    /// Whether the request certainly never reached the upstream, so a retry
    /// is safe even for a non-idempotent method: a connect-phase failure
    /// (see [`Kind::is_request_never_sent`]), an error marked
    /// [`ConnectError`](super::ConnectError), or, with the `hyper-util`
    /// feature, any error hyper-util's client reports as `is_connect()`.
    pub fn is_request_never_sent(&self) -> bool {
        self.never_sent
    }

    /// The error that caused it: the upstream client's, or the request
    /// body's for [`Kind::RequestBodyError`] and
    /// [`Kind::RequestBodyTooLarge`]. `None` for a timeout of the
    /// layer itself and for [`Kind::UpstreamServerError`].
    pub fn error(&self) -> Option<&(dyn Error + 'static)> {
        self.error
            .as_deref()
            .map(|error| &**error as &(dyn Error + 'static))
    }
}

impl LayerFailure for Failure {
    fn token(&self) -> &'static str {
        self.kind.as_str()
    }

    fn title(&self) -> &'static str {
        self.kind.title()
    }

    fn has_own_type(&self) -> bool {
        self.kind.has_own_type()
    }

    fn status(&self) -> StatusCode {
        self.status
    }

    fn grpc_code(&self) -> crate::grpc::Code {
        Failure::grpc_code(self)
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Failure")
            .field("kind", &self.kind)
            .field("status", &self.status)
            .field("never_sent", &self.never_sent)
            .field("attempts", &self.attempts)
            .field("error", &self.error)
            .finish()
    }
}
