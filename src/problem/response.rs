use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Response, StatusCode};

pub(crate) const PROBLEM_JSON: HeaderValue = HeaderValue::from_static("application/problem+json");

/// A problem+json response: status, `Content-Type` and `Cache-Control:
/// no-store`, so no cache keeps an error for later. Its length is the
/// body's, which a server writes as `Content-Length`.
pub(crate) fn problem_response(status: StatusCode, json: Bytes) -> Response<Bytes> {
    let mut res = Response::new(json);
    *res.status_mut() = status;
    let headers = res.headers_mut();
    headers.insert(CONTENT_TYPE, PROBLEM_JSON);
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
