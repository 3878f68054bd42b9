use std::error::Error;
use std::sync::Arc;

use bytes::Bytes;
use http::header::RETRY_AFTER;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use tokio::time::Instant;

use super::classify::{tls_alert, Walk};
use super::failure::{Failure, Kind};
use super::future::Call;
use super::layer::{Settings, DEFAULT_PROXY_NAME};
use super::log;
use super::proxy_status::{member, Params, PROXY_STATUS};
use super::request_body::ClientBodyFailure;
use crate::chain::ErrorChain;
use crate::classify::Classify;
use crate::panic::catch;
use crate::problem::keep_replaced;
use crate::respond::{self, ResponseForFailure};
use crate::BoxError;

/// Why the response head never came.
pub(super) enum Cause {
    /// The inner service or its future failed.
    Error(BoxError),
    /// The layer's head timeout ran out.
    HeadTimeout,
    /// The upstream answered `101 Switching Protocols` to a request that
    /// asked for no upgrade.
    UnaskedUpgrade,
}

/// The error of [`Cause::UnaskedUpgrade`].
#[derive(Debug)]
struct UnaskedUpgrade;

impl std::fmt::Display for UnaskedUpgrade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the upstream answered 101 Switching Protocols to a request without Upgrade")
    }
}

impl Error for UnaskedUpgrade {}

/// Classifies, logs and answers a failure before the response head.
pub(super) fn failure_response<C, R>(
    cause: Cause,
    call: &Call,
    started: Option<Instant>,
    settings: &Settings<C, R>,
) -> Response<Bytes>
where
    C: Classify<Kind>,
    R: ResponseForFailure<Failure>,
{
    let failure = match cause {
        Cause::Error(error) => {
            let (kind, never_sent) = classify(&*error, &settings.classify, call);
            let error = Arc::new(error);
            Failure::new(kind, settings.status(kind), never_sent, Some(error))
        }
        Cause::HeadTimeout => {
            let kind = Kind::HttpResponseTimeout;
            Failure::new(kind, settings.status(kind), false, None)
        }
        Cause::UnaskedUpgrade => {
            let kind = Kind::HttpProtocolError;
            let error: Arc<BoxError> = Arc::new(Box::new(UnaskedUpgrade));
            Failure::new(kind, settings.status(kind), false, Some(error))
        }
    };
    let details = details(&failure, settings);
    log::failure(&failure, call, started, details.as_deref());
    report(&failure, call, settings);
    build(failure, call, settings, details.as_deref())
}

