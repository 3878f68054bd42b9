//! A retry budget every core deposits into without sharing a lock or a
//! cache line.

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;
use tower::retry::budget::Budget;

/// The windows the time to live is cut into, as tower's `TpsBudget` does.
const WINDOWS: usize = 10;

/// A `tower::retry::budget::Budget` (feature `tower`) with the rules of
/// tower's `TpsBudget`, for [`RetryNeverSent`](super::RetryNeverSent):
/// each response from the upstream deposits, each retry withdraws, and a
/// retry is allowed while the deposits of the last `ttl` pay for it, over
/// and above a floor of `min_per_sec` retries a second.
///
/// Where it differs is who waits for whom. `TpsBudget` takes a lock and
/// reads the clock for every deposit, so every core that answers a request
/// waits on the same lock. Here a deposit only counts, in a counter of the
/// calling thread's own (one of a few per core, each on its own cache
/// line); the counters are read, and the clock with them, when a retry is
/// asked for, that is when requests fail. Deposits made between two such
/// reads are spread evenly over the time between them.
///
/// ```
/// use std::time::Duration;
/// use tower_problem::gateway::{RetryBudget, RetryNeverSent};
///
/// // At least 10 retries a second, and one for each 5 responses of the
/// // last 10 seconds.
/// static BUDGET: std::sync::LazyLock<RetryBudget> =
///     std::sync::LazyLock::new(|| RetryBudget::new(Duration::from_secs(10), 10, 0.2));
/// let retries = RetryNeverSent::new(2, Duration::from_millis(50)).budget(&*BUDGET);
/// # let _ = retries;
/// ```
pub struct RetryBudget {
    /// Deposits, counted by each thread into the shard it was given.
    shards: Box<[Shard]>,
    ledger: Mutex<Ledger>,
    window: Duration,
    reserve: i64,
    deposit_amount: i64,
    withdraw_amount: i64,
}

/// One counter, alone on its cache lines.
#[repr(align(128))]
#[derive(Default)]
struct Shard(AtomicU64);

/// What the deposits and withdrawals of the last windows left, settled
/// when a retry is asked for.
struct Ledger {
    /// The deposits counted so far, of all shards.
    settled: u64,
    /// The start of the current window.
    since: Option<Instant>,
    /// The balance of each window, the current one at `current`.
    windows: [i64; WINDOWS],
    current: usize,
}

impl RetryBudget {
    /// A budget over the last `ttl` (1 to 60 s), allowing at least
    /// `min_per_sec` retries a second, and `retry_ratio` retries for each
    /// response (0.2: one for five; at most 1000).
    ///
    /// # Panics
    ///
    /// If `ttl` or `retry_ratio` is out of its range, or `min_per_sec` is
    /// not below `i32::MAX`, as `TpsBudget::new` does.
    pub fn new(ttl: Duration, min_per_sec: u32, retry_ratio: f32) -> Self {
        assert!(
            (Duration::from_secs(1)..=Duration::from_secs(60)).contains(&ttl),
            "the ttl of a RetryBudget is from 1 to 60 seconds"
        );
        assert!(
            (0.0..=1000.0).contains(&retry_ratio),
            "the retry ratio of a RetryBudget is from 0 to 1000"
        );
        assert!(min_per_sec < i32::MAX as u32, "min_per_sec is too large");
        let (deposit_amount, withdraw_amount) = if retry_ratio == 0.0 {
            (0, 1)
        } else if retry_ratio <= 1.0 {
            (1, (1.0 / retry_ratio) as i64)
        } else {
            (1000, (1000.0 / retry_ratio) as i64)
        };
        let shards = std::thread::available_parallelism().map_or(1, |n| n.get()) * 4;
        Self {
            shards: (0..shards.next_power_of_two())
                .map(|_| Shard::default())
                .collect(),
            ledger: Mutex::new(Ledger {
                settled: 0,
                since: None,
                windows: [0; WINDOWS],
                current: 0,
            }),
            window: ttl / WINDOWS as u32,
            reserve: i64::from(min_per_sec) * ttl.as_secs() as i64 * withdraw_amount,
            deposit_amount,
            withdraw_amount,
        }
    }

    /// The shard of the calling thread: threads take the shards in turn.
    fn shard(&self) -> &Shard {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        thread_local! {
            static SHARD: Cell<Option<usize>> = const { Cell::new(None) };
        }
        let index = SHARD.with(|shard| match shard.get() {
            Some(index) => index,
            None => {
                let index = NEXT.fetch_add(1, Ordering::Relaxed);
                shard.set(Some(index));
                index
            }
        });
        &self.shards[index & (self.shards.len() - 1)]
    }
}

