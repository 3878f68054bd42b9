//! A tower retry policy that sends a request again only when the upstream
//! certainly never saw it, on a budget, with jittered backoff.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::error::Error;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use http::{Request, Response};
use tokio::time::Instant;
use tower::retry::budget::Budget;

use super::classify::classified;
use super::failure::Kind;
use crate::{BoxError, Classify, DefaultClassifier};

/// How long a thread takes a budget that refused it a retry as spent.
const SPENT_FOR: Duration = Duration::from_millis(10);

thread_local! {
    /// The budget (by address) that last refused this thread a retry, and
    /// until when this thread takes it as spent.
    static SPENT: Cell<Option<(usize, Instant)>> = const { Cell::new(None) };
}

/// The counter of retries (feature `metrics`).
#[cfg(feature = "metrics")]
const RETRIES: &str = "tower_problem.retries";
/// The counter of never-sent failures answered at once because the budget
/// was spent (feature `metrics`).
#[cfg(feature = "metrics")]
const RETRY_BUDGET_EXHAUSTED: &str = "tower_problem.retry_budget_exhausted";

/// A `tower::retry::Policy` (feature `tower`) for the upstream client
/// *inside* the gateway layer: it retries exactly the requests that failed
/// before the upstream saw them (refused or failed connection, a connect
/// timeout, a refused HTTP/2 stream), whatever their method, at most
/// `retries` more times. Anything else, including a failure after the
/// request may have been written, is handed to the layer as it came: a
/// `POST` is never sent twice.
///
/// Inside the layer, the layer sees only the final outcome: one failure is
/// one log line, one count and one report, with `attempts=N` on the line
/// ([`Failure::attempts`](super::Failure::attempts)); each retry is a debug
/// line. The policy reads "never sent" with the layer's own rules and, if
/// the layer has one, the same [`classify_with`](Self::classify_with).
///
/// - **Backoff**: before the `n`th retry it waits a random time between
///   zero and `backoff × 2ⁿ⁻¹` ("full jitter"), so that clients refused
///   together do not come back together.
/// - **Budget** ([`budget`](Self::budget): a [`RetryBudget`](super::RetryBudget),
///   or any `tower::retry::budget::Budget`): each response from the
///   upstream deposits, each retry withdraws; when the budget is spent, a
///   failure is answered at once. In a sustained outage
///   only the budget's floor is retried, while a short blip (an upstream
///   restart) still is. Without a budget, every never-sent failure is
///   retried up to `retries` times. Once the budget refuses a thread a
///   retry, that thread takes it as spent for the next 10 ms: its requests
///   are not copied, nor the budget asked, so that in an outage a failure
///   costs what it costs without retries, and the budget is asked again a
///   hundred times a second at most.
///
/// A retry needs the request again: tower's `Retry` asks the policy for a
/// copy of every request before its first attempt, and this policy copies
/// its method, URI, version, headers, extensions and body. So the body
/// must be `Clone`: buffer it first (`http_body_util::Limited` up to a
/// bound, collected into a `Full<Bytes>`). A body that streams cannot be
/// replayed: send it through the layer without the policy. The inner
/// service's error must be a [`BoxError`] (`map_err(Into::into)`).
///
/// ```
/// use std::time::Duration;
/// use bytes::Bytes;
/// use http_body_util::Full;
/// use hyper_util::client::legacy::Client;
/// use hyper_util::rt::TokioExecutor;
/// use tower::ServiceBuilder;
/// use tower_problem::gateway::{GatewayErrorLayer, RequestBody, RetryBudget, RetryNeverSent};
///
/// // Bodies buffered into `Full<Bytes>`, so that a retry can send them again.
/// let client = Client::builder(TokioExecutor::new()).build_http::<RequestBody<Full<Bytes>>>();
/// // At least 10 retries a second, and one for each 5 responses; for the
/// // process's whole life.
/// let budget = Box::leak(Box::new(RetryBudget::new(Duration::from_secs(10), 10, 0.2)));
/// let retries = RetryNeverSent::new(2, Duration::from_millis(50)).budget(budget);
/// let gateway = ServiceBuilder::new()
///     .layer(GatewayErrorLayer::new())
///     .retry(retries)
///     .map_err(|e: hyper_util::client::legacy::Error| tower_problem::BoxError::from(e))
///     .service(client);
/// # let _ = gateway;
/// ```
#[derive(Clone)]
pub struct RetryNeverSent<C = DefaultClassifier> {
    retries: usize,
    /// How many times this request was sent: tower's `Retry` clones the
    /// policy for each request.
    attempts: u32,
    backoff: Duration,
    budget: Option<&'static (dyn Budget + Sync)>,
    classify: C,
    /// This request was not copied: the budget was taken as spent.
    uncopied: bool,
}

