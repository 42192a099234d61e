//! The scheduling queue's active part, in kube-scheduler's `PrioritySort` order: pods with a
//! higher `spec.priority` first, and among equals the one queued first. Delayed adds (backoff,
//! the periodic retry of unschedulable pods) wait in a timer list served by one task.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use kube_runtime::reflector::ObjectKey;
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

#[derive(Debug, PartialEq, Eq)]
struct Entry {
    priority: i32,
    seq: u64,
    key: ObjectKey,
}

impl Ord for Entry {
    /// The heap's greatest entry is served first: highest priority, then lowest sequence.
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority
            .cmp(&other.priority)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Default)]
struct State {
    heap: BinaryHeap<Entry>,
    queued: HashSet<ObjectKey>,
    /// Delayed adds by due time; `waiting` holds each key's due time (the earliest wins).
    timers: BTreeMap<(Instant, u64), (ObjectKey, i32)>,
    waiting: HashMap<ObjectKey, (Instant, u64)>,
    seq: u64,
    shut_down: bool,
}

/// Pods waiting for a scheduling cycle, best first.
#[derive(Default)]
pub struct SchedulingQueue {
    state: Mutex<State>,
    ready: Notify,
    timer: Notify,
}

impl SchedulingQueue {
    /// An empty queue. Delayed adds need [`run_timers`](Self::run_timers) running.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Queues `key` with `priority` now, unless it is queued already.
    pub fn add(&self, key: ObjectKey, priority: i32) {
        let mut st = self.state.lock();
        if st.shut_down || !st.queued.insert(key.clone()) {
            return;
        }
        st.seq += 1;
        let seq = st.seq;
        st.heap.push(Entry { priority, seq, key });
        drop(st);
        self.ready.notify_one();
    }

    /// Queues `key` once `delay` has passed; if it already waits for a delay, the earlier due
    /// time wins.
    pub fn add_after(&self, key: ObjectKey, priority: i32, delay: Duration) {
        if delay.is_zero() {
            return self.add(key, priority);
        }
        let due = Instant::now() + delay;
        let mut st = self.state.lock();
        if st.shut_down {
            return;
        }
        if let Some(&(at, seq)) = st.waiting.get(&key) {
            if at <= due {
                return;
            }
            st.timers.remove(&(at, seq));
        }
        st.seq += 1;
        let seq = st.seq;
        st.timers.insert((due, seq), (key.clone(), priority));
        st.waiting.insert(key, (due, seq));
        drop(st);
        self.timer.notify_one();
    }

    /// Takes the best queued pod, waiting for one; `None` once shut down.
    pub async fn pop(&self) -> Option<ObjectKey> {
        loop {
            let notified = self.ready.notified();
            {
                let mut st = self.state.lock();
                if st.shut_down {
                    return None;
                }
                if let Some(entry) = st.heap.pop() {
                    st.queued.remove(&entry.key);
                    return Some(entry.key);
                }
            }
            notified.await;
        }
    }

    /// How many pods are queued now (not counting delayed ones).
    pub fn len(&self) -> usize {
        self.state.lock().heap.len()
    }

    /// Whether no pod is queued now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stops the queue: `pop` returns `None`, adds are ignored, timers are dropped.
    pub fn shut_down(&self) {
        let mut st = self.state.lock();
        st.shut_down = true;
        st.heap.clear();
        st.queued.clear();
        st.timers.clear();
        st.waiting.clear();
        drop(st);
        self.ready.notify_waiters();
        self.timer.notify_one();
    }

    /// Moves delayed adds into the queue as they fall due, until `stop` fires or the queue is
    /// shut down.
    pub async fn run_timers(&self, stop: CancellationToken) {
        loop {
            let notified = self.timer.notified();
            let next = {
                let mut st = self.state.lock();
                if st.shut_down {
                    return;
                }
                let now = Instant::now();
                let mut due = Vec::new();
                while let Some(entry) = st.timers.first_entry() {
                    if entry.key().0 > now {
                        break;
                    }
                    let (key, priority) = entry.remove();
                    st.waiting.remove(&key);
                    due.push((key, priority));
                }
                let next = st.timers.keys().next().map(|(at, _)| *at);
                drop(st);
                for (key, priority) in due {
                    self.add(key, priority);
                }
                next
            };
            let sleep = async {
                match next {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = sleep => {}
                () = notified => {}
                () = stop.cancelled() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> ObjectKey {
        ObjectKey::namespaced("ns", name)
    }

    #[tokio::test]
    async fn higher_priority_first_then_first_come() {
        let q = SchedulingQueue::new();
        q.add(key("low-1"), 0);
        q.add(key("high"), 1000);
        q.add(key("low-2"), 0);
        q.add(key("low-1"), 5000); // already queued: keeps its place and priority
        q.add(key("negative"), -10);
        let mut order = Vec::new();
        for _ in 0..4 {
            order.push(q.pop().await.unwrap().name);
        }
        assert_eq!(order, ["high", "low-1", "low-2", "negative"]);
        assert!(q.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn delayed_adds_arrive_when_due_and_the_earliest_due_time_wins() {
        let q = SchedulingQueue::new();
        let stop = CancellationToken::new();
        let timers = tokio::spawn({
            let (q, stop) = (q.clone(), stop.clone());
            async move { q.run_timers(stop).await }
        });
        q.add_after(key("later"), 0, Duration::from_secs(300));
        q.add_after(key("soon"), 0, Duration::from_secs(2));
        q.add_after(key("later"), 0, Duration::from_secs(1)); // moves it earlier
        q.add_after(key("soon"), 0, Duration::from_secs(60)); // later: ignored
        tokio::time::sleep(Duration::from_millis(900)).await;
        assert!(q.is_empty());
        let start = Instant::now();
        assert_eq!(q.pop().await.unwrap().name, "later");
        assert_eq!(q.pop().await.unwrap().name, "soon");
        assert!(
            start.elapsed() <= Duration::from_millis(1200),
            "{:?}",
            start.elapsed()
        );
        // Nothing else was left behind: the superseded timers are gone.
        tokio::time::sleep(Duration::from_secs(400)).await;
        assert!(q.is_empty());
        q.shut_down();
        assert_eq!(q.pop().await, None);
        stop.cancel();
        timers.await.unwrap();
    }
}
