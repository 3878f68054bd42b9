use std::fmt;
use std::sync::Arc;

use http::HeaderName;
use tower_layer::Layer;

use super::service::AppError;
use crate::context::Capture;
use crate::respond::{DefaultResponse, ResponseForFailure};

/// Turns every panic and error of the service it wraps into a 500 with a
/// problem+json body. See the [module docs](super) for an example.
pub struct AppErrorLayer<R = DefaultResponse> {
    shared: Arc<Shared<R>>,
}

/// What the layer and all its services and futures share.
pub(super) struct Shared<R> {
    pub(super) settings: Settings,
    pub(super) respond: Arc<R>,
}

#[derive(Clone, Debug)]
pub(super) struct Settings {
    pub(super) type_base: Option<Arc<str>>,
    pub(super) expose_details: bool,
    pub(super) catch_body_panics: bool,
    pub(super) normalize_internal_errors: bool,
    pub(super) capture: Capture,
}

impl<R> Clone for Shared<R> {
    fn clone(&self) -> Self {
        Self {
            settings: self.settings.clone(),
            respond: Arc::clone(&self.respond),
        }
    }
}

impl AppErrorLayer {
    /// The layer with the default problem+json body and every check on.
    pub fn new() -> Self {
        Self::with_response(DefaultResponse::default())
    }
}

impl Default for AppErrorLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<R> AppErrorLayer<R> {
    fn with_response(respond: R) -> Self {
        let settings = Settings {
            type_base: None,
            expose_details: false,
            catch_body_panics: true,
            normalize_internal_errors: true,
            capture: Capture::default(),
        };
        Self {
            shared: Arc::new(Shared {
                settings,
                respond: Arc::new(respond),
            }),
        }
    }

    #[cfg(test)]
    pub(super) fn settings(&self) -> &Settings {
        &self.shared.settings
    }

    fn settings_mut(&mut self) -> &mut Settings {
        &mut Arc::make_mut(&mut self.shared).settings
    }

    /// Builds the failure responses with `respond` instead of the default
    /// problem+json: a [`ResponseForFailure`] or a closure
    /// `|failure: &Failure, request: &RequestContext, problem: Problem| -> impl Into<Response<Bytes>>`.
    ///
    /// [`Failure`]: super::Failure
    /// [`RequestContext`]: crate::RequestContext
    /// [`Problem`]: crate::problem::Problem
    pub fn respond_with<T: ResponseForFailure<super::Failure>>(
        self,
        respond: T,
    ) -> AppErrorLayer<T> {
        AppErrorLayer {
            shared: Arc::new(Shared {
                settings: self.shared.settings.clone(),
                respond: Arc::new(respond),
            }),
        }
    }

    /// The start of every `type` URI: the kind's token is appended to it.
    ///
    /// Defaults to [`DEFAULT_TYPE_BASE`](crate::DEFAULT_TYPE_BASE), where each
    /// kind is documented. Point it at your own documentation, keeping one
    /// page or anchor per kind, as RFC 9457 asks.
    pub fn type_base(mut self, base: impl Into<Arc<str>>) -> Self {
        self.settings_mut().type_base = Some(base.into());
        self
    }

    /// Puts the panic message or the error chain into the problem's `detail`.
    ///
    /// Off by default: they can hold internal details. Turn it on for
    /// development only.
    pub fn expose_details(mut self, expose: bool) -> Self {
        self.settings_mut().expose_details = expose;
        self
    }

    /// Keeps the request's path, query, request id and captured headers for
    /// logs and customisations (on by default). Off, only the method is kept.
    pub fn capture_request(mut self, capture: bool) -> Self {
        self.settings_mut().capture.enabled = capture;
        self
    }

    /// Catches panics while the response body is polled (on by default).
    ///
    /// The head is sent by then, so the body ends with an error and the
    /// server aborts the connection (HTTP/1) or resets the stream (HTTP/2):
    /// the client never sees a body that looks complete. Off, such a panic
    /// unwinds into the server, which does the same without the layer's log.
    pub fn catch_body_panics(mut self, catch: bool) -> Self {
        self.settings_mut().catch_body_panics = catch;
        self
    }

    /// Replaces the body of a 500 that the inner service made, when it is not
    /// already problem+json, with the consistent one of kind `internal_error`
    /// (on by default).
    ///
    /// The status is kept; the representation and framing headers
    /// (`Content-Type`, `Content-Length`, `Content-Encoding`,
    /// `Transfer-Encoding`, `ETag`, `Content-Range`, `Last-Modified`) are
    /// dropped, the others kept.
    pub fn normalize_internal_errors(mut self, normalize: bool) -> Self {
        self.settings_mut().normalize_internal_errors = normalize;
        self
    }

    /// The request header that holds the request id (default `x-request-id`,
    /// the one tower-http's `SetRequestIdLayer` sets).
    ///
    /// The id is logged and copied into the problem's `request_id` member.
    pub fn request_id_header(mut self, name: HeaderName) -> Self {
        self.settings_mut().capture.request_id_header = name;
        self
    }

    /// Keeps the request header `name` for customisations, in
    /// [`RequestContext::headers`](crate::RequestContext::headers): `Accept`
    /// to choose between HTML and JSON, say.
    ///
    /// Costs one allocation per request while any header is captured.
    pub fn capture_header(mut self, name: HeaderName) -> Self {
        self.settings_mut().capture.headers.push(name);
        self
    }
}

impl<R> Clone for AppErrorLayer<R> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<R> fmt::Debug for AppErrorLayer<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppErrorLayer")
            .field("settings", &self.shared.settings)
            .field("respond", &std::any::type_name::<R>())
            .finish()
    }
}

impl<S, R> Layer<S> for AppErrorLayer<R> {
    type Service = AppError<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        AppError::new(inner, Arc::clone(&self.shared))
    }
}
