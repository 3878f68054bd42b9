use std::sync::OnceLock;

use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request};

use super::settings::CommonSettings;

/// The most of a request id copied into a failure's body and log line.
const MAX_REQUEST_ID: usize = 128;

/// What a layer keeps of a request, for its logs and for customisations:
/// the request itself is gone into the inner service by the time a failure is
/// known.
///
/// It keeps the method, the path and query, the request id, and the
/// headers the layer was told to capture (`capture_header`). With
/// `capture_request(false)` only the method is kept.
#[derive(Clone, Debug)]
pub struct RequestContext {
    method: Method,
    path: Option<PathAndQuery>,
    request_id: Option<HeaderValue>,
    headers: Option<Box<HeaderMap>>,
}

impl RequestContext {
    /// What `settings` say to keep of `req`.
    pub(crate) fn capture<B, O>(req: &Request<B>, settings: &CommonSettings<O>) -> Self {
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
        let names = settings.capture_headers();
        let captured = (!names.is_empty()).then(|| {
            let mut captured = HeaderMap::new();
            for name in names {
                for value in headers.get_all(name) {
                    captured.append(name.clone(), value.clone());
                }
            }
            Box::new(captured)
        });
        Self {
            method,
            path: full_path(req).cloned(),
            request_id: first_value(headers, settings.request_id_header()).cloned(),
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

    /// The request id: the header named by the layer's `request_id_header`
    /// (`x-request-id` by default, which tower-http's `SetRequestIdLayer`
    /// sets), whole. The layer's own body and log line carry at most its
    /// first 128 bytes, and only if it is visible ASCII.
    pub fn request_id(&self) -> Option<&HeaderValue> {
        self.request_id.as_ref()
    }

    /// The request id for a failure's body and log line: visible ASCII
    /// only, at most [`MAX_REQUEST_ID`] bytes of it.
    pub(crate) fn request_id_str(&self) -> Option<&str> {
        let id = self.request_id.as_ref()?.to_str().ok()?;
        // Visible ASCII: any byte is a character boundary.
        Some(&id[..id.len().min(MAX_REQUEST_ID)])
    }

    /// The captured headers: those named with the layer's `capture_header`,
    /// no others.
    pub fn headers(&self) -> &HeaderMap {
        static NONE: OnceLock<HeaderMap> = OnceLock::new();
        self.headers
            .as_deref()
            .unwrap_or_else(|| NONE.get_or_init(HeaderMap::new))
    }

    pub(crate) fn is_head(&self) -> bool {
        self.method == Method::HEAD
    }
}

/// `name`'s first value: what `headers.get(name)` gives.
// Found by comparing the request's names rather than by hashing `name`,
// which is slower for a custom name such as `x-request-id`.
pub(crate) fn first_value<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
) -> Option<&'a HeaderValue> {
    headers
        .iter()
        .find_map(|(candidate, value)| (candidate == name).then_some(value))
}

#[cfg(feature = "axum")]
#[inline]
fn full_path<B>(req: &Request<B>) -> Option<&PathAndQuery> {
    match req.extensions().get::<axum::extract::OriginalUri>() {
        Some(original) => original.path_and_query(),
        None => req.uri().path_and_query(),
    }
}

#[cfg(not(feature = "axum"))]
#[inline]
fn full_path<B>(req: &Request<B>) -> Option<&PathAndQuery> {
    req.uri().path_and_query()
}
