use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Response, StatusCode};

pub(crate) const PROBLEM_JSON: HeaderValue = HeaderValue::from_static("application/problem+json");
const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

/// The body sent when even building the failure response failed: a user's
/// customisation panicked, say. Valid problem+json that needs no allocation.
pub(crate) const STATIC_INTERNAL_ERROR: &[u8] = br#"{"type":"https://docs.rs/tower-problem/latest/tower_problem/kinds/index.html#internal_error","title":"Internal Server Error","status":500,"kind":"internal_error"}"#;

/// A problem+json response: status, `Content-Type`, exact `Content-Length`
/// and `Cache-Control: no-store`, so no cache keeps an error for later.
pub(crate) fn problem_response(status: StatusCode, json: Bytes) -> Response<Bytes> {
    let mut res = Response::new(Bytes::new());
    *res.status_mut() = status;
    let headers = res.headers_mut();
    headers.insert(CONTENT_TYPE, PROBLEM_JSON);
    headers.insert(CONTENT_LENGTH, HeaderValue::from(json.len()));
    headers.insert(CACHE_CONTROL, NO_STORE);
    *res.body_mut() = json;
    res
}
