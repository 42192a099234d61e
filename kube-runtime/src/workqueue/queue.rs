//! The work queue itself: FIFO with de-duplication, a processing set and shut down.
//!
//! The counterpart of client-go's `util/workqueue/queue.go` and `rate_limiting_queue.go`; the
//! delayed adds live in [`delaying`](super::delaying).

use std::collections::hash_map::Entry as MapEntry;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::hash::Hash;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::delaying::{self, Waiting};
use super::metrics::{MetricsCollector, MetricsSnapshot, QueueMetrics, Recorder, Source};
use super::rate_limiter::{RateLimiter, default_controller_rate_limiter};

/// How to build a [`WorkQueue`].
///
/// ```
/// use std::time::Duration;
/// use kube_runtime::workqueue::{ItemExponentialRateLimiter, QueueConfig, WorkQueue};
///
/// let queue: WorkQueue<String> = WorkQueue::new(
///     QueueConfig::default()
///         .name("configmaps")
///         .rate_limiter(ItemExponentialRateLimiter::new(
///             Duration::from_millis(100),
///             Duration::from_secs(60),
///         )),
/// );
/// # drop(queue);
/// ```
#[doc(alias = "RateLimitingQueueConfig")]
#[doc(alias = "TypedRateLimitingQueueConfig")]
pub struct QueueConfig<T> {
    /// The queue's name: the `name` label of its metrics. Empty if `None`.
    pub name: Option<String>,
    /// Decides the delay of [`WorkQueue::add_rate_limited`]. Defaults to
    /// [`default_controller_rate_limiter`].
    pub rate_limiter: Box<dyn RateLimiter<T>>,
    /// Whether the queue records [metrics](super::metrics) (default `true`). When off, every
    /// metric stays zero and the queue never reads the clock.
    pub metrics: bool,
    /// Where the metrics are exported, if anywhere (default `None`).
    pub collector: Option<MetricsCollector>,
}

impl<T> QueueConfig<T> {
    /// Sets [`name`](Self::name).
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets [`rate_limiter`](Self::rate_limiter).
    #[must_use]
    pub fn rate_limiter(mut self, limiter: impl RateLimiter<T> + 'static) -> Self {
        self.rate_limiter = Box::new(limiter);
        self
    }

    /// Sets [`metrics`](Self::metrics).
    #[must_use]
    pub fn metrics(mut self, enabled: bool) -> Self {
        self.metrics = enabled;
        self
    }

    /// Sets [`collector`](Self::collector).
    #[must_use]
    pub fn collector(mut self, collector: &MetricsCollector) -> Self {
        self.collector = Some(collector.clone());
        self
    }
}

impl<T> Default for QueueConfig<T>
where
    T: Clone + Eq + Hash + Send + Sync + 'static,
{
    fn default() -> Self {
        Self {
            name: None,
            rate_limiter: Box::new(default_controller_rate_limiter()),
            metrics: true,
            collector: None,
        }
    }
}

impl<T> fmt::Debug for QueueConfig<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueConfig")
            .field("name", &self.name)
            .field("metrics", &self.metrics)
            .field("collector", &self.collector)
            .finish_non_exhaustive()
    }
}

/// A rate-limited work queue with client-go's semantics; a cheap-to-clone handle.
///
/// - **FIFO, de-duplicated**: items are handed out in the order they were added; adding an item
///   that is already waiting does nothing.
/// - **One worker per item**: [`get`](Self::get) moves an item to the *processing* set until
///   [`done`](Self::done). Adding it meanwhile marks it *dirty*: it is queued again, once, when
///   `done` is called, so it is never handed to two workers at once.
/// - **Delays**: [`add_after`](Self::add_after) adds an item once a delay has passed (the earliest
///   of several pending delays wins); [`add_rate_limited`](Self::add_rate_limited) takes the
///   delay from the [`RateLimiter`], [`forget`](Self::forget) resets it after a success.
/// - **Shut down**: [`shut_down`](Self::shut_down) ignores further adds and drops pending delayed
///   adds; `get` still hands out the items already queued and returns `None` once the queue is
///   empty. [`shut_down_with_drain`](Self::shut_down_with_drain) also waits for the items being
///   processed.
///
/// `get`, delays and metrics use Tokio time, so tests can run under `tokio::time::pause()`.
/// Delayed adds are moved into the queue by a small task, spawned on the current Tokio runtime by
/// the first `get` or `add_after` called within one; it ends when the queue shuts down or is
/// dropped.
#[doc(alias = "workqueue")]
#[doc(alias = "Interface")]
#[doc(alias = "TypedInterface")]
#[doc(alias = "DelayingInterface")]
#[doc(alias = "RateLimitingInterface")]
#[doc(alias = "TypedRateLimitingInterface")]
pub struct WorkQueue<T> {
    pub(super) inner: Arc<Inner<T>>,
}

