//! The storage conformance suite against every local backend.

use std::sync::Arc;

use parking_lot::Mutex;
use reference_apiserver::storage::{EmbeddedStorage, MemoryStorage, Storage, conformance};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_storage_conforms() {
    conformance::run_all(|| Arc::new(MemoryStorage::new()) as Arc<dyn Storage>).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_storage_conforms() {
    let dirs = Mutex::new(Vec::new());
    conformance::run_all(|| {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStorage::open(dir.path()).unwrap();
        dirs.lock().push(dir);
        Arc::new(store) as Arc<dyn Storage>
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_storage_conforms_after_reopen() {
    // The same suite on a store that was written, closed and reopened: the engine state
    // rebuilt from disk must behave like a fresh one.
    let dirs = Mutex::new(Vec::new());
    conformance::run_all(|| {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStorage::open(dir.path()).unwrap();
        drop(store);
        let store = EmbeddedStorage::open(dir.path()).unwrap();
        dirs.lock().push(dir);
        Arc::new(store) as Arc<dyn Storage>
    })
    .await;
}
