use std::any::TypeId;
use std::error::Error;
use std::sync::Arc;

use bytes::Bytes;
use http::header;
use http::{Response, StatusCode};
use tokio::time::Instant;

use super::classify::{classify_head, connect_phase, Classify};
use super::failure::{ErrorChain, Failure, Kind};
use super::future::{elapsed_ms, head_timeout_text, Call};
use super::layer::{default_proxy_name, Settings, Shared};
use super::proxy_status::{member, Params, PROXY_STATUS};
use super::request_body::is_request_body_error;
use crate::context::RequestContext;
use crate::panic::catch;
use crate::problem::{
    fixed_problem_response, keep_replaced, problem_response, set_content_length, type_uri, Problem,
};
use crate::respond::{DefaultResponse, ResponseForFailure};
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
    shared: &Shared<C, R>,
) -> Response<Bytes>
where
    C: Classify,
    R: ResponseForFailure<Failure>,
{
    let settings = &shared.settings;
    let failure = match cause {
        Cause::Error(error) => {
            let (kind, never_sent) = classify(&*error, &*shared.classify, call);
            let error: Arc<dyn Error + Send + Sync> = Arc::from(error);
            Failure::new(kind, settings.status(kind), never_sent, Some(error))
        }
        Cause::HeadTimeout => {
            let kind = Kind::HttpResponseTimeout;
            Failure::new(kind, settings.status(kind), false, None)
        }
        Cause::UnaskedUpgrade => {
            let kind = Kind::HttpProtocolError;
            let error: Arc<dyn Error + Send + Sync> = Arc::new(UnaskedUpgrade);
            Failure::new(kind, settings.status(kind), false, Some(error))
        }
    };
    let details = details(&failure, settings);
    log_failure(&failure, call, started, details.as_deref());
    build(
        failure,
        call,
        settings,
        &*shared.respond,
        details.as_deref(),
    )
}

