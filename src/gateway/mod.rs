//! The gateway layer: an upstream's connect, timeout and protocol failures
//! become a 502 with an RFC 9457 problem+json body and an RFC 9209
//! `Proxy-Status` header.
//!
//! Wrap an upstream-calling service (hyper-util's legacy `Client`, a
//! reverse-proxy handler, any `Service<Request<_>, Response = Response<_>>`
//! whose error is `Into<BoxError>`) in [`GatewayErrorLayer`] (cargo
//! feature `gateway`). Its service, [`GatewayErrorService`],
//! never fails; what the upstream client reports is classified by its
//! `source()` chain (the layer's rules, or your own [`Classify`](crate::Classify)) into a
//! [`Kind`], whose token is the RFC 9209 error type:
//!
//! | failure | `kind` = `Proxy-Status` `error` | status |
//! |---|---|---|
//! | DNS resolution failed (by text, best effort) | `dns_error` | 502 |
//! | resolving the host name timed out (your own [`Classify`](crate::Classify), around a resolver with a deadline) | `dns_timeout` | 502 (504 with [`status_for`] or [`recommended_statuses`]) |
//! | connection refused | `connection_refused` | 502 |
//! | host or network unreachable | `destination_ip_unroutable` | 502 |
//! | the upstream is considered down (your own [`Classify`](crate::Classify): a circuit breaker) | `destination_unavailable` | 502 (503 with [`recommended_statuses`]) |
//! | connect timed out (hyper-util's TCP connect timeout, or a deadline of yours over connect and TLS handshake) | `connection_timeout` | 502 (504 with [`status_for`] or [`recommended_statuses`]) |
//! | no response head within the [head timeout] (30 s) | `http_response_timeout` | 502 (504 likewise) |
//! | the upstream's TLS certificate refused: expired, not yet valid, unknown issuer, wrong name, bad signature (feature `rustls`) | `tls_certificate_error` | 502 |
//! | a fatal TLS alert from the upstream (feature `rustls`) | `tls_alert_received`, with `alert-id` and `alert-message` | 502 |
//! | any other TLS handshake failure: plain HTTP on a TLS port, a malformed record, a handshake cut short (features `rustls` and `hyper-util`) | `tls_protocol_error` | 502 |
//! | reset, aborted or broken pipe before a complete head; an HTTP/2 stream reset or `GOAWAY` other than a protocol error's (feature `h2`: never sent for `REFUSED_STREAM` and a stream above a graceful `GOAWAY`) | `connection_terminated` | 502 |
//! | closed before a complete head | `http_response_incomplete` | 502 |
//! | head not valid HTTP (status line, header, version, conflicting `Content-Length`), or a `101 Switching Protocols` to a request without `Upgrade`; an HTTP/2 `PROTOCOL_ERROR`, `FRAME_SIZE_ERROR` or `COMPRESSION_ERROR`, in a reset or `GOAWAY` either side sent (feature `h2`) | `http_protocol_error` | 502 |
//! | head too large, too many headers | `http_response_header_section_size` | 502 |
//! | tower's `load_shed` `Overloaded` (a local limit) | `connection_limit_reached` | 503 |
//! | anything else from the upstream client | `proxy_internal_error` | 502 |
//! | the upstream's `Content-Length` over [`max_response_body`] (a response with a body) | `http_response_body_size` | 502 |
//! | the *client's* request body failed (aborted upload) | `request_body_error` | 400, no `Proxy-Status`, logged at debug |
//! | the client's request body over [`max_request_body`] (by its size hint, before the upstream is called; or while it streams) | `request_body_too_large` | 413, no `Proxy-Status`, logged at debug |
//! | the upstream body fails after the head (reset, short, broken chunk, [body idle timeout], over [`max_response_body`]) | (none: logged with the bytes sent and the time since the request; `http_response_body_size` for the cap) | connection aborted / stream reset |
//!
//! Any status can be changed per kind with [`status_for`]; every 503 the
//! layer makes carries `Retry-After` once [`retry_after`] is set. Every
//! response the layer makes has a `Proxy-Status` member such as
//! `tower-problem; error=connection_refused` (the name is set with
//! [`proxy_name`]; `details=` and `next-hop=` are opt-in), and a [`Failure`]
//! marker in its extensions that tells, among others, whether the request
//! was never sent upstream, so a retry is safe. Upstream responses of any
//! status pass through untouched, their own `Proxy-Status` included, unless
//! [`intercept_error_responses`] is on.
//!
//! # After the head: the body
//!
//! Once the upstream's status is forwarded it cannot become a 502. If the
//! upstream body fails (reset, fewer bytes than its `Content-Length`, a
//! broken chunk) or sends nothing for the [body idle timeout] (60 s), the
//! response body ends with a [`BodyError`] and the server aborts the
//! connection (HTTP/1) or resets the stream (HTTP/2): the client never takes
//! the cut body for a complete one. The failure is logged with its kind,
//! the upstream, the bytes the upstream body produced and the time since
//! the request; the request's method, path and id come from the span the
//! body is polled in (tower-http's `TraceLayer`, outside this layer, enters
//! its span on every poll), as the layer keeps no request context past the
//! head. The one case nobody can detect is an
//! HTTP/1 upstream body delimited only by the close of its connection (no
//! `Content-Length`, not chunked) and cut short by a clean close: it ends
//! like a complete one, for the gateway as for any client.
//!
//! # What the inner service sees
//!
//! The request body is wrapped in a [`RequestBody`], which marks the
//! client's body errors so they are not taken for upstream failures: the
//! service inside the layer takes `Request<RequestBody<B>>`, for instance
//! `Client<HttpConnector, RequestBody<Incoming>>`.
//!
//! # Timers
//!
//! The head and body idle timeouts use tokio's timer: the runtime must have
//! its time driver enabled (`enable_all()` or `enable_time()`; `#[tokio::main]`
//! does). The inner future is polled before the timer, and the timer is
//! armed only when the inner future is not ready at once.
//!
//! # Logs and privacy
//!
//! Each failure is logged once through `tracing`, under the target
//! `tower_problem::gateway`: upstream failures at error level with the kind,
//! the upstream authority, method, path, request id (each left out when not
//! known) and elapsed time, and the error chain, its control characters
//! replaced so that it cannot forge a log line; a local limit at warn; a cancelled
//! request (the client went away) and a failed request body at debug. The
//! client never sees the upstream's address or error text unless you opt in
//! ([`expose_details`], [`proxy_status_details`], [`proxy_status_next_hop`]).
//!
//! Panics of the service inside the layer are not caught (it is an
//! upstream client, not application code): a panic there aborts the
//! connection. Put the [app layer](crate::app) outside the gateway layer to
//! answer them with a 500.
//!
//! Upgrades (WebSocket) are out of scope: the layer forwards the `101`
//! answer to a request with an `Upgrade` header like any other response, but
//! does not help proxy the upgraded connection.
//!
//! # Example
//!
//! A client in front of a port where nothing listens:
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, StatusCode};
//! use http_body_util::{BodyExt, Full};
//! use hyper_util::client::legacy::{connect::HttpConnector, Client};
//! use hyper_util::rt::TokioExecutor;
//! use tower::{ServiceBuilder, ServiceExt};
//! use tower_problem::gateway::{Failure, GatewayErrorLayer, Kind, RequestBody};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let client: Client<HttpConnector, RequestBody<Full<Bytes>>> =
//!     Client::builder(TokioExecutor::new()).build_http();
//! let gateway = ServiceBuilder::new()
//!     .layer(GatewayErrorLayer::new())
//!     .service(client);
//!
//! // A port that was just closed: the connection is refused.
//! let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
//! let req = Request::get(format!("http://127.0.0.1:{port}/"))
//!     .body(Full::default())
//!     .unwrap();
//! let res = gateway.oneshot(req).await.unwrap();
//!
//! assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
//! assert_eq!(res.headers()["content-type"], "application/problem+json");
//! assert_eq!(res.headers()["proxy-status"], "tower-problem; error=connection_refused");
//! let failure = res.extensions().get::<Failure>().unwrap();
//! assert_eq!(failure.kind(), Kind::ConnectionRefused);
//! assert!(failure.is_request_never_sent());
//!
//! let body = res.into_body().collect().await.unwrap().to_bytes();
//! let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
//! assert_eq!(problem["kind"], "connection_refused");
//! assert_eq!(problem["status"], 502);
//! // The upstream's address went to the logs, not to the client.
//! assert!(!String::from_utf8_lossy(&body).contains("127.0.0.1"));
//! # }
//! ```
//!
//! [`recommended_statuses`]: GatewayErrorLayer::recommended_statuses
//! [`status_for`]: GatewayErrorLayer::status_for
//! [head timeout]: GatewayErrorLayer::head_timeout
//! [body idle timeout]: GatewayErrorLayer::body_idle_timeout
//! [`retry_after`]: GatewayErrorLayer::retry_after
//! [`proxy_name`]: GatewayErrorLayer::proxy_name
//! [`intercept_error_responses`]: GatewayErrorLayer::intercept_error_responses
//! [`expose_details`]: GatewayErrorLayer::expose_details
//! [`proxy_status_details`]: GatewayErrorLayer::proxy_status_details
//! [`proxy_status_next_hop`]: GatewayErrorLayer::proxy_status_next_hop
//! [`max_request_body`]: GatewayErrorLayer::max_request_body
//! [`max_response_body`]: GatewayErrorLayer::max_response_body
#![doc = include_str!("../../docs/gateway.md")]

mod answer;
mod body;
mod classify;
mod connect_error;
mod failure;
mod future;
mod layer;
mod log;
mod proxy_status;
mod request_body;
#[cfg(feature = "tower")]
mod retry;
#[cfg(feature = "tower")]
mod retry_budget;
mod service;

pub use self::body::{BodyError, GatewayBody};
pub use self::connect_error::ConnectError;
pub use self::failure::{Failure, Kind};
pub use self::future::ResponseFuture;
pub use self::layer::{GatewayErrorLayer, DEFAULT_BODY_IDLE_TIMEOUT, DEFAULT_HEAD_TIMEOUT};
pub use self::request_body::RequestBody;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use self::retry::RetryNeverSent;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use self::retry_budget::RetryBudget;
pub use self::service::GatewayErrorService;
