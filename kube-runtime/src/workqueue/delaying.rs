//! Delayed adds: [`WorkQueue::add_after`] and the task that moves due items into the queue.
//!
//! The counterpart of client-go's `util/workqueue/delaying_queue.go`. Pending adds are kept in a
//! min-heap by ready time plus a map from item to its earliest ready time, so several
//! `add_after` calls for one item keep only the earliest (client-go's `waitingForQueue`).
//! A Tokio task sleeps until the earliest ready time, then adds every due item.

use std::cmp::Ordering;
use std::collections::hash_map::Entry as MapEntry;
use std::collections::{BinaryHeap, HashMap};
use std::hash::Hash;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::queue::{Inner, State, WorkQueue};

/// Items waiting for their ready time.
pub(super) struct Waiting<T> {
    /// Min-heap by `(ready, seq)`. May hold stale entries (superseded by an earlier ready time);
    /// an entry is live when `ready_at[item].seq == seq`.
    heap: BinaryHeap<Pending<T>>,
    /// The earliest ready time of every waiting item, with the `seq` of its live heap entry.
    ready_at: HashMap<T, (Instant, u64)>,
    next_seq: u64,
}

impl<T> Default for Waiting<T> {
    fn default() -> Self {
        Self {
            heap: BinaryHeap::new(),
            ready_at: HashMap::new(),
            next_seq: 0,
        }
    }
}

struct Pending<T> {
    ready: Instant,
    /// Insertion order: ties on `ready` come out first in, first out.
    seq: u64,
    item: T,
}

impl<T> PartialEq for Pending<T> {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
    }
}

impl<T> Eq for Pending<T> {}

impl<T> PartialOrd for Pending<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Pending<T> {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.ready, other.seq).cmp(&(self.ready, self.seq))
    }
}

impl<T: Clone + Eq + Hash> Waiting<T> {
    /// Makes `item` ready at `ready` unless it is already waiting for an earlier time.
    /// Returns whether `ready` is now the earliest deadline of all.
    pub(super) fn insert(&mut self, item: T, ready: Instant) -> bool {
        let seq = self.next_seq;
        match self.ready_at.entry(item) {
            MapEntry::Occupied(e) if e.get().0 <= ready => return false,
            MapEntry::Occupied(mut e) => {
                let item = e.key().clone();
                e.insert((ready, seq));
                self.heap.push(Pending { ready, seq, item });
            }
            MapEntry::Vacant(e) => {
                let item = e.key().clone();
                e.insert((ready, seq));
                self.heap.push(Pending { ready, seq, item });
            }
        }
        self.next_seq += 1;
        self.heap.peek().is_some_and(|p| p.seq == seq)
    }

    /// Removes and returns an item whose ready time is not after `now`, earliest first.
    pub(super) fn pop_due(&mut self, now: Instant) -> Option<T> {
        while self.heap.peek().is_some_and(|p| p.ready <= now) {
            let p = self.heap.pop()?;
            if self.ready_at.get(&p.item).is_some_and(|&(_, seq)| seq == p.seq) {
                self.ready_at.remove(&p.item);
                return Some(p.item);
            }
        }
        None
    }

    /// When to look again: the earliest entry of the heap (possibly a stale one, which only
    /// makes the task wake up early).
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|p| p.ready)
    }
}

impl<T> Waiting<T> {
    /// Number of items waiting.
    pub(super) fn len(&self) -> usize {
        self.ready_at.len()
    }

    pub(super) fn clear(&mut self) {
        self.heap.clear();
        self.ready_at.clear();
    }
}

