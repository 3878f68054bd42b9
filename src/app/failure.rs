use std::borrow::Cow;
use std::error::Error;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use http::StatusCode;

use super::intercept::ReplacedBody;
use super::problem_type::DomainProblem;
use crate::common::error_chain::ErrorChain;
use crate::common::kind_table::{kinds, LayerFailure};
use crate::common::panic::Payload;
use crate::problem::ExtensionValue;
use crate::BoxError;

kinds! {
    /// What failed, as the stable token in the problem's `kind` member. Each
    /// kind is documented on the [kinds page](crate::kinds).
    ///
    /// The kinds from [`Kind::BadRequest`] on are those of the error
    /// responses the layer replaces when told to
    /// ([`AppErrorLayer::intercept_all_errors`](super::AppErrorLayer::intercept_all_errors)),
    /// one per status: they mean no more than their status, so their
    /// problem's `type` is `about:blank` and its title the status's phrase
    /// (RFC 9457 §4.2.1). A classifier of yours
    /// ([`AppErrorLayer::classify_with`](super::AppErrorLayer::classify_with))
    /// can give a handler's error one of them: a domain's "not found" as
    /// [`Kind::NotFound`].
    pub enum Kind {
        /// The handler or a service inside the layer panicked: `panic`.
        Panic => "panic", 500, "The request handler panicked";
        /// The handler or a service inside the layer returned an error:
        /// `handler_error`.
        HandlerError => "handler_error", 500, "The request handler failed";
        /// tower's `timeout` inside the layer gave up on the request
        /// (feature `tower`): `timeout`, 503 Service Unavailable (504 is
        /// for a gateway whose upstream did not answer, RFC 9110 §15.6.5).
        Timeout => "timeout", 503, "The request took too long";
        /// tower's `load_shed` inside the layer refused the request
        /// (feature `tower`): `overloaded`, 503 Service Unavailable, with
        /// `Retry-After` when the layer sets one.
        Overloaded => "overloaded", 503, "The server is over its limit of requests";
        /// The handler answered 500 with a body that is not problem+json, and
        /// the layer replaced the body: `internal_error`.
        InternalError => "internal_error", 500, "Internal Server Error";
        /// 400.
        BadRequest => "bad_request", 400, "Bad Request", about_blank;
        /// 401, its `WWW-Authenticate` kept.
        Unauthorized => "unauthorized", 401, "Unauthorized", about_blank;
        /// 402.
        PaymentRequired => "payment_required", 402, "Payment Required", about_blank;
        /// 403.
        Forbidden => "forbidden", 403, "Forbidden", about_blank;
        /// 404.
        NotFound => "not_found", 404, "Not Found", about_blank;
        /// 405, its `Allow` kept.
        MethodNotAllowed => "method_not_allowed", 405, "Method Not Allowed", about_blank;
        /// 406.
        NotAcceptable => "not_acceptable", 406, "Not Acceptable", about_blank;
        /// 407, its `Proxy-Authenticate` kept.
        ProxyAuthenticationRequired => "proxy_authentication_required", 407, "Proxy Authentication Required", about_blank;
        /// 408.
        RequestTimeout => "request_timeout", 408, "Request Timeout", about_blank;
        /// 409.
        Conflict => "conflict", 409, "Conflict", about_blank;
        /// 410.
        Gone => "gone", 410, "Gone", about_blank;
        /// 411.
        LengthRequired => "length_required", 411, "Length Required", about_blank;
        /// 412.
        PreconditionFailed => "precondition_failed", 412, "Precondition Failed", about_blank;
        /// 413.
        ContentTooLarge => "content_too_large", 413, "Content Too Large", about_blank;
        /// 414.
        UriTooLong => "uri_too_long", 414, "URI Too Long", about_blank;
        /// 415.
        UnsupportedMediaType => "unsupported_media_type", 415, "Unsupported Media Type", about_blank;
        /// 416, its `Content-Range` kept.
        RangeNotSatisfiable => "range_not_satisfiable", 416, "Range Not Satisfiable", about_blank;
        /// 417.
        ExpectationFailed => "expectation_failed", 417, "Expectation Failed", about_blank;
        /// 421.
        MisdirectedRequest => "misdirected_request", 421, "Misdirected Request", about_blank;
        /// 422.
        UnprocessableContent => "unprocessable_content", 422, "Unprocessable Content", about_blank;
        /// 426, its `Upgrade` kept.
        UpgradeRequired => "upgrade_required", 426, "Upgrade Required", about_blank;
        /// 428.
        PreconditionRequired => "precondition_required", 428, "Precondition Required", about_blank;
        /// 429, its `Retry-After` kept.
        TooManyRequests => "too_many_requests", 429, "Too Many Requests", about_blank;
        /// 431.
        RequestHeaderFieldsTooLarge => "request_header_fields_too_large", 431, "Request Header Fields Too Large", about_blank;
        /// 451.
        UnavailableForLegalReasons => "unavailable_for_legal_reasons", 451, "Unavailable For Legal Reasons", about_blank;
        /// 501.
        NotImplemented => "not_implemented", 501, "Not Implemented", about_blank;
        /// 502.
        BadGateway => "bad_gateway", 502, "Bad Gateway", about_blank;
        /// 503, its `Retry-After` kept.
        ServiceUnavailable => "service_unavailable", 503, "Service Unavailable", about_blank;
        /// 504.
        GatewayTimeout => "gateway_timeout", 504, "Gateway Timeout", about_blank;
        /// 505.
        HttpVersionNotSupported => "http_version_not_supported", 505, "HTTP Version Not Supported", about_blank;
        /// 511.
        NetworkAuthenticationRequired => "network_authentication_required", 511, "Network Authentication Required", about_blank;
        /// Any other 4xx, its status kept: `client_error`.
        ClientError => "client_error", 400, "The request failed";
        /// Any other 5xx, its status kept: `server_error`.
        ServerError => "server_error", 500, "The server failed";
    }
}

