//! The gateway's own rules for telling what failed from an upstream
//! client's error, in one walk of its chain.

use std::error::Error;
use std::fmt::Write as _;
use std::io;

use super::connect_error::ConnectError;
use super::failure::Kind;
use super::request_body::{client_body_error, ClientBodyFailure};
use crate::common::error_chain::{self, sources};
use crate::common::panic::{catch, Panic};
use crate::Classify;

/// Classifies `error` in one walk of its chain: a failure of the client's
/// request body first, then the first level `classify` names, outermost
/// first (a panic of which is handed to `classify_panicked`, and the
/// default rules answer), then the default rules. Its kind, and whether the upstream certainly never saw the
/// request (by the walk, or by the kind): what the layer and
/// [`RetryNeverSent`](super::RetryNeverSent) make of an error before the
/// response head.
pub(super) fn classified<C: Classify<Kind>>(
    error: &(dyn Error + 'static),
    classify: &C,
    classify_panicked: impl FnOnce(Panic),
) -> (Kind, bool) {
    let walk = match catch(|| Walk::of(error, &mut |level| classify.classify(level))) {
        Ok(walk) => walk,
        Err(payload) => {
            classify_panicked(payload.into_panic());
            Walk::of(error, &mut |_| None)
        }
    };
    let kind = match walk.request_body_failure() {
        Some(ClientBodyFailure::Failed) => Kind::RequestBodyError,
        Some(ClientBodyFailure::TooLarge) => Kind::RequestBodyTooLarge,
        None => walk.classified.unwrap_or_else(|| walk.kind()),
    };
    (kind, walk.is_never_sent() || kind.is_request_never_sent())
}

/// What the one walk of an error before the response head finds.
pub(super) struct Walk<'a> {
    /// The chain holds the mark of the client's request body: how it failed.
    request_body: Option<ClientBodyFailure>,
    /// The kind the user's classifier gave the outermost level it named.
    classified: Option<Kind>,
    /// Whether the error came from connecting: a [`ConnectError`] in the
    /// chain, or hyper-util's client's `is_connect()`.
    connect: Option<bool>,
    /// A level says the upstream did not process the request: hyper's
    /// `is_canceled()`, an HTTP/2 `REFUSED_STREAM` or a stream above a
    /// graceful `GOAWAY`'s last stream id.
    unprocessed: bool,
    /// The first level the default rules know by its type.
    found: Option<Found>,
    /// The error, whose levels of types the rules do not know are read by
    /// their text when no type told.
    error: &'a (dyn Error + 'static),
    /// The innermost of those levels, read first (a failed lookup's text
    /// sits deepest), and how many there are.
    unknown: Option<(&'a (dyn Error + 'static), usize)>,
}

/// What the default rules see in one level, by its type.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Told {
    /// A type they know, and what it tells, if anything.
    Known(Option<Found>),
    /// The upstream did not process the request (its connection is
    /// terminated for it): safe to retry whatever its method.
    Unprocessed,
    /// A type they do not know: only its text can tell.
    Unknown,
}

/// A level the default rules know. A timeout's kind waits for the end of
/// the walk: the connect mark may sit anywhere in the chain.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Found {
    Kind(Kind),
    /// `io::ErrorKind::TimedOut`: a connect timeout, unless the client
    /// says it had connected.
    IoTimeout,
    /// A timer around the client: the response's, unless the client
    /// says it was connecting.
    Elapsed,
    /// `io::ErrorKind::UnexpectedEof`: an incomplete response, unless
    /// the client says it was connecting, when only a handshake
    /// reads: the TLS handshake's with the `rustls` feature, else a
    /// terminated connection.
    IoEof,
    /// A reset, aborted or broken connection: terminated, and, while
    /// connecting with the `rustls` feature, the TLS handshake's failure
    /// (a TCP connect is refused, not reset).
    Terminated,
}

