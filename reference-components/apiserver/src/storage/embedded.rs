//! `EmbeddedStorage`: the [`Engine`] made durable in one data directory.
//!
//! The engine holds the store in memory; a write-ahead log and snapshots in the directory make
//! it durable (`embedded/wal.rs`: one sequential append and one `fdatasync` per group of
//! writes). Opening the directory reads the newest snapshot and replays the log after it;
//! revisions keep increasing across restarts, and watch history since the compaction point
//! survives them, so a watcher that resumes from its last revision after a restart misses
//! nothing still in the window. A directory written by an older version (one redb file,
//! `store.redb`) is imported on first open and the file renamed to `store.redb.imported`.
//!
//! # The write path
//!
//! 1. The caller's write is checked (exists, compare-and-swap) under the *sequencer* lock
//!    against the newest state of its key: the engine's, or the newest queued but not yet
//!    committed write of that key (the `pending` overlay). It gets the next revision, is queued
//!    to the writer, and becomes the pending state of its key. So the second of two
//!    compare-and-swaps on one key in one batch sees the first one's result, and queue order is
//!    revision order.
//! 2. One writer thread drains the queue and appends everything it found to the log with one
//!    `fdatasync`: a single flush acknowledges a whole group of concurrent writes (group
//!    commit). File I/O blocks, so the writer is an OS thread, not a task.
//! 3. Only after the commit are the events applied to the engine (which publishes them to
//!    watchers), the overlay entries cleared, and the callers answered. A write is durable when
//!    its call returns, and what readers and watchers see is always on disk.
//!
//! If a commit fails, the writes of the batch and every write queued behind them (they were
//! checked against the failed ones) fail with [`Error::Backend`], the overlay is dropped and
//! revisions continue from the engine's, so the engine and the log always agree.
//!
//! Compaction goes through the same queue: it logs the compaction point, then compacts the
//! engine; the next snapshot leaves the compacted history out.

mod codec;
mod legacy;
mod wal;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::oneshot;

use super::engine::{Engine, EngineConfig, WriteOp};
use super::{
    Error, Event, EventKind, KeyValue, ListOptions, ListResult, Result, Revision, Storage, WatchStream,
};

/// The most writes committed in one transaction.
const MAX_BATCH: usize = 4096;

/// How long the writer waits for the writers of the previous group to come back before it
/// commits a smaller group (see [`Writer::run`]).
const LINGER: Duration = Duration::from_micros(500);

/// A durable store in one data directory. Every acknowledged write survives `kill -9`.
///
/// Dropping it lets the writer commit what is already queued, then closes the file (the drop
/// waits for that, at most one commit), so the directory can be opened again at once.
///
/// ```
/// # use reference_apiserver::storage::{EmbeddedStorage, Storage};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> reference_apiserver::storage::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// let store = EmbeddedStorage::open(dir.path())?;
/// let kv = store.create("/registry/pods/default/web", "{}".into()).await?;
/// drop(store);
/// let store = EmbeddedStorage::open(dir.path())?;
/// assert_eq!(store.get("/registry/pods/default/web").await?, Some(kv));
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct EmbeddedStorage {
    engine: Arc<Engine>,
    sequencer: Arc<Mutex<Sequencer>>,
    stats: Arc<Counters>,
    writer: Option<std::thread::JoinHandle<()>>,
    path: PathBuf,
}

/// What the writer has done since the store was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Durable transactions committed with writes in them.
    pub commits: u64,
    /// Writes committed (`writes / commits` is the average group size).
    pub writes: u64,
}

#[derive(Debug, Default)]
struct Counters {
    commits: AtomicU64,
    writes: AtomicU64,
}

/// Writes checked and numbered but not yet committed.
#[derive(Debug)]
struct Sequencer {
    /// The revision the next write gets.
    next: Revision,
    /// The newest queued state of each key with writes in flight.
    pending: HashMap<String, Pending>,
    /// The writer's queue; `None` once the store is closing.
    queue: Option<mpsc::Sender<Msg>>,
}

#[derive(Debug)]
struct Pending {
    /// The key after its newest queued write (`None`: deleted).
    latest: Option<KeyValue>,
    /// How many queued writes of the key are not committed yet.
    in_flight: usize,
}

#[derive(Debug)]
enum Msg {
    Write(QueuedWrite),
    Compact {
        revision: Revision,
        done: oneshot::Sender<Result<()>>,
    },
}

#[derive(Debug)]
struct QueuedWrite {
    event: Arc<Event>,
    done: oneshot::Sender<Result<KeyValue>>,
}