impl Kind {
    /// The gRPC status code a gRPC request's failure of this kind is
    /// answered with: `INTERNAL` for a panic, a handler's error and
    /// `internal_error`; `DEADLINE_EXCEEDED` for the layer's timeout;
    /// `UNAVAILABLE` for overload (gRPC's clients retry it with a backoff;
    /// `RESOURCE_EXHAUSTED` would say a quota ran out, which is
    /// `too_many_requests`); any other kind by its status, through
    /// [`Code::of_status`](crate::grpc::Code::of_status) (a `not_found` is
    /// `UNIMPLEMENTED`: the method is unknown).
    pub fn grpc_code(self) -> crate::grpc::Code {
        self.grpc_code_at(self.default_status())
    }

    pub(super) fn grpc_code_at(self, status: StatusCode) -> crate::grpc::Code {
        use crate::grpc::Code;
        match self {
            Self::Panic | Self::HandlerError | Self::InternalError => Code::Internal,
            Self::Timeout => Code::DeadlineExceeded,
            Self::Overloaded => Code::Unavailable,
            _ => Code::of_status(status),
        }
    }

    /// The kind of an error response with `status` that the layer
    /// replaces: its status's own kind, `internal_error` for a 500, or
    /// [`Kind::ClientError`] or [`Kind::ServerError`].
    pub fn of_status(status: StatusCode) -> Self {
        match status.as_u16() {
            400 => Self::BadRequest,
            401 => Self::Unauthorized,
            402 => Self::PaymentRequired,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            405 => Self::MethodNotAllowed,
            406 => Self::NotAcceptable,
            407 => Self::ProxyAuthenticationRequired,
            408 => Self::RequestTimeout,
            409 => Self::Conflict,
            410 => Self::Gone,
            411 => Self::LengthRequired,
            412 => Self::PreconditionFailed,
            413 => Self::ContentTooLarge,
            414 => Self::UriTooLong,
            415 => Self::UnsupportedMediaType,
            416 => Self::RangeNotSatisfiable,
            417 => Self::ExpectationFailed,
            421 => Self::MisdirectedRequest,
            422 => Self::UnprocessableContent,
            426 => Self::UpgradeRequired,
            428 => Self::PreconditionRequired,
            429 => Self::TooManyRequests,
            431 => Self::RequestHeaderFieldsTooLarge,
            451 => Self::UnavailableForLegalReasons,
            500 => Self::InternalError,
            501 => Self::NotImplemented,
            502 => Self::BadGateway,
            503 => Self::ServiceUnavailable,
            504 => Self::GatewayTimeout,
            505 => Self::HttpVersionNotSupported,
            511 => Self::NetworkAuthenticationRequired,
            0..=499 => Self::ClientError,
            _ => Self::ServerError,
        }
    }
}