impl<'a> Walk<'a> {
    /// Walks `error`'s chain once, by the types of its levels, asking
    /// `classify` of each level until it names one.
    pub(super) fn of(
        error: &'a (dyn Error + 'static),
        classify: &mut dyn FnMut(&(dyn Error + 'static)) -> Option<Kind>,
    ) -> Self {
        let mut walk = Self {
            request_body: None,
            classified: None,
            connect: None,
            unprocessed: false,
            found: None,
            error,
            unknown: None,
        };
        for level in sources(error) {
            if walk.classified.is_none() {
                walk.classified = classify(level.error);
            }
            if level.error.is::<ConnectError>() {
                walk.connect.get_or_insert(true);
                continue;
            }
            #[cfg(feature = "hyper-util")]
            if let Some(client) = level
                .error
                .downcast_ref::<hyper_util::client::legacy::Error>()
            {
                walk.connect.get_or_insert(client.is_connect());
                continue;
            }
            match head_level(level) {
                Told::Unprocessed => {
                    walk.unprocessed = true;
                    walk.found = walk.found.or(Some(Found::Kind(Kind::ConnectionTerminated)));
                }
                Told::Known(found) => walk.found = walk.found.or(found),
                // The client body's mark is of no type the rules know: it
                // is looked for among the levels they do not.
                Told::Unknown => {
                    if let Some(failure) = client_body_error(level.error) {
                        walk.request_body = Some(failure);
                        break;
                    }
                    let count = walk.unknown.map_or(0, |(_, count)| count);
                    walk.unknown = Some((level.error, count + 1));
                }
            }
        }
        walk
    }

    /// How the client's request body failed, if it did.
    pub(super) fn request_body_failure(&self) -> Option<ClientBodyFailure> {
        self.request_body
    }

    /// Whether the request certainly never reached the upstream's
    /// application: the client says the error came from connecting, or a
    /// level says the upstream did not process it.
    pub(super) fn is_never_sent(&self) -> bool {
        self.connect == Some(true) || self.unprocessed
    }

    /// The kind under the default rules (the request body's failure aside:
    /// the layer tells it first). Reads the text of the levels of unknown
    /// types only if no type told.
    pub(super) fn kind(&self) -> Kind {
        let by_text = |(innermost, count)| {
            let mut text = String::new();
            is_dns_text(innermost, &mut text)
                || (count > 1
                    && sources(self.error)
                        .filter(|level| head_level(*level) == Told::Unknown)
                        .any(|level| is_dns_text(level.error, &mut text)))
        };
        if self.found.is_none() && self.unknown.is_some_and(by_text) {
            return Kind::DnsError;
        }
        resolve(self.found, self.connect)
    }
}

fn resolve(found: Option<Found>, connect: Option<bool>) -> Kind {
    match found {
        Some(Found::Kind(kind)) => kind,
        Some(Found::IoTimeout) if connect == Some(false) => Kind::HttpResponseTimeout,
        Some(Found::IoTimeout) => Kind::ConnectionTimeout,
        Some(Found::Elapsed) if connect == Some(true) => Kind::ConnectionTimeout,
        Some(Found::Elapsed) => Kind::HttpResponseTimeout,
        Some(Found::IoEof | Found::Terminated)
            if connect == Some(true) && cfg!(feature = "rustls") =>
        {
            Kind::TlsProtocolError
        }
        Some(Found::IoEof) if connect == Some(true) => Kind::ConnectionTerminated,
        Some(Found::IoEof) => Kind::HttpResponseIncomplete,
        Some(Found::Terminated) => Kind::ConnectionTerminated,
        None => Kind::ProxyInternalError,
    }
}

fn head_level(level: error_chain::Level<'_>) -> Told {
    let error = level.error;
    if let Some(io) = level.io {
        return Told::Known(match io.kind() {
            io::ErrorKind::ConnectionRefused => Some(Found::Kind(Kind::ConnectionRefused)),
            io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
                Some(Found::Kind(Kind::DestinationIpUnroutable))
            }
            io::ErrorKind::TimedOut => Some(Found::IoTimeout),
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => Some(Found::Terminated),
            io::ErrorKind::UnexpectedEof => Some(Found::IoEof),
            _ => None,
        });
    }
    #[cfg(feature = "rustls")]
    if let Some(tls) = error.downcast_ref::<rustls::Error>() {
        return Told::Known(Some(Found::Kind(match tls {
            rustls::Error::InvalidCertificate(_) => Kind::TlsCertificateError,
            rustls::Error::AlertReceived(_) => Kind::TlsAlertReceived,
            _ => Kind::TlsProtocolError,
        })));
    }
    #[cfg(feature = "h2")]
    if let Some(h2) = error.downcast_ref::<h2::Error>() {
        return h2_level(h2);
    }
    if let Some(hyper) = error.downcast_ref::<hyper::Error>() {
        if hyper.is_canceled() {
            return Told::Unprocessed;
        }
        return Told::Known(if hyper.is_parse() {
            Some(Found::Kind(if hyper.to_string().contains("too large") {
                Kind::HttpResponseHeaderSectionSize
            } else {
                Kind::HttpProtocolError
            }))
        } else if hyper.is_incomplete_message() {
            Some(Found::Kind(Kind::HttpResponseIncomplete))
        } else if hyper.is_timeout() {
            Some(Found::Kind(Kind::HttpResponseTimeout))
        } else {
            None
        });
    }
    if error.is::<tokio::time::error::Elapsed>() {
        return Told::Known(Some(Found::Elapsed));
    }
    #[cfg(feature = "tower")]
    {
        if error.is::<tower::timeout::error::Elapsed>() {
            return Told::Known(Some(Found::Elapsed));
        }
        if error.is::<tower::load_shed::error::Overloaded>() {
            return Told::Known(Some(Found::Kind(Kind::ConnectionLimitReached)));
        }
    }
    Told::Unknown
}

