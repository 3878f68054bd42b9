//! How the gateway answers a failure before the response head: its kind,
//! its one log line, its count and report, and its response with
//! `Proxy-Status`.

use std::error::Error;
use std::sync::Arc;

use http::header::{Entry, HeaderValue};
use http::Response;
use tokio::time::Instant;

use super::classify::{classified, tls_alert};
use super::failure::{Failure, Kind};
use super::future::UpstreamCall;
use super::log;
use super::proxy_status::{member, Params, PROXY_STATUS};
use crate::common::error_chain::ErrorChain;
use crate::common::responder::{add_retry_after, failure_response, is_problem_json, keep_replaced};
use crate::{BoxError, Classify, ResponseForFailure};

/// Why the response head never came.
pub(super) enum HeadFailure {
    /// The inner service or its future failed.
    Error(BoxError),
    /// The layer's head timeout ran out.
    Timeout,
    /// The upstream answered `101 Switching Protocols` to a request that
    /// asked for no upgrade.
    UnaskedUpgrade,
    /// The upstream's head declared a body (of this length) longer than
    /// the layer's cap.
    DeclaredTooLong(u64),
}

/// The error of [`HeadFailure::DeclaredTooLong`]: the `Content-Length`
/// declared, and the cap.
#[derive(Debug)]
struct DeclaredTooLong {
    declared: u64,
    max: u64,
}

impl std::fmt::Display for DeclaredTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the upstream declared a body of {} bytes, over max_response_body ({})",
            self.declared, self.max
        )
    }
}

impl Error for DeclaredTooLong {}

/// The error of [`HeadFailure::UnaskedUpgrade`].
#[derive(Debug)]
struct UnaskedUpgrade;

impl std::fmt::Display for UnaskedUpgrade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the upstream answered 101 Switching Protocols to a request without Upgrade")
    }
}

impl Error for UnaskedUpgrade {}