/// The marker on every response the app layer generates, and what its
/// customisation sees: the kind of failure, the status sent, and the cause.
///
/// Find it in the response extensions to tell a generated 500 from one the
/// handler made:
///
/// ```
/// # fn check(res: http::Response<()>) {
/// use tower_problem::app::{Failure, Kind};
///
/// if let Some(failure) = res.extensions().get::<Failure>() {
///     assert_eq!(failure.kind(), Kind::Panic);
/// }
/// # }
/// ```
///
/// A clone shares the error it carries.
#[derive(Clone)]
pub struct Failure {
    cause: Cause,
}

/// Where a panic happened, and its backtrace if one was captured: known
/// with the panic hook installed.
struct PanicOrigin {
    location: String,
    backtrace: Option<Arc<std::backtrace::Backtrace>>,
}

#[derive(Clone)]
enum Cause {
    Panic {
        message: Cow<'static, str>,
        /// Behind one pointer: a failure travels in every response future's
        /// state, which a larger one makes dearer to move.
        origin: Option<Arc<PanicOrigin>>,
    },
    /// A handler's or service's error, of the kind it was classified as,
    /// and what a registered problem type said of it.
    Error {
        report: Arc<ErrorReport>,
        kind: Kind,
        domain: Option<Arc<DomainProblem>>,
    },
    /// An error response of the inner stack whose body the layer replaced,
    /// and what it kept of the body, if it had any: behind one pointer, as
    /// `origin` is.
    Replaced {
        status: StatusCode,
        body: Option<Box<ReplacedBody>>,
    },
}

/// An error and whether it still has to be logged.
///
/// A [`HandlerError`](super::HandlerError) turned into a response is logged
/// by the layer, with request context; where no layer sees it, the report logs
/// it when the response is dropped, so it is logged exactly once either way.
pub(super) struct ErrorReport {
    error: BoxError,
    unlogged: AtomicBool,
}

impl Drop for ErrorReport {
    fn drop(&mut self) {
        if *self.unlogged.get_mut() {
            super::log::unseen_handler_error(&*self.error);
        }
    }
}

impl Failure {
    pub(super) fn panic(payload: Payload) -> Self {
        let panic = payload.into_panic();
        Self {
            cause: Cause::Panic {
                message: panic.message,
                origin: panic.location.map(|location| {
                    Arc::new(PanicOrigin {
                        location,
                        backtrace: panic.backtrace,
                    })
                }),
            },
        }
    }

    /// An error of `kind` (a problem type's, if `domain`) that the layer
    /// logs itself.
    pub(super) fn logged_error(
        error: BoxError,
        kind: Kind,
        domain: Option<Arc<DomainProblem>>,
    ) -> Self {
        Self::error_report(error, kind, domain, false)
    }

    /// A handler's error that logs itself on drop unless the layer logs it
    /// first.
    #[cfg(feature = "axum")]
    pub(super) fn unlogged_error(error: BoxError) -> Self {
        Self::error_report(error, Kind::HandlerError, None, true)
    }

    fn error_report(
        error: BoxError,
        kind: Kind,
        domain: Option<Arc<DomainProblem>>,
        unlogged: bool,
    ) -> Self {
        let report = ErrorReport {
            error,
            unlogged: AtomicBool::new(unlogged),
        };
        Self {
            cause: Cause::Error {
                report: Arc::new(report),
                kind,
                domain,
            },
        }
    }

    /// The response of `status` whose body the layer replaced, with what
    /// it kept of the body.
    pub(super) fn replaced(status: StatusCode, body: Option<ReplacedBody>) -> Self {
        Self {
            cause: Cause::Replaced {
                status,
                body: body.map(Box::new),
            },
        }
    }

