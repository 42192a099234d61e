//! Storage: the only place objects live.
//!
//! The semantics are etcd's, because that is what Kubernetes is built on (DESIGN.md, "Storage
//! semantics"): one store-wide revision that every write increments; each key remembers the
//! revision that created it and the one that last modified it; get, list at a revision with
//! limit and continue, create (fails if present), update and delete as compare-and-swap on the
//! expected modification revision, watch from a revision, and compaction, after which older
//! history answers [`Error::Expired`].
//!
//! Values are opaque bytes (the apiserver stores JSON without `resourceVersion`; it stamps the
//! modification revision in on the way out).

use bytes::Bytes;
use futures::stream::BoxStream;

/// A store-wide revision. Starts at 1 for an empty store; every write increments it.
pub type Revision = u64;

/// A stored key and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The key, e.g. `/registry/pods/default/web-0`.
    pub key: String,
    /// The value.
    pub value: Bytes,
    /// The revision that created the key.
    pub create_revision: Revision,
    /// The revision that last wrote it (for a deleted value: the deleting revision).
    pub mod_revision: Revision,
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// The key was created.
    Create,
    /// The key's value was replaced.
    Update,
    /// The key was deleted.
    Delete,
}

/// One write, as seen by a watcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Create, update or delete.
    pub kind: EventKind,
    /// The key and its new value; for a delete, the last value, with `mod_revision` set to the
    /// deleting revision.
    pub kv: KeyValue,
    /// The value before this write (updates and deletes).
    pub prev: Option<KeyValue>,
}

impl Event {
    /// The revision of the write.
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }
}

/// Options of a list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// At most this many items (`None` or 0: all).
    pub limit: Option<usize>,
    /// Start strictly after this key (the continue point of a previous page).
    pub start_after: Option<String>,
    /// Read at this revision (`None`: the current one). Older than the compaction point gives
    /// [`Error::Expired`]; newer than the current revision gives [`Error::FutureRevision`].
    pub revision: Option<Revision>,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListResult {
    /// Items in key order.
    pub items: Vec<KeyValue>,
    /// The revision the list was read at.
    pub revision: Revision,
    /// How many more items match after this page (0 when the page is the last).
    pub remaining: u64,
}

/// Why a storage operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The key does not exist.
    #[error("key {key} not found")]
    NotFound {
        /// The key.
        key: String,
    },
    /// Create of a key that exists.
    #[error("key {key} already exists")]
    AlreadyExists {
        /// The key.
        key: String,
    },
    /// Compare-and-swap failed: the key is at another revision.
    #[error("key {key} is at revision {actual}, not {expected}")]
    Conflict {
        /// The key.
        key: String,
        /// The revision the caller expected.
        expected: Revision,
        /// The revision the key is at.
        actual: Revision,
    },
    /// The revision asked for has been compacted away.
    #[error("revision {requested} has been compacted (oldest available: {compacted})")]
    Expired {
        /// The revision asked for.
        requested: Revision,
        /// The compaction point: revisions at or below it are gone.
        compacted: Revision,
    },
    /// The revision asked for is newer than the store's.
    #[error("revision {requested} is newer than the current revision {current}")]
    FutureRevision {
        /// The revision asked for.
        requested: Revision,
        /// The store's revision.
        current: Revision,
    },
    /// The backend failed (disk, network, corruption).
    #[error("storage backend failure: {0}")]
    Backend(String),
    /// The backend cannot be reached, or did not answer in time (an etcd that is down): the
    /// request may succeed if retried later. A write that failed this way may have been applied.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

/// The storage result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A stream of events from a watch, in revision order. It ends if the store shuts down; a
/// watcher that falls too far behind gets [`Error::Expired`] and must relist.
pub type WatchStream = BoxStream<'static, Result<Event>>;

/// A storage backend. Every backend passes the suite in [`conformance`].
#[async_trait::async_trait]
pub trait Storage: Send + Sync + 'static {
    /// Read one key at the current revision.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>>;

    /// Read the keys under `prefix`, in key order.
    async fn list(&self, prefix: &str, opts: &ListOptions) -> Result<ListResult>;

    /// Create `key`; fails with [`Error::AlreadyExists`] if it exists. Durable when it returns.
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue>;

    /// Replace `key`'s value if its modification revision is `expected`.
    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<KeyValue>;

    /// Delete `key`, if its modification revision is `expected` (when given). Returns the last
    /// value with `mod_revision` set to the deleting revision.
    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue>;

    /// Events under `prefix` with revisions greater than `from`. `from` older than the
    /// compaction point gives [`Error::Expired`].
    async fn watch(&self, prefix: &str, from: Revision) -> Result<WatchStream>;

    /// The current revision.
    async fn revision(&self) -> Result<Revision>;

    /// Forget history at and below `revision` (the latest value of each key is kept).
    async fn compact(&self, revision: Revision) -> Result<()>;

    /// The name of the backend's check in `/readyz` (`[-]etcd failed: ...`); the check itself is a
    /// [`revision`](Storage::revision) read.
    fn health_check_name(&self) -> &'static str {
        "storage"
    }
}

pub mod compactor;
pub mod conformance;
pub mod embedded;
pub mod engine;
#[cfg(feature = "etcd")]
pub mod etcd;
pub mod memory;

pub use compactor::{CompactionPolicy, spawn_compactor};
pub use embedded::{CommitStats, EmbeddedStorage};
pub use engine::{Engine, EngineConfig};
pub use memory::MemoryStorage;

/// Which backend [`open`] builds (`--storage memory|embedded`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StorageKind {
    /// [`MemoryStorage`]: gone with the process.
    Memory,
    /// [`EmbeddedStorage`]: durable in the data directory.
    #[default]
    Embedded,
}

impl std::str::FromStr for StorageKind {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "memory" => Ok(StorageKind::Memory),
            "embedded" => Ok(StorageKind::Embedded),
            other => Err(format!("unknown storage {other:?} (memory, embedded)")),
        }
    }
}

/// Opens a backend with the default [`EngineConfig`] and [`CompactionPolicy`], and starts its
/// automatic compaction. `data_dir` is only used by [`StorageKind::Embedded`]. Must be called
/// inside a tokio runtime (the compactor is a task).
pub fn open(kind: StorageKind, data_dir: &std::path::Path) -> Result<std::sync::Arc<dyn Storage>> {
    open_with(
        kind,
        data_dir,
        EngineConfig::default(),
        CompactionPolicy::default(),
    )
}

/// [`open`] with explicit tuning.
pub fn open_with(
    kind: StorageKind,
    data_dir: &std::path::Path,
    engine: EngineConfig,
    compaction: CompactionPolicy,
) -> Result<std::sync::Arc<dyn Storage>> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(Error::Backend("storage::open needs a tokio runtime".to_owned()));
    }
    let storage: std::sync::Arc<dyn Storage> = match kind {
        StorageKind::Memory => std::sync::Arc::new(MemoryStorage::with_config(engine)),
        StorageKind::Embedded => std::sync::Arc::new(EmbeddedStorage::open_with(data_dir, engine)?),
    };
    spawn_compactor(std::sync::Arc::downgrade(&storage), compaction);
    Ok(storage)
}
