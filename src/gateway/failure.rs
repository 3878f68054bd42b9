use std::error::Error;
use std::fmt;
use std::sync::Arc;

use http::{HeaderValue, StatusCode};

/// What failed, as a stable token: the problem's `kind` member, the end of
/// its `type` URI, and the `error` parameter of the `Proxy-Status` header.
///
/// The tokens are the error types of RFC 9209 (the HTTP Proxy-Status
/// Parameter registry), except the two that are not proxy errors:
/// [`Kind::RequestBodyError`] (the client's upload failed) and
/// [`Kind::UpstreamServerError`] (the upstream answered 5xx and the layer
/// replaced its body). Each kind is documented on the [kinds
/// page](crate::kinds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// The upstream's host name could not be resolved: `dns_error`.
    DnsError,
    /// The upstream refused the connection: `connection_refused`.
    ConnectionRefused,
    /// The upstream's host or network is unreachable: `destination_unavailable`.
    DestinationUnavailable,
    /// Connecting to the upstream timed out: `connection_timeout`.
    ConnectionTimeout,
    /// The upstream sent no complete response head within the head timeout:
    /// `http_response_timeout`.
    HttpResponseTimeout,
    /// The connection was reset, aborted or broken: `connection_terminated`.
    ConnectionTerminated,
    /// The upstream closed the connection before its response was complete:
    /// `http_response_incomplete`.
    HttpResponseIncomplete,
    /// The upstream's response is not valid HTTP: `http_protocol_error`.
    HttpProtocolError,
    /// The upstream's response head is too large:
    /// `http_response_header_section_size`.
    HttpResponseHeaderSectionSize,
    /// A local limit refused the request (tower's `load_shed`):
    /// `connection_limit_reached`.
    ConnectionLimitReached,
    /// Any other failure of the upstream client: `proxy_internal_error`.
    ProxyInternalError,
    /// The upstream's response body sent nothing for the body idle timeout
    /// (body phase only, never a status): `connection_read_timeout`.
    ConnectionReadTimeout,
    /// The upstream's response body has a broken transfer coding, such as an
    /// invalid chunk (body phase only): `http_response_transfer_coding`.
    HttpResponseTransferCoding,
    /// The client's request body failed (it aborted its upload, or sent a
    /// broken body) while it was forwarded: `request_body_error`, 400 Bad
    /// Request. Not an upstream failure.
    RequestBodyError,
    /// The upstream answered with a 5xx and the layer replaced its body
    /// ([`GatewayErrorLayer::intercept_upstream_errors`]), keeping its
    /// status: `upstream_server_error`.
    ///
    /// [`GatewayErrorLayer::intercept_upstream_errors`]: super::GatewayErrorLayer::intercept_upstream_errors
    UpstreamServerError,
}

macro_rules! kinds {
    ($($variant:ident => $token:literal, $status:literal, $title:literal;)*) => {
        impl Kind {
            /// The snake_case token: the `kind` member, the end of the `type`
            /// URI and, for the RFC 9209 kinds, the `Proxy-Status` `error`.
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $token,)* }
            }

            /// The problem's `title`: the same for every occurrence of the kind.
            pub const fn title(self) -> &'static str {
                match self { $(Self::$variant => $title,)* }
            }

            /// The `type` URI under the default base.
            pub(super) const fn default_type(self) -> &'static str {
                match self {
                    $(Self::$variant => concat!(crate::default_type_base!(), $token),)*
                }
            }

            /// The default problem of this kind as JSON, at its
            /// [default status](Self::default_status), when the request had
            /// no id and details are not exposed.
            pub(super) const fn default_json(self) -> &'static str {
                match self {
                    $(Self::$variant => concat!(
                        r#"{"type":""#,
                        crate::default_type_base!(),
                        $token,
                        r#"","title":""#,
                        $title,
                        r#"","status":"#,
                        $status,
                        r#","kind":""#,
                        $token,
                        r#""}"#
                    ),)*
                }
            }

            /// The `Proxy-Status` member `tower-problem; error=<token>`,
            /// built at compile time: the member under the default proxy
            /// name and no optional parameter, which needs no allocation.
            pub(super) fn default_proxy_status(self) -> HeaderValue {
                match self {
                    $(Self::$variant => {
                        const MEMBER: HeaderValue = HeaderValue::from_static(concat!(
                            crate::gateway::layer::default_proxy_name!(),
                            "; error=",
                            $token
                        ));
                        MEMBER
                    })*
                }
            }
        }
    };
}