    /// What the layer kept of the replaced response's body, if it had one.
    pub(super) fn replaced_body(&self) -> Option<&ReplacedBody> {
        match &self.cause {
            Cause::Replaced { body, .. } => body.as_deref(),
            _ => None,
        }
    }

    /// Takes over the logging of a handler error that nobody logged yet:
    /// the error, for the layer to classify.
    pub(super) fn claim_unlogged(&self) -> Option<&(dyn Error + Send + Sync + 'static)> {
        match &self.cause {
            Cause::Error { report, .. } if report.unlogged.swap(false, Ordering::AcqRel) => {
                Some(&*report.error)
            }
            _ => None,
        }
    }

    /// This failure's error, classified as `kind` (a problem type's, if
    /// `domain`).
    pub(super) fn with_kind(mut self, new: Kind, problem: Option<Arc<DomainProblem>>) -> Self {
        if let Cause::Error { kind, domain, .. } = &mut self.cause {
            *kind = new;
            *domain = problem;
        }
        self
    }

    /// What a registered [`ProblemType`](super::ProblemType) said of this
    /// failure's error, if one did.
    pub(super) fn domain(&self) -> Option<&DomainProblem> {
        match &self.cause {
            Cause::Error { domain, .. } => domain.as_deref(),
            _ => None,
        }
    }

