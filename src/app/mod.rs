//! The app layer: panics and handler errors become a consistent 500 with an
//! RFC 9457 problem+json body, and, when told, every error response of the
//! stack the same shape.
//!
//! Wrap an application (an axum `Router`, any tower `Service` of
//! `http::Request`s) in [`AppErrorLayer`]. Its service,
//! [`AppErrorService`], never fails, and answers with the same body shape
//! for:
//!
//! | failure | status | `kind` | logged (error level unless said) |
//! |---|---|---|---|
//! | a panic in the inner `call`, while its future is polled, or while the completed future is dropped | 500 | `panic` | the panic message; its location with the [`panic_hook`] |
//! | an `Err` from the inner service or its response future; a [`HandlerError`] returned by an axum handler (feature `axum`: `?` on any error, `anyhow::Error`, `eyre::Report`) | 500 | `handler_error` | the whole error chain, once, and its `Debug` form (anyhow's and eyre's backtrace) |
//! | a failed or panicking inner `poll_ready` (answered on the next `call`; not poisoned) | 500 | `handler_error` / `panic` | as above |
//! | tower's `timeout` or `load_shed` inside the layer (feature `tower`) | 503, `Retry-After` with [`AppErrorLayer::retry_after`] | `timeout` / `overloaded` | as above |
//! | an error of a [`ProblemType`] registered with [`AppErrorLayer::problem_type`], at any level of the chain | its own, and the headers it requires | its own token, under the `type_base` | as above; info level for a 4xx |
//! | an error a [`Classify`](crate::Classify) of yours names ([`AppErrorLayer::classify_with`]) | the kind's: 404 for `not_found`, 409 for `conflict` | the kind | as above; info level for a 4xx |
//! | a 500 the handler made whose body is not problem+json (see [`AppErrorLayer::intercept_error_responses`]) | 500 (kept) | `internal_error` | that it was replaced, and the body's text |
//! | with [`AppErrorLayer::intercept_all_errors`], any other 4xx or 5xx without a problem+json body (axum's rejections, a router's 404 and 405, tower-http's `TimeoutLayer`, body limits) | kept, with `Allow`, `Retry-After`, `WWW-Authenticate`, `Proxy-Authenticate`, `Content-Range` (416) and `Upgrade` | the status's ([`Kind::of_status`]; `type` `about:blank`) | a 5xx's text at error level; a 4xx at debug level, its text (`text/plain`, at most 1 KiB, ready at once) in `detail`, its JSON object's members (feature `serde`, at most 16 KiB) as extension members; a body with content not carried: warn level, with its content type and length |
//! | a panic in the response body, after the head was sent | connection aborted / stream reset | (none: no body can follow) | the panic's message and location; the request from the enclosing span |
//! | the customisation ([`AppErrorLayer::respond_with`], [`AppErrorLayer::classify_with`]) itself panics | the default response of the same failure | the same kind | the failure, and the customisation's panic |
//!
//! Every problem has `type` (a URI ending in the kind, pointing at the
//! [kinds page](crate::kinds) unless [`AppErrorLayer::type_base`] says
//! otherwise), `title`, `status`, `kind`, and `request_id` when the request
//! had an `x-request-id` header (configurable; tower-http's
//! `SetRequestIdLayer` sets it). `HEAD` requests get the same headers and
//! no body. A gRPC request gets a gRPC status instead (see [`grpc`](crate::grpc)).
//!
//! A panic while the response *body* is polled comes after the head is
//! sent: the body ends with a [`BodyPanicked`] error, and the server aborts
//! the connection (HTTP/1) or resets the stream (HTTP/2), so the client never
//! takes a cut body for a complete one.
//!
//! Every failure is logged once through `tracing` at error level (a 4xx
//! kind of a handler's error at info, a replaced 4xx response at debug),
//! under the target `tower_problem::app`, with the method, path and request id (each
//! left out when it is not known); error texts and panic messages have
//! their control characters replaced, so they cannot forge a log line. The
//! client sees the panic message or error
//! chain only with [`AppErrorLayer::expose_details`]. The one exception is a
//! body panic: the layer keeps no request context past the response head,
//! so that line has the panic's message and location, and the request comes
//! from the span the body is polled in. tower-http's `TraceLayer`, put
//! outside this layer, enters its span on every poll of the body. Each generated response
//! carries a [`Failure`] in its extensions. To log panics once, with their
//! location, and without std's print to stderr, install the
//! [`panic_hook`].
//!
//! A request the server drops before its response is ready (the client
//! went away) is no failure of the application: it is logged at debug
//! level, not as an error.
//!
//! Panics are caught with `catch_unwind`: a build with `panic = "abort"`
//! cannot catch them, and a panic inside a `Drop` that runs while another
//! panic unwinds aborts the process, as it always does in Rust.
//!
//! # Example
//!
//! ```
//! use http::{Request, Response, StatusCode};
//! use http_body_util::{BodyExt, Full};
//! use tower::{ServiceBuilder, ServiceExt};
//! use tower_problem::app::AppErrorLayer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let app = ServiceBuilder::new()
//!     .layer(AppErrorLayer::new())
//!     .service_fn(|_req: Request<Full<bytes::Bytes>>| async {
//!         panic!("database pool poisoned");
//!         #[allow(unreachable_code)]
//!         Ok::<_, std::convert::Infallible>(Response::new(Full::<bytes::Bytes>::default()))
//!     });
//!
//! let res = app.oneshot(Request::new(Full::default())).await.unwrap();
//! assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
//! assert_eq!(res.headers()["content-type"], "application/problem+json");
//!
//! let body = res.into_body().collect().await.unwrap().to_bytes();
//! let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
//! assert_eq!(problem["kind"], "panic");
//! assert_eq!(problem["status"], 500);
//! // The panic message went to the logs, not to the client.
//! assert!(!String::from_utf8_lossy(&body).contains("database"));
//! # }
//! ```
#![doc = include_str!("../../docs/app.md")]

