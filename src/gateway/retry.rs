//! A tower retry policy that sends a request again only when the upstream
//! certainly never saw it.

use std::time::Duration;

use http::{Request, Response};

use super::failure::Failure;

/// A `tower::retry::Policy` (feature `tower`) for the service around the
/// gateway layer: it retries exactly the requests whose response carries a
/// [`Failure`] that [`is_request_never_sent`](Failure::is_request_never_sent)
/// (refused, unroutable, a connect timeout, a refused HTTP/2 stream: the
/// upstream never processed them), whatever their method, at most
/// `attempts` more times, waiting `backoff` before each. Anything else,
/// including a failure after the request may have been written, is
/// answered as it came: a POST is never sent twice.
///
/// A retry needs the request again: tower's `Retry` asks the policy for a
/// copy of every request before its first attempt (it cannot know yet
/// whether a retry will come), and this policy copies its method, URI,
/// version, headers, extensions and body. So the body must be `Clone`: buffer it
/// first (`http_body_util::Limited` up to a bound, collected into a
/// `Full<Bytes>`). A body that streams cannot
/// be replayed and is not retried.
///
/// ```
/// use std::time::Duration;
/// use bytes::Bytes;
/// use http_body_util::Full;
/// use hyper_util::client::legacy::Client;
/// use hyper_util::rt::TokioExecutor;
/// use tower::ServiceBuilder;
/// use tower_problem::gateway::{GatewayErrorLayer, RequestBody, RetryNeverSent};
///
/// // Bodies buffered into `Full<Bytes>`, so that a retry can send them again.
/// let client = Client::builder(TokioExecutor::new()).build_http::<RequestBody<Full<Bytes>>>();
/// let gateway = ServiceBuilder::new()
///     .retry(RetryNeverSent::new(2, Duration::from_millis(50)))
///     .layer(GatewayErrorLayer::new())
///     .service(client);
/// # let _ = gateway;
/// ```
#[derive(Clone, Copy, Debug)]
pub struct RetryNeverSent {
    remaining: usize,
    backoff: Duration,
}

impl RetryNeverSent {
    /// At most `attempts` retries of a request, each after `backoff`.
    pub const fn new(attempts: usize, backoff: Duration) -> Self {
        Self {
            remaining: attempts,
            backoff,
        }
    }
}

impl<B: Clone, ResBody, E> tower::retry::Policy<Request<B>, Response<ResBody>, E>
    for RetryNeverSent
{
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        _req: &mut Request<B>,
        result: &mut Result<Response<ResBody>, E>,
    ) -> Option<Self::Future> {
        let never_sent = result.as_ref().is_ok_and(|res| {
            res.extensions()
                .get::<Failure>()
                .is_some_and(Failure::is_request_never_sent)
        });
        if !never_sent || self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        Some(tokio::time::sleep(self.backoff))
    }

    /// The request again: method, URI, version, headers, extensions and
    /// body.
    fn clone_request(&mut self, req: &Request<B>) -> Option<Request<B>> {
        let mut again = Request::new(req.body().clone());
        *again.method_mut() = req.method().clone();
        *again.uri_mut() = req.uri().clone();
        *again.version_mut() = req.version();
        *again.headers_mut() = req.headers().clone();
        *again.extensions_mut() = req.extensions().clone();
        Some(again)
    }
}
