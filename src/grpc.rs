//! gRPC answers: what both layers send a gRPC request instead of
//! problem+json.
//!
//! A request is gRPC when it is a `POST` over HTTP/2 whose `content-type`
//! is `application/grpc` or `application/grpc+…` (gRPC-Web is not). Its
//! failures are answered as gRPC's own clients read them: a *trailers-only*
//! response (HTTP 200, `content-type: application/grpc`, `grpc-status` and
//! `grpc-message` in the head, and an empty body that ends the stream),
//! with the layer's kind in [`KIND_HEADER`] so that the answer stays
//! machine-readable in the crate's vocabulary. `grpc-message` is the kind's
//! title, or the detail where the layer shows details, percent-encoded as
//! gRPC's HTTP/2 protocol asks.
//!
//! A gRPC client reads such an answer; a problem+json body, which it would
//! take for a broken frame, tonic reports as `INTERNAL`, "invalid
//! compression flag: 123". The gateway's answer to a refused connection:
//!
//! ```text
//! :status: 200
//! content-type: application/grpc
//! grpc-status: 14
//! grpc-message: The upstream refused the connection
//! problem-kind: connection_refused
//! proxy-status: tower-problem; error=connection_refused
//! ```
//!
//! A handler's panic or error is `INTERNAL`; a panic in a streaming body
//! ends the stream with the trailers `grpc-status: 13`. The gateway answers
//! a failure to reach the upstream `UNAVAILABLE` (which gRPC clients retry)
//! and its head timeout `DEADLINE_EXCEEDED`; a request's `grpc-timeout`
//! bounds that timeout, as the client has given up by then.
//!
//! Each layer's `Failure::grpc_code` gives the [`Code`]; the [kinds
//! page](crate::kinds#grpc-codes) lists them, with why. A responder
//! answers gRPC requests its own way through
//! [`ResponseForFailure::grpc_response_for_failure`].
//!
//! The example `grpc` (`cargo run --example grpc`, on 127.0.0.1:50051)
//! serves tonic's `grpc.health.v1.Health` behind the app layer: `Check` of
//! `""` is `SERVING`, of `"panic"` panics; `Watch` of `"panic"` panics
//! after its first message; `x-fail: error` metadata fails below tonic.
//! `UPSTREAM=http://127.0.0.1:50051 cargo run --example gateway` puts the
//! example gateway in front of it.
//!
//! [`ResponseForFailure::grpc_response_for_failure`]: crate::ResponseForFailure::grpc_response_for_failure

use std::fmt;
#[cfg(feature = "gateway")]
use std::time::Duration;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Version};

/// The header that carries the layer's kind on a gRPC answer
/// (`problem-kind: connection_refused`): names starting with `grpc-` are
/// gRPC's own.
pub const KIND_HEADER: HeaderName = HeaderName::from_static("problem-kind");

const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");
#[cfg(feature = "gateway")]
const GRPC_TIMEOUT: HeaderName = HeaderName::from_static("grpc-timeout");

