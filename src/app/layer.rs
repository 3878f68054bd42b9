use std::fmt;

use tower_layer::Layer;

use super::failure::Failure;
use super::service::AppErrorService;
use crate::respond::{DefaultResponse, ResponseForFailure};
use crate::settings::{common_builder_methods, flag_setter, Common};

/// Turns every panic and error of the service it wraps into a 500 with a
/// problem+json body. See the [module docs](super) for an example.
#[derive(Clone)]
pub struct AppErrorLayer<R = DefaultResponse> {
    settings: Settings<R>,
}

/// What the layer, its services and their futures keep: flags and the
/// responder by value, the rest behind [`Common`]'s one `Arc`.
#[derive(Clone)]
pub(super) struct Settings<R> {
    pub(super) common: Common<(), Flags>,
    pub(super) respond: R,
}

/// The app layer's own flags.
#[derive(Clone, Copy, Debug)]
pub(super) struct Flags {
    pub(super) catch_body_panics: bool,
    pub(super) intercept_error_responses: bool,
}

impl<R> fmt::Debug for Settings<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("common", &self.common)
            .field("respond", &std::any::type_name::<R>())
            .finish()
    }
}

impl AppErrorLayer {
    /// The layer with the default problem+json body and every check on.
    pub const fn new() -> Self {
        Self {
            settings: Settings {
                common: Common::new(Flags {
                    catch_body_panics: true,
                    intercept_error_responses: true,
                }),
                respond: DefaultResponse,
            },
        }
    }
}

impl Default for AppErrorLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<R> AppErrorLayer<R> {
    fn common_mut(&mut self) -> &mut Common<(), Flags> {
        &mut self.settings.common
    }

    common_builder_methods!();

    /// Builds the failure responses with `respond` instead of the default
    /// problem+json: a [`ResponseForFailure`] or a closure
    /// `|failure: &Failure, request: &RequestContext, problem: Problem| -> impl Into<Response<Bytes>>`.
    ///
    /// The responder is cloned into every request's future; see
    /// [`ResponseForFailure`] for what that costs.
    ///
    /// [`RequestContext`]: crate::RequestContext
    /// [`Problem`]: crate::problem::Problem
    pub fn respond_with<T: ResponseForFailure<Failure>>(self, respond: T) -> AppErrorLayer<T> {
        AppErrorLayer {
            settings: Settings {
                common: self.settings.common,
                respond,
            },
        }
    }

    flag_setter! {
    /// Catches panics while the response body is polled (on by default).
    ///
    /// The head is sent by then, so the body ends with an error and the
    /// server aborts the connection (HTTP/1) or resets the stream (HTTP/2):
    /// the client never sees a body that looks complete. Off, such a panic
    /// unwinds into the server, which does the same without the layer's log.
    catch_body_panics
    }

    flag_setter! {
    /// Replaces the body of an error response the inner service made with
    /// the consistent problem (on by default, as the gateway layer's
    /// [`intercept_error_responses`] is off by default: an application's
    /// own errors should all look alike, a gateway forwards what its
    /// upstream says unless told otherwise).
    ///
    /// Here that is a 500 whose body is not already problem+json: the
    /// application's own problem is the one it meant to send. It becomes
    /// the problem of kind `internal_error`, its status kept. The
    /// representation and framing headers (`Content-Type`,
    /// `Content-Length`, `Content-Encoding`, `Content-Language`,
    /// `Content-Location`, `Content-Range`, `Transfer-Encoding`, `ETag`,
    /// `Last-Modified`, the digests) are dropped, the others kept.
    ///
    /// [`intercept_error_responses`]: crate::gateway::GatewayErrorLayer::intercept_error_responses
    intercept_error_responses
    }
}

impl<R> fmt::Debug for AppErrorLayer<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppErrorLayer")
            .field("settings", &self.settings)
            .finish()
    }
}

impl<S, R: Clone> Layer<S> for AppErrorLayer<R> {
    type Service = AppErrorService<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        AppErrorService::new(inner, self.settings.clone())
    }
}
