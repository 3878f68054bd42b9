use bytes::Bytes;
use http::header::{
    HeaderName, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LANGUAGE, CONTENT_LENGTH,
    CONTENT_LOCATION, CONTENT_RANGE, CONTENT_TYPE, ETAG, LAST_MODIFIED, TRANSFER_ENCODING,
};
use http::response::Parts;
use http::{HeaderMap, HeaderValue, Response, StatusCode};

pub(crate) const PROBLEM_JSON: HeaderValue = HeaderValue::from_static("application/problem+json");
const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

/// Headers that describe a response's body (its representation, RFC 9110
/// §8, and its digests, RFC 9530 and RFC 3230) or its framing: dropped when
/// a layer replaces that body with its problem.
const REPRESENTATION_HEADERS: [HeaderName; 12] = [
    CONTENT_TYPE,
    CONTENT_LENGTH,
    CONTENT_ENCODING,
    CONTENT_LANGUAGE,
    CONTENT_LOCATION,
    CONTENT_RANGE,
    TRANSFER_ENCODING,
    ETAG,
    LAST_MODIFIED,
    HeaderName::from_static("content-digest"),
    HeaderName::from_static("repr-digest"),
    HeaderName::from_static("digest"),
];

/// A problem+json response: status, `Content-Type`, exact `Content-Length`
/// and `Cache-Control: no-store`, so no cache keeps an error for later.
pub(crate) fn problem_response(status: StatusCode, json: Bytes) -> Response<Bytes> {
    let mut headers = HeaderMap::with_capacity(6);
    headers.insert(CONTENT_TYPE, PROBLEM_JSON);
    headers.insert(CONTENT_LENGTH, HeaderValue::from(json.len()));
    headers.insert(CACHE_CONTROL, NO_STORE);
    let mut res = Response::new(json);
    *res.status_mut() = status;
    *res.headers_mut() = headers;
    res
}

/// Gives a generated problem's head what the response it replaces had: its
/// headers, but those that described its dropped body and those the problem
/// sets, and its extensions, under the problem's own.
pub(crate) fn keep_replaced(generated: &mut Parts, replaced: Parts) {
    let mut kept = replaced.headers;
    for name in REPRESENTATION_HEADERS
        .iter()
        .chain(generated.headers.keys())
    {
        kept.remove(name);
    }
    generated.headers.extend(kept);
    let mut extensions = replaced.extensions;
    extensions.extend(std::mem::take(&mut generated.extensions));
    generated.extensions = extensions;
}

/// Sets `Content-Length` to `len` unless it already says so: a customisation
/// may have changed the body, or not set the length.
pub(crate) fn set_content_length(headers: &mut HeaderMap, len: usize) {
    let stated = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| std::str::from_utf8(value.as_bytes()).ok()?.parse().ok());
    if stated != Some(len) {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    }
}