impl RetryNeverSent {
    /// At most `retries` retries of a request, the first after up to
    /// `backoff`, each later one after up to twice as long as the one
    /// before.
    pub fn new(retries: usize, backoff: Duration) -> Self {
        Self {
            retries,
            attempts: 1,
            backoff,
            budget: None,
            classify: DefaultClassifier,
            uncopied: false,
        }
    }
}

impl<C> RetryNeverSent<C> {
    /// Retries only what `budget` allows, shared by every request through
    /// this policy and its clones: [`RetryBudget`](super::RetryBudget), or
    /// any other `Budget`. A `&'static` (a `static`, or one leaked once at
    /// start-up), so that the clone tower's `Retry` makes of the policy for
    /// each request shares no reference count between cores.
    pub fn budget(mut self, budget: &'static (impl Budget + Sync)) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Reads "never sent" with the closure `classify` before the default
    /// rules, as the layer's
    /// [`classify_with`](super::GatewayErrorLayer::classify_with) does:
    /// pass the layer's classifier, so that both agree.
    pub fn classify_with<F>(self, classify: F) -> RetryNeverSent<F>
    where
        F: Fn(&(dyn Error + 'static)) -> Option<Kind> + Clone + Send + Sync + 'static,
    {
        self.classifier(classify)
    }

    /// Reads "never sent" with `classifier`, a [`Classify`] of your own, as
    /// [`classify_with`](Self::classify_with) does with a closure.
    pub fn classifier<K: Classify<Kind>>(self, classifier: K) -> RetryNeverSent<K> {
        RetryNeverSent {
            retries: self.retries,
            attempts: self.attempts,
            backoff: self.backoff,
            budget: self.budget,
            classify: classifier,
            uncopied: self.uncopied,
        }
    }

    /// Whether the budget, if any, allows one more retry; if not, this
    /// thread takes it as spent for [`SPENT_FOR`].
    fn withdraw(&self) -> bool {
        let Some(budget) = self.budget else {
            return true;
        };
        let allowed = budget.withdraw();
        if !allowed {
            SPENT.set(Some((address(budget), Instant::now() + SPENT_FOR)));
            count_exhausted();
        }
        allowed
    }

    /// Whether this thread takes the budget as spent, as a refusal of it
    /// less than [`SPENT_FOR`] ago left it.
    fn is_spent(&self) -> bool {
        let Some(budget) = self.budget else {
            return false;
        };
        match SPENT.get() {
            Some((spent, until)) if spent == address(budget) => {
                let still = Instant::now() < until;
                if !still {
                    SPENT.set(None);
                }
                still
            }
            _ => false,
        }
    }

    /// The wait before the next retry: a random time up to
    /// `backoff × 2^(retries so far)`.
    fn next_wait(&self) -> Duration {
        let doublings = self.attempts.saturating_sub(1).min(16);
        let ceiling = self.backoff.saturating_mul(1 << doublings);
        // A fresh `RandomState` is seeded anew each time: random enough
        // for jitter, with no generator to share between threads.
        let random = RandomState::new().build_hasher().finish();
        ceiling.mul_f64((random >> 11) as f64 / (1u64 << 53) as f64)
    }
}

impl<B, ResBody, C> tower::retry::Policy<Request<B>, Response<ResBody>, BoxError>
    for RetryNeverSent<C>
where
    B: Clone,
    C: Classify<Kind>,
{
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        _req: &mut Request<B>,
        result: &mut Result<Response<ResBody>, BoxError>,
    ) -> Option<Self::Future> {
        let error = match result {
            Ok(_) => {
                if let Some(budget) = self.budget {
                    budget.deposit();
                }
                return None;
            }
            Err(error) => error,
        };
        let (_, never_sent) = classified(&**error, &self.classify, drop);
        if self.uncopied {
            if never_sent {
                count_exhausted();
            }
            return None;
        }
        if never_sent && self.attempts as usize <= self.retries && self.withdraw() {
            let wait = self.next_wait();
            tracing::debug!(
                target: "tower_problem::gateway",
                attempt = self.attempts,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                error = crate::common::error_chain::ErrorChain(&**error).text().as_str(),
                "the upstream never saw the request; retrying"
            );
            #[cfg(feature = "metrics")]
            metrics::counter!(RETRIES).increment(1);
            self.attempts += 1;
            return Some(tokio::time::sleep(wait));
        }
        if self.attempts > 1 {
            // Moved out for the wrapper, which then takes its place.
            let last = std::mem::replace(error, BoxError::from(""));
            *error = Box::new(Attempts {
                count: self.attempts,
                error: last,
            });
        }
        None
    }

    /// The request again: method, URI, version, headers, extensions and
    /// body; only its body while the budget is taken as spent, for a copy
    /// that is never sent.
    fn clone_request(&mut self, req: &Request<B>) -> Option<Request<B>> {
        // Set each time: tower's `Retry` asks its own policy, then clones
        // it into the request's future.
        self.uncopied = self.is_spent();
        if self.uncopied {
            // `retry` still hears of the outcome, to count a failure the
            // budget left unretried.
            return Some(Request::new(req.body().clone()));
        }
        let mut again = Request::new(req.body().clone());
        *again.method_mut() = req.method().clone();
        *again.uri_mut() = req.uri().clone();
        *again.version_mut() = req.version();
        *again.headers_mut() = req.headers().clone();
        *again.extensions_mut() = req.extensions().clone();
        Some(again)
    }
}

/// A budget's address, which tells it from another.
fn address(budget: &'static (dyn Budget + Sync)) -> usize {
    std::ptr::from_ref(budget).cast::<()>() as usize
}

/// Counts a never-sent failure the budget left unretried (feature
/// `metrics`).
fn count_exhausted() {
    #[cfg(feature = "metrics")]
    metrics::counter!(RETRY_BUDGET_EXHAUSTED).increment(1);
}

impl<C> fmt::Debug for RetryNeverSent<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryNeverSent")
            .field("retries", &self.retries)
            .field("attempts", &self.attempts)
            .field("backoff", &self.backoff)
            .field("budget", &self.budget.is_some())
            .field("classify", &std::any::type_name::<C>())
            .finish()
    }
}

/// The last error of a request sent more than once, and how many times it
/// was: the layer takes it apart before it classifies the error.
#[derive(Debug)]
pub(super) struct Attempts {
    count: u32,
    error: BoxError,
}

impl Attempts {
    /// `error` and the attempts it carries, if it is one.
    #[inline]
    pub(super) fn unwrap(error: BoxError) -> (BoxError, Option<u32>) {
        if !error.is::<Attempts>() {
            return (error, None);
        }
        match error.downcast::<Attempts>() {
            Ok(attempts) => (attempts.error, Some(attempts.count)),
            Err(error) => (error, None),
        }
    }
}

impl fmt::Display for Attempts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "after {} attempts", self.count)
    }
}

impl Error for Attempts {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&*self.error)
    }
}