impl Ledger {
    /// Moves the windows on to `now`, and credits the deposits counted
    /// since the last time, spread over the windows since then: those that
    /// fall before the oldest window have expired.
    fn settle(&mut self, now: Instant, counted: u64, budget: &RetryBudget) {
        let new = counted.wrapping_sub(self.settled);
        self.settled = counted;
        let since = *self.since.get_or_insert(now);
        let passed = now.saturating_duration_since(since).as_nanos() / budget.window.as_nanos();
        let passed = usize::try_from(passed).unwrap_or(usize::MAX);
        for _ in 0..passed.min(WINDOWS) {
            self.current = (self.current + 1) % WINDOWS;
            self.windows[self.current] = 0;
        }
        if passed > 0 {
            let moved = budget
                .window
                .saturating_mul(u32::try_from(passed).unwrap_or(u32::MAX));
            self.since = Some(since.checked_add(moved).unwrap_or(now));
        }
        let spans = passed.saturating_add(1) as u128;
        let kept = (new as u128 * WINDOWS.min(passed.saturating_add(1)) as u128 / spans) as i64;
        self.windows[self.current] += kept.saturating_mul(budget.deposit_amount);
    }

    fn balance(&self, reserve: i64) -> i64 {
        self.windows
            .iter()
            .fold(reserve, |sum, w| sum.saturating_add(*w))
    }
}

impl Budget for RetryBudget {
    fn deposit(&self) {
        self.shard().0.fetch_add(1, Ordering::Relaxed);
    }

    fn withdraw(&self) -> bool {
        let counted = self.shards.iter().fold(0u64, |sum, shard| {
            sum.wrapping_add(shard.0.load(Ordering::Relaxed))
        });
        let mut ledger = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
        ledger.settle(Instant::now(), counted, self);
        if ledger.balance(self.reserve) < self.withdraw_amount {
            return false;
        }
        let current = ledger.current;
        ledger.windows[current] -= self.withdraw_amount;
        true
    }
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBudget")
            .field("window", &self.window)
            .field("reserve", &self.reserve)
            .field("deposit_amount", &self.deposit_amount)
            .field("withdraw_amount", &self.withdraw_amount)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn withdrawals(budget: &RetryBudget) -> usize {
        std::iter::from_fn(|| budget.withdraw().then_some(()))
            .take(10_000)
            .count()
    }

    #[tokio::test(start_paused = true)]
    async fn the_floor_allows_min_per_sec_over_the_ttl() {
        let budget = RetryBudget::new(Duration::from_secs(1), 3, 0.0);
        assert_eq!(withdrawals(&budget), 3);
        // Deposits earn nothing at a ratio of 0.
        (0..100).for_each(|_| budget.deposit());
        assert!(!budget.withdraw());
        // A ttl later, the withdrawals have expired.
        tokio::time::advance(Duration::from_millis(1100)).await;
        assert_eq!(withdrawals(&budget), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn deposits_of_every_thread_pay_for_retries() {
        let budget = std::sync::Arc::new(RetryBudget::new(Duration::from_secs(10), 0, 0.2));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let budget = std::sync::Arc::clone(&budget);
                std::thread::spawn(move || (0..25).for_each(|_| budget.deposit()))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        // 100 deposits, one retry for five.
        assert_eq!(withdrawals(&budget), 20);
    }

    #[tokio::test(start_paused = true)]
    async fn old_deposits_expire() {
        let budget = RetryBudget::new(Duration::from_secs(1), 0, 1.0);
        (0..50).for_each(|_| budget.deposit());
        // Settled now: they count for a ttl.
        assert!(budget.withdraw());
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(
            !budget.withdraw(),
            "the deposits of two seconds ago are gone"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn deposits_unseen_for_long_count_only_for_the_last_ttl() {
        let budget = RetryBudget::new(Duration::from_secs(1), 0, 1.0);
        assert!(!budget.withdraw());
        // 10,000 deposits over 10 s, seen at the end: at most a tenth of
        // them fall in the last second.
        (0..10_000).for_each(|_| budget.deposit());
        tokio::time::advance(Duration::from_secs(10)).await;
        let allowed = withdrawals(&budget);
        assert!((900..=1100).contains(&allowed), "{allowed}");
    }
}
