use std::sync::OnceLock;

use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderValue, Method, Request};

use super::layer::Settings;

/// What the layer keeps of a request, for its logs and for customisations:
/// the request itself is gone into the inner service by the time a failure is
/// known.
///
/// Only cheap, reference-counted clones are taken: the method, the path and
/// query, the request id, and the headers named with
/// [`AppErrorLayer::capture_header`](super::AppErrorLayer::capture_header).
/// With [`AppErrorLayer::capture_request(false)`](super::AppErrorLayer::capture_request)
/// only the method is kept.
#[derive(Clone, Debug)]
pub struct RequestContext {
    method: Method,
    path: Option<PathAndQuery>,
    request_id: Option<HeaderValue>,
    headers: Option<Box<HeaderMap>>,
}

impl RequestContext {
    pub(super) fn capture<B>(req: &Request<B>, settings: &Settings) -> Self {
        let method = req.method().clone();
        if !settings.capture_request {
            return Self {
                method,
                path: None,
                request_id: None,
                headers: None,
            };
        }
        let headers = req.headers();
        let captured = (!settings.captured_headers.is_empty()).then(|| {
            let mut captured = HeaderMap::new();
            for name in settings.captured_headers.iter() {
                for value in headers.get_all(name) {
                    captured.append(name.clone(), value.clone());
                }
            }
            Box::new(captured)
        });
        Self {
            method,
            path: full_path(req).cloned(),
            request_id: headers.get(&settings.request_id_header).cloned(),
            headers: captured,
        }
    }

    /// The request method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The request path, without the query.
    ///
    /// With the `axum` feature, inside a nested router, the path of axum's
    /// `OriginalUri`: the one the client sent.
    pub fn path(&self) -> Option<&str> {
        self.path.as_ref().map(PathAndQuery::path)
    }

    /// The request query, if any.
    pub fn query(&self) -> Option<&str> {
        self.path.as_ref().and_then(PathAndQuery::query)
    }

    /// The request id: the header named by
    /// [`AppErrorLayer::request_id_header`](super::AppErrorLayer::request_id_header),
    /// which tower-http's `SetRequestIdLayer` sets too.
    pub fn request_id(&self) -> Option<&HeaderValue> {
        self.request_id.as_ref()
    }

    /// The request id as text, if it is visible ASCII.
    pub(super) fn request_id_str(&self) -> Option<&str> {
        self.request_id.as_ref().and_then(|id| id.to_str().ok())
    }

    /// The captured headers: those named with
    /// [`AppErrorLayer::capture_header`](super::AppErrorLayer::capture_header),
    /// no others.
    pub fn headers(&self) -> &HeaderMap {
        static NONE: OnceLock<HeaderMap> = OnceLock::new();
        self.headers
            .as_deref()
            .unwrap_or_else(|| NONE.get_or_init(HeaderMap::new))
    }

    pub(super) fn is_head(&self) -> bool {
        self.method == Method::HEAD
    }
}

#[cfg(feature = "axum")]
fn full_path<B>(req: &Request<B>) -> Option<&PathAndQuery> {
    match req.extensions().get::<axum::extract::OriginalUri>() {
        Some(original) => original.path_and_query(),
        None => req.uri().path_and_query(),
    }
}

#[cfg(not(feature = "axum"))]
fn full_path<B>(req: &Request<B>) -> Option<&PathAndQuery> {
    req.uri().path_and_query()
}