/// The layer's kind for `error`, from one walk of its chain: a failure of
/// the client's request body first, then the user's classifier (its panic
/// logged and ignored), then the default rules; and whether the request was
/// never sent.
fn classify<C: Classify<Kind>>(
    error: &(dyn Error + 'static),
    classifier: &C,
    call: &Call,
) -> (Kind, bool) {
    let walk = Walk::of(error);
    let kind = match walk.request_body_failure() {
        Some(ClientBodyFailure::Failed) => Kind::RequestBodyError,
        Some(ClientBodyFailure::TooLarge) => Kind::RequestBodyTooLarge,
        None => match catch(|| classifier.classify(error)) {
            Ok(Some(kind)) => kind,
            Ok(None) => walk.kind(),
            Err(payload) => {
                let panic = payload.into_panic();
                log::classify_panicked(&panic, call, std::any::type_name::<C>());
                walk.kind()
            }
        },
    };
    (kind, walk.is_never_sent())
}

/// Hands `failure` to the layer's `on_failure`, if it has one.
/// Counts `failure` (feature `metrics`) and hands it to the layer's
/// `on_failure`, if it has one.
#[inline(always)]
fn report<C, R>(failure: &Failure, call: &Call, settings: &Settings<C, R>) {
    #[cfg(feature = "metrics")]
    crate::metrics::failure(
        "gateway",
        failure.kind().as_str(),
        Some(failure.status()),
        settings.metrics_upstream().then(|| call.upstream()),
    );
    if let Some(custom) = settings.common.layer() {
        if let Some(panic) = custom
            .on_failure
            .as_ref()
            .and_then(|report| report.report(failure, &call.request))
        {
            log::customisation_panicked(&panic, failure.kind(), call, "on_failure");
        }
    }
}

/// The upstream's 5xx response with its body replaced by the gateway's
/// problem, when the layer intercepts error responses.
pub(super) fn intercepted<B, C, R>(
    res: Response<B>,
    call: &Call,
    started: Option<Instant>,
    settings: &Settings<C, R>,
) -> Response<Bytes>
where
    R: ResponseForFailure<Failure>,
{
    let (upstream, body) = res.into_parts();
    drop(body);
    let failure = Failure::new(Kind::UpstreamServerError, upstream.status, false, None);
    let details = details(&failure, settings);
    log::failure(&failure, call, started, details.as_deref());
    report(&failure, call, settings);
    let generated = build(failure, call, settings, details.as_deref());
    let (mut parts, data) = generated.into_parts();

    // The upstream's headers after the generated ones, so its Proxy-Status
    // members come before the gateway's, as RFC 9209 orders them.
    let ours = parts.headers.remove(PROXY_STATUS);
    keep_replaced(&mut parts, upstream);
    if let Some(ours) = ours {
        parts.headers.append(PROXY_STATUS, ours);
    }
    Response::from_parts(parts, data)
}

/// The error chain, or what the layer knows, for `detail` and `details=`;
/// only when one of them is on.
fn details<C, R>(failure: &Failure, settings: &Settings<C, R>) -> Option<String> {
    if !(settings.common.expose_details || settings.common.flags.proxy_status_details) {
        return None;
    }
    Some(match (failure.error(), failure.kind()) {
        (Some(error), _) => ErrorChain(error).to_string(),
        (None, Kind::UpstreamServerError) => {
            format!("the upstream answered {}", failure.status().as_u16())
        }
        (None, _) => match settings.common.flags.head_timeout() {
            Some(timeout) => format!("no response head within {timeout:?}"),
            None => String::from("no response head in time"),
        },
    })
}

/// The failure's response, through the core's builder, with the gateway's
/// own headers: `Proxy-Status` and, on a 503, `Retry-After`.
fn build<C, R: ResponseForFailure<Failure>>(
    failure: Failure,
    call: &Call,
    settings: &Settings<C, R>,
    details: Option<&str>,
) -> Response<Bytes> {
    let request = &call.request;
    let (kind, status) = (failure.kind(), failure.status());
    let alert = if kind == Kind::TlsAlertReceived {
        failure.error().and_then(|error| tls_alert(error))
    } else {
        None
    };
    let alert = alert.as_ref().map(|(id, message)| (*id, message.as_str()));
    let member = || proxy_status(kind, status, call, settings, details, alert);
    let built = respond::failure_response(
        failure,
        details.filter(|_| settings.common.expose_details),
        request,
        &settings.common,
        &settings.respond,
        || {
            let mut headers = match member() {
                Some(Member::KindDefault) => kind.default_head(),
                Some(member) => {
                    let mut headers = respond::default_headers();
                    headers.append(PROXY_STATUS, member.value(kind));
                    headers
                }
                None => respond::default_headers(),
            };
            respond::retry_after(&mut headers, status, &settings.common);
            headers
        },
        |headers| {
            if !headers.contains_key(PROXY_STATUS) {
                if let Some(member) = member() {
                    headers.append(PROXY_STATUS, member.value(kind));
                }
            }
            if !headers.contains_key(RETRY_AFTER) {
                respond::retry_after(headers, status, &settings.common);
            }
        },
    );
    if let Some(panic) = &built.respond_panicked {
        log::customisation_panicked(panic, kind, call, std::any::type_name::<R>());
    }
    built.response
}

/// The gateway's `Proxy-Status` member for a failure.
enum Member {
    /// The error type alone under the default name: written at compile
    /// time.
    KindDefault,
    Written(HeaderValue),
}

impl Member {
    fn value(self, kind: Kind) -> HeaderValue {
        match self {
            Self::KindDefault => kind.default_proxy_status(),
            Self::Written(value) => value,
        }
    }
}

/// The member for a failure of `kind` answered with `status`: its error
/// type, or the status received for a replaced 5xx; `None` for a failure
/// of the client's body. The kind's default when nothing but the error
/// type goes into it, under the default name.
fn proxy_status<C, R>(
    kind: Kind,
    status: StatusCode,
    call: &Call,
    settings: &Settings<C, R>,
    details: Option<&str>,
    alert: Option<(u8, &str)>,
) -> Option<Member> {
    let flags = &settings.common.flags;
    let name = settings.proxy_name();
    if kind.is_proxy_error()
        && !flags.proxy_status_details
        && !flags.proxy_status_next_hop
        && name.is_none()
        && alert.is_none()
    {
        return Some(Member::KindDefault);
    }
    let error = kind.is_proxy_error().then_some(kind);
    let received_status = (kind == Kind::UpstreamServerError).then_some(status);
    if error.is_none() && received_status.is_none() {
        return None;
    }
    let params = Params {
        error: error.map(Kind::as_str),
        details: details.filter(|_| flags.proxy_status_details),
        next_hop: call
            .upstream
            .as_ref()
            .map(|authority| authority.as_str())
            .filter(|_| flags.proxy_status_next_hop),
        received_status,
        alert,
    };
    let name = name.unwrap_or(DEFAULT_PROXY_NAME);
    Some(Member::Written(member(name, &params)))
}

/// The head of the default response to a failure of `kind` with the
/// kind's default `Proxy-Status` member, as [`Kind::default_head`] keeps it.
pub(super) fn head_with_default_member(kind: Kind) -> HeaderMap {
    let mut headers = respond::default_headers();
    headers.append(PROXY_STATUS, kind.default_proxy_status());
    headers
}
