use bytes::Bytes;
use http::header::{
    HeaderName, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG,
    LAST_MODIFIED, TRANSFER_ENCODING,
};
use http::response::Parts;
use http::{HeaderMap, HeaderValue, Response, StatusCode};

use super::json::{string_len, write_string};

pub(crate) const PROBLEM_JSON: HeaderValue = HeaderValue::from_static("application/problem+json");
const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

/// Headers that describe a response's body: dropped when a layer replaces
/// that body with its problem.
const REPRESENTATION_HEADERS: [HeaderName; 7] = [
    CONTENT_TYPE,
    CONTENT_LENGTH,
    CONTENT_ENCODING,
    TRANSFER_ENCODING,
    ETAG,
    CONTENT_RANGE,
    LAST_MODIFIED,
];

/// A problem+json response: status, `Content-Type`, exact `Content-Length`
/// and `Cache-Control: no-store`, so no cache keeps an error for later.
pub(crate) fn problem_response(status: StatusCode, json: Bytes) -> Response<Bytes> {
    let mut headers = HeaderMap::with_capacity(4);
    headers.insert(CONTENT_TYPE, PROBLEM_JSON);
    headers.insert(CONTENT_LENGTH, content_length(json.len()));
    headers.insert(CACHE_CONTROL, NO_STORE);
    let mut res = Response::new(json);
    *res.status_mut() = status;
    *res.headers_mut() = headers;
    res
}

/// A problem whose members are all fixed but the request id: `whole` is the
/// JSON without it, and `request_id`, if any, becomes its last member. One
/// allocation of the exact size, none without an id: the layers' default
/// bodies cost half what rendering a [`Problem`](super::Problem) does
/// (measured with callgrind).
pub(crate) fn fixed_problem_response(
    status: StatusCode,
    whole: &'static str,
    request_id: Option<&str>,
) -> Response<Bytes> {
    let body = match request_id {
        None => Bytes::from_static(whole.as_bytes()),
        Some(id) => {
            const KEY: &str = r#","request_id":"#;
            let members = &whole[..whole.len() - 1];
            let len = members.len() + KEY.len() + string_len(id) + 1;
            let mut json = Vec::with_capacity(len);
            json.extend_from_slice(members.as_bytes());
            json.extend_from_slice(KEY.as_bytes());
            write_string(&mut json, id);
            json.push(b'}');
            Bytes::from(json)
        }
    };
    problem_response(status, body)
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
        headers.insert(CONTENT_LENGTH, content_length(len));
    }
}

/// Every number from 0 to 999, three digits each: a `Content-Length` below
/// 1,000 is a slice of it, where `HeaderValue::from(len)` would allocate.
static DIGITS: [u8; 3000] = {
    let mut digits = [0; 3000];
    let mut n = 0;
    while n < 1000 {
        digits[3 * n] = b'0' + (n / 100) as u8;
        digits[3 * n + 1] = b'0' + (n / 10 % 10) as u8;
        digits[3 * n + 2] = b'0' + (n % 10) as u8;
        n += 1;
    }
    digits
};

/// The `Content-Length` value for `len` bytes; problem bodies are almost
/// always under 1,000 bytes, which costs no allocation.
fn content_length(len: usize) -> HeaderValue {
    let skip = match len {
        0..=9 => 2,
        10..=99 => 1,
        100..=999 => 0,
        _ => return HeaderValue::from(len),
    };
    let digits = Bytes::from_static(&DIGITS[3 * len + skip..3 * len + 3]);
    HeaderValue::from_maybe_shared(digits).expect("ASCII digits")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_is_the_decimal_length() {
        for len in (0..2000).chain([9_999, 10_000, usize::MAX]) {
            assert_eq!(content_length(len), len.to_string().as_str(), "{len}");
        }
    }
}
