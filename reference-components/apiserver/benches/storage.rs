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
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (memory_each, embedded_each, single_total) = if full { (20_000, 1_500, 400) } else { (20, 5, 5) };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // The target directory, not /tmp: the fsyncs must hit the disk the store would live on.
    let scratch = env!("CARGO_TARGET_TMPDIR");
    runtime.block_on(async {
        let memory = creates(Arc::new(MemoryStorage::new()), WRITERS, memory_each).await;

        let dir = tempfile::tempdir_in(scratch).expect("tempdir");
        let store = Arc::new(EmbeddedStorage::open(dir.path()).expect("open"));
        let embedded = creates(store.clone(), WRITERS, embedded_each).await;
        let stats = store.stats();
        drop(store);

        let dir = tempfile::tempdir_in(scratch).expect("tempdir");
        let store = Arc::new(EmbeddedStorage::open(dir.path()).expect("open"));
        let single = creates(store, 1, single_total).await;

        println!("storage create throughput, {WRITERS} writers, {VALUE_SIZE}-byte values");
        println!(
            "  memory:                     {:>9.0} writes/s ({} writes in {:.2?})",
            memory.per_second(),
            memory.writes,
            memory.elapsed
        );
        println!(
            "  embedded (durable, group):  {:>9.0} writes/s ({} writes in {:.2?}, {:.1} writes per commit)",
            embedded.per_second(),
            embedded.writes,
            embedded.elapsed,
            stats.writes as f64 / stats.commits.max(1) as f64
        );
        println!(
            "  embedded, 1 writer:         {:>9.0} writes/s (one fsync per write)",
            single.per_second()
        );
        println!(
            "  ratio memory / embedded:    {:>9.1}x",
            memory.per_second() / embedded.per_second()
        );
        println!(
            "  ratio group / 1 writer:     {:>9.1}x",
            embedded.per_second() / single.per_second()
        );
        if !full {
            println!("  (smoke run; `cargo bench` for figures)");
        }
    });
}