impl<T> WorkQueue<T>
where
    T: Clone + Eq + Hash + Send + Sync + 'static,
{
    /// Adds `item` once `delay` has passed (Tokio time). A zero delay adds at once. If the item
    /// is already waiting for a delay, the earlier ready time wins. Ignored after shut down;
    /// pending delayed adds are dropped by shut down.
    ///
    /// Counts one retry in the metrics.
    #[doc(alias = "AddAfter")]
    pub fn add_after(&self, item: T, delay: Duration) {
        let inner = &self.inner;
        let now = Instant::now();
        let mut st = inner.state.lock();
        if st.shutting_down {
            return;
        }
        st.metrics.retried();
        if delay.is_zero() {
            let metrics_now = inner.metrics_on.then_some(now);
            let wake = inner.add_locked(&mut st, item, metrics_now);
            drop(st);
            inner.wake_workers(usize::from(wake));
            return;
        }
        // Saturate absurd delays (e.g. `Duration::MAX`) at roughly 30 years.
        let ready = now
            .checked_add(delay)
            .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30));
        let earliest = st.waiting.insert(item, ready);
        if !st.timer_started {
            start_timer(inner, &mut st);
        } else if earliest {
            drop(st);
            inner.timer.notify_one();
        }
    }
}

/// Spawns the delay task on the current Tokio runtime, if there is one; otherwise the next
/// [`WorkQueue::get`] or [`WorkQueue::add_after`] tries again.
pub(super) fn start_timer<T>(inner: &Arc<Inner<T>>, st: &mut State<T>)
where
    T: Clone + Eq + Hash + Send + Sync + 'static,
{
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    st.timer_started = true;
    runtime.spawn(run_timer(Arc::downgrade(inner), Arc::clone(&inner.timer)));
}

/// Moves due items into the queue until the queue shuts down or is dropped.
async fn run_timer<T>(queue: Weak<Inner<T>>, wake: Arc<Notify>)
where
    T: Clone + Eq + Hash + Send + Sync + 'static,
{
    loop {
        let deadline = {
            let Some(inner) = queue.upgrade() else {
                return;
            };
            let now = Instant::now();
            let metrics_now = inner.metrics_on.then_some(now);
            let mut to_wake = 0;
            let deadline = {
                let mut st = inner.state.lock();
                if st.shutting_down {
                    return;
                }
                while let Some(item) = st.waiting.pop_due(now) {
                    to_wake += usize::from(inner.add_locked(&mut st, item, metrics_now));
                }
                st.waiting.next_deadline()
            };
            inner.wake_workers(to_wake);
            deadline
        };
        // `wake` keeps a permit if notified while we were busy: no wake-up is lost.
        match deadline {
            Some(deadline) => {
                tokio::select! {
                    () = tokio::time::sleep_until(deadline) => {}
                    () = wake.notified() => {}
                }
            }
            None => wake.notified().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_ready_time_wins() {
        let t = Instant::now();
        let ms = Duration::from_millis;
        let mut w = Waiting::default();
        assert!(w.insert("a", t + ms(50)));
        assert!(!w.insert("b", t + ms(60)));
        assert!(
            !w.insert("a", t + ms(70)),
            "later time for a waiting item is ignored"
        );
        assert!(w.insert("b", t + ms(10)), "earlier time replaces it");
        assert_eq!(w.len(), 2);
        assert_eq!(w.next_deadline(), Some(t + ms(10)));
        assert_eq!(w.pop_due(t + ms(9)), None);
        assert_eq!(w.pop_due(t + ms(55)), Some("b"));
        assert_eq!(w.pop_due(t + ms(55)), Some("a"));
        // The stale entry of b (60ms) is skipped.
        assert_eq!(w.pop_due(t + ms(100)), None);
        assert_eq!(w.len(), 0);
        assert_eq!(w.next_deadline(), None);
    }

    #[test]
    fn ties_come_out_in_insertion_order() {
        let t = Instant::now();
        let mut w = Waiting::default();
        for i in 0..5 {
            w.insert(i, t);
        }
        let out: Vec<_> = std::iter::from_fn(|| w.pop_due(t)).collect();
        assert_eq!(out, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn an_item_can_wait_again_after_it_was_due() {
        let t = Instant::now();
        let mut w = Waiting::default();
        w.insert(1, t);
        assert_eq!(w.pop_due(t), Some(1));
        w.insert(1, t + Duration::from_secs(1));
        assert_eq!(w.pop_due(t), None);
        assert_eq!(w.pop_due(t + Duration::from_secs(1)), Some(1));
    }
}
