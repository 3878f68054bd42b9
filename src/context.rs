use std::sync::OnceLock;

use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request};

use crate::settings::Common;

/// The most of a request id copied into a failure's body and log line.
const MAX_REQUEST_ID: usize = 128;

/// What a layer keeps of a request, for its logs and for customisations:
/// the request itself is gone into the inner service by the time a failure is
/// known.
///
/// Only cheap, reference-counted clones are taken: the method, the path and
/// query, the request id, and the headers the layer was told to capture
/// (`capture_header`). With `capture_request(false)` only the method is kept.
#[derive(Clone, Debug)]
pub struct RequestContext {
    method: Method,
    path: Option<PathAndQuery>,
    request_id: Option<HeaderValue>,
    headers: Option<Box<HeaderMap>>,
}

impl RequestContext {
    /// Out of line, where [`capture_and_find`](Self::capture_and_find) is
    /// inlined: the app layer's `call` is cheaper calling this, the
    /// gateway's with `capture_and_find` inlined (measured, see
    /// BENCHMARKS.md).
    #[inline(never)]
    pub(crate) fn capture<B, X, F>(req: &Request<B>, settings: &Common<X, F>) -> Self {
        Self::capture_and_find(req, settings, None, &mut false)
    }

    fn method_only(method: Method) -> Self {
        Self {
            method,
            path: None,
            request_id: None,
            headers: None,
        }
    }

    /// [`capture`](Self::capture), and whether the request has an `also`
    /// header (into `found`: a tuple would be built and moved once more),
    /// from one pass over its headers.
    #[inline(always)]
    pub(crate) fn capture_and_find<B, X, F>(
        req: &Request<B>,
        settings: &Common<X, F>,
        also: Option<&HeaderName>,
        found: &mut bool,
    ) -> Self {
        let method = req.method().clone();
        let headers = req.headers();
        if !settings.capture_request {
            *found = also.is_some_and(|name| find_header(headers, name).is_some());
            return Self::method_only(method);
        }
        let request_id;
        (request_id, *found) = find_headers(headers, settings.request_id_header(), also);
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
            request_id: request_id.cloned(),
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

/// A request has few headers, mostly of standard names that a custom name
/// like `x-request-id` is told apart from by their tag alone: up to this
/// many, scanning them is cheaper than hashing the name.
const SCAN_UP_TO: usize = 24;

/// `headers.get(name)`, by a scan of a request's few headers.
pub(crate) fn find_header<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
) -> Option<&'a HeaderValue> {
    if headers.len() > SCAN_UP_TO {
        return headers.get(name);
    }
    headers
        .iter()
        .find_map(|(candidate, value)| (candidate == name).then_some(value))
}

/// `name`'s first value, and whether there is an `also` header, in one scan.
fn find_headers<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
    also: Option<&HeaderName>,
) -> (Option<&'a HeaderValue>, bool) {
    let Some(also) = also else {
        return (find_header(headers, name), false);
    };
    if headers.len() > SCAN_UP_TO {
        return (headers.get(name), headers.contains_key(also));
    }
    let mut value = None;
    let mut found = false;
    for (candidate, candidate_value) in headers {
        if candidate == also {
            found = true;
        } else if value.is_none() && candidate == name {
            value = Some(candidate_value);
        }
    }
    (value, found)
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
