//! Replacing the error responses of the inner stack with the layer's
//! problem.

use std::task::{Context, Poll};

use bytes::Bytes;
use http::{header, HeaderMap, Response};
use http_body::Body;

use super::body::AppBody;
use super::classify::kind_of;
use super::failure::{Failure, Kind};
use super::future::HandlerCall;
use crate::common::panic::catch;
use crate::common::responder::keep_replaced;
use crate::problem::PROBLEM_JSON;
use crate::{Classify, ResponseForFailure};

/// An error response from the inner stack: the consistent problem replaces
/// its body, unless it is problem+json already or the layer was told to
/// leave it; a [`HandlerError`](super::HandlerError)'s response is
/// answered as its error's kind.
pub(super) fn on_error_status<B, C, R>(
    res: Response<B>,
    cx: &mut Context<'_>,
    call: &HandlerCall<C, R>,
) -> Response<AppBody<B>>
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
            let text = read_text(&parts.headers, body, cx);
            let failure = Failure::replaced(parts.status, text);
            return replace_body(parts, failure, call);
        }
        None => return res.map(|body| AppBody::new(body, guard, grpc)),
    };
    let (parts, body) = res.into_parts();
    let _dropped = catch(|| drop(body));
    replace_body(parts, failure, call)
}

/// The most of a replaced body's text the layer reads.
const MAX_TEXT: u64 = 1024;

/// The text of a `text/plain` body of at most [`MAX_TEXT`] bytes, if every
/// frame of it is ready at once: an error response's body is not waited
/// for (nor is any of it kept when it is not all there). The body is
/// dropped either way, its panics caught.
fn read_text<B>(headers: &HeaderMap, body: B, cx: &mut Context<'_>) -> Option<Box<str>>
where
    B: Body<Data = Bytes>,
{
    let plain = has_media_type(headers, b"text/plain");
    let small = body
        .size_hint()
        .upper()
        .is_some_and(|upper| upper <= MAX_TEXT);
    let mut text = None;
    let _dropped = catch(|| {
        let mut body = std::pin::pin!(body);
        if !(plain && small) {
            return;
        }
        let mut buf = Vec::new();
        loop {
            match body.as_mut().poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        if buf.len() + data.len() > MAX_TEXT as usize {
                            return;
                        }
                        buf.extend_from_slice(&data);
                    }
                }
                Poll::Ready(None) => break,
                Poll::Ready(Some(Err(_))) | Poll::Pending => return,
            }
        }
        text = String::from_utf8(buf)
            .ok()
            .filter(|text| !text.trim().is_empty())
            .map(|text| text.trim().into());
    });
    text
}

/// The failure response, with the replaced response's other headers and
/// its extensions kept: all but the representation headers, which
/// described the body that is dropped.
fn replace_body<B, C, R: ResponseForFailure<Failure>>(
    replaced: http::response::Parts,
    failure: Failure,
    call: &HandlerCall<C, R>,
) -> Response<AppBody<B>> {
    let (mut parts, data) = call.respond(failure).into_parts();
    keep_replaced(&mut parts, replaced);
    Response::from_parts(parts, AppBody::full(data))
}

fn is_problem_json(headers: &HeaderMap) -> bool {
    has_media_type(headers, PROBLEM_JSON.as_bytes())
}

/// Whether `Content-Type` names `media_type`, whatever its parameters.
fn has_media_type(headers: &HeaderMap, media_type: &[u8]) -> bool {
    headers.get(header::CONTENT_TYPE).is_some_and(|value| {
        let essence = value
            .as_bytes()
            .split(|&b| b == b';')
            .next()
            .unwrap_or_default();
        essence.trim_ascii().eq_ignore_ascii_case(media_type)
    })
}