/// The layer's kind for `error`: the user's classifier first (its panic
/// logged and ignored), then the default; and whether the request was never
/// sent.
fn classify<C: Classify>(
    error: &(dyn Error + 'static),
    classifier: &C,
    call: &Call,
) -> (Kind, bool) {
    let connect = connect_phase(error);
    let kind = if is_request_body_error(error) {
        Kind::RequestBodyError
    } else {
        match catch(|| classifier.classify(error)) {
            Ok(Some(kind)) => kind,
            Ok(None) => classify_head(error, connect),
            Err(payload) => {
                let panic = payload.into_panic();
                tracing::error!(
                    method = %call.request.method(),
                    path = call.request.path().unwrap_or("-"),
                    request_id = call.request.request_id_str().unwrap_or("-"),
                    panic.message = %panic.message,
                    panic.location = panic.location.as_deref().unwrap_or("-"),
                    classify = std::any::type_name::<C>(),
                    "the Classify panicked; used the default classification"
                );
                classify_head(error, connect)
            }
        }
    };
    (kind, connect == Some(true))
}

/// The upstream's 5xx response with its body replaced by the gateway's
/// problem, when the layer intercepts upstream errors.
pub(super) fn intercepted<B, C, R>(
    res: Response<B>,
    call: &Call,
    started: Option<Instant>,
    shared: &Shared<C, R>,
) -> Response<Bytes>
where
    R: ResponseForFailure<Failure>,
{
    let settings = &shared.settings;
    let (upstream, body) = res.into_parts();
    drop(body);
    let failure = Failure::new(Kind::UpstreamServerError, upstream.status, false, None);
    let details = details(&failure, settings);
    log_failure(&failure, call, started, details.as_deref());
    let generated = build(
        failure,
        call,
        settings,
        &*shared.respond,
        details.as_deref(),
    );
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
fn details(failure: &Failure, settings: &Settings) -> Option<String> {
    if !(settings.expose_details || settings.proxy_status_details) {
        return None;
    }
    Some(match (failure.error(), failure.kind()) {
        (Some(error), _) => ErrorChain(error).to_string(),
        (None, Kind::UpstreamServerError) => {
            format!("the upstream answered {}", failure.status().as_u16())
        }
        (None, _) => head_timeout_text(settings.head_timeout),
    })
}

/// The consistent body: `type`, `title`, `status`, the `detail` when the
/// user exposes details, and the `kind` and `request_id` members.
fn default_problem(
    failure: &Failure,
    request: &RequestContext,
    settings: &Settings,
    details: Option<&str>,
) -> Problem {
    let kind = failure.kind();
    let type_uri = type_uri(
        settings.type_base.as_deref(),
        kind.as_str(),
        kind.default_type(),
    );
    let mut problem = Problem::new(failure.status())
        .with_type(type_uri)
        .with_title(kind.title());
    if settings.expose_details {
        if let Some(details) = details {
            problem = problem.with_detail(details.to_owned());
        }
    }
    problem = problem.with_extension("kind", kind.as_str());
    if let Some(id) = request.request_id_str() {
        problem = problem.with_extension("request_id", id.to_owned());
    }
    problem
}

/// Whether the response is the default problem at the kind's default
/// status: then it is written from the kind's fixed JSON, not through a
/// [`Problem`]. The type check is constant after monomorphisation.
fn is_default_body<R: 'static>(failure: &Failure, settings: &Settings) -> bool {
    TypeId::of::<R>() == TypeId::of::<DefaultResponse>()
        && settings.type_base.is_none()
        && !settings.expose_details
        && failure.status() == failure.kind().default_status()
}

/// The failure's response: the customisation's (or the fixed 502 if it
/// panics), with `Proxy-Status`, `Retry-After`, `Content-Length`, the
/// marker, and no body for `HEAD`.
fn build<R: ResponseForFailure<Failure>>(
    mut failure: Failure,
    call: &Call,
    settings: &Settings,
    respond: &R,
    details: Option<&str>,
) -> Response<Bytes> {
    let request = &call.request;
    let fixed = is_default_body::<R>(&failure, settings);
    let built = catch(|| {
        if fixed {
            let json = failure.kind().default_json();
            return fixed_problem_response(failure.status(), json, request.request_id_str());
        }
        let problem = default_problem(&failure, request, settings, details);
        respond.response_for_failure(&failure, request, problem)
    });
    let mut error = failure.kind().is_proxy_error().then(|| failure.kind());
    // `ours`: the layer wrote the response, so it has no `Proxy-Status` or
    // `Retry-After` yet and its `Content-Length` is right.
    let (mut res, ours) = match built {
        Ok(res) => (res, fixed),
        Err(payload) => {
            let panic = payload.into_panic();
            tracing::error!(
                kind = failure.kind().as_str(),
                method = %request.method(),
                path = request.path().unwrap_or("-"),
                request_id = request.request_id_str().unwrap_or("-"),
                panic.message = %panic.message,
                panic.location = panic.location.as_deref().unwrap_or("-"),
                respond = std::any::type_name::<R>(),
                "the ResponseForFailure panicked; answered with the fixed 502 body"
            );
            failure.set_status(StatusCode::BAD_GATEWAY);
            error = Some(Kind::ProxyInternalError);
            let json = Kind::ProxyInternalError.default_json();
            (
                problem_response(StatusCode::BAD_GATEWAY, Bytes::from_static(json.as_bytes())),
                true,
            )
        }
    };
    let headers = res.headers_mut();
    let received_status = (failure.kind() == Kind::UpstreamServerError).then(|| failure.status());
    if (error.is_some() || received_status.is_some())
        && (ours || !headers.contains_key(PROXY_STATUS))
    {
        let params = Params {
            error: error.map(Kind::as_str),
            details: details.filter(|_| settings.proxy_status_details),
            next_hop: call
                .upstream
                .as_ref()
                .map(|authority| authority.as_str())
                .filter(|_| settings.proxy_status_next_hop),
            received_status,
        };
        let value = match (error, &params) {
            (
                Some(kind),
                Params {
                    details: None,
                    next_hop: None,
                    received_status: None,
                    ..
                },
            ) if &*settings.proxy_name == default_proxy_name!() => kind.default_proxy_status(),
            _ => member(&settings.proxy_name, &params),
        };
        headers.append(PROXY_STATUS, value);
    }
    if failure.kind() == Kind::ConnectionLimitReached {
        if let Some(after) = &settings.retry_after {
            if ours || !headers.contains_key(header::RETRY_AFTER) {
                headers.insert(header::RETRY_AFTER, after.clone());
            }
        }
    }
    if !ours {
        // The customisation may have changed the body, or not set the length.
        let len = res.body().len();
        set_content_length(res.headers_mut(), len);
    }
    if request.is_head() {
        *res.body_mut() = Bytes::new();
    }
    res.extensions_mut().insert(failure);
    res
}

fn log_failure(failure: &Failure, call: &Call, started: Option<Instant>, details: Option<&str>) {
    let level = match failure.kind() {
        Kind::RequestBodyError => tracing::Level::DEBUG,
        Kind::ConnectionLimitReached | Kind::UpstreamServerError => tracing::Level::WARN,
        _ => tracing::Level::ERROR,
    };
    // Nothing records this level: skip gathering the fields.
    if !tracing::level_enabled!(level) {
        return;
    }
    let request = &call.request;
    let method = request.method();
    let path = request.path().unwrap_or("-");
    let request_id = request.request_id_str().unwrap_or("-");
    let upstream = call.upstream();
    let kind = failure.kind().as_str();
    let status = failure.status().as_u16();
    let elapsed_ms = elapsed_ms(started);
    // Formatted by the subscriber, only if it records the event.
    let error = LogError {
        error: failure.error(),
        details,
    };
    let error = &error;
    match failure.kind() {
        Kind::RequestBodyError => tracing::debug!(
            kind, status, upstream, %method, path, request_id, elapsed_ms, %error,
            "the client's request body failed while it was forwarded"
        ),
        Kind::ConnectionLimitReached => tracing::warn!(
            kind, status, upstream, %method, path, request_id, elapsed_ms, %error,
            "upstream request refused by a local limit"
        ),
        Kind::UpstreamServerError => tracing::warn!(
            kind, status, upstream, %method, path, request_id, elapsed_ms,
            "upstream answered with a server error; body replaced"
        ),
        Kind::HttpResponseTimeout if failure.error().is_none() => tracing::error!(
            kind, status, upstream, %method, path, request_id, elapsed_ms, %error,
            "upstream sent no response head within the head timeout"
        ),
        _ => tracing::error!(
            kind, status, upstream, %method, path, request_id, elapsed_ms, %error,
            "upstream request failed"
        ),
    }
}

/// The `error` field of [`log_failure`]: the details if computed, else the
/// error chain, else `-`; formatted lazily, so a level nobody records costs
/// no formatting and no allocation.
struct LogError<'a> {
    error: Option<&'a (dyn Error + Send + Sync + 'static)>,
    details: Option<&'a str>,
}