impl<C, R> UpstreamCall<C, R>
where
    C: Classify<Kind>,
    R: ResponseForFailure<Failure>,
{
    /// Classifies, logs, counts, reports and answers a failure before the
    /// response head.
    pub(super) fn answer(
        &self,
        failure: HeadFailure,
        started: Option<Instant>,
    ) -> Response<R::Body> {
        let failure = match failure {
            HeadFailure::Error(error) => {
                #[cfg(feature = "tower")]
                let (error, attempts) = super::retry::Attempts::unwrap(error);
                #[cfg(not(feature = "tower"))]
                let attempts = None;
                let (kind, never_sent) = classified(&*error, &self.parts.classify, |panic| {
                    log::classify_panicked(&panic, self, std::any::type_name::<C>());
                });
                let status = self.parts.settings.status(kind);
                Failure::new(kind, status, never_sent, Some(Arc::new(error)))
                    .with_attempts(attempts)
            }
            HeadFailure::Timeout => self.own_failure(Kind::HttpResponseTimeout, None),
            HeadFailure::UnaskedUpgrade => {
                self.own_failure(Kind::HttpProtocolError, Some(Box::new(UnaskedUpgrade)))
            }
            HeadFailure::DeclaredTooLong(declared) => {
                let max = self.parts.settings.max_response_body().unwrap_or_default();
                let error = DeclaredTooLong { declared, max };
                self.own_failure(Kind::HttpResponseBodySize, Some(Box::new(error)))
            }
        };
        self.respond(failure, started)
    }

    /// A failure the layer tells itself (the upstream answered, or let the
    /// head timer run out), so never one of a request never sent.
    fn own_failure(&self, kind: Kind, error: Option<BoxError>) -> Failure {
        Failure::new(
            kind,
            self.parts.settings.status(kind),
            false,
            error.map(Arc::new),
        )
    }

    /// The upstream's 5xx response with its body replaced by the gateway's
    /// problem, when the layer intercepts error responses; `Err` with the
    /// response itself if it is the upstream's own problem, which passes
    /// through (the app layer's rule too).
    pub(super) fn intercepted<B>(
        &self,
        res: Response<B>,
        started: Option<Instant>,
    ) -> Result<Response<R::Body>, Response<B>> {
        if is_problem_json(res.headers()) {
            return Err(res);
        }
        let (upstream, body) = res.into_parts();
        drop(body);
        let failure = Failure::new(Kind::UpstreamServerError, upstream.status, false, None);
        let (mut parts, data) = self.respond(failure, started).into_parts();
        // The upstream's headers after the generated ones, so its
        // Proxy-Status members come before the gateway's, as RFC 9209
        // orders them.
        let ours = parts.headers.remove(PROXY_STATUS);
        keep_replaced(&mut parts, upstream);
        if let Some(ours) = ours {
            parts.headers.append(PROXY_STATUS, ours);
        }
        Ok(Response::from_parts(parts, data))
    }

    /// Logs `failure`, counts it (feature `metrics`), hands it to the
    /// layer's `on_failure`, and builds its response with the gateway's
    /// own headers: `Proxy-Status` and, on a 503, `Retry-After`.
    fn respond(&self, failure: Failure, started: Option<Instant>) -> Response<R::Body> {
        let settings = &self.parts.settings;
        let details = self.details(&failure);
        log::failure(&failure, self, started, details.as_deref());
        #[cfg(feature = "metrics")]
        crate::common::metrics::failure(
            "gateway",
            failure.kind().as_str(),
            Some(failure.status()),
            self.upstream().filter(|_| settings.metrics_upstream()),
        );
        if let Some(on_failure) = settings.on_failure() {
            if let Some(panic) = on_failure.report(&failure, &self.request) {
                log::customisation_panicked(&panic, failure.kind(), self, "on_failure");
            }
        }
        let member = self.proxy_status(&failure, details.as_deref());
        let (kind, status) = (failure.kind(), failure.status());
        let (mut response, respond_panicked) = failure_response(
            failure,
            details
                .as_deref()
                .filter(|_| settings.common.expose_details),
            &self.request,
            self.grpc,
            &settings.common,
            &self.parts.respond,
        );
        let headers = response.headers_mut();
        if let (Some(member), Entry::Vacant(vacant)) = (member, headers.entry(PROXY_STATUS)) {
            vacant.insert(member);
        }
        add_retry_after(headers, status, &settings.common);
        if let Some(panic) = respond_panicked {
            log::customisation_panicked(&panic, kind, self, std::any::type_name::<R>());
        }
        response
    }
}

impl<C, R> UpstreamCall<C, R> {
    /// The error chain, or what the layer knows, for `detail` and
    /// `details=`; only when one of them is on.
    fn details(&self, failure: &Failure) -> Option<String> {
        let settings = &self.parts.settings;
        if !(settings.common.expose_details || settings.proxy_status_details) {
            return None;
        }
        Some(match (failure.error(), failure.kind()) {
            (Some(error), _) => ErrorChain(error).text(),
            (None, Kind::UpstreamServerError) => {
                format!("the upstream answered {}", failure.status().as_u16())
            }
            (None, _) => match self.head_timeout {
                Some(timeout) => format!("no response head within {timeout:?}"),
                None => String::from("no response head in time"),
            },
        })
    }

    /// The gateway's `Proxy-Status` member for `failure`: its error type,
    /// or the status received for a replaced 5xx; `None` for a failure of
    /// the client's body.
    fn proxy_status(&self, failure: &Failure, details: Option<&str>) -> Option<HeaderValue> {
        let kind = failure.kind();
        let error = kind.is_proxy_error().then_some(kind.as_str());
        let received_status = (kind == Kind::UpstreamServerError).then_some(failure.status());
        if error.is_none() && received_status.is_none() {
            return None;
        }
        let alert = match (kind, failure.error()) {
            (Kind::TlsAlertReceived, Some(error)) => tls_alert(error),
            _ => None,
        };
        let settings = &self.parts.settings;
        let params = Params {
            error,
            details: details.filter(|_| settings.proxy_status_details),
            next_hop: self
                .upstream
                .as_ref()
                .map(|authority| authority.as_str())
                .filter(|_| settings.proxy_status_next_hop),
            received_status,
            alert,
        };
        Some(member(settings.proxy_name(), &params))
    }
}