/// An HTTP/2 error before the head: a stream the upstream refused
/// (`REFUSED_STREAM`) or one above the last stream id of its graceful
/// `GOAWAY` was not processed (RFC 9113 §8.7); a protocol error, whoever
/// found it (a reset or `GOAWAY` the upstream sent or h2 sent it, the error
/// h2 found itself), is the most specific type RFC 9209 §2.1.1 asks for,
/// `http_protocol_error`; any other reset or `GOAWAY` terminated a request
/// that may have been processed (a `GOAWAY` with an error code reaches the
/// streams below its last id too, so it cannot say which).
#[cfg(feature = "h2")]
fn h2_level(error: &h2::Error) -> Told {
    use h2::Reason;

    let refused = error.is_reset() && error.reason() == Some(Reason::REFUSED_STREAM);
    let above_graceful_go_away =
        error.is_go_away() && error.is_remote() && error.reason() == Some(Reason::NO_ERROR);
    let protocol_error = matches!(
        error.reason(),
        Some(Reason::PROTOCOL_ERROR | Reason::FRAME_SIZE_ERROR | Reason::COMPRESSION_ERROR)
    );
    if refused || above_graceful_go_away {
        Told::Unprocessed
    } else if protocol_error {
        Told::Known(Some(Found::Kind(Kind::HttpProtocolError)))
    } else if error.is_reset() || error.is_go_away() {
        Told::Known(Some(Found::Kind(Kind::ConnectionTerminated)))
    } else {
        Told::Known(None)
    }
}