macro_rules! codes {
    ($($(#[$meta:meta])* $code:ident = $value:literal, $name:literal;)*) => {
        /// A gRPC status code, as gRPC's `status.proto` numbers them.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Code {
            $($(#[$meta])* $code = $value,)*
        }

        impl Code {
            /// The number, as `grpc-status` carries it.
            pub const fn as_i32(self) -> i32 {
                self as i32
            }

            /// The name, as gRPC's documents write it: `UNAVAILABLE`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$code => $name,)*
                }
            }

            fn header_value(self) -> HeaderValue {
                match self {
                    $(Self::$code => HeaderValue::from_static(stringify!($value)),)*
                }
            }
        }
    };
}

codes! {
    /// Not an error.
    Ok = 0, "OK";
    /// The call was cancelled, typically by the caller.
    Cancelled = 1, "CANCELLED";
    /// An error nothing better describes.
    Unknown = 2, "UNKNOWN";
    /// The caller sent something invalid.
    InvalidArgument = 3, "INVALID_ARGUMENT";
    /// The deadline ran out before the call completed.
    DeadlineExceeded = 4, "DEADLINE_EXCEEDED";
    /// Something the call names was not found.
    NotFound = 5, "NOT_FOUND";
    /// Something the call would create exists already.
    AlreadyExists = 6, "ALREADY_EXISTS";
    /// The caller may not do this.
    PermissionDenied = 7, "PERMISSION_DENIED";
    /// A resource (a quota, a size limit) is exhausted.
    ResourceExhausted = 8, "RESOURCE_EXHAUSTED";
    /// The system is not in the state the call needs.
    FailedPrecondition = 9, "FAILED_PRECONDITION";
    /// The call was aborted, typically by a concurrency conflict.
    Aborted = 10, "ABORTED";
    /// A value was out of its valid range.
    OutOfRange = 11, "OUT_OF_RANGE";
    /// The call is not implemented or not supported.
    Unimplemented = 12, "UNIMPLEMENTED";
    /// An internal invariant broke: a bug.
    Internal = 13, "INTERNAL";
    /// The service is unavailable for now: a retry with a backoff may
    /// succeed (gRPC's clients retry it where the call is safe to retry).
    Unavailable = 14, "UNAVAILABLE";
    /// Data was lost or corrupted.
    DataLoss = 15, "DATA_LOSS";
    /// The caller is not authenticated.
    Unauthenticated = 16, "UNAUTHENTICATED";
}

impl Code {
    /// The code a server means by an HTTP error status, the inverse of
    /// `google.rpc.Code`'s HTTP mapping where it has one: 400
    /// `INVALID_ARGUMENT`, 401 `UNAUTHENTICATED`, 403 `PERMISSION_DENIED`,
    /// 404, 405 and 501 `UNIMPLEMENTED` (an unknown method, as gRPC servers
    /// answer one), 408 and 504 `DEADLINE_EXCEEDED`, 409 `ABORTED`, 412
    /// `FAILED_PRECONDITION`, 413 and 429 `RESOURCE_EXHAUSTED` (gRPC's code
    /// for a message over its size limit), 499 `CANCELLED`, 502 and 503
    /// `UNAVAILABLE`; any other 4xx `FAILED_PRECONDITION`, anything else
    /// `INTERNAL`.
    pub fn of_status(status: StatusCode) -> Self {
        match status.as_u16() {
            400 => Self::InvalidArgument,
            401 => Self::Unauthenticated,
            403 => Self::PermissionDenied,
            404 | 405 | 501 => Self::Unimplemented,
            408 | 504 => Self::DeadlineExceeded,
            409 => Self::Aborted,
            412 => Self::FailedPrecondition,
            413 | 429 => Self::ResourceExhausted,
            499 => Self::Cancelled,
            502 | 503 => Self::Unavailable,
            _ if status.is_client_error() => Self::FailedPrecondition,
            _ => Self::Internal,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A trailers-only gRPC response: HTTP 200, `content-type:
/// application/grpc`, `grpc-status: code` and `grpc-message: message`
/// (percent-encoded) in the head, and an empty body. What the layers send
/// by default; a responder of your own can start from it.
///
/// ```
/// use tower_problem::grpc::{trailers_only, Code};
///
/// let res = trailers_only(Code::Unavailable, "try again in 100% of cases\r\n");
/// assert_eq!(res.status(), 200);
/// assert_eq!(res.headers()["content-type"], "application/grpc");
/// assert_eq!(res.headers()["grpc-status"], "14");
/// // Nothing in the message can end the header.
/// assert_eq!(res.headers()["grpc-message"], "try again in 100%25 of cases%0D%0A");
/// assert!(res.body().is_empty());
/// ```
pub fn trailers_only(code: Code, message: &str) -> Response<Bytes> {
    let mut res = Response::new(Bytes::new());
    let headers = res.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert(GRPC_STATUS, code.header_value());
    if !message.is_empty() {
        headers.insert(GRPC_MESSAGE, encode_message(message));
    }
    res
}

/// The trailers that end a gRPC response whose body failed after its head:
/// `grpc-status`, `grpc-message` and the layer's kind.
pub(crate) fn trailers(code: Code, message: &str, kind: &'static str) -> HeaderMap {
    let mut trailers = HeaderMap::with_capacity(3);
    trailers.insert(GRPC_STATUS, code.header_value());
    trailers.insert(GRPC_MESSAGE, encode_message(message));
    trailers.insert(KIND_HEADER, HeaderValue::from_static(kind));
    trailers
}

/// gRPC's percent-encoding of a status message: UTF-8, with every byte
/// outside printable ASCII, and `%` itself, written `%XX`. Nothing in the
/// message can end the header or forge another.
fn encode_message(message: &str) -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(message.len());
    for &byte in message.as_bytes() {
        if (0x20..=0x7e).contains(&byte) && byte != b'%' {
            out.push(byte);
        } else {
            out.extend_from_slice(&[
                b'%',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 15)],
            ]);
        }
    }
    HeaderValue::from_bytes(&out).expect("printable ASCII is a header value")
}

/// Whether `req` is a gRPC request, which both layers answer as gRPC: a
/// `POST` over HTTP/2 (gRPC runs on nothing else) with a gRPC
/// `content-type`.
///
/// A gateway uses it to pick the upstream client, since gRPC needs one that
/// speaks HTTP/2 only (`examples/gateway.rs` does).
///
/// ```
/// use http::{Request, Version};
///
/// let call = Request::post("/grpc.health.v1.Health/Check")
///     .version(Version::HTTP_2)
///     .header("content-type", "application/grpc+proto")
///     .body(())
///     .unwrap();
/// assert!(tower_problem::grpc::is_grpc_request(&call));
///
/// let web = Request::post("/grpc.health.v1.Health/Check")
///     .version(Version::HTTP_11)
///     .header("content-type", "application/grpc-web")
///     .body(())
///     .unwrap();
/// assert!(!tower_problem::grpc::is_grpc_request(&web));
/// ```
pub fn is_grpc_request<B>(req: &Request<B>) -> bool {
    if req.version() != Version::HTTP_2 || req.method() != Method::POST {
        return false;
    }
    let Some(value) = req.headers().get(CONTENT_TYPE) else {
        return false;
    };
    let value = value.as_bytes();
    let prefix = b"application/grpc";
    value.len() >= prefix.len()
        && value[..prefix.len()].eq_ignore_ascii_case(prefix)
        && matches!(value.get(prefix.len()), None | Some(b'+' | b';'))
}

/// The request's `grpc-timeout` (gRPC's deadline): at most 8 digits and a
/// unit, `H`, `M`, `S`, `m`, `u` or `n`. `None` if absent or malformed.
#[cfg(feature = "gateway")]
pub(crate) fn timeout(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(&GRPC_TIMEOUT)?.as_bytes();
    let (&unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let amount: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(match unit {
        b'H' => Duration::from_secs(amount * 3600),
        b'M' => Duration::from_secs(amount * 60),
        b'S' => Duration::from_secs(amount),
        b'm' => Duration::from_millis(amount),
        b'u' => Duration::from_micros(amount),
        b'n' => Duration::from_nanos(amount),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_percent_encoded() {
        assert_eq!(encode_message("plain text"), "plain text");
        assert_eq!(encode_message("100% é\r\nx"), "100%25 %C3%A9%0D%0Ax");
    }

    #[test]
    fn grpc_requests_are_told_by_version_method_and_type() {
        let request = |version, method: Method, content_type: &str| {
            Request::builder()
                .version(version)
                .method(method)
                .header(CONTENT_TYPE, content_type)
                .body(())
                .unwrap()
        };
        assert!(is_grpc_request(&request(
            Version::HTTP_2,
            Method::POST,
            "application/grpc"
        )));
        assert!(is_grpc_request(&request(
            Version::HTTP_2,
            Method::POST,
            "application/grpc+proto"
        )));
        assert!(is_grpc_request(&request(
            Version::HTTP_2,
            Method::POST,
            "Application/GRPC"
        )));
        assert!(!is_grpc_request(&request(
            Version::HTTP_2,
            Method::POST,
            "application/grpc-web"
        )));
        assert!(!is_grpc_request(&request(
            Version::HTTP_2,
            Method::POST,
            "application/json"
        )));
        assert!(!is_grpc_request(&request(
            Version::HTTP_11,
            Method::POST,
            "application/grpc"
        )));
        assert!(!is_grpc_request(&request(
            Version::HTTP_2,
            Method::GET,
            "application/grpc"
        )));
    }

    #[cfg(feature = "gateway")]
    #[test]
    fn timeouts_are_read_in_every_unit() {
        let timeout_of = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(GRPC_TIMEOUT, HeaderValue::from_str(value).unwrap());
            timeout(&headers)
        };
        assert_eq!(timeout_of("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(timeout_of("2M"), Some(Duration::from_secs(120)));
        assert_eq!(timeout_of("3S"), Some(Duration::from_secs(3)));
        assert_eq!(timeout_of("250m"), Some(Duration::from_millis(250)));
        assert_eq!(timeout_of("7u"), Some(Duration::from_micros(7)));
        assert_eq!(
            timeout_of("99999999n"),
            Some(Duration::from_nanos(99_999_999))
        );
        for bad in ["", "m", "123456789m", "12x", "-1S", "1.5S"] {
            assert_eq!(timeout_of(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn statuses_map_to_codes() {
        assert_eq!(Code::of_status(StatusCode::NOT_FOUND), Code::Unimplemented);
        assert_eq!(Code::of_status(StatusCode::BAD_GATEWAY), Code::Unavailable);
        assert_eq!(
            Code::of_status(StatusCode::GATEWAY_TIMEOUT),
            Code::DeadlineExceeded
        );
        assert_eq!(
            Code::of_status(StatusCode::IM_A_TEAPOT),
            Code::FailedPrecondition
        );
        assert_eq!(
            Code::of_status(StatusCode::INTERNAL_SERVER_ERROR),
            Code::Internal
        );
        assert_eq!(Code::Unavailable.as_i32(), 14);
        assert_eq!(Code::Unavailable.header_value(), "14");
    }
}