impl std::fmt::Display for LogError<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.error, self.details) {
            (_, Some(details)) => f.write_str(details),
            (Some(error), None) => std::fmt::Display::fmt(&ErrorChain(error), f),
            (None, None) => f.write_str("-"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Capture;

    const ALL_KINDS: [Kind; 15] = [
        Kind::DnsError,
        Kind::ConnectionRefused,
        Kind::DestinationUnavailable,
        Kind::ConnectionTimeout,
        Kind::HttpResponseTimeout,
        Kind::ConnectionTerminated,
        Kind::HttpResponseIncomplete,
        Kind::HttpProtocolError,
        Kind::HttpResponseHeaderSectionSize,
        Kind::ConnectionLimitReached,
        Kind::ProxyInternalError,
        Kind::ConnectionReadTimeout,
        Kind::HttpResponseTransferCoding,
        Kind::RequestBodyError,
        Kind::UpstreamServerError,
    ];

    #[test]
    fn the_precomputed_proxy_status_is_the_member_under_the_default_name() {
        let settings = crate::gateway::GatewayErrorLayer::new().settings_for_tests();
        for kind in ALL_KINDS {
            let params = Params {
                error: Some(kind.as_str()),
                details: None,
                next_hop: None,
                received_status: None,
            };
            assert_eq!(
                kind.default_proxy_status(),
                member(&settings.proxy_name, &params),
                "{kind}"
            );
        }
    }

    /// The fixed JSON of every kind is what the `Problem` would render, with
    /// and without a request id that needs escaping.
    #[test]
    fn the_fixed_body_is_the_default_problem() {
        let settings = crate::gateway::GatewayErrorLayer::new().settings_for_tests();
        for id in [None, Some("abc-123"), Some(r#"quote" back\slash"#)] {
            let mut req = http::Request::new(());
            if let Some(id) = id {
                req.headers_mut()
                    .insert("x-request-id", id.parse().unwrap());
            }
            let request = RequestContext::capture(&req, &Capture::default());
            for kind in ALL_KINDS {
                let failure = Failure::new(kind, kind.default_status(), false, None);
                let fast = fixed_problem_response(
                    failure.status(),
                    kind.default_json(),
                    request.request_id_str(),
                );
                let slow = default_problem(&failure, &request, &settings, None).to_json();
                assert_eq!(fast.body(), &slow, "{kind} {id:?}");
                assert_eq!(fast.status(), failure.status(), "{kind}");
                let length = fast.headers()["content-length"].to_str().unwrap();
                assert_eq!(length, slow.len().to_string(), "{kind}");
            }
        }
    }
}
