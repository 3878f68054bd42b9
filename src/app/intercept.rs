//! Replacing the error responses of the inner stack with the layer's
//! problem.

#[cfg(feature = "serde")]
use std::borrow::Cow;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{header, HeaderMap, Response};
use http_body::Body;

use super::body::AppBody;
use super::classify::kind_of;
use super::failure::{Failure, Kind};
use super::future::HandlerCall;
use crate::common::panic::catch;
use crate::common::responder::{has_media_type, is_problem_json, keep_replaced};
#[cfg(feature = "serde")]
use crate::problem::ExtensionValue;
use crate::{Classify, ResponseForFailure};

/// An error response from the inner stack: the consistent problem replaces
/// its body, unless it is problem+json already or the layer was told to
/// leave it; a [`HandlerError`](super::HandlerError)'s response is
/// answered as its error's kind.
pub(super) fn on_error_status<B, C, R>(
    res: Response<B>,
    cx: &mut Context<'_>,
    call: &HandlerCall<C, R>,
) -> Response<AppBody<B, R::Body>>
where
    B: Body<Data = Bytes>,
    C: Classify<Kind>,
    R: ResponseForFailure<Failure>,
{
    let (guard, grpc) = (call.parts.settings.catch_body_panics, call.grpc);
    let failure = match res.extensions().get::<Failure>() {
        // A `HandlerError` response: the layer classifies and logs it, with
        // context.
        Some(marker) => match marker.claim_unlogged() {
            Some(error) => {
                let (kind, domain) = kind_of(
                    error,
                    call.parts.settings.problem_types(),
                    &call.parts.classify,
                );
                marker.clone().with_kind(kind, domain)
            }
            // Made by an inner layer, already logged: pass it on.
            None => return res.map(|body| AppBody::new(body, guard, grpc)),
        },
        None if call.parts.settings.intercepts(res.status()) && !is_problem_json(res.headers()) => {
            let (parts, body) = res.into_parts();
            // A 5xx's members may tell internals, as its error would.
            let carry_members =
                parts.status.is_client_error() || call.parts.settings.common.expose_details;
            let kept = ReplacedBody::read(&parts.headers, body, cx, carry_members);
            let failure = Failure::replaced(parts.status, kept);
            return replace_body(parts, failure, call);
        }
        None => return res.map(|body| AppBody::new(body, guard, grpc)),
    };
    let (parts, body) = res.into_parts();
    let _dropped = catch(|| drop(body));
    replace_body(parts, failure, call)
}

/// What the layer kept of a replaced response's body.
#[derive(Clone, Debug)]
pub(super) enum ReplacedBody {
    /// A `text/plain` body's text, trimmed: for `detail` and the log line.
    Text(Box<str>),
    /// A JSON object's members, carried into the problem: each as an
    /// extension member of its own, but those whose names the problem
    /// cannot take (a standard member's, the layer's own, one RFC 9457
    /// §3.2 advises against), which go together under `original`.
    #[cfg(feature = "serde")]
    Members(Vec<(Cow<'static, str>, ExtensionValue)>),
    /// A body the problem does not carry: its media type and length, so
    /// that the log line says what was dropped.
    Dropped {
        content_type: Option<Box<str>>,
        length: Option<u64>,
    },
}

/// The most of a `text/plain` body the layer reads.
const MAX_TEXT: u64 = 1024;
/// The most of an `application/json` body the layer reads (feature `serde`).
const MAX_JSON: u64 = 16 * 1024;

impl ReplacedBody {
    /// What to keep of `body`, `None` if it has no content: the text of a
    /// `text/plain` body of at most [`MAX_TEXT`] bytes, or the members of a
    /// JSON object of at most [`MAX_JSON`] bytes (with `carry_members` and
    /// the `serde` feature), if its length is known within that bound and
    /// every frame is ready at once. An error response's body is not
    /// waited for: axum's `Json`, its rejections and any buffered body are
    /// all there with the head. The body is dropped either way, its panics
    /// caught.
    fn read<B>(
        headers: &HeaderMap,
        body: B,
        cx: &mut Context<'_>,
        carry_members: bool,
    ) -> Option<Self>
    where
        B: Body<Data = Bytes>,
    {
        let hint = body.size_hint();
        let plain = has_media_type(headers, b"text/plain");
        let json = cfg!(feature = "serde")
            && carry_members
            && has_media_type(headers, b"application/json");
        let limit = match (plain, json) {
            (true, _) => MAX_TEXT,
            (false, true) => MAX_JSON,
            (false, false) => 0,
        };
        let (mut empty, mut read) = (hint.upper() == Some(0), None);
        let _dropped = catch(|| {
            let body = std::pin::pin!(body);
            empty = empty || body.is_end_stream();
            if !empty && hint.upper().is_some_and(|upper| upper <= limit) {
                read = read_ready(body, cx, limit);
            }
        });
        let kept = match read {
            Some(bytes) if plain => match String::from_utf8(bytes) {
                // Whitespace is no content: nothing was dropped.
                Ok(text) if text.trim().is_empty() => return None,
                Ok(text) => Some(Self::Text(text.trim().into())),
                Err(_) => None,
            },
            Some(bytes) if bytes.is_empty() => return None,
            #[cfg(feature = "serde")]
            Some(bytes) => members(&bytes).map(Self::Members),
            _ if empty => return None,
            _ => None,
        };
        Some(kept.unwrap_or_else(|| {
            Self::Dropped {
                content_type: headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|value| value.to_str().ok())
                    .map(Into::into),
                length: hint.exact(),
            }
        }))
    }
}

/// The body's bytes if every frame of it is ready now and they are at most
/// `limit`; `None` otherwise.
fn read_ready<B>(mut body: Pin<&mut B>, cx: &mut Context<'_>, limit: u64) -> Option<Vec<u8>>
where
    B: Body<Data = Bytes>,
{
    let mut buf = Vec::new();
    loop {
        match body.as_mut().poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    if (buf.len() + data.len()) as u64 > limit {
                        return None;
                    }
                    buf.extend_from_slice(&data);
                }
            }
            Poll::Ready(None) => return Some(buf),
            Poll::Ready(Some(Err(_))) | Poll::Pending => return None,
        }
    }
}

/// The members of a JSON object, as [`ReplacedBody::Members`] says; `None`
/// for anything but an object.
#[cfg(feature = "serde")]
fn members(bytes: &[u8]) -> Option<Vec<(Cow<'static, str>, ExtensionValue)>> {
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(bytes).ok()?;
    let mut members = Vec::with_capacity(object.len());
    let mut original = serde_json::Map::new();
    for (name, value) in object {
        let own = matches!(name.as_str(), "kind" | "request_id" | "original");
        if own || !crate::problem::is_extension_name(&name) {
            original.insert(name, value);
        } else if let Ok(value) = ExtensionValue::from_value(value) {
            members.push((Cow::Owned(name), value));
        }
    }
    if !original.is_empty() {
        let original = ExtensionValue::from_value(serde_json::Value::Object(original));
        members.extend(
            original
                .ok()
                .map(|value| (Cow::Borrowed("original"), value)),
        );
    }
    Some(members)
}

/// The failure response, with the replaced response's other headers and
/// its extensions kept: all but the representation headers, which
/// described the body that is dropped.
fn replace_body<B, C, R: ResponseForFailure<Failure>>(
    replaced: http::response::Parts,
    failure: Failure,
    call: &HandlerCall<C, R>,
) -> Response<AppBody<B, R::Body>> {
    let (mut parts, data) = call.respond(failure).into_parts();
    keep_replaced(&mut parts, replaced);
    Response::from_parts(parts, AppBody::full(data))
}
