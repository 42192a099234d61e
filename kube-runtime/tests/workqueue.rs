//! Behaviour of `kube_runtime::workqueue` that controllers rely on, under paused Tokio time
//! (every duration below is exact) plus multi-threaded stress tests.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use kube_runtime::workqueue::{
    BucketRateLimiter, ItemExponentialRateLimiter, ItemFastSlowRateLimiter, MaxOfRateLimiter,
    MetricsCollector, QueueConfig, RateLimiter, WorkQueue,
};
use prometheus_client::registry::Registry;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::{Instant, advance, timeout};

const MS: Duration = Duration::from_millis(1);

fn queue<T: Clone + Eq + std::hash::Hash + Send + Sync + 'static>() -> WorkQueue<T> {
    WorkQueue::new(QueueConfig::default().name("test"))
}

/// Asserts that `get` hands out nothing within `wait` (paused time: advances by `wait`).
async fn assert_nothing_for<T: Clone + Eq + std::hash::Hash + Send + Sync + std::fmt::Debug + 'static>(
    q: &WorkQueue<T>,
    wait: Duration,
) {
    if let Ok(got) = timeout(wait, q.get()).await {
        panic!("expected nothing within {wait:?}, got {got:?}");
    }
}

/// Gets the next item and returns how long it took to arrive.
async fn get_timed<T: Clone + Eq + std::hash::Hash + Send + Sync + 'static>(
    q: &WorkQueue<T>,
) -> (T, Duration) {
    let start = Instant::now();
    let item = timeout(Duration::from_secs(3600), q.get())
        .await
        .expect("an item within an hour")
        .expect("queue not shut down");
    (item, start.elapsed())
}

#[tokio::test(start_paused = true)]
async fn hands_out_items_in_fifo_order() {
    let q = queue();
    for i in 0..5 {
        q.add(i);
    }
    assert_eq!(q.len(), 5);
    for i in 0..5 {
        assert_eq!(q.get().await, Some(i));
        q.done(&i);
    }
    assert!(q.is_empty());
}