kinds! {
    DnsError => "dns_error", 502, "The upstream's host name could not be resolved";
    ConnectionRefused => "connection_refused", 502, "The upstream refused the connection";
    DestinationUnavailable => "destination_unavailable", 502, "The upstream is unreachable";
    ConnectionTimeout => "connection_timeout", 502, "Connecting to the upstream timed out";
    HttpResponseTimeout => "http_response_timeout", 502, "The upstream did not answer in time";
    ConnectionTerminated => "connection_terminated", 502, "The upstream connection was terminated";
    HttpResponseIncomplete => "http_response_incomplete", 502, "The upstream's response was incomplete";
    HttpProtocolError => "http_protocol_error", 502, "The upstream's response was not valid HTTP";
    HttpResponseHeaderSectionSize => "http_response_header_section_size", 502, "The upstream's response head was too large";
    ConnectionLimitReached => "connection_limit_reached", 503, "The gateway is over its limit of upstream requests";
    ProxyInternalError => "proxy_internal_error", 502, "The gateway failed to forward the request";
    ConnectionReadTimeout => "connection_read_timeout", 502, "The upstream's response body stalled";
    HttpResponseTransferCoding => "http_response_transfer_coding", 502, "The upstream's response body was badly framed";
    RequestBodyError => "request_body_error", 400, "The request body could not be read";
    UpstreamServerError => "upstream_server_error", 502, "The upstream server failed";
}

impl Kind {
    /// The status the layer answers with for this kind, before the layer's
    /// status settings ([`timeout_status`], [`recommended_statuses`]) apply:
    /// 502 Bad Gateway, but 503 Service Unavailable for
    /// [`Kind::ConnectionLimitReached`], 400 Bad Request for
    /// [`Kind::RequestBodyError`], and the upstream's own status for
    /// [`Kind::UpstreamServerError`] (502 here).
    ///
    /// [`timeout_status`]: super::GatewayErrorLayer::timeout_status
    /// [`recommended_statuses`]: super::GatewayErrorLayer::recommended_statuses
    pub const fn default_status(self) -> StatusCode {
        match self {
            Self::ConnectionLimitReached => StatusCode::SERVICE_UNAVAILABLE,
            Self::RequestBodyError => StatusCode::BAD_REQUEST,
            _ => StatusCode::BAD_GATEWAY,
        }
    }

    /// Whether the request cannot have reached the upstream: the failure
    /// came before a connection existed (DNS, refused, unreachable, connect
    /// timeout, a local limit). Retrying such a request is safe whatever its
    /// method.
    pub const fn is_request_never_sent(self) -> bool {
        matches!(
            self,
            Self::DnsError
                | Self::ConnectionRefused
                | Self::DestinationUnavailable
                | Self::ConnectionTimeout
                | Self::ConnectionLimitReached
        )
    }

    /// Whether it is an RFC 9209 proxy error type, written into the
    /// `Proxy-Status` header's `error` parameter.
    pub(super) const fn is_proxy_error(self) -> bool {
        !matches!(self, Self::RequestBodyError | Self::UpstreamServerError)
    }

    /// Whether it is a timeout, which `timeout_status` applies to.
    pub(super) const fn is_timeout(self) -> bool {
        matches!(self, Self::ConnectionTimeout | Self::HttpResponseTimeout)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
/// Cloning is cheap: the error is shared. See the [module docs](super).
#[derive(Clone)]
pub struct Failure {
    kind: Kind,
    status: StatusCode,
    never_sent: bool,
    error: Option<Arc<dyn Error + Send + Sync>>,
}

impl Failure {
    pub(super) fn new(
        kind: Kind,
        status: StatusCode,
        never_sent: bool,
        error: Option<Arc<dyn Error + Send + Sync>>,
    ) -> Self {
        Self {
            kind,
            status,
            never_sent: never_sent || kind.is_request_never_sent(),
            error,
        }
    }

    pub(super) fn set_status(&mut self, status: StatusCode) {
        self.status = status;
    }

    /// The kind of failure.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The status of the response the layer made for it.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Whether the request certainly never reached the upstream, so a retry
    /// is safe even for a non-idempotent method: a connect-phase failure
    /// (see [`Kind::is_request_never_sent`]), or, with the `hyper-util`
    /// feature, any error hyper-util's client reports as `is_connect()`.
    pub fn is_request_never_sent(&self) -> bool {
        self.never_sent
    }

    /// The error that caused it: the upstream client's, or the request
    /// body's for [`Kind::RequestBodyError`]. `None` for a timeout of the
    /// layer itself and for [`Kind::UpstreamServerError`].
    pub fn error(&self) -> Option<&(dyn Error + Send + Sync + 'static)> {
        self.error.as_deref()
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Failure")
            .field("kind", &self.kind)
            .field("status", &self.status)
            .field("never_sent", &self.never_sent)
            .field("error", &self.error)
            .finish()
    }
}

/// Displays an error and its sources as `outer: middle: root`.
pub(super) struct ErrorChain<'a>(pub(super) &'a (dyn Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(error) = source {
            write!(f, ": {error}")?;
            source = error.source();
        }
        Ok(())
    }
}
