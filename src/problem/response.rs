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

/// A problem+json response: status, `Content-Type` and `Cache-Control:
/// no-store`, so no cache keeps an error for later. Its length is the
/// body's, which a server writes as `Content-Length`.
pub(crate) fn problem_response(status: StatusCode, json: Bytes) -> Response<Bytes> {
    let mut headers = HeaderMap::with_capacity(6);
    headers.insert(CONTENT_TYPE, PROBLEM_JSON);
    headers.insert(CACHE_CONTROL, NO_STORE);
    response_with(status, json, headers)
}

/// A response of `status` with `body` and `headers`.
#[inline]
pub(crate) fn response_with(
    status: StatusCode,
    body: Bytes,
    headers: HeaderMap,
) -> Response<Bytes> {
    let mut res = Response::new(body);
    *res.status_mut() = status;
    // The map replaced is `Response::new`'s, made by `HeaderMap::new`, which
    // allocates nothing: forgetting it leaks nothing and skips its drop.
    std::mem::forget(std::mem::replace(res.headers_mut(), headers));
    res
}

/// Gives a generated problem's head what the response it replaces had: its
/// headers, but those that described its dropped body (a 416's
/// `Content-Range` stays) and those the problem sets, and its extensions,
/// under the problem's own.
pub(crate) fn keep_replaced(generated: &mut Parts, replaced: Parts) {
    // A 416's `Content-Range` gives the representation's length, which the
    // client needs (RFC 9110 §15.5.17), not the range of a body.
    let range_length = replaced.status == StatusCode::RANGE_NOT_SATISFIABLE;
    // One pass over the replaced headers (a further value of a name comes
    // with `None`, and shares the decision of the first).
    let mut keep = false;
    let mut current = None;
    for (name, value) in replaced.headers {
        if let Some(name) = name {
            keep = !generated.headers.contains_key(&name)
                && (!REPRESENTATION_HEADERS.contains(&name)
                    || (range_length && name == CONTENT_RANGE));
            current = Some(name);
        }
        if let (true, Some(name)) = (keep, &current) {
            generated.headers.append(name.clone(), value);
        }
    }
    let mut extensions = replaced.extensions;
    extensions.extend(std::mem::take(&mut generated.extensions));
    generated.extensions = extensions;
}

/// Makes `Content-Length` say `len` where it is stated (a customisation may
/// have changed the body but not its length) or where the body will be
/// dropped (`head`: the response to a `HEAD` states what a `GET` would
/// get). Elsewhere it stays unstated: the body's exact size gives it, as
/// hyper writes it.
pub(crate) fn fix_content_length(headers: &mut HeaderMap, len: usize, head: bool) {
    let stated = match headers.get(CONTENT_LENGTH) {
        None if !head => return,
        None => None,
        Some(value) => std::str::from_utf8(value.as_bytes())
            .ok()
            .and_then(|text| text.parse().ok()),
    };
    if stated != Some(len) {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    }
}