#[tokio::test(start_paused = true)]
async fn duplicate_adds_of_a_waiting_item_collapse() {
    let q = queue();
    q.add("a");
    q.add("b");
    q.add("a");
    q.add("b");
    assert_eq!(q.len(), 2);
    assert_eq!(q.get().await, Some("a"));
    assert_eq!(q.get().await, Some("b"));
    assert!(q.is_empty());
    assert_nothing_for(&q, Duration::from_secs(1)).await;
    assert_eq!(q.metrics().adds_total(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_item_added_while_processing_is_handed_out_again_only_after_done() {
    let q = queue();
    q.add("a");
    assert_eq!(q.get().await, Some("a"));
    q.add("a");
    q.add("a");
    assert_eq!(q.len(), 0, "a processing item is not queued");
    assert_eq!(q.metrics().depth(), 1, "but counts as depth, like client-go");
    assert_nothing_for(&q, Duration::from_secs(1)).await;

    // A second worker waiting meanwhile gets it as soon as the first is done.
    let waiter = tokio::spawn({
        let q = q.clone();
        async move { q.get().await }
    });
    tokio::task::yield_now().await;
    q.done(&"a");
    assert_eq!(timeout(MS, waiter).await.unwrap().unwrap(), Some("a"));
    q.done(&"a");
    assert_nothing_for(&q, Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn done_without_re_add_does_not_requeue_and_extra_done_is_ignored() {
    let q = queue();
    q.add(7);
    assert_eq!(q.get().await, Some(7));
    q.done(&7);
    q.done(&7);
    q.add(8);
    q.done(&8); // not processing: ignored, and does not duplicate 8
    assert_eq!(q.len(), 1);
    assert_eq!(q.get().await, Some(8));
    assert_nothing_for(&q, Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_get_loses_nothing() {
    let q = queue();
    assert_nothing_for(&q, MS).await;
    assert_nothing_for(&q, MS).await;
    q.add(1);
    assert_eq!(timeout(MS, q.get()).await, Ok(Some(1)));
}

/// Many workers, random adds with frequent duplicates: no key is ever processed by two workers
/// at once, and every add is followed by a processing of its key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_key_is_processed_twice_concurrently_and_no_add_is_lost() {
    const KEYS: usize = 32;
    const ADDS: usize = 20_000;
    const WORKERS: usize = 16;
    let q: WorkQueue<usize> = queue();
    let busy: Arc<Vec<AtomicBool>> = Arc::new((0..KEYS).map(|_| AtomicBool::new(false)).collect());
    // Generation of the latest add of each key, and the latest generation seen by a worker.
    let added: Arc<Vec<AtomicU64>> = Arc::new((0..KEYS).map(|_| AtomicU64::new(0)).collect());
    let seen: Arc<Vec<AtomicU64>> = Arc::new((0..KEYS).map(|_| AtomicU64::new(0)).collect());
    let overlaps = Arc::new(AtomicUsize::new(0));

    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (q, busy, added, seen, overlaps) = (
                q.clone(),
                busy.clone(),
                added.clone(),
                seen.clone(),
                overlaps.clone(),
            );
            tokio::spawn(async move {
                let mut processed = 0usize;
                while let Some(k) = q.get().await {
                    if busy[k].swap(true, Ordering::SeqCst) {
                        overlaps.fetch_add(1, Ordering::SeqCst);
                    }
                    seen[k].fetch_max(added[k].load(Ordering::SeqCst), Ordering::SeqCst);
                    if processed.is_multiple_of(3) {
                        tokio::task::yield_now().await;
                    }
                    processed += 1;
                    busy[k].store(false, Ordering::SeqCst);
                    q.done(&k);
                }
                processed
            })
        })
        .collect();

    let mut rng = StdRng::seed_from_u64(7);
    for i in 0..ADDS {
        let k = rng.random_range(0..KEYS);
        added[k].fetch_add(1, Ordering::SeqCst);
        q.add(k);
        if i % 64 == 0 {
            tokio::task::yield_now().await;
        }
    }
    // Wait (bounded) until every add has been processed, then stop the workers.
    let all_seen = || (0..KEYS).all(|k| seen[k].load(Ordering::SeqCst) == added[k].load(Ordering::SeqCst));
    timeout(Duration::from_secs(30), async {
        while !all_seen() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("every add is eventually processed");
    q.shut_down();
    let mut processed = 0;
    for w in workers {
        processed += timeout(Duration::from_secs(30), w).await.unwrap().unwrap();
    }
    assert_eq!(
        overlaps.load(Ordering::SeqCst),
        0,
        "a key was processed by two workers at once"
    );
    assert!((KEYS..=ADDS).contains(&processed), "processed {processed}");
    assert_eq!(q.metrics().depth(), 0);
    assert_eq!(q.metrics().work_duration().count, processed as u64);
}

#[tokio::test(start_paused = true)]
async fn add_after_hands_out_items_at_their_ready_time_in_order() {
    let q = queue();
    let start = Instant::now();
    q.add_after("a", 30 * MS);
    q.add_after("b", 10 * MS);
    q.add_after("c", 20 * MS);
    q.add("now");
    assert_eq!(q.len(), 1, "delayed items are not queued yet");
    assert_eq!(q.get().await, Some("now"));
    for (item, at) in [("b", 10 * MS), ("c", 20 * MS), ("a", 30 * MS)] {
        assert_eq!(q.get().await, Some(item));
        assert_eq!(start.elapsed(), at, "{item}");
    }
}

#[tokio::test(start_paused = true)]
async fn add_after_keeps_the_earliest_ready_time() {
    let q = queue();
    let start = Instant::now();
    q.add_after("a", 50 * MS);
    q.add_after("a", 10 * MS);
    q.add_after("a", 100 * MS);
    assert_eq!(q.get().await, Some("a"));
    assert_eq!(start.elapsed(), 10 * MS);
    q.done(&"a");
    // The superseded 50ms and the later 100ms requests do not fire.
    assert_nothing_for(&q, Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn add_after_with_zero_delay_adds_immediately() {
    let q = queue();
    q.add_after("a", Duration::ZERO);
    assert_eq!(q.len(), 1);
    assert_eq!(q.metrics().retries_total(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_delayed_item_that_is_already_queued_collapses() {
    let q = queue();
    q.add("a");
    q.add_after("a", 10 * MS);
    advance(20 * MS).await;
    tokio::task::yield_now().await;
    assert_eq!(q.len(), 1);
    assert_eq!(q.get().await, Some("a"));
    assert_nothing_for(&q, Duration::from_secs(1)).await;
}

/// Many delayed adds with random delays and several workers: every key comes out.
#[tokio::test(start_paused = true)]
async fn delayed_items_are_never_lost() {
    let q: WorkQueue<u32> = queue();
    let mut rng = StdRng::seed_from_u64(42);
    let mut expected = HashSet::new();
    for _ in 0..2_000 {
        let k = rng.random_range(0..500);
        expected.insert(k);
        q.add_after(k, rng.random_range(0..200) * MS);
    }
    let seen = Arc::new(parking_lot::Mutex::new(HashSet::new()));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (q, seen) = (q.clone(), seen.clone());
            tokio::spawn(async move {
                while let Some(k) = q.get().await {
                    seen.lock().insert(k);
                    q.done(&k);
                }
            })
        })
        .collect();
    timeout(Duration::from_secs(1), async {
        while seen.lock().len() < expected.len() {
            tokio::time::sleep(MS).await;
        }
    })
    .await
    .expect("all delayed items within 1s");
    assert_eq!(*seen.lock(), expected);
    q.shut_down();
    for w in workers {
        w.await.unwrap();
    }
}

/// `add_after` outside a runtime cannot start the delay task; the first `get` does.
#[test]
fn add_after_outside_a_runtime_is_honoured_by_get() {
    let q: WorkQueue<&str> = queue();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    q.add_after("x", 10 * MS);
    let item = rt.block_on(async { timeout(Duration::from_secs(1), q.get()).await });
    assert_eq!(item, Ok(Some("x")));
}

/// Once a worker waits, `add_after` works from a thread outside the runtime too.
#[test]
fn add_after_from_a_plain_thread_wakes_a_waiting_worker() {
    let q: WorkQueue<&str> = queue();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let got = rt.block_on(async {
        let worker = tokio::spawn({
            let q = q.clone();
            async move { q.get().await }
        });
        tokio::task::yield_now().await;
        let adder = q.clone();
        std::thread::spawn(move || adder.add_after("x", 10 * MS))
            .join()
            .unwrap();
        timeout(Duration::from_secs(1), worker).await
    });
    assert_eq!(got.expect("the delayed item arrives").unwrap(), Some("x"));
}

#[tokio::test(start_paused = true)]
async fn delayed_items_are_promoted_while_the_queue_stays_busy() {
    let q = queue();
    let start = Instant::now();
    q.add_after(u32::MAX, 10 * MS);
    // A worker that always finds work must still see the delayed item once it is due.
    let mut i = 0;
    loop {
        q.add(i);
        let item = q.get().await.unwrap();
        q.done(&item);
        if item == u32::MAX {
            break;
        }
        i += 1;
        tokio::time::sleep(MS).await;
    }
    // Due at 10ms; the worker may take one more item that it added at the same instant.
    assert!(
        (10 * MS..=11 * MS).contains(&start.elapsed()),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn add_rate_limited_backs_off_exponentially_and_forget_resets() {
    let q = queue();
    for expected in [5, 10, 20, 40, 80, 160] {
        q.add_rate_limited("a");
        let (item, waited) = get_timed(&q).await;
        assert_eq!((item, waited), ("a", expected * MS));
        q.done(&"a");
    }
    assert_eq!(q.num_requeues(&"a"), 6);
    assert_eq!(q.num_requeues(&"b"), 0);
    q.forget(&"a");
    assert_eq!(q.num_requeues(&"a"), 0);
    q.add_rate_limited("a");
    assert_eq!(get_timed(&q).await, ("a", 5 * MS));
    assert_eq!(q.metrics().retries_total(), 7);
}

#[tokio::test(start_paused = true)]
async fn bucket_limiter_allows_a_burst_then_spaces_by_qps() {
    let l = BucketRateLimiter::default();
    for _ in 0..100 {
        assert_eq!(RateLimiter::<u8>::when(&l, &0), Duration::ZERO);
    }
    for n in 1..=5 {
        assert_eq!(RateLimiter::<u8>::when(&l, &0), n * 100 * MS);
    }
    // 1s refills 10 tokens: 5 repay the debt, 5 are free.
    advance(Duration::from_secs(1)).await;
    for _ in 0..5 {
        assert_eq!(RateLimiter::<u8>::when(&l, &0), Duration::ZERO);
    }
    assert_eq!(RateLimiter::<u8>::when(&l, &0), 100 * MS);
    assert_eq!(RateLimiter::<u8>::num_requeues(&l, &0), 0);

    // Through a queue: 100 distinct items at once, then one every 100ms.
    let q = WorkQueue::new(QueueConfig::default().rate_limiter(BucketRateLimiter::new(10.0, 100)));
    for i in 0..103 {
        q.add_rate_limited(i);
    }
    assert_eq!(q.len(), 100);
    for i in 0..100 {
        assert_eq!(q.get().await, Some(i));
    }
    for i in 100..103 {
        assert_eq!(get_timed(&q).await, (i, 100 * MS));
    }
}

#[tokio::test(start_paused = true)]
async fn default_limiter_is_the_max_of_backoff_and_bucket() {
    let q = queue();
    // 100 distinct items use the burst; the bucket then dominates the 5ms backoff.
    for i in 0..101u32 {
        q.add_rate_limited(i);
    }
    assert_eq!(q.len(), 0, "even the burst waits the 5ms per-item backoff");
    let start = Instant::now();
    for i in 0..100 {
        assert_eq!(q.get().await, Some(i));
    }
    assert_eq!(start.elapsed(), 5 * MS);
    assert_eq!(get_timed(&q).await, (100, 95 * MS));
}

#[tokio::test(start_paused = true)]
async fn max_of_limiter_uses_the_longest_wait() {
    let limiter = MaxOfRateLimiter::new(vec![
        Box::new(ItemFastSlowRateLimiter::new(MS, Duration::from_secs(1), 2)),
        Box::new(ItemExponentialRateLimiter::new(5 * MS, Duration::from_secs(1000))),
    ]);
    let q = WorkQueue::new(QueueConfig::default().rate_limiter(limiter));
    for expected in [5 * MS, 10 * MS, Duration::from_secs(1), Duration::from_secs(1)] {
        q.add_rate_limited("k");
        assert_eq!(get_timed(&q).await, ("k", expected));
        q.done(&"k");
    }
    assert_eq!(q.num_requeues(&"k"), 4);
    q.forget(&"k");
    assert_eq!(q.num_requeues(&"k"), 0);
}

#[tokio::test(start_paused = true)]
async fn fast_slow_limiter_switches_after_the_fast_attempts() {
    let q = WorkQueue::new(QueueConfig::default().rate_limiter(ItemFastSlowRateLimiter::new(
        10 * MS,
        Duration::from_secs(1),
        3,
    )));
    for expected in [
        10 * MS,
        10 * MS,
        10 * MS,
        Duration::from_secs(1),
        Duration::from_secs(1),
    ] {
        q.add_rate_limited("k");
        assert_eq!(get_timed(&q).await, ("k", expected));
        q.done(&"k");
    }
    q.forget(&"k");
    q.add_rate_limited("k");
    assert_eq!(get_timed(&q).await, ("k", 10 * MS));
}

#[tokio::test(start_paused = true)]
async fn shut_down_hands_out_queued_items_then_returns_none() {
    let q = queue();
    q.add("a");
    q.add("b");
    q.add("c");
    assert_eq!(q.get().await, Some("a"));
    q.add_after("late", 10 * MS);
    q.shut_down();
    assert!(q.is_shutting_down());
    q.add("d");
    q.add("a");
    q.add_after("e", Duration::ZERO);
    q.add_rate_limited("f");
    assert_eq!(q.len(), 2, "adds after shut down are ignored");
    assert_eq!(q.get().await, Some("b"));
    assert_eq!(q.get().await, Some("c"));
    assert_eq!(q.get().await, None);
    q.done(&"a");
    advance(Duration::from_secs(1)).await;
    assert_eq!(q.get().await, None, "pending delayed adds are dropped");
    assert_eq!(
        q.metrics().retries_total(),
        1,
        "only the add_after before shut down"
    );
}

#[tokio::test(start_paused = true)]
async fn shut_down_wakes_blocked_workers() {
    let q: WorkQueue<u8> = queue();
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let q = q.clone();
            tokio::spawn(async move { q.get().await })
        })
        .collect();
    tokio::task::yield_now().await;
    q.shut_down();
    for w in workers {
        assert_eq!(timeout(MS, w).await.unwrap().unwrap(), None);
    }
}

#[tokio::test(start_paused = true)]
async fn an_item_re_added_before_shut_down_is_handed_out_after_done() {
    let q = queue();
    q.add("a");
    assert_eq!(q.get().await, Some("a"));
    q.add("a");
    q.shut_down();
    assert_eq!(q.get().await, None, "nothing queued while a is processing");
    q.done(&"a");
    assert_eq!(q.get().await, Some("a"));
    q.done(&"a");
    assert_eq!(q.get().await, None);
}

#[tokio::test(start_paused = true)]
async fn shut_down_with_drain_waits_for_items_in_flight() {
    let q = queue();
    q.add("a");
    q.add("b");
    assert_eq!(q.get().await, Some("a"));
    assert_eq!(q.get().await, Some("b"));
    let mut drain = tokio::spawn({
        let q = q.clone();
        async move { q.shut_down_with_drain().await }
    });
    assert!(
        timeout(Duration::from_secs(10), &mut drain).await.is_err(),
        "a and b are in flight"
    );
    assert!(q.is_shutting_down());
    q.add("c");
    assert_eq!(q.len(), 0, "no adds while draining");
    q.done(&"a");
    assert!(
        timeout(Duration::from_secs(10), &mut drain).await.is_err(),
        "b is in flight"
    );
    q.done(&"b");
    timeout(MS, drain).await.expect("drained").unwrap();
    assert_eq!(q.get().await, None);

    // Nothing in flight: returns at once.
    let idle: WorkQueue<u8> = queue();
    timeout(MS, idle.shut_down_with_drain())
        .await
        .expect("nothing to drain");
}

#[tokio::test(start_paused = true)]
async fn shut_down_stops_a_drain() {
    let q = queue();
    q.add(1);
    assert_eq!(q.get().await, Some(1));
    let mut drain = tokio::spawn({
        let q = q.clone();
        async move { q.shut_down_with_drain().await }
    });
    assert!(timeout(Duration::from_secs(1), &mut drain).await.is_err());
    q.shut_down();
    timeout(MS, drain)
        .await
        .expect("shut_down ends the drain")
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn metrics_follow_adds_gets_and_done() {
    let q = queue();
    let m = q.metrics().clone();
    q.add("a");
    q.add("b");
    q.add("a");
    assert_eq!((m.depth(), m.adds_total()), (2, 2));

    advance(Duration::from_secs(2)).await;
    assert_eq!(q.get().await, Some("a"));
    assert_eq!(m.depth(), 1);
    let waited = m.queue_duration();
    assert_eq!((waited.count, waited.sum), (1, Duration::from_secs(2)));
    assert_eq!(waited.count_le(1.0), Some(0));
    assert_eq!(waited.count_le(10.0), Some(1));
    assert_eq!(m.unfinished_work_seconds(), 0.0);

    advance(Duration::from_secs(3)).await;
    assert_eq!(m.unfinished_work_seconds(), 3.0);
    assert_eq!(m.longest_running_processor_seconds(), 3.0);
    assert_eq!(q.get().await, Some("b"));
    advance(Duration::from_secs(1)).await;
    assert_eq!(m.unfinished_work_seconds(), 5.0, "a for 4s plus b for 1s");
    assert_eq!(m.longest_running_processor_seconds(), 4.0);

    q.done(&"a");
    let worked = m.work_duration();
    assert_eq!((worked.count, worked.sum), (1, Duration::from_secs(4)));
    assert_eq!(m.unfinished_work_seconds(), 1.0);
    assert_eq!(m.longest_running_processor_seconds(), 1.0);
    q.done(&"b");
    assert_eq!(m.unfinished_work_seconds(), 0.0);
    assert_eq!(m.work_duration().count, 2);

    // Re-adding a processing item counts as an add and as depth (client-go).
    q.add("c");
    assert_eq!(q.get().await, Some("c"));
    q.add("c");
    assert_eq!((m.depth(), m.adds_total()), (1, 4));

    q.add_after("d", MS);
    q.add_rate_limited("e");
    assert_eq!(m.retries_total(), 2);
}

#[tokio::test(start_paused = true)]
async fn metrics_are_exported_with_client_go_names() {
    let mut registry = Registry::default();
    let collector = MetricsCollector::default();
    collector.register(&mut registry);
    let q = WorkQueue::new(QueueConfig::default().name("pods").collector(&collector));
    let other: WorkQueue<u8> = WorkQueue::new(QueueConfig::default().name("nodes").collector(&collector));
    q.add("x");
    q.add("y");
    advance(Duration::from_millis(50)).await;
    assert_eq!(q.get().await, Some("x"));
    advance(Duration::from_secs(2)).await;
    q.add_rate_limited("z");

    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    for line in [
        "workqueue_depth{name=\"pods\"} 1",
        "workqueue_depth{name=\"nodes\"} 0",
        "workqueue_adds_total{name=\"pods\"} 2",
        "workqueue_retries_total{name=\"pods\"} 1",
        "workqueue_queue_duration_seconds_count{name=\"pods\"} 1",
        "workqueue_queue_duration_seconds_sum{name=\"pods\"} 0.05",
        "workqueue_work_duration_seconds_count{name=\"pods\"} 0",
        "workqueue_unfinished_work_seconds{name=\"pods\"} 2.0",
        "workqueue_longest_running_processor_seconds{name=\"pods\"} 2.0",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    assert_eq!(
        text.matches("# TYPE workqueue_depth gauge").count(),
        1,
        "one family for all queues:\n{text}"
    );
    assert!(text.contains("# TYPE workqueue_queue_duration_seconds histogram"));
    assert!(text.contains("# TYPE workqueue_retries counter"));

    drop(other);
    text.clear();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(!text.contains("nodes"), "dropped queues disappear:\n{text}");
    assert!(text.contains("workqueue_depth{name=\"pods\"} 1"));
}

#[tokio::test(start_paused = true)]
async fn metrics_can_be_turned_off() {
    let q = WorkQueue::new(QueueConfig::default().metrics(false));
    q.add(1);
    q.add_after(2, MS);
    assert_eq!(q.get().await, Some(1));
    advance(Duration::from_secs(1)).await;
    q.done(&1);
    let m = q.metrics();
    assert_eq!((m.depth(), m.adds_total(), m.retries_total()), (0, 0, 0));
    assert_eq!(m.queue_duration().count + m.work_duration().count, 0);
    assert_eq!(m.unfinished_work_seconds(), 0.0);
}
