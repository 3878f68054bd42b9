use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header;
use http::{HeaderMap, Response};
use pin_project_lite::pin_project;

use super::body::AppBody;
use super::classify::{classified, kind_of};
use super::failure::{Failure, Kind};
use super::layer::Settings;
use super::log;
use crate::call_state::{CallState, CallStateProj};
use crate::classify::Classify;
use crate::context::RequestContext;
use crate::layer_impls::response_future_impl;
use crate::panic::catch;
use crate::problem::{keep_replaced, PROBLEM_JSON};
use crate::respond::{default_headers, failure_response, retry_after, ResponseForFailure};

pin_project! {
    /// The response future of [`AppErrorService`](super::AppErrorService).
    /// See the [module docs](super).
    pub struct ResponseFuture<F, C, R> {
        #[pin]
        state: CallState<F, Failure>,
        request: RequestContext,
        settings: Settings<C, R>,
    }

    impl<F, C, R> PinnedDrop for ResponseFuture<F, C, R> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            if let CallStateProj::Running { .. } = this.state.as_mut().project() {
                log::cancelled(this.request);
                let _dropped = catch(|| this.state.set(CallState::Done));
            }
        }
    }
}

impl<F, C, R> ResponseFuture<F, C, R> {
    #[inline]
    pub(super) fn running(future: F, request: RequestContext, settings: Settings<C, R>) -> Self {
        Self {
            state: CallState::Running { future },
            request,
            settings,
        }
    }

    pub(super) fn failed(
        failure: Failure,
        request: RequestContext,
        settings: Settings<C, R>,
    ) -> Self {
        Self {
            state: CallState::failed(failure),
            request,
            settings,
        }
    }
}

response_future_impl! {
    AppBody {
        #[inline]
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            let mut this = self.project();
            let failure = match this.state.as_mut().project() {
                CallStateProj::Running { future } => {
                    // The output goes out through `output`, not as the closure's
                    // value, which `catch_unwind` would copy once more; and the
                    // closure stays small enough to be inlined, as every frame
                    // between a panic and its catch costs the unwinder (see
                    // BENCHMARKS.md).
                    let mut output = Poll::Pending;
                    let polled = catch(|| output = future.poll(cx));
                    // Drop the inner future as soon as it is done, caught too: a
                    // panic in its `Drop` becomes this request's 500 instead of
                    // escaping from wherever this future is dropped.
                    let caught = match polled {
                        Ok(()) if output.is_ready() => catch(|| this.state.set(CallState::Done)),
                        polled => polled,
                    };
                    match (caught, output) {
                        (Ok(()), Poll::Pending) => return Poll::Pending,
                        (Ok(()), Poll::Ready(Ok(res))) => {
                            if res.status().as_u16() >= 400 {
                                return Poll::Ready(Ok(on_error_status(
                                    res,
                                    cx,
                                    this.request,
                                    this.settings,
                                )));
                            }
                            let guard = this.settings.common.flags.catch_body_panics;
                            let grpc = this.settings.common.grpc_request;
                            return Poll::Ready(Ok(res.map(|body| AppBody::new(body, guard, grpc))));
                        }
                        (Ok(()), Poll::Ready(Err(error))) => classified(error.into(), this.settings),
                        (Err(payload), output) => {
                            let failure = Failure::panic(payload);
                            // A future that panicked may panic again when dropped,
                            // and so may an output its `Drop` panicked after.
                            let _dropped = catch(|| {
                                drop(output);
                                this.state.set(CallState::Done);
                            });
                            failure
                        }
                    }
                }
                CallStateProj::Failed { failure } => {
                    let failure = failure.take().expect("polled after completion");
                    this.state.set(CallState::Done);
                    failure
                }
                CallStateProj::Done => panic!("ResponseFuture polled after completion"),
            };
            let res = respond(failure, this.request, this.settings);
            Poll::Ready(Ok(res.map(AppBody::full)))
        }
    }
}

