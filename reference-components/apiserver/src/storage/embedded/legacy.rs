//! Stores written by earlier versions: one redb file, `store.redb`, with the live objects
//! (`objects`: key → create revision, mod revision, value), the event log since the compaction
//! point (`event_log`: revision → `codec`'s encoding) and the two counters (`meta`). Read once,
//! on the first open, into the snapshot the write-ahead log starts from.

use std::path::Path;

use bytes::Bytes;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::codec;
use crate::storage::engine::Snapshot;
use crate::storage::{Error, KeyValue, Result};

/// The file's name in the data directory.
pub(super) const FILE_NAME: &str = "store.redb";

const OBJECTS: TableDefinition<'_, &str, (u64, u64, &[u8])> = TableDefinition::new("objects");
const EVENT_LOG: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("event_log");
const META: TableDefinition<'_, &str, u64> = TableDefinition::new("meta");
const META_REVISION: &str = "revision";
const META_COMPACTED: &str = "compacted";

/// The state of the store in `path`, if there is one.
pub(super) fn import(path: &Path) -> Result<Option<Snapshot>> {
    if !path.exists() {
        return Ok(None);
    }
    let db = Database::create(path)
        .map_err(redb::Error::from)
        .map_err(backend("opening the database"))?;
    load(&db).map(Some)
}

fn backend(context: &str) -> impl Fn(redb::Error) -> Error + '_ {
    move |e| Error::Backend(format!("{context}: {e}"))
}

fn load(db: &Database) -> Result<Snapshot> {
    let read = || -> Result<Snapshot, redb::Error> {
        let txn = db.begin_read()?;
        let meta = txn.open_table(META)?;
        let revision = meta.get(META_REVISION)?.map_or(1, |v| v.value());
        let compacted = meta.get(META_COMPACTED)?.map_or(0, |v| v.value());
        let mut live = Vec::new();
        for entry in txn.open_table(OBJECTS)?.iter()? {
            let (key, value) = entry?;
            let (create_revision, mod_revision, value) = value.value();
            live.push(KeyValue {
                key: key.value().to_owned(),
                value: Bytes::copy_from_slice(value),
                create_revision,
                mod_revision,
            });
        }
        let mut events = Vec::new();
        for entry in txn.open_table(EVENT_LOG)?.range(compacted + 1..)? {
            let (revision, bytes) = entry?;
            let event = codec::decode(revision.value(), bytes.value())
                .map_err(|e| redb::Error::Corrupted(format!("event {}: {e}", revision.value())))?;
            events.push(event);
        }
        Ok(Snapshot {
            revision,
            compacted,
            live,
            events,
        })
    };
    read().map_err(backend("loading the store"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{EmbeddedStorage, Event, EventKind, Revision, Storage};

    /// A store as older versions wrote it: one redb file with the live objects, the event log
    /// since the compaction point and the two counters.
    fn write_legacy(
        path: &Path,
        live: &[KeyValue],
        events: &[Event],
        revision: Revision,
        compacted: Revision,
    ) {
        let db = Database::create(path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut objects = txn.open_table(OBJECTS).unwrap();
            for kv in live {
                objects
                    .insert(
                        kv.key.as_str(),
                        (kv.create_revision, kv.mod_revision, kv.value.as_ref()),
                    )
                    .unwrap();
            }
            let mut log = txn.open_table(EVENT_LOG).unwrap();
            for event in events {
                let mut buf = Vec::new();
                codec::encode(event, &mut buf);
                log.insert(event.revision(), buf.as_slice()).unwrap();
            }
            let mut meta = txn.open_table(META).unwrap();
            meta.insert(META_REVISION, revision).unwrap();
            meta.insert(META_COMPACTED, compacted).unwrap();
        }
        txn.commit().unwrap();
    }

    #[tokio::test]
    async fn a_store_of_an_older_version_is_imported_once() {
        let dir = tempfile::tempdir().unwrap();
        let kv = |key: &str, value: &'static str, create, m| KeyValue {
            key: key.into(),
            value: Bytes::from_static(value.as_bytes()),
            create_revision: create,
            mod_revision: m,
        };
        // /a written at 2 (compacted away), /b created at 3 and updated at 4; compacted at 3.
        let live = [kv("/a", "a", 2, 2), kv("/b", "b2", 3, 4)];
        let events = [Event {
            kind: EventKind::Update,
            kv: kv("/b", "b2", 3, 4),
            prev: Some(kv("/b", "b1", 3, 3)),
        }];
        write_legacy(&dir.path().join(FILE_NAME), &live, &events, 4, 3);

        let store = EmbeddedStorage::open(dir.path()).unwrap();
        assert_eq!(store.get("/a").await.unwrap(), Some(live[0].clone()));
        assert_eq!(store.get("/b").await.unwrap(), Some(live[1].clone()));
        assert_eq!(store.revision().await.unwrap(), 4);
        assert_eq!(store.engine().compacted(), 3);
        let created = store.create("/c", "c".into()).await.unwrap();
        assert_eq!(created.mod_revision, 5);
        drop(store);
        assert!(!dir.path().join(FILE_NAME).exists());
        assert!(dir.path().join("store.redb.imported").exists());

        // Reopened from the new files, with the write made after the import.
        let store = EmbeddedStorage::open(dir.path()).unwrap();
        assert_eq!(store.get("/c").await.unwrap(), Some(created));
        assert_eq!(store.get("/b").await.unwrap(), Some(live[1].clone()));
        assert_eq!(store.engine().history_len(), 2);
    }
}