    /// The kind's token, the `kind` member: a
    /// [`ProblemType`](super::ProblemType)'s own (`order-not-found`), else
    /// [`kind`](Self::kind)'s (`handler_error`).
    pub fn kind_str(&self) -> &'static str {
        match &self.cause {
            Cause::Error {
                domain: Some(domain),
                ..
            } => domain.kind,
            Cause::Error { kind, .. } => kind.as_str(),
            _ => self.kind().as_str(),
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> Kind {
        match &self.cause {
            Cause::Panic { .. } => Kind::Panic,
            Cause::Error { kind, .. } => *kind,
            Cause::Replaced { status, .. } => Kind::of_status(*status),
        }
    }

    /// The status of the response the layer made for it: the kind's (500
    /// for a panic or a handler's error), or the replaced response's.
    pub fn status(&self) -> StatusCode {
        match &self.cause {
            Cause::Replaced { status, .. } => *status,
            Cause::Error {
                domain: Some(domain),
                ..
            } => domain.status,
            Cause::Error { kind, .. } => kind.default_status(),
            Cause::Panic { .. } => Kind::Panic.default_status(),
        }
    }

    /// The gRPC status code a gRPC request's failure is answered with
    /// ([`Kind::grpc_code`]; a replaced response's, and a problem type's,
    /// by its status: [`Code::of_status`](crate::grpc::Code::of_status),
    /// but a problem type's 404 is `NOT_FOUND`).
    pub fn grpc_code(&self) -> crate::grpc::Code {
        match self.domain() {
            // The thing the call names does not exist: not an unknown
            // method, as a routing 404 is.
            Some(domain) if domain.status == StatusCode::NOT_FOUND => crate::grpc::Code::NotFound,
            Some(domain) => crate::grpc::Code::of_status(domain.status),
            None => self.kind().grpc_code_at(self.status()),
        }
    }

    /// Whether a panic caused it.
    pub fn is_panic(&self) -> bool {
        matches!(self.cause, Cause::Panic { .. })
    }

    /// Whether a handler's or a service's error caused it, whatever kind it
    /// was classified as.
    pub fn is_handler_error(&self) -> bool {
        matches!(self.cause, Cause::Error { .. })
    }

    /// Whether it is an error response of the inner stack whose body the
    /// layer replaced, its status kept.
    pub fn is_replaced(&self) -> bool {
        matches!(self.cause, Cause::Replaced { .. })
    }

    /// The text of the replaced response's body, if the layer read it: a
    /// `text/plain` body of at most 1 KiB, ready at once (axum's
    /// rejections are).
    pub fn replaced_text(&self) -> Option<&str> {
        match self.replaced_body()? {
            ReplacedBody::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The panic's message: its payload if that was a `&str` or a `String`.
    pub fn panic_message(&self) -> Option<&str> {
        match &self.cause {
            Cause::Panic { message, .. } => Some(message),
            _ => None,
        }
    }

    /// Where the panic happened, as `file:line:column`; known only with the
    /// [`panic_hook`](super::panic_hook) installed.
    pub fn panic_location(&self) -> Option<&str> {
        match &self.cause {
            Cause::Panic { origin, .. } => origin.as_ref().map(|origin| &*origin.location),
            _ => None,
        }
    }

    /// The panic's backtrace: captured only with the
    /// [`panic_hook`](super::panic_hook) installed, when the process asks
    /// std for panic backtraces (`RUST_BACKTRACE`) or the hook is told to.
    pub fn panic_backtrace(&self) -> Option<&std::backtrace::Backtrace> {
        match &self.cause {
            Cause::Panic { origin, .. } => origin.as_ref()?.backtrace.as_deref(),
            _ => None,
        }
    }

    /// The error that caused it: the handler's or the service's. `None` for
    /// a panic and for a replaced response.
    pub fn error(&self) -> Option<&(dyn Error + 'static)> {
        match &self.cause {
            Cause::Error { report, .. } => Some(&*report.error as &(dyn Error + 'static)),
            _ => None,
        }
    }

    /// What a developer would want to read: the panic message with its
    /// location, or the error chain.
    pub(super) fn details(&self) -> Option<String> {
        match &self.cause {
            Cause::Panic {
                message,
                origin: Some(origin),
            } => Some(format!("{message} (at {})", origin.location)),
            Cause::Panic { message, .. } => Some(message.to_string()),
            Cause::Error { report, .. } => Some(ErrorChain(&*report.error).text()),
            Cause::Replaced { .. } => self.replaced_text().map(str::to_owned),
        }
    }
}

impl LayerFailure for Failure {
    fn token(&self) -> &'static str {
        self.kind_str()
    }

    fn title(&self) -> &'static str {
        match self.domain() {
            Some(domain) => domain.title,
            None => self.kind().title(),
        }
    }

    fn has_own_type(&self) -> bool {
        match self.domain() {
            Some(_) => true,
            None => self.kind().has_own_type(),
        }
    }

    fn is_the_applications(&self) -> bool {
        self.domain().is_some()
    }

    fn add_members(&self, extensions: &mut Vec<(Cow<'static, str>, ExtensionValue)>) {
        if let Some(domain) = self.domain() {
            let members = domain.members.iter();
            extensions.extend(members.map(|(name, value)| (Cow::Borrowed(*name), value.clone())));
        }
        #[cfg(feature = "serde")]
        if let Some(ReplacedBody::Members(members)) = self.replaced_body() {
            extensions.extend(members.iter().cloned());
        }
    }

    fn status(&self) -> StatusCode {
        Failure::status(self)
    }

    fn grpc_code(&self) -> crate::grpc::Code {
        Failure::grpc_code(self)
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Failure");
        debug.field("kind", &self.kind());
        match &self.cause {
            Cause::Panic { message, origin } => debug
                .field("message", message)
                .field("location", &self.panic_location())
                .field(
                    "backtrace",
                    &origin.as_ref().is_some_and(|o| o.backtrace.is_some()),
                ),
            Cause::Error { report, .. } => debug.field("error", &report.error),
            Cause::Replaced { status, body } => debug.field("status", status).field("body", body),
        };
        debug.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_kind_is_the_kind_of_its_status_and_has_its_phrase() {
        for kind in Kind::ALL.iter().filter(|kind| !kind.has_own_type()) {
            let status = kind.default_status();
            assert_eq!(Kind::of_status(status), *kind);
            let phrase = crate::common::kind_table::status_phrase(status);
            assert_eq!(Some(kind.title()), phrase, "{kind}");
        }
        assert_eq!(
            Kind::of_status(StatusCode::INTERNAL_SERVER_ERROR),
            Kind::InternalError
        );
        assert_eq!(Kind::of_status(StatusCode::IM_A_TEAPOT), Kind::ClientError);
        assert_eq!(
            Kind::of_status(StatusCode::INSUFFICIENT_STORAGE),
            Kind::ServerError
        );
    }
}
