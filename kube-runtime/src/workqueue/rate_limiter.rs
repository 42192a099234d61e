//! Rate limiters: how long an item waits before it is retried.
//!
//! The counterpart of client-go's `util/workqueue/default_rate_limiters.go`. A [`RateLimiter`]
//! answers [`when`](RateLimiter::when) an item may be retried and counts its failures until the
//! item is [`forget`](RateLimiter::forget)-ed. All limiters read time from
//! [`tokio::time::Instant`], so tests under `tokio::time::pause()` see paused time.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

/// Decides how long an item waits before it is retried.
///
/// Implementations use interior mutability: every call to [`when`](Self::when) counts as one
/// failure (or, for [`BucketRateLimiter`], consumes one token).
#[doc(alias = "TypedRateLimiter")]
pub trait RateLimiter<T>: Send + Sync {
    /// Records one more retry of `item` and returns how long it has to wait.
    #[doc(alias = "When")]
    fn when(&self, item: &T) -> Duration;

    /// Stops tracking `item`: its failures are reset, as after a success.
    #[doc(alias = "Forget")]
    fn forget(&self, item: &T);

    /// How often `item` has been retried since it was last forgotten.
    #[doc(alias = "NumRequeues")]
    fn num_requeues(&self, item: &T) -> u32;
}

impl<T, R: RateLimiter<T> + ?Sized> RateLimiter<T> for Box<R> {
    fn when(&self, item: &T) -> Duration {
        (**self).when(item)
    }
    fn forget(&self, item: &T) {
        (**self).forget(item)
    }
    fn num_requeues(&self, item: &T) -> u32 {
        (**self).num_requeues(item)
    }
}

impl<T, R: RateLimiter<T> + ?Sized> RateLimiter<T> for Arc<R> {
    fn when(&self, item: &T) -> Duration {
        (**self).when(item)
    }
    fn forget(&self, item: &T) {
        (**self).forget(item)
    }
    fn num_requeues(&self, item: &T) -> u32 {
        (**self).num_requeues(item)
    }
}

/// The limiter client-go controllers use: the larger of a per-item exponential backoff from
/// 5ms to 1000s and an overall token bucket of 10 qps with a burst of 100.
#[doc(alias = "DefaultControllerRateLimiter")]
#[doc(alias = "DefaultTypedControllerRateLimiter")]
pub fn default_controller_rate_limiter<T>() -> MaxOfRateLimiter<T>
where
    T: Clone + Eq + Hash + Send + Sync + 'static,
{
    MaxOfRateLimiter::new(vec![
        Box::new(ItemExponentialRateLimiter::default()),
        Box::new(BucketRateLimiter::default()),
    ])
}

/// Failure counts per item, shared by the per-item limiters.
struct Failures<T>(Mutex<HashMap<T, u32>>);

impl<T: Clone + Eq + Hash> Failures<T> {
    fn new() -> Self {
        Self(Mutex::new(HashMap::new()))
    }

    /// Counts one more failure and returns the count *before* it.
    fn record(&self, item: &T) -> u32 {
        let mut failures = self.0.lock();
        if let Some(n) = failures.get_mut(item) {
            let before = *n;
            *n = n.saturating_add(1);
            before
        } else {
            failures.insert(item.clone(), 1);
            0
        }
    }

    fn forget(&self, item: &T) {
        self.0.lock().remove(item);
    }

    fn get(&self, item: &T) -> u32 {
        self.0.lock().get(item).copied().unwrap_or(0)
    }
}

/// Per-item exponential backoff: `base * 2^failures`, capped at `max`.
///
/// With the defaults (5ms, 1000s) an item waits 5ms, 10ms, 20ms, ... until it is forgotten.
/// The computation cannot overflow: large exponents saturate at `max`.
#[doc(alias = "ItemExponentialFailureRateLimiter")]
#[doc(alias = "TypedItemExponentialFailureRateLimiter")]
pub struct ItemExponentialRateLimiter<T> {
    base: Duration,
    max: Duration,
    failures: Failures<T>,
}

impl<T: Clone + Eq + Hash> ItemExponentialRateLimiter<T> {
    /// Backoff starting at `base` and never exceeding `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            failures: Failures::new(),
        }
    }

    /// `base * 2^exp`, capped at `max`.
    fn delay(&self, exp: u32) -> Duration {
        2u32.checked_pow(exp)
            .and_then(|factor| self.base.checked_mul(factor))
            .map_or(self.max, |d| d.min(self.max))
    }
}

impl<T: Clone + Eq + Hash> Default for ItemExponentialRateLimiter<T> {
    /// 5ms doubling up to 1000s, as client-go's default.
    fn default() -> Self {
        Self::new(Duration::from_millis(5), Duration::from_secs(1000))
    }
}

impl<T> fmt::Debug for ItemExponentialRateLimiter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ItemExponentialRateLimiter")
            .field("base", &self.base)
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

