//! Throughput of the workqueue: add/get/done cycles per second with 1, 4 and 16 workers on a
//! two-thread Tokio runtime, 10% duplicate adds, metrics on; compared with a bare
//! `Mutex<VecDeque>` + `Notify` queue carrying the same adds through the same workers (no
//! de-duplication, no processing set, no metrics).
//!
//! Two traffic shapes: *steady*, where the producer keeps at most 1,000 items queued (adds paced
//! by the workers, as informer events usually are), and *burst*, where all adds arrive at once
//! (a controller start-up listing every object), so the queue holds up to all keys.
//!
//! `cargo bench -p kube-runtime --bench workqueue` runs 2,000,000 adds per measurement (best of
//! three); without `--bench` (e.g. under `cargo test --all-targets`) a 20,000-add smoke run.

use std::collections::VecDeque;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kube_runtime::workqueue::{QueueConfig, WorkQueue};
use parking_lot::Mutex;
use tokio::sync::Notify;

/// The producer yields every this many adds so that workers sharing its thread can run.
const YIELD_EVERY: u64 = 256;

/// In the steady shape, the producer waits while more than this many items are queued.
const STEADY_BACKLOG: usize = 1_000;

/// The `i`-th key added: every tenth add repeats a recent key.
fn key(i: u64) -> u64 {
    if i % 10 == 9 { i - 3 } else { i }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (adds, rounds) = if full { (2_000_000, 3) } else { (20_000, 1) };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!("workqueue: {adds} adds (10% duplicates) per run, best of {rounds}, 2 runtime threads");
    for (shape, backlog) in [("steady", STEADY_BACKLOG), ("burst", usize::MAX)] {
        for workers in [1, 4, 16] {
            let mut ours = Duration::MAX;
            let mut no_metrics = Duration::MAX;
            let mut base = Duration::MAX;
            let mut processed = 0;
            for _ in 0..rounds {
                // The producer runs as a task too, so that everything shares the two runtime
                // threads.
                let run = run_workqueue(adds, workers, backlog, true);
                let (elapsed, n) = rt.block_on(spawned(run));
                ours = ours.min(elapsed);
                processed = n;
                let run = run_workqueue(adds, workers, backlog, false);
                no_metrics = no_metrics.min(rt.block_on(spawned(run)).0);
                base = base.min(rt.block_on(spawned(run_baseline(adds, workers, backlog))));
            }
            let rate = |d: Duration| adds as f64 / d.as_secs_f64();
            println!(
                "{shape:>6} workers={workers:>2}: workqueue {:>9.0} items/s ({processed} \
                 processed; {:>9.0} without metrics), baseline {:>9.0} items/s, \
                 ratio = ours/baseline = {:.2}",
                rate(ours),
                rate(no_metrics),
                rate(base),
                rate(ours) / rate(base)
            );
        }
    }
}

/// Runs `f` as a runtime task rather than on the thread calling `block_on`.
async fn spawned<F: Future<Output: Send + 'static> + Send + 'static>(f: F) -> F::Output {
    tokio::spawn(f).await.expect("benchmark task")
}

/// Returns the time to push `adds` adds through `workers` workers and the number processed.
async fn run_workqueue(adds: u64, workers: usize, backlog: usize, metrics: bool) -> (Duration, usize) {
    let config = QueueConfig::default().name("bench").metrics(metrics);
    let queue: WorkQueue<u64> = WorkQueue::new(config);
    let processed = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let (queue, processed) = (queue.clone(), processed.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while let Some(item) = queue.get().await {
                    black_box(item);
                    queue.done(&item);
                    n += 1;
                }
                processed.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    for i in 0..adds {
        queue.add(key(i));
        if i % YIELD_EVERY == 0 {
            tokio::task::yield_now().await;
            while queue.len() > backlog {
                tokio::task::yield_now().await;
            }
        }
    }
    queue.shut_down();
    for h in handles {
        h.await.expect("worker");
    }
    let elapsed = start.elapsed();
    assert_eq!(queue.metrics().depth(), 0);
    if metrics {
        assert_eq!(
            queue.metrics().work_duration().count,
            processed.load(Ordering::Relaxed) as u64
        );
    }
    (elapsed, processed.load(Ordering::Relaxed))
}

/// The same traffic through a bare FIFO: every add is processed, duplicates included.
struct Baseline {
    state: Mutex<(VecDeque<u64>, bool)>,
    ready: Notify,
}

async fn run_baseline(adds: u64, workers: usize, backlog: usize) -> Duration {
    let q = Arc::new(Baseline {
        state: Mutex::new((VecDeque::new(), false)),
        ready: Notify::new(),
    });
    let start = Instant::now();
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let q = q.clone();
            tokio::spawn(async move {
                loop {
                    let mut notified = pin!(q.ready.notified());
                    let item = {
                        let mut st = q.state.lock();
                        match st.0.pop_front() {
                            Some(item) => Some(item),
                            None if st.1 => return,
                            None => {
                                notified.as_mut().enable();
                                None
                            }
                        }
                    };
                    match item {
                        Some(item) => {
                            black_box(item);
                        }
                        None => notified.await,
                    }
                }
            })
        })
        .collect();
    for i in 0..adds {
        q.state.lock().0.push_back(key(i));
        q.ready.notify_one();
        if i % YIELD_EVERY == 0 {
            tokio::task::yield_now().await;
            while q.state.lock().0.len() > backlog {
                tokio::task::yield_now().await;
            }
        }
    }
    q.state.lock().1 = true;
    q.ready.notify_waiters();
    for h in handles {
        h.await.expect("worker");
    }
    start.elapsed()
}
