//! Create throughput of the storage backends: 16 concurrent writers of 2 KB values.
//!
//! `cargo bench -p reference-apiserver --bench storage` measures memory against embedded
//! (durable: every write fsynced before it is acknowledged, concurrent writes group-committed),
//! and embedded with a single writer (one fsync per write: what group commit buys). Without
//! `--bench` (`cargo test --all-targets`) it does a tiny smoke run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reference_apiserver::storage::{EmbeddedStorage, MemoryStorage, Storage};

const WRITERS: usize = 16;
const VALUE_SIZE: usize = 2048;

struct Run {
    writes: usize,
    elapsed: Duration,
    /// Average writes per commit (embedded only).
    group_size: f64,
}

impl Run {
    fn per_second(&self) -> f64 {
        self.writes as f64 / self.elapsed.as_secs_f64()
    }
}

/// `writers` tasks each create `per_writer` keys; returns the wall time of all of them.
async fn creates(store: Arc<dyn Storage>, writers: usize, per_writer: usize) -> Run {
    let value = Bytes::from(vec![b'x'; VALUE_SIZE]);
    let start = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let (store, value) = (store.clone(), value.clone());
            tokio::spawn(async move {
                for i in 0..per_writer {
                    let key = format!("/registry/bench/ns-{w}/obj-{i:08}");
                    store.create(&key, value.clone()).await.expect("create");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("writer task");
    }
    Run {
        writes: writers * per_writer,
        elapsed: start.elapsed(),
        group_size: 0.0,
    }
}

/// Runs `make` `rounds` times and keeps the median run (the disk is shared and noisy), with the
/// figures of all rounds.
async fn median<F, Fut>(rounds: usize, mut make: F) -> (Run, String)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Run>,
{
    let mut runs = Vec::new();
    for _ in 0..rounds {
        runs.push(make().await);
    }
    runs.sort_by(|a, b| a.per_second().total_cmp(&b.per_second()));
    let spread: Vec<String> = runs.iter().map(|r| format!("{:.0}", r.per_second())).collect();
    (runs.swap_remove(runs.len() / 2), spread.join(", "))
}

/// A fresh embedded store in the target directory (not /tmp: the fsyncs must hit the disk the
/// store would live on), run with `writers` writers.
async fn embedded(writers: usize, per_writer: usize) -> Run {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let store = Arc::new(EmbeddedStorage::open(dir.path()).expect("open"));
    let run = creates(store.clone(), writers, per_writer).await;
    let stats = store.stats();
    Run {
        group_size: stats.writes as f64 / stats.commits.max(1) as f64,
        ..run
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (rounds, memory_each, embedded_each, single_total) = if full {
        (3, 20_000, 1_500, 400)
    } else {
        (1, 20, 5, 5)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        println!("storage create throughput, {WRITERS} writers, {VALUE_SIZE}-byte values");
        let (memory, memory_rounds) = median(rounds, || {
            creates(Arc::new(MemoryStorage::new()), WRITERS, memory_each)
        })
        .await;
        println!(
            "  memory:                     {:>9.0} writes/s ({} writes in {:.2?}; rounds: {memory_rounds})",
            memory.per_second(),
            memory.writes,
            memory.elapsed,
        );
        let (group, group_rounds) = median(rounds, || embedded(WRITERS, embedded_each)).await;
        println!(
            "  embedded (durable, group):  {:>9.0} writes/s ({} writes in {:.2?}, {:.1} writes per commit; rounds: {group_rounds})",
            group.per_second(),
            group.writes,
            group.elapsed,
            group.group_size,
        );
        let (single, single_rounds) = median(rounds, || embedded(1, single_total)).await;
        println!(
            "  embedded, 1 writer:         {:>9.0} writes/s (one fsync per write; rounds: {single_rounds})",
            single.per_second()
        );
        println!(
            "  ratio memory / embedded:    {:>9.1}x",
            memory.per_second() / group.per_second()
        );
        println!(
            "  ratio group / 1 writer:     {:>9.1}x",
            group.per_second() / single.per_second()
        );
        if !full {
            println!("  (smoke run; `cargo bench` for figures)");
        }
    });
}