impl<T: Clone + Eq + Hash + Send + Sync> RateLimiter<T> for ItemExponentialRateLimiter<T> {
    fn when(&self, item: &T) -> Duration {
        self.delay(self.failures.record(item))
    }
    fn forget(&self, item: &T) {
        self.failures.forget(item)
    }
    fn num_requeues(&self, item: &T) -> u32 {
        self.failures.get(item)
    }
}

/// Per-item two-speed backoff: `fast` for the first `max_fast_attempts` retries, `slow` after.
#[doc(alias = "TypedItemFastSlowRateLimiter")]
pub struct ItemFastSlowRateLimiter<T> {
    fast: Duration,
    slow: Duration,
    max_fast_attempts: u32,
    failures: Failures<T>,
}

impl<T: Clone + Eq + Hash> ItemFastSlowRateLimiter<T> {
    /// Wait `fast` for the first `max_fast_attempts` retries of an item, then `slow`.
    pub fn new(fast: Duration, slow: Duration, max_fast_attempts: u32) -> Self {
        Self {
            fast,
            slow,
            max_fast_attempts,
            failures: Failures::new(),
        }
    }
}

impl<T> fmt::Debug for ItemFastSlowRateLimiter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ItemFastSlowRateLimiter")
            .field("fast", &self.fast)
            .field("slow", &self.slow)
            .field("max_fast_attempts", &self.max_fast_attempts)
            .finish_non_exhaustive()
    }
}

impl<T: Clone + Eq + Hash + Send + Sync> RateLimiter<T> for ItemFastSlowRateLimiter<T> {
    fn when(&self, item: &T) -> Duration {
        if self.failures.record(item) < self.max_fast_attempts {
            self.fast
        } else {
            self.slow
        }
    }
    fn forget(&self, item: &T) {
        self.failures.forget(item)
    }
    fn num_requeues(&self, item: &T) -> u32 {
        self.failures.get(item)
    }
}

/// An overall token bucket, shared by all items: `qps` tokens per second, at most `burst`
/// saved up.
///
/// [`when`](RateLimiter::when) reserves a token and returns how long until it is available, as
/// `golang.org/x/time/rate`'s `Limiter.Reserve().Delay()` does: the bucket can go into debt, so
/// the 101st call in a burst of 100 at 10 qps waits 100ms, the 102nd 200ms, and so on.
/// It does not track items: [`num_requeues`](RateLimiter::num_requeues) is always 0.
#[doc(alias = "TypedBucketRateLimiter")]
#[derive(Debug)]
pub struct BucketRateLimiter {
    qps: f64,
    burst: f64,
    bucket: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    /// Tokens available at `last`; negative when reservations are outstanding.
    tokens: f64,
    last: Option<Instant>,
}

impl BucketRateLimiter {
    /// A full bucket refilling at `qps` tokens per second, holding at most `burst` tokens.
    ///
    /// # Panics
    /// If `qps` is not a positive finite number.
    pub fn new(qps: f64, burst: u32) -> Self {
        assert!(
            qps.is_finite() && qps > 0.0,
            "BucketRateLimiter qps must be positive, got {qps}"
        );
        Self {
            qps,
            burst: f64::from(burst),
            bucket: Mutex::new(Bucket {
                tokens: f64::from(burst),
                last: None,
            }),
        }
    }

    /// Reserves one token at `now` and returns how long until it is available.
    fn reserve(&self, now: Instant) -> Duration {
        let mut b = self.bucket.lock();
        let elapsed = b
            .last
            .map_or(Duration::ZERO, |last| now.saturating_duration_since(last));
        let tokens = (b.tokens + elapsed.as_secs_f64() * self.qps).min(self.burst) - 1.0;
        b.tokens = tokens;
        // Like x/time/rate, only move `last` forward so a stale `now` cannot mint tokens.
        if b.last.is_none_or(|last| now > last) {
            b.last = Some(now);
        }
        if tokens >= 0.0 {
            Duration::ZERO
        } else {
            // Round to whole nanoseconds so that 1 token at 10 qps is exactly 100ms.
            Duration::from_nanos((-tokens / self.qps * 1e9).round() as u64)
        }
    }
}

impl Default for BucketRateLimiter {
    /// 10 qps with a burst of 100, as client-go's default controller limiter.
    fn default() -> Self {
        Self::new(10.0, 100)
    }
}

impl<T> RateLimiter<T> for BucketRateLimiter {
    fn when(&self, _item: &T) -> Duration {
        self.reserve(Instant::now())
    }
    fn forget(&self, _item: &T) {}
    fn num_requeues(&self, _item: &T) -> u32 {
        0
    }
}

