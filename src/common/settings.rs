//! The settings both layers have, and their builder methods, kept once.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, StatusCode};

use crate::problem::Problem;

/// The request id header unless one is set: tower-http's `SetRequestIdLayer`'s.
static DEFAULT_REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The settings both layers have: the flags by value, and everything else,
/// with the layer's own settings that are not flags (`O`), behind one
/// `Arc` that exists only once such a setting is made.
pub(crate) struct CommonSettings<O> {
    pub(crate) expose_details: bool,
    pub(crate) capture_request: bool,
    options: Option<Arc<CommonOptions<O>>>,
}

/// What a `type_base` ends in: a path, a fragment, a URN's or a query's
/// separator, after which the kind's token names a page or an anchor.
const TYPE_BASE_ENDS: [char; 4] = ['/', '#', ':', '='];

/// The settings of [`CommonSettings`] that are not flags.
#[derive(Clone, Debug)]
pub(crate) struct CommonOptions<O> {
    type_base: Option<Box<str>>,
    request_id_header: HeaderName,
    capture_headers: Vec<HeaderName>,
    /// `Retry-After` on the layer's 503s, in whole seconds.
    retry_after: Option<u64>,
    pub(crate) layer: O,
}

impl<O> CommonSettings<O> {
    pub(crate) const fn new() -> Self {
        Self {
            expose_details: false,
            capture_request: true,
            options: None,
        }
    }

    /// The user's start of the `type` URIs, if set.
    pub(crate) fn type_base(&self) -> Option<&str> {
        self.options.as_deref()?.type_base.as_deref()
    }

    pub(crate) fn request_id_header(&self) -> &HeaderName {
        self.options
            .as_deref()
            .map_or(&DEFAULT_REQUEST_ID_HEADER, |options| {
                &options.request_id_header
            })
    }

    pub(crate) fn capture_headers(&self) -> &[HeaderName] {
        self.options
            .as_deref()
            .map_or(&[], |options| &options.capture_headers)
    }

    /// `Retry-After` in whole seconds, if set.
    pub(crate) fn retry_after(&self) -> Option<u64> {
        self.options.as_deref()?.retry_after
    }

    /// The layer's own settings that are not flags, if any was made.
    pub(crate) fn layer(&self) -> Option<&O> {
        self.options.as_deref().map(|options| &options.layer)
    }
}

impl<O: Clone + Default> CommonSettings<O> {
    /// The settings that are not flags, for a builder method to change.
    pub(crate) fn options_mut(&mut self) -> &mut CommonOptions<O> {
        let options = self.options.get_or_insert_with(|| {
            Arc::new(CommonOptions {
                type_base: None,
                request_id_header: DEFAULT_REQUEST_ID_HEADER.clone(),
                capture_headers: Vec::new(),
                retry_after: None,
                layer: O::default(),
            })
        });
        Arc::make_mut(options)
    }

    /// # Panics
    ///
    /// If `base` followed by a kind's token is not a URI reference, as a
    /// problem's `type` must be (RFC 9457 §3.1.1), or if `base` does not
    /// end where a token can follow (see [`TYPE_BASE_ENDS`]).
    pub(crate) fn set_type_base(&mut self, base: String) {
        if !base.ends_with(TYPE_BASE_ENDS) {
            panic!(
                "type_base({base:?}) does not end in '/', '#', ':' or '=': the kind's token is \
                 appended to it, and `{base}panic` would name no page of its own"
            );
        }
        let probe = Problem::builder(StatusCode::INTERNAL_SERVER_ERROR)
            .type_uri(format!("{base}kind"))
            .build();
        if let Err(error) = probe {
            panic!("type_base({base:?}): {error}");
        }
        self.options_mut().type_base = Some(base.into_boxed_str());
    }

    pub(crate) fn set_request_id_header(&mut self, name: HeaderName) {
        self.options_mut().request_id_header = name;
    }

    pub(crate) fn add_capture_header(&mut self, name: HeaderName) {
        self.options_mut().capture_headers.push(name);
    }

    /// Unsetting makes no `Arc` where none is.
    pub(crate) fn set_retry_after(&mut self, after: Option<Duration>) {
        let secs = after.map(|after| after.as_secs() + u64::from(after.subsec_nanos() > 0));
        if secs.is_some() || self.options.is_some() {
            self.options_mut().retry_after = secs;
        }
    }
}

impl<O> Clone for CommonSettings<O> {
    fn clone(&self) -> Self {
        Self {
            expose_details: self.expose_details,
            capture_request: self.capture_request,
            options: self.options.clone(),
        }
    }
}

impl<O: fmt::Debug> fmt::Debug for CommonSettings<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommonSettings")
            .field("expose_details", &self.expose_details)
            .field("capture_request", &self.capture_request)
            .field("options", &self.options)
            .finish()
    }
}

