//! Telling what failed from an upstream client's error: [`Classify`] and
//! the [`DefaultClassifier`].

use std::error::Error;
use std::fmt::{self, Write as _};
use std::io;

use super::failure::Kind;
#[cfg(feature = "hyper-util")]
use crate::chain::find_source;
use crate::chain::sources;

/// Tells the [`Kind`] of an upstream client's error: plug in your own for
/// another client (reqwest, your own errors) with
/// [`GatewayErrorLayer::classify_with`](super::GatewayErrorLayer::classify_with).
///
/// Return `None` to fall through to the [`DefaultClassifier`]. The layer
/// asks only about errors of the response head: a failure of the client's
/// request body is recognised before it (as [`Kind::RequestBodyError`]),
/// and errors of the upstream's response body are classified by the
/// default rules, for the logs. If the classifier panics, the layer logs the
/// panic and uses the default. The layer keeps it by value and clones it
/// into every request's future, as it does the responder.
///
/// Closures implement it:
///
/// ```
/// use std::error::Error;
/// use tower_problem::gateway::{GatewayErrorLayer, Kind};
///
/// #[derive(Debug)]
/// struct PoolExhausted;
/// # impl std::fmt::Display for PoolExhausted {
/// #     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("pool exhausted") }
/// # }
/// # impl Error for PoolExhausted {}
///
/// let layer = GatewayErrorLayer::new().classify_with(|error: &(dyn Error + 'static)| {
///     error
///         .is::<PoolExhausted>()
///         .then_some(Kind::ConnectionLimitReached)
/// });
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot classify upstream errors",
    label = "not a `Classify`",
    note = "implement `Classify`, or pass a closure `|error: &(dyn std::error::Error + 'static)| -> Option<Kind>` that is `Clone + Send + Sync + 'static`"
)]
pub trait Classify: Clone + Send + Sync + 'static {
    /// The kind of `error`, or `None` for the default classification.
    fn classify(&self, error: &(dyn Error + 'static)) -> Option<Kind>;
}

impl<F> Classify for F
where
    F: Fn(&(dyn Error + 'static)) -> Option<Kind> + Clone + Send + Sync + 'static,
{
    fn classify(&self, error: &(dyn Error + 'static)) -> Option<Kind> {
        self(error)
    }
}

/// The default [`Classify`]: walks the error's `source()` chain looking for
/// what hyper 1, hyper-util's legacy client, tokio, tower and std report.
///
/// | found in the chain | kind |
/// |---|---|
/// | a level whose text is hyper-util's `dns error`, or starts as std's resolver error does (`failed to lookup address information`): best effort, by text | [`Kind::DnsError`] |
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
/// The first level that matches decides, outermost first; the walk looks
/// inside an `io::Error` at the error it wraps, which its `source()` skips.
/// With the
/// `hyper-util` feature, a timeout under an error that hyper-util's client
/// reports as `is_connect()` is a connection timeout, and any other is a
/// response timeout; every `is_connect()` error also marks the request as
/// never sent ([`Failure::is_request_never_sent`]).
///
/// [`Failure::is_request_never_sent`]: super::Failure::is_request_never_sent
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct DefaultClassifier;

impl Classify for DefaultClassifier {
    fn classify(&self, error: &(dyn Error + 'static)) -> Option<Kind> {
        Some(classify_head(error, connect_phase(error)))
    }
}

/// Whether hyper-util's client says the error came from connecting; `None`
/// when the chain holds no such error (or the feature is off).
pub(super) fn connect_phase(error: &(dyn Error + 'static)) -> Option<bool> {
    #[cfg(feature = "hyper-util")]
    {
        find_source::<hyper_util::client::legacy::Error>(error).map(|client| client.is_connect())
    }
    #[cfg(not(feature = "hyper-util"))]
    {
        let _ = error;
        None
    }
}

/// The default classification of an error before the response head. A
/// failure of the client's request body is not looked for: the layer finds
/// it before any classifier is asked.
pub(super) fn classify_head(error: &(dyn Error + 'static), connect: Option<bool>) -> Kind {
    let timeout = if connect == Some(false) {
        Kind::HttpResponseTimeout
    } else {
        Kind::ConnectionTimeout
    };
    sources(error)
        .find_map(|level| head_level(level, timeout, connect))
        .unwrap_or(Kind::ProxyInternalError)
}

fn head_level(error: &(dyn Error + 'static), timeout: Kind, connect: Option<bool>) -> Option<Kind> {
    if let Some(hyper) = error.downcast_ref::<hyper::Error>() {
        return if hyper.is_parse() {
            Some(if text_contains(hyper, "too large") {
                Kind::HttpResponseHeaderSectionSize
            } else {
                Kind::HttpProtocolError
            })
        } else if hyper.is_incomplete_message() {
            Some(Kind::HttpResponseIncomplete)
        } else if hyper.is_timeout() {
            Some(Kind::HttpResponseTimeout)
        } else {
            None
        };
    }
    if let Some(io) = error.downcast_ref::<io::Error>() {
        return match io.kind() {
            io::ErrorKind::ConnectionRefused => Some(Kind::ConnectionRefused),
            io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
                Some(Kind::DestinationIpUnroutable)
            }
            io::ErrorKind::TimedOut => Some(timeout),
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => Some(Kind::ConnectionTerminated),
            io::ErrorKind::UnexpectedEof => Some(Kind::HttpResponseIncomplete),
            // The resolver's errors have a kind stable code cannot name.
            _ if text_starts_with(io, "failed to lookup address information") => {
                Some(Kind::DnsError)
            }
            _ => None,
        };
    }
    if error.is::<tokio::time::error::Elapsed>() {
        return Some(if connect == Some(true) {
            Kind::ConnectionTimeout
        } else {
            Kind::HttpResponseTimeout
        });
    }
    #[cfg(feature = "tower")]
    {
        if error.is::<tower::timeout::error::Elapsed>() {
            return Some(if connect == Some(true) {
                Kind::ConnectionTimeout
            } else {
                Kind::HttpResponseTimeout
            });
        }
        if error.is::<tower::load_shed::error::Overloaded>() {
            return Some(Kind::ConnectionLimitReached);
        }
    }
    // hyper-util's `ConnectError` is private: its text is all there is.
    text_starts_with(error, "dns error").then_some(Kind::DnsError)
}

/// The default classification of an upstream response body's error.
pub(super) fn classify_body(error: &(dyn Error + 'static)) -> Kind {
    sources(error)
        .find_map(body_level)
        .unwrap_or(Kind::ProxyInternalError)
}

fn body_level(error: &(dyn Error + 'static)) -> Option<Kind> {
    if let Some(hyper) = error.downcast_ref::<hyper::Error>() {
        if hyper.is_incomplete_message() {
            return Some(Kind::HttpResponseIncomplete);
        }
        if hyper.is_parse() {
            return Some(Kind::HttpResponseTransferCoding);
        }
        if hyper.is_timeout() {
            return Some(Kind::ConnectionReadTimeout);
        }
        return None;
    }
    if let Some(io) = error.downcast_ref::<io::Error>() {
        return match io.kind() {
            io::ErrorKind::UnexpectedEof => Some(Kind::HttpResponseIncomplete),
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => Some(Kind::ConnectionTerminated),
            // hyper's chunked decoder reports a broken chunk this way.
            io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => {
                Some(Kind::HttpResponseTransferCoding)
            }
            io::ErrorKind::TimedOut => Some(Kind::ConnectionReadTimeout),
            _ => None,
        };
    }
    error
        .is::<tokio::time::error::Elapsed>()
        .then_some(Kind::ConnectionReadTimeout)
}

/// Whether the `Display` of `error` starts with `prefix`, formatting no
/// further than the first byte that differs.
fn text_starts_with(error: &dyn fmt::Display, prefix: &str) -> bool {
    struct Prefix<'a> {
        rest: &'a [u8],
    }
    impl fmt::Write for Prefix<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let n = s.len().min(self.rest.len());
            if s.as_bytes()[..n] != self.rest[..n] {
                return Err(fmt::Error);
            }
            self.rest = &self.rest[n..];
            if self.rest.is_empty() {
                // Matched: nothing more needs formatting.
                return Err(fmt::Error);
            }
            Ok(())
        }
    }
    let mut writer = Prefix {
        rest: prefix.as_bytes(),
    };
    let _stopped = write!(writer, "{error}");
    writer.rest.is_empty()
}

/// Whether the `Display` of `error` contains `needle`, looking at its first
/// 256 bytes without allocating.
fn text_contains(error: &dyn fmt::Display, needle: &str) -> bool {
    struct Head {
        buf: [u8; 256],
        len: usize,
    }
    impl fmt::Write for Head {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let n = s.len().min(self.buf.len() - self.len);
            self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
            self.len += n;
            if self.len == self.buf.len() {
                Err(fmt::Error)
            } else {
                Ok(())
            }
        }
    }
    let mut head = Head {
        buf: [0; 256],
        len: 0,
    };
    let _full = write!(head, "{error}");
    head.buf[..head.len]
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrap(&'static str, Option<Box<dyn Error + Send + Sync>>);
    impl fmt::Display for Wrap {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }
    impl Error for Wrap {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    fn kind(error: Wrap) -> Kind {
        classify_head(&error, None)
    }

    #[test]
    fn io_kinds_under_wrappers() {
        let io = |kind| Wrap("client error", Some(Box::new(io::Error::from(kind))));
        assert_eq!(
            kind(io(io::ErrorKind::ConnectionRefused)),
            Kind::ConnectionRefused
        );
        assert_eq!(
            kind(io(io::ErrorKind::NetworkUnreachable)),
            Kind::DestinationIpUnroutable
        );
        assert_eq!(kind(io(io::ErrorKind::TimedOut)), Kind::ConnectionTimeout);
        assert_eq!(
            kind(io(io::ErrorKind::BrokenPipe)),
            Kind::ConnectionTerminated
        );
        assert_eq!(kind(io(io::ErrorKind::Other)), Kind::ProxyInternalError);
    }

    #[test]
    fn dns_is_found_by_text() {
        let error = Wrap(
            "client error (Connect)",
            Some(Box::new(Wrap(
                "dns error",
                Some(Box::new(io::Error::other(
                    "failed to lookup address information: x",
                ))),
            ))),
        );
        assert_eq!(kind(error), Kind::DnsError);
        let resolver = io::Error::other("failed to lookup address information: no such host");
        assert_eq!(classify_head(&resolver, None), Kind::DnsError);
    }

    #[test]
    fn a_timeout_after_connecting_is_a_response_timeout() {
        let error = io::Error::from(io::ErrorKind::TimedOut);
        assert_eq!(
            classify_head(&error, Some(false)),
            Kind::HttpResponseTimeout
        );
        assert_eq!(classify_head(&error, Some(true)), Kind::ConnectionTimeout);
    }

    #[test]
    fn text_search_stops_at_256_bytes() {
        let long = format!("{}too large", "x".repeat(300));
        assert!(!text_contains(&long, "too large"));
        assert!(text_contains(&"message head is too large", "too large"));
    }

    #[test]
    fn a_prefix_is_matched_without_formatting_the_rest() {
        assert!(text_starts_with(&"dns error", "dns error"));
        assert!(text_starts_with(
            &format_args!("{}{}", "dns ", "error: more"),
            "dns error"
        ));
        assert!(!text_starts_with(&"a dns error", "dns error"));
        assert!(!text_starts_with(&"dns", "dns error"));
    }

    #[test]
    fn body_errors() {
        let error = io::Error::new(io::ErrorKind::InvalidInput, "Invalid chunk size line");
        assert_eq!(classify_body(&error), Kind::HttpResponseTransferCoding);
        let error = io::Error::from(io::ErrorKind::UnexpectedEof);
        assert_eq!(classify_body(&error), Kind::HttpResponseIncomplete);
        let error = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(classify_body(&error), Kind::ConnectionTerminated);
    }
}