/// Whether a level of an unknown type reads as a failed name lookup:
/// hyper-util's `ConnectError` is private, and std's resolver error is a
/// message in an `io::Error`, so their text is all there is.
fn is_dns_text(level: &(dyn Error + 'static), text: &mut String) -> bool {
    text.clear();
    let _ = write!(text, "{level}");
    ["dns error", "failed to lookup address information"]
        .iter()
        .any(|prefix| text.starts_with(prefix))
}

/// The id of the TLS alert in `error`'s chain, for the `alert-id` (and,
/// through it, the `alert-message`) of `tls_alert_received`.
pub(super) fn tls_alert(error: &(dyn Error + 'static)) -> Option<u8> {
    #[cfg(feature = "rustls")]
    {
        sources(error).find_map(|level| match level.error.downcast_ref::<rustls::Error>()? {
            rustls::Error::AlertReceived(alert) => Some(u8::from(*alert)),
            _ => None,
        })
    }
    #[cfg(not(feature = "rustls"))]
    {
        let _ = error;
        None
    }
}

/// The default classification of an upstream response body's error.
pub(super) fn classify_body(error: &(dyn Error + 'static)) -> Kind {
    sources(error)
        .find_map(|level| body_level(level.error))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::error_chain::tests::Wrap;

    fn kind(error: Wrap) -> Kind {
        Walk::of(&error, &mut |_| None).kind()
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
    fn a_connect_error_is_never_sent_and_names_the_handshake() {
        let connecting = |kind| {
            let error = Wrap(
                "client error",
                Some(Box::new(ConnectError::new(io::Error::from(kind)))),
            );
            let walk = Walk::of(&error, &mut |_| None);
            (walk.kind(), walk.is_never_sent())
        };
        assert_eq!(
            connecting(io::ErrorKind::TimedOut),
            (Kind::ConnectionTimeout, true)
        );
        let cut = if cfg!(feature = "rustls") {
            Kind::TlsProtocolError
        } else {
            Kind::ConnectionTerminated
        };
        assert_eq!(connecting(io::ErrorKind::UnexpectedEof), (cut, true));
        assert_eq!(connecting(io::ErrorKind::ConnectionReset), (cut, true));
        // Unmarked, the same errors are the response's.
        let eof = Wrap(
            "client error",
            Some(Box::new(io::Error::from(io::ErrorKind::UnexpectedEof))),
        );
        let walk = Walk::of(&eof, &mut |_| None);
        assert_eq!(
            (walk.kind(), walk.is_never_sent()),
            (Kind::HttpResponseIncomplete, false)
        );
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
        assert_eq!(Walk::of(&resolver, &mut |_| None).kind(), Kind::DnsError);
        // The resolver's error is read at the level it wraps, not twice.
        assert_eq!(
            head_level(sources(&resolver).next().unwrap()),
            Told::Known(None)
        );
        // A level whose type tells wins over any text.
        let typed = Wrap(
            "dns error",
            Some(Box::new(io::Error::from(io::ErrorKind::TimedOut))),
        );
        assert_eq!(kind(typed), Kind::ConnectionTimeout);
    }

    #[test]
    fn a_timeout_after_connecting_is_a_response_timeout() {
        let error = io::Error::from(io::ErrorKind::TimedOut);
        let Told::Known(found) = head_level(sources(&error).next().unwrap()) else {
            panic!("an io::Error is known");
        };
        assert_eq!(found, Some(Found::IoTimeout));
        assert_eq!(resolve(found, Some(false)), Kind::HttpResponseTimeout);
        assert_eq!(resolve(found, Some(true)), Kind::ConnectionTimeout);
        assert_eq!(resolve(found, None), Kind::ConnectionTimeout);
        let elapsed = Some(Found::Elapsed);
        assert_eq!(resolve(elapsed, Some(true)), Kind::ConnectionTimeout);
        assert_eq!(resolve(elapsed, None), Kind::HttpResponseTimeout);
    }

    #[test]
    fn the_client_bodys_mark_wins_wherever_it_is() {
        let marked = crate::gateway::request_body::tests::marked(io::ErrorKind::ConnectionReset);
        let error = Wrap("client error (SendRequest)", Some(marked));
        let walk = Walk::of(&error, &mut |_| None);
        assert_eq!(walk.request_body_failure(), Some(ClientBodyFailure::Failed));
        assert!(!walk.is_never_sent());
    }

    /// RFC 9209 §2.1.1: an HTTP/2 protocol error, whatever carries it, is
    /// the more specific `http_protocol_error`.
    #[cfg(feature = "h2")]
    #[test]
    fn http2_protocol_errors_are_http_protocol_errors() {
        use h2::Reason;

        for reason in [
            Reason::PROTOCOL_ERROR,
            Reason::FRAME_SIZE_ERROR,
            Reason::COMPRESSION_ERROR,
        ] {
            assert_eq!(
                h2_level(&h2::Error::from(reason)),
                Told::Known(Some(Found::Kind(Kind::HttpProtocolError))),
                "{reason:?}"
            );
        }
        let internal = h2::Error::from(Reason::INTERNAL_ERROR);
        assert_eq!(h2_level(&internal), Told::Known(None));
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