/// Logs `failure` once, with the request's context, and builds its response.
fn respond<C, R: ResponseForFailure<Failure>>(
    failure: Failure,
    request: &RequestContext,
    settings: &Settings<C, R>,
) -> Response<Bytes> {
    log::failure(&failure, request);
    let common = &settings.common;
    // Counted and reported after the log line, as the gateway does.
    #[cfg(feature = "metrics")]
    crate::metrics::failure("app", failure.kind().as_str(), Some(failure.status()), None);
    if let Some(on_failure) = common.layer().and_then(|custom| custom.on_failure.as_ref()) {
        if let Some(panic) = on_failure.report(&failure, request) {
            log::customisation_panicked(&panic, failure.kind(), request, "on_failure");
        }
    }
    let details = match failure.replaced_text() {
        Some(text) if failure.status().is_client_error() => {
            common.flags.client_error_detail.then(|| text.to_owned())
        }
        _ => common.expose_details.then(|| failure.details()).flatten(),
    };
    let (kind, status, replaced) = (failure.kind(), failure.status(), failure.is_replaced());
    let built = failure_response(
        failure,
        details.as_deref(),
        request,
        common,
        &settings.respond,
        || {
            let mut headers = default_headers();
            if !replaced {
                retry_after(&mut headers, status, common);
            }
            headers
        },
        |headers| {
            if !replaced && !headers.contains_key(header::RETRY_AFTER) {
                retry_after(headers, status, common);
            }
        },
    );
    if let Some(panic) = &built.respond_panicked {
        log::customisation_panicked(panic, kind, request, std::any::type_name::<R>());
    }
    built.response
}

/// An error response from the inner stack: the consistent problem replaces
/// its body, unless it is problem+json already or the layer was told to
/// leave it; a [`HandlerError`](super::HandlerError)'s response is
/// answered as its error's kind.
#[cold]
#[inline(never)]
fn on_error_status<B, C, R>(
    res: Response<B>,
    cx: &mut Context<'_>,
    request: &RequestContext,
    settings: &Settings<C, R>,
) -> Response<AppBody<B>>
where
    B: http_body::Body<Data = Bytes>,
    C: Classify<Kind>,
    R: ResponseForFailure<Failure>,
{
    let (guard, grpc) = (
        settings.common.flags.catch_body_panics,
        settings.common.grpc_request,
    );
    let failure = match res.extensions().get::<Failure>() {
        // A `HandlerError` response: the layer classifies and logs it, with
        // context.
        Some(marker) => match marker.claim_unlogged() {
            Some(error) => {
                let kind = kind_of(error, &settings.classify);
                marker.clone().with_kind(kind)
            }
            // Made by an inner layer, already logged: pass it on.
            None => return res.map(|body| AppBody::new(body, guard, grpc)),
        },
        None if settings.intercepts(res.status()) && !is_problem_json(res.headers()) => {
            let (parts, body) = res.into_parts();
            let text = read_text(&parts.headers, body, cx);
            let failure = Failure::replaced(parts.status, text);
            return replace_body(parts, failure, request, settings);
        }
        None => return res.map(|body| AppBody::new(body, guard, grpc)),
    };
    let (parts, body) = res.into_parts();
    let _dropped = catch(|| drop(body));
    replace_body(parts, failure, request, settings)
}

/// The most of a replaced body's text the layer reads.
const MAX_TEXT: u64 = 1024;

/// The text of a `text/plain` body of at most [`MAX_TEXT`] bytes, if every
/// frame of it is ready at once: an error response's body is not waited
/// for (nor is any of it kept when it is not all there). The body is
/// dropped either way, its panics caught.
fn read_text<B>(headers: &HeaderMap, body: B, cx: &mut Context<'_>) -> Option<Box<str>>
where
    B: http_body::Body<Data = Bytes>,
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
    request: &RequestContext,
    settings: &Settings<C, R>,
) -> Response<AppBody<B>> {
    let (mut parts, data) = respond(failure, request, settings).into_parts();
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

impl<F, C, R> fmt::Debug for ResponseFuture<F, C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}