/// The most restrictive of several limiters: the longest wait and the highest requeue count.
///
/// Every limiter sees every call, so each keeps its own count.
#[doc(alias = "TypedMaxOfRateLimiter")]
pub struct MaxOfRateLimiter<T> {
    limiters: Vec<Box<dyn RateLimiter<T>>>,
}

impl<T> MaxOfRateLimiter<T> {
    /// The maximum of `limiters`. With no limiters, items never wait.
    pub fn new(limiters: Vec<Box<dyn RateLimiter<T>>>) -> Self {
        Self { limiters }
    }
}

impl<T> fmt::Debug for MaxOfRateLimiter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaxOfRateLimiter")
            .field("limiters", &self.limiters.len())
            .finish()
    }
}

impl<T> RateLimiter<T> for MaxOfRateLimiter<T> {
    fn when(&self, item: &T) -> Duration {
        self.limiters
            .iter()
            .map(|l| l.when(item))
            .max()
            .unwrap_or(Duration::ZERO)
    }
    fn forget(&self, item: &T) {
        for l in &self.limiters {
            l.forget(item);
        }
    }
    fn num_requeues(&self, item: &T) -> u32 {
        self.limiters
            .iter()
            .map(|l| l.num_requeues(item))
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn exponential_doubles_until_capped() {
        let l = ItemExponentialRateLimiter::new(MS, 10 * MS);
        let waits: Vec<_> = (0..6).map(|_| l.when(&"a")).collect();
        assert_eq!(waits, [MS, 2 * MS, 4 * MS, 8 * MS, 10 * MS, 10 * MS]);
        assert_eq!(l.num_requeues(&"a"), 6);
        assert_eq!(l.when(&"b"), MS, "items are independent");
        l.forget(&"a");
        assert_eq!(l.num_requeues(&"a"), 0);
        assert_eq!(l.when(&"a"), MS);
    }

    #[test]
    fn exponential_never_overflows() {
        let l = ItemExponentialRateLimiter::<u8>::new(Duration::from_secs(u64::MAX / 2), Duration::MAX);
        assert_eq!(l.delay(0), Duration::from_secs(u64::MAX / 2));
        assert_eq!(l.delay(2), Duration::MAX);
        let d = ItemExponentialRateLimiter::<u8>::default();
        assert_eq!(d.delay(31), Duration::from_secs(1000));
        assert_eq!(d.delay(32), Duration::from_secs(1000));
        assert_eq!(d.delay(u32::MAX), Duration::from_secs(1000));
        assert_eq!(
            d.delay(17),
            Duration::from_millis(5 << 17).min(Duration::from_secs(1000))
        );
    }

    #[test]
    fn fast_slow_switches_after_max_fast_attempts() {
        let l = ItemFastSlowRateLimiter::new(MS, Duration::from_secs(1), 2);
        let waits: Vec<_> = (0..4).map(|_| l.when(&1)).collect();
        assert_eq!(waits, [MS, MS, Duration::from_secs(1), Duration::from_secs(1)]);
        assert_eq!(l.num_requeues(&1), 4);
        l.forget(&1);
        assert_eq!(l.when(&1), MS);
    }

    #[test]
    fn bucket_refills_at_qps_up_to_burst() {
        let l = BucketRateLimiter::new(10.0, 2);
        let t0 = Instant::now();
        assert_eq!(l.reserve(t0), Duration::ZERO);
        assert_eq!(l.reserve(t0), Duration::ZERO);
        assert_eq!(l.reserve(t0), 100 * MS);
        assert_eq!(l.reserve(t0), 200 * MS);
        // 300ms later the debt of 2 tokens is repaid and one token is available.
        let t1 = t0 + 300 * MS;
        assert_eq!(l.reserve(t1), Duration::ZERO);
        assert_eq!(l.reserve(t1), 100 * MS);
        // A long pause refills at most `burst` tokens.
        let t2 = t1 + Duration::from_secs(3600);
        assert_eq!(l.reserve(t2), Duration::ZERO);
        assert_eq!(l.reserve(t2), Duration::ZERO);
        assert_eq!(l.reserve(t2), 100 * MS);
    }

    #[test]
    fn max_of_takes_longest_wait_and_highest_count() {
        let l: MaxOfRateLimiter<&str> = MaxOfRateLimiter::new(vec![
            Box::new(ItemFastSlowRateLimiter::new(MS, Duration::from_secs(3), 1)),
            Box::new(ItemExponentialRateLimiter::new(MS, Duration::from_secs(1000))),
        ]);
        assert_eq!(l.when(&"x"), MS);
        assert_eq!(l.when(&"x"), Duration::from_secs(3));
        assert_eq!(l.num_requeues(&"x"), 2);
        l.forget(&"x");
        assert_eq!(l.num_requeues(&"x"), 0);
        assert_eq!(l.when(&"x"), MS);
        assert_eq!(MaxOfRateLimiter::<u8>::new(vec![]).when(&0), Duration::ZERO);
    }
}
