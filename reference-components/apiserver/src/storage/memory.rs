//! `MemoryStorage`: the [`Engine`] alone, for tests and `--storage memory`.

use bytes::Bytes;

use super::engine::{Engine, EngineConfig, WriteOp};
use super::{KeyValue, ListOptions, ListResult, Result, Revision, Storage, WatchStream};

/// A storage that lives in memory and is gone with the process.
///
/// It has every semantic of the durable backends (revisions, history, watch, compaction); it
/// does not compact by itself, [`spawn_compactor`](super::spawn_compactor) does.
///
/// ```
/// # use reference_apiserver::storage::{MemoryStorage, Storage};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> reference_apiserver::storage::Result<()> {
/// let store = MemoryStorage::new();
/// let kv = store.create("/registry/pods/default/web", "{}".into()).await?;
/// assert_eq!(kv.mod_revision, 2); // an empty store is at revision 1
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default)]
pub struct MemoryStorage {
    engine: Engine,
}

impl MemoryStorage {
    /// An empty store with the default [`EngineConfig`].
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store with the given tuning.
    pub fn with_config(config: EngineConfig) -> Self {
        MemoryStorage {
            engine: Engine::new(config),
        }
    }

    /// The engine underneath, for inspection.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

#[async_trait::async_trait]
impl Storage for MemoryStorage {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        Ok(self.engine.get(key))
    }

    async fn list(&self, prefix: &str, opts: &ListOptions) -> Result<ListResult> {
        self.engine.list(prefix, opts)
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        self.engine.write(key, WriteOp::Create(value))
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<KeyValue> {
        self.engine.write(key, WriteOp::Update { value, expected })
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue> {
        self.engine.write(key, WriteOp::Delete { expected })
    }

    async fn watch(&self, prefix: &str, from: Revision) -> Result<WatchStream> {
        self.engine.watch(prefix, from)
    }

    async fn revision(&self) -> Result<Revision> {
        Ok(self.engine.revision())
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.engine.compact(revision)
    }
}