impl<T> Clone for WorkQueue<T> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T> fmt::Debug for WorkQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.inner.state.lock();
        f.debug_struct("WorkQueue")
            .field("name", &self.inner.metrics.name())
            .field("len", &st.queue.len())
            .field("processing", &st.processing())
            .field("delayed", &st.waiting.len())
            .field("shutting_down", &st.shutting_down)
            .finish()
    }
}

impl<T> Default for WorkQueue<T>
where
    T: Clone + Eq + Hash + Send + Sync + 'static,
{
    /// An unnamed queue with [`default_controller_rate_limiter`] and metrics on.
    fn default() -> Self {
        Self::new(QueueConfig::default())
    }
}

pub(super) struct Inner<T> {
    pub(super) state: Mutex<State<T>>,
    /// Upper bound of the workers blocked in `get`: adds only notify when it is non-zero.
    waiters: AtomicUsize,
    /// Wakes a worker blocked in `get`.
    item_ready: Notify,
    /// Wakes `shut_down_with_drain` when the last item being processed is done.
    drained: Notify,
    /// Wakes the delay task: a new earliest deadline, shut down or drop.
    pub(super) timer: Arc<Notify>,
    rate_limiter: Box<dyn RateLimiter<T>>,
    /// Whether metrics are recorded (and the clock read).
    pub(super) metrics_on: bool,
    pub(super) metrics: QueueMetrics,
}

impl<T> Drop for Inner<T> {
    fn drop(&mut self) {
        // Let the delay task notice that the queue is gone.
        self.timer.notify_one();
    }
}

/// Everything behind the queue's lock.
pub(super) struct State<T> {
    /// Items to hand out, in order. Each has an entry in `items` with `dirty` set and no slot.
    queue: VecDeque<T>,
    /// Every item that is queued, being processed, or both (processing and dirty).
    items: HashMap<T, Entry>,
    /// Start times of the items being processed, indexed by [`Entry::slot`]; `None` when free or
    /// when metrics are off. As long as the most workers ever active at once.
    in_flight: Vec<Option<Instant>>,
    /// Free indices of `in_flight`.
    free_slots: Vec<u32>,
    pub(super) shutting_down: bool,
    /// Set by `shut_down_with_drain`, cleared by `shut_down`.
    draining: bool,
    /// Delayed adds.
    pub(super) waiting: Waiting<T>,
    /// Whether the delay task was spawned.
    pub(super) timer_started: bool,
    pub(super) metrics: Recorder,
}

#[derive(Debug)]
struct Entry {
    /// The item needs (more) processing: it is queued, or will be when it is done.
    dirty: bool,
    /// When the item became dirty, if metrics are on.
    added: Option<Instant>,
    /// The item's index in `in_flight` while it is being processed.
    slot: Option<u32>,
}

/// What an add did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Added {
    /// The queue is shutting down.
    Ignored,
    /// The item was already dirty.
    Collapsed,
    /// The item is being processed; it will be queued when done.
    Deferred,
    /// The item was queued.
    Queued,
}

/// What `done` did to an item that was being processed.
struct Finished {
    started: Option<Instant>,
    requeued: bool,
}