impl EmbeddedStorage {
    /// Opens (or creates) the store in `dir`, with the default [`EngineConfig`].
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(dir, EngineConfig::default())
    }

    /// Opens (or creates) the store in `dir`. The directory is created if needed.
    pub fn open_with(dir: impl AsRef<Path>, config: EngineConfig) -> Result<Self> {
        let dir = dir.as_ref();
        let legacy = dir.join(legacy::FILE_NAME);
        let wal::Opened { wal, engine } = wal::Wal::open(dir, config, || legacy::import(&legacy))?;
        if legacy.exists() {
            // Imported now (or by an open that stopped before this rename): the snapshot files
            // hold it; the old file stays beside them, out of the way.
            let kept = legacy.with_extension("redb.imported");
            std::fs::rename(&legacy, &kept)
                .map_err(|e| Error::Backend(format!("renaming {}: {e}", legacy.display())))?;
        }
        tracing::info!(
            path = %dir.display(),
            revision = engine.revision(),
            compacted = engine.compacted(),
            events = engine.history_len(),
            "opened embedded storage"
        );
        let engine = Arc::new(engine);
        let (queue, rx) = mpsc::channel();
        let sequencer = Arc::new(Mutex::new(Sequencer {
            next: engine.revision() + 1,
            pending: HashMap::new(),
            queue: Some(queue),
        }));
        let stats = Arc::new(Counters::default());
        let writer = Writer {
            wal,
            engine: engine.clone(),
            sequencer: sequencer.clone(),
            stats: stats.clone(),
            rx,
        };
        let writer = std::thread::Builder::new()
            .name("storage-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| Error::Backend(format!("starting the writer: {e}")))?;
        Ok(EmbeddedStorage {
            engine,
            sequencer,
            stats,
            writer: Some(writer),
            path: dir.to_owned(),
        })
    }

    /// The data directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many commits and writes the writer has done.
    pub fn stats(&self) -> CommitStats {
        CommitStats {
            commits: self.stats.commits.load(Ordering::Relaxed),
            writes: self.stats.writes.load(Ordering::Relaxed),
        }
    }

    /// The engine underneath (the committed state), for inspection.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    async fn write(&self, key: &str, op: WriteOp) -> Result<KeyValue> {
        let done = {
            let mut seq = self.sequencer.lock();
            let current = match seq.pending.get(key) {
                Some(pending) => pending.latest.clone(),
                None => self.engine.get(key),
            };
            let event = Arc::new(op.plan(key, current.as_ref(), seq.next)?);
            let (done, rx) = oneshot::channel();
            let msg = Msg::Write(QueuedWrite {
                event: event.clone(),
                done,
            });
            seq.queue
                .as_ref()
                .ok_or_else(closed)?
                .send(msg)
                .map_err(|_| closed())?;
            seq.next += 1;
            let latest = match event.kind {
                EventKind::Delete => None,
                _ => Some(event.kv.clone()),
            };
            seq.pending
                .entry(key.to_owned())
                .and_modify(|p| {
                    p.in_flight += 1;
                    p.latest = latest.clone();
                })
                .or_insert(Pending { latest, in_flight: 1 });
            rx
        };
        done.await.map_err(|_| closed())?
    }
}

fn closed() -> Error {
    Error::Backend("the storage writer has stopped".to_owned())
}

impl Drop for EmbeddedStorage {
    fn drop(&mut self) {
        // Closing the queue lets the writer finish what is queued and release the file.
        self.sequencer.lock().queue = None;
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!("the storage writer panicked");
        }
    }
}