mod body;
mod classify;
mod failure;
mod future;
#[cfg(feature = "axum")]
mod handler_error;
mod intercept;
mod layer;
mod log;
pub mod panic_hook;
mod problem_type;
mod service;

pub use self::body::{AppBody, BodyPanicked};
pub use self::failure::{Failure, Kind};
pub use self::future::ResponseFuture;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use self::handler_error::HandlerError;
pub use self::layer::AppErrorLayer;
pub use self::problem_type::ProblemType;
pub use self::service::AppErrorService;

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::future::Ready;

    use bytes::Bytes;
    use http::{Request, Response};
    use http_body_util::Full;
    use tower_service::Service;

    use super::*;
    use crate::{DefaultResponse, RequestContext};

    fn assert_send_sync<T: Send + Sync + 'static>() {}
    fn assert_send<T: Send + 'static>() {}

    /// axum 0.8 needs a `Clone + Send + Sync + 'static` service with a `Send`
    /// future, and outer layers need the marker to be `Send + Sync`.
    #[test]
    fn public_types_are_send_and_sync() {
        type Inner = tower::util::ServiceFn<
            fn(Request<Full<Bytes>>) -> Ready<Result<Response<Full<Bytes>>, Infallible>>,
        >;
        type Svc = AppErrorService<Inner, crate::DefaultClassifier, DefaultResponse>;
        assert_send_sync::<AppErrorLayer>();
        assert_send_sync::<Svc>();
        assert_send::<<Svc as Service<Request<Full<Bytes>>>>::Future>();
        assert_send_sync::<AppBody<Full<Bytes>>>();
        assert_send_sync::<Failure>();
        assert_send_sync::<RequestContext>();
        assert_send_sync::<BodyPanicked>();
        #[cfg(feature = "axum")]
        assert_send::<HandlerError>();
    }
}