impl<T: Clone + Eq + Hash> State<T> {
    fn new(metrics: bool) -> Self {
        Self {
            queue: VecDeque::new(),
            items: HashMap::new(),
            in_flight: Vec::new(),
            free_slots: Vec::new(),
            shutting_down: false,
            draining: false,
            waiting: Waiting::default(),
            timer_started: false,
            metrics: Recorder::new(metrics),
        }
    }

    fn add(&mut self, item: T, now: Option<Instant>) -> Added {
        if self.shutting_down {
            return Added::Ignored;
        }
        match self.items.entry(item) {
            MapEntry::Occupied(mut e) => {
                let entry = e.get_mut();
                if entry.dirty {
                    return Added::Collapsed;
                }
                // Not dirty yet has an entry: it is being processed.
                entry.dirty = true;
                entry.added = now;
                Added::Deferred
            }
            MapEntry::Vacant(e) => {
                self.queue.push_back(e.key().clone());
                e.insert(Entry {
                    dirty: true,
                    added: now,
                    slot: None,
                });
                Added::Queued
            }
        }
    }

    /// Hands out the first item: returns it and when it was added.
    fn pop(&mut self, now: Option<Instant>) -> Option<(T, Option<Instant>)> {
        let item = self.queue.pop_front()?;
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                self.in_flight[slot as usize] = now;
                slot
            }
            None => {
                self.in_flight.push(now);
                u32::try_from(self.in_flight.len() - 1).expect("fewer than 2^32 workers")
            }
        };
        let entry = self.items.get_mut(&item).expect("every queued item has an entry");
        entry.dirty = false;
        entry.slot = Some(slot);
        let added = entry.added.take();
        Some((item, added))
    }

    /// Ends the processing of `item`; `None` if it was not being processed.
    fn done(&mut self, item: &T) -> Option<Finished> {
        // Usually the item is finished for good: remove first, one hash lookup.
        let (key, mut entry) = self.items.remove_entry(item)?;
        let Some(slot) = entry.slot.take() else {
            // Not being processed (a misplaced `done`): leave it as it was.
            self.items.insert(key, entry);
            return None;
        };
        let started = self.in_flight[slot as usize].take();
        self.free_slots.push(slot);
        let requeued = entry.dirty;
        if requeued {
            self.queue.push_back(key.clone());
            self.items.insert(key, entry);
        }
        Some(Finished { started, requeued })
    }
}

impl<T> State<T> {
    pub(super) fn processing(&self) -> usize {
        self.in_flight.len() - self.free_slots.len()
    }
}

impl<T> Source for Inner<T>
where
    T: Clone + Eq + Hash + Send + Sync + 'static,
{
    fn snapshot(&self, now: Instant) -> MetricsSnapshot {
        let st = self.state.lock();
        let (unfinished, longest) =
            st.in_flight
                .iter()
                .flatten()
                .fold((Duration::ZERO, Duration::ZERO), |(sum, max), start| {
                    let age = now.saturating_duration_since(*start);
                    (sum + age, max.max(age))
                });
        st.metrics.snapshot(unfinished, longest)
    }
}

impl<T> Inner<T>
where
    T: Clone + Eq + Hash + Send + Sync + 'static,
{
    /// The current time if metrics need it.
    fn now(&self) -> Option<Instant> {
        self.metrics_on.then(Instant::now)
    }

    /// Adds under the lock; returns whether a worker should be woken.
    pub(super) fn add_locked(&self, st: &mut State<T>, item: T, now: Option<Instant>) -> bool {
        match st.add(item, now) {
            Added::Ignored | Added::Collapsed => false,
            Added::Deferred => {
                st.metrics.added();
                false
            }
            Added::Queued => {
                st.metrics.added();
                self.waiters.load(Ordering::Relaxed) > 0
            }
        }
    }

    /// Wakes up to `n` workers blocked in `get`.
    pub(super) fn wake_workers(&self, n: usize) {
        for _ in 0..n {
            self.item_ready.notify_one();
        }
    }

    /// Marks the queue as shutting down and wakes everyone who waits for something.
    fn begin_shut_down(&self, drain: bool) {
        {
            let mut st = self.state.lock();
            st.shutting_down = true;
            st.draining = drain;
            st.waiting.clear();
        }
        self.item_ready.notify_waiters();
        self.drained.notify_waiters();
        self.timer.notify_one();
    }
}