/// The builder methods of the [`CommonSettings`], one text for both
/// layers: expands inside a layer's `impl` whose `parts` hold settings
/// with a `common: CommonSettings<_>`.
macro_rules! common_builder_methods {
    () => {
        /// The start of every `type` URI: the kind's token is appended to it.
        ///
        /// Defaults to [`DEFAULT_TYPE_BASE`](crate::DEFAULT_TYPE_BASE), the
        /// [kinds page](crate::kinds), where each kind is documented with
        /// its title and status. Point it at your own documentation, keeping
        /// one page or anchor per kind, as RFC 9457 asks.
        ///
        /// # Panics
        ///
        /// If `base` followed by a kind's token is not a URI reference (RFC
        /// 3986), as a problem's `type` must be (a space, say), or if
        /// `base` does not end in `/`, `#`, `:` or `=`, where a token can
        /// follow (`https://errors.example.com/problems` would give
        /// `…/problemspanic`). It is a mistake in the layer's set-up, told at
        /// start-up.
        pub fn type_base(mut self, base: impl Into<String>) -> Self {
            self.parts.settings.common.set_type_base(base.into());
            self
        }

        /// Puts what failed (a panic's message, an error chain) into the
        /// problem's `detail`.
        ///
        /// Off by default: it can hold internal details, such as addresses.
        /// Turn it on for development only. It is always in the log.
        pub fn expose_details(mut self, expose: bool) -> Self {
            self.parts.settings.common.expose_details = expose;
            self
        }

        /// Keeps the request's path, query, request id and captured headers
        /// for logs and customisations (on by default). Off, only the method
        /// is kept.
        pub fn capture_request(mut self, capture: bool) -> Self {
            self.parts.settings.common.capture_request = capture;
            self
        }

        /// The request header that holds the request id (default
        /// `x-request-id`, the one tower-http's `SetRequestIdLayer` sets).
        ///
        /// The id is logged and copied into the problem's `request_id`
        /// member, at most its first 128 bytes; an id that is not visible
        /// ASCII is left out.
        pub fn request_id_header(mut self, name: http::HeaderName) -> Self {
            self.parts.settings.common.set_request_id_header(name);
            self
        }

        /// Keeps the request header `name` for customisations, in
        /// [`RequestContext::headers`](crate::RequestContext::headers):
        /// `Accept` to choose between HTML and JSON, say.
        pub fn capture_header(mut self, name: http::HeaderName) -> Self {
            self.parts.settings.common.add_capture_header(name);
            self
        }

        /// Sends `Retry-After` (in whole seconds, rounded up) with every 503
        /// the layer makes (`None`, the default, sends none; zero sends
        /// `Retry-After: 0`, "retry at once"). A 503 the layer replaces (a
        /// handler's, an upstream's) keeps its own, which wins over this; one
        /// without gets this. Both layers keep this one rule.
        pub fn retry_after(mut self, after: Option<std::time::Duration>) -> Self {
            self.parts.settings.common.set_retry_after(after);
            self
        }

        /// Calls `report` with every failure the layer answers before the
        /// response head, and the request's context: for an error
        /// reporter (Sentry, say), which sees what the layer logs. A panic
        /// inside it is logged and goes no further. Failures after the head
        /// (a body's) are logged and counted, not reported: their request's
        /// context is gone by then.
        pub fn on_failure(
            mut self,
            report: impl Fn(&Failure, &crate::RequestContext) + Send + Sync + 'static,
        ) -> Self {
            self.parts.settings.common.options_mut().layer.on_failure =
                Some(crate::common::report::OnFailure::new(report));
            self
        }
    };
}
pub(crate) use common_builder_methods;

/// A builder method that turns one of the layer's own flags on or off:
/// `$name` is both the method and the field of the layer's settings, in
/// its `parts`.
macro_rules! flag_setter {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub fn $name(mut self, on: bool) -> Self {
            self.parts.settings.$name = on;
            self
        }
    };
}
pub(crate) use flag_setter;

/// `get_ref`, `get_mut` and `into_inner` of a wrapper's `inner` field of
/// type `$ty`, described as `$what`.
macro_rules! inner_accessors {
    ($ty:ident, $what:literal) => {
        #[doc = concat!("The ", $what, ".")]
        pub fn get_ref(&self) -> &$ty {
            &self.inner
        }

        #[doc = concat!("The ", $what, ", mutably.")]
        pub fn get_mut(&mut self) -> &mut $ty {
            &mut self.inner
        }

        #[doc = concat!("Unwraps the ", $what, ".")]
        pub fn into_inner(self) -> $ty {
            self.inner
        }
    };
}
pub(crate) use inner_accessors;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "does not end in '/', '#', ':' or '='")]
    fn a_type_base_a_token_cannot_follow_is_refused() {
        CommonSettings::<()>::new().set_type_base("https://errors.example.com/problems".into());
    }

    #[test]
    fn a_type_base_may_end_in_a_slash_a_hash_a_colon_or_an_equals_sign() {
        for base in [
            "/problems/",
            "https://e.example/p#",
            "urn:example:problem:",
            "https://e.example/?kind=",
        ] {
            let mut common = CommonSettings::<()>::new();
            common.set_type_base(base.into());
            assert_eq!(common.type_base(), Some(base));
        }
    }

    #[test]
    #[should_panic(expected = "is not a URI reference")]
    fn a_type_base_that_is_no_uri_is_refused() {
        CommonSettings::<()>::new().set_type_base("https://example.com/my problems#".into());
    }

    #[test]
    fn the_default_configuration_allocates_nothing_shared() {
        let mut common = CommonSettings::<()>::new();
        assert!(common.options.is_none());
        assert_eq!(common.request_id_header(), "x-request-id");
        common.set_type_base("/problems/".into());
        assert_eq!(common.type_base(), Some("/problems/"));
        assert!(common.options.is_some());
    }
}