#[async_trait::async_trait]
impl Storage for EmbeddedStorage {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        Ok(self.engine.get(key))
    }

    async fn list(&self, prefix: &str, opts: &ListOptions) -> Result<ListResult> {
        self.engine.list(prefix, opts)
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        self.write(key, WriteOp::Create(value)).await
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<KeyValue> {
        self.write(key, WriteOp::Update { value, expected }).await
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue> {
        self.write(key, WriteOp::Delete { expected }).await
    }

    async fn watch(&self, prefix: &str, from: Revision) -> Result<WatchStream> {
        self.engine.watch(prefix, from)
    }

    async fn revision(&self) -> Result<Revision> {
        Ok(self.engine.revision())
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        if !self.engine.check_compact(revision)? {
            return Ok(());
        }
        let (done, rx) = oneshot::channel();
        self.sequencer
            .lock()
            .queue
            .as_ref()
            .ok_or_else(closed)?
            .send(Msg::Compact { revision, done })
            .map_err(|_| closed())?;
        rx.await.map_err(|_| closed())?
    }
}

/// The single writer: owns the database, commits batches, applies them to the engine.
struct Writer {
    wal: wal::Wal,
    engine: Arc<Engine>,
    sequencer: Arc<Mutex<Sequencer>>,
    stats: Arc<Counters>,
    rx: mpsc::Receiver<Msg>,
}

impl Writer {
    /// Takes everything queued as one group and commits it. Callers wait for their group's
    /// fsync and then send their next write, so the next group forms while the writer is
    /// busy; but the writer is back before all of them are: if it took only what is queued it
    /// would commit the early ones alone and the group would split in two. So it waits (at most
    /// [`LINGER`]) until the group is as large as the previous one: the writers of the previous
    /// group are likely to come back. A lone writer has groups of one and never waits.
    fn run(mut self) {
        let mut next = None;
        let mut expected = 1;
        loop {
            let Some(msg) = next.take().or_else(|| self.rx.recv().ok()) else {
                return;
            };
            let write = match msg {
                Msg::Compact { revision, done } => {
                    let _ = done.send(self.compact(revision));
                    continue;
                }
                Msg::Write(write) => write,
            };
            let mut batch = vec![write];
            let deadline = Instant::now() + LINGER;
            while batch.len() < MAX_BATCH {
                let msg = if batch.len() < expected {
                    let wait = deadline.saturating_duration_since(Instant::now());
                    self.rx.recv_timeout(wait).ok()
                } else {
                    self.rx.try_recv().ok()
                };
                match msg {
                    Some(Msg::Write(write)) => batch.push(write),
                    Some(other) => {
                        next = Some(other);
                        break;
                    }
                    None => break,
                }
            }
            expected = batch.len();
            if !self.commit(batch) {
                return;
            }
        }
    }

    /// Commits one batch; false if the writer must stop.
    fn commit(&mut self, batch: Vec<QueuedWrite>) -> bool {
        let events: Vec<Arc<Event>> = batch.iter().map(|w| w.event.clone()).collect();
        if let Err(e) = self.wal.append(&events) {
            tracing::error!(error = %e, writes = batch.len(), "storage commit failed");
            let error = Error::Backend(format!("commit failed: {e}"));
            self.abandon(batch, &error);
            return true;
        }
        self.stats.commits.fetch_add(1, Ordering::Relaxed);
        self.stats
            .writes
            .fetch_add(events.len() as u64, Ordering::Relaxed);
        if let Err(error) = self.engine.apply(&events) {
            // Cannot happen unless the sequencer and the engine disagree: stop writing rather
            // than let memory and disk drift apart (a restart reloads from disk).
            tracing::error!(%error, "committed writes do not fit the engine; writer stopping");
            self.abandon(batch, &error);
            return false;
        }
        {
            let mut seq = self.sequencer.lock();
            for event in &events {
                let key = event.kv.key.as_str();
                if let Some(pending) = seq.pending.get_mut(key) {
                    pending.in_flight -= 1;
                    if pending.in_flight == 0 {
                        seq.pending.remove(key);
                    }
                }
            }
        }
        for write in batch {
            let _ = write.done.send(Ok(write.event.kv.clone()));
        }
        if let Err(e) = self.wal.maybe_checkpoint(&self.engine) {
            // The log keeps everything: nothing is lost, the next commit tries again.
            tracing::error!(error = %e, "starting a storage snapshot failed");
        }
        true
    }

    /// Fails `batch` and everything queued behind it, and restarts numbering from the engine.
    fn abandon(&mut self, batch: Vec<QueuedWrite>, error: &Error) {
        let mut seq = self.sequencer.lock();
        seq.pending.clear();
        seq.next = self.engine.revision() + 1;
        for write in batch {
            let _ = write.done.send(Err(error.clone()));
        }
        // Writers queue under the sequencer lock, which we hold: this drains everything that
        // was checked against the failed writes.
        while let Ok(msg) = self.rx.try_recv() {
            match msg {
                Msg::Write(write) => {
                    let _ = write.done.send(Err(error.clone()));
                }
                Msg::Compact { done, .. } => {
                    let _ = done.send(Err(error.clone()));
                }
            }
        }
    }

    fn compact(&mut self, revision: Revision) -> Result<()> {
        if !self.engine.check_compact(revision)? {
            return Ok(());
        }
        self.wal
            .compact(revision)
            .map_err(|e| Error::Backend(format!("compacting: {e}")))?;
        self.engine.compact(revision)
    }
}