/// Decrements the waiter count when a blocked `get` wakes up or is cancelled.
struct WaiterGuard<'a>(&'a AtomicUsize);

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<T> WorkQueue<T>
where
    T: Clone + Eq + Hash + Send + Sync + 'static,
{
    /// A queue configured by `config`.
    #[doc(alias = "NewRateLimitingQueue")]
    #[doc(alias = "NewTypedRateLimitingQueueWithConfig")]
    pub fn new(config: QueueConfig<T>) -> Self {
        let metrics = QueueMetrics::new(config.name.unwrap_or_default());
        if let Some(collector) = &config.collector {
            collector.add(&metrics);
        }
        let inner = Arc::new(Inner {
            state: Mutex::new(State::new(config.metrics)),
            waiters: AtomicUsize::new(0),
            item_ready: Notify::new(),
            drained: Notify::new(),
            timer: Arc::new(Notify::new()),
            rate_limiter: config.rate_limiter,
            metrics_on: config.metrics,
            metrics,
        });
        let weak = Arc::downgrade(&inner);
        inner.metrics.set_source(weak);
        Self { inner }
    }

    /// Adds `item` unless it is already waiting or the queue is shutting down. If it is being
    /// processed, it is handed out again after [`done`](Self::done).
    #[doc(alias = "Add")]
    pub fn add(&self, item: T) {
        let now = self.inner.now();
        let wake = {
            let mut st = self.inner.state.lock();
            self.inner.add_locked(&mut st, item, now)
        };
        if wake {
            self.inner.item_ready.notify_one();
        }
    }

    /// Adds `item` after the delay the rate limiter gives it (which counts as one requeue).
    #[doc(alias = "AddRateLimited")]
    pub fn add_rate_limited(&self, item: T) {
        let delay = self.inner.rate_limiter.when(&item);
        self.add_after(item, delay);
    }

    /// Tells the rate limiter that `item` succeeded: its backoff starts over. Does not remove the
    /// item from the queue.
    #[doc(alias = "Forget")]
    pub fn forget(&self, item: &T) {
        self.inner.rate_limiter.forget(item);
    }

    /// How often `item` was rate limited since it was last forgotten.
    #[doc(alias = "NumRequeues")]
    pub fn num_requeues(&self, item: &T) -> u32 {
        self.inner.rate_limiter.num_requeues(item)
    }

    /// Waits for an item and hands it out; the caller processes it and then calls
    /// [`done`](Self::done).
    ///
    /// After shut down the items still queued are handed out; `None` is returned once the queue
    /// is empty (as client-go's `Get` returns `shutdown = true`). Cancel-safe: dropping the
    /// future loses no item.
    #[doc(alias = "Get")]
    pub async fn get(&self) -> Option<T> {
        let inner = &*self.inner;
        loop {
            let mut notified = pin!(inner.item_ready.notified());
            let now = inner.now();
            {
                let mut st = inner.state.lock();
                if !st.timer_started {
                    // From now on `add_after` works from any thread, even outside the runtime.
                    delaying::start_timer(&self.inner, &mut st);
                }
                if let Some((item, added)) = st.pop(now) {
                    let waited = added.zip(now).map(|(a, n)| n.saturating_duration_since(a));
                    st.metrics.got(waited);
                    return Some(item);
                }
                if st.shutting_down {
                    return None;
                }
                // Registered under the lock: an add after we unlock will find us.
                notified.as_mut().enable();
                inner.waiters.fetch_add(1, Ordering::Relaxed);
            }
            let _waiting = WaiterGuard(&inner.waiters);
            notified.await;
        }
    }

    /// Marks the processing of `item` as finished. If it was added meanwhile, it is queued
    /// again. Has no effect on an item that is not being processed.
    #[doc(alias = "Done")]
    pub fn done(&self, item: &T) {
        let now = self.inner.now();
        let (wake, drained) = {
            let mut st = self.inner.state.lock();
            let Some(finished) = st.done(item) else {
                return;
            };
            if let (Some(started), Some(now)) = (finished.started, now) {
                st.metrics.done(now.saturating_duration_since(started));
            }
            let wake = finished.requeued && self.inner.waiters.load(Ordering::Relaxed) > 0;
            (wake, st.draining && st.processing() == 0)
        };
        if wake {
            self.inner.item_ready.notify_one();
        }
        if drained {
            self.inner.drained.notify_waiters();
        }
    }

    /// Number of items waiting to be handed out; items being processed and delayed adds are not
    /// counted.
    #[doc(alias = "Len")]
    pub fn len(&self) -> usize {
        self.inner.state.lock().queue.len()
    }

    /// Whether no item is waiting to be handed out.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stops accepting adds and drops the pending delayed adds. Workers blocked in
    /// [`get`](Self::get) get `None`; items already queued are still handed out.
    #[doc(alias = "ShutDown")]
    pub fn shut_down(&self) {
        self.inner.begin_shut_down(false);
    }

    /// Like [`shut_down`](Self::shut_down), then waits until no item is being processed (every
    /// item handed out is [`done`](Self::done)). A concurrent `shut_down` stops the wait.
    #[doc(alias = "ShutDownWithDrain")]
    pub async fn shut_down_with_drain(&self) {
        self.inner.begin_shut_down(true);
        loop {
            let mut notified = pin!(self.inner.drained.notified());
            {
                let st = self.inner.state.lock();
                if !st.draining || st.processing() == 0 {
                    return;
                }
                notified.as_mut().enable();
            }
            notified.await;
        }
    }

    /// Whether [`shut_down`](Self::shut_down) or [`shut_down_with_drain`](Self::shut_down_with_drain)
    /// was called.
    #[doc(alias = "ShuttingDown")]
    pub fn is_shutting_down(&self) -> bool {
        self.inner.state.lock().shutting_down
    }

    /// This queue's metrics.
    pub fn metrics(&self) -> &QueueMetrics {
        &self.inner.metrics
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> Option<Instant> {
        Some(Instant::now())
    }

    #[test]
    fn state_dedups_and_defers_processing_items() {
        let mut st = State::new(true);
        assert_eq!(st.add("a", t0()), Added::Queued);
        assert_eq!(st.add("b", t0()), Added::Queued);
        assert_eq!(st.add("a", t0()), Added::Collapsed);
        let (a, added) = st.pop(t0()).unwrap();
        assert_eq!(a, "a");
        assert!(added.is_some());
        assert_eq!(st.processing(), 1);
        assert_eq!(st.add("a", t0()), Added::Deferred);
        assert_eq!(st.add("a", t0()), Added::Collapsed);
        assert_eq!(st.pop(None).map(|(i, _)| i), Some("b"));
        assert!(st.pop(None).is_none(), "a is not handed out while processing");
        let finished = st.done(&"a").unwrap();
        assert!(finished.requeued);
        assert!(finished.started.is_some());
        assert_eq!(st.pop(None).map(|(i, _)| i), Some("a"));
        assert!(st.done(&"a").is_some_and(|f| !f.requeued));
        assert!(st.done(&"a").is_none(), "done twice is ignored");
        assert!(st.done(&"b").is_some());
        assert_eq!(st.processing(), 0);
        assert!(st.items.is_empty());
        assert_eq!(st.in_flight.len(), 2, "slots are reused, not freed");
    }

    #[test]
    fn done_on_a_queued_item_is_ignored() {
        let mut st = State::new(true);
        st.add(1, None);
        assert!(st.done(&1).is_none());
        assert_eq!(st.queue.len(), 1);
    }

    #[test]
    fn shutting_down_ignores_adds() {
        let mut st = State::new(true);
        st.shutting_down = true;
        assert_eq!(st.add(1, None), Added::Ignored);
        assert!(st.queue.is_empty());
    }
}
