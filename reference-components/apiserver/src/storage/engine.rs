//! The in-memory MVCC engine that the local backends ([`MemoryStorage`], [`EmbeddedStorage`])
//! are built on.
//!
//! The engine holds, under one lock:
//!
//! - the store revision (1 for an empty store; every write adds exactly one, so the first write
//!   gets 2, as in etcd) and the compaction point (0 until the first compaction);
//! - every key's version history since the compaction point (a deleted key keeps a tombstone), so
//!   a list at an older revision sees the store exactly as it was: the apiserver pages a list by
//!   putting the revision of the first page into its continue token;
//! - the event history: one event per write since the compaction point, which `watch` replays;
//! - one broadcast channel per watched prefix, so a thousand watchers of `/registry/pods/` cost
//!   one send per event.
//!
//! A watch snapshots the matching history and subscribes to its prefix channel under the same
//! lock that writers publish under, so the replay ends exactly where the live events begin: no
//! gap, no duplicate, even when writes race with the start of the watch. Writers never wait for
//! watchers: a watcher that falls `watch_buffer` events behind on its prefix gets
//! [`Error::Expired`] and must relist, it never silently misses an event.
//!
//! The history is bounded by compaction ([`Engine::compact`]), which drops everything at or
//! below the compaction point but the latest version of every live key. The engine does not
//! compact by itself; [`spawn_compactor`](super::spawn_compactor) does it on a schedule.
//!
//! [`MemoryStorage`]: super::MemoryStorage
//! [`EmbeddedStorage`]: super::EmbeddedStorage

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use parking_lot::RwLock;
use tokio::sync::broadcast;

use super::{Error, Event, EventKind, KeyValue, ListOptions, ListResult, Result, Revision, WatchStream};

/// Tuning of an [`Engine`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// How many events of its prefix a watcher may fall behind before it gets
    /// [`Error::Expired`] (rounded up to a power of two). Writers never wait for watchers.
    pub watch_buffer: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self { watch_buffer: 8192 }
    }
}

/// A write before it has a revision: what the caller asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    /// Create the key; fails if it exists.
    Create(Bytes),
    /// Replace the value if the key's modification revision is `expected`.
    Update {
        /// The new value.
        value: Bytes,
        /// The modification revision the key must be at.
        expected: Revision,
    },
    /// Delete the key, if its modification revision is `expected` (when given).
    Delete {
        /// The modification revision the key must be at, if any.
        expected: Option<Revision>,
    },
}

impl WriteOp {
    /// Checks the write against `current` (the key's latest value, `None` if absent) and builds
    /// the event it produces at `revision`, or the error the caller gets.
    pub fn plan(self, key: &str, current: Option<&KeyValue>, revision: Revision) -> Result<Event> {
        let check = |expected: Revision, current: &KeyValue| {
            if current.mod_revision == expected {
                Ok(())
            } else {
                Err(Error::Conflict {
                    key: key.to_owned(),
                    expected,
                    actual: current.mod_revision,
                })
            }
        };
        let not_found = || Error::NotFound { key: key.to_owned() };
        match self {
            WriteOp::Create(value) => match current {
                Some(_) => Err(Error::AlreadyExists { key: key.to_owned() }),
                None => Ok(Event {
                    kind: EventKind::Create,
                    kv: KeyValue {
                        key: key.to_owned(),
                        value,
                        create_revision: revision,
                        mod_revision: revision,
                    },
                    prev: None,
                }),
            },
            WriteOp::Update { value, expected } => {
                let current = current.ok_or_else(not_found)?;
                check(expected, current)?;
                Ok(Event {
                    kind: EventKind::Update,
                    kv: KeyValue {
                        key: key.to_owned(),
                        value,
                        create_revision: current.create_revision,
                        mod_revision: revision,
                    },
                    prev: Some(current.clone()),
                })
            }
            WriteOp::Delete { expected } => {
                let current = current.ok_or_else(not_found)?;
                if let Some(expected) = expected {
                    check(expected, current)?;
                }
                Ok(Event {
                    kind: EventKind::Delete,
                    kv: KeyValue {
                        mod_revision: revision,
                        ..current.clone()
                    },
                    prev: Some(current.clone()),
                })
            }
        }
    }
}

/// What a durable backend loads into a fresh engine on start ([`Engine::restore`]).
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The store revision.
    pub revision: Revision,
    /// The compaction point.
    pub compacted: Revision,
    /// The latest value of every live key.
    pub live: Vec<KeyValue>,
    /// Every event with a revision in `(compacted, revision]`, in revision order (an empty
    /// store is at revision 1, so the first event is at 2 or later).
    pub events: Vec<Event>,
}

/// The in-memory MVCC store. See the [module documentation](self).
#[derive(Debug)]
pub struct Engine {
    state: RwLock<State>,
}

#[derive(Debug)]
struct State {
    revision: Revision,
    compacted: Revision,
    /// Versions of each key, oldest first: at most one at or below `compacted` (never a
    /// tombstone), then one per event since.
    keys: BTreeMap<String, Vec<Version>>,
    /// `history[i]` has revision `history_base() + 1 + i`.
    history: VecDeque<Arc<Event>>,
    /// One channel per watched prefix.
    watchers: BTreeMap<String, broadcast::Sender<Arc<Event>>>,
    watch_buffer: usize,
}

#[derive(Debug, Clone)]
struct Version {
    create_revision: Revision,
    mod_revision: Revision,
    /// `None`: the key was deleted at `mod_revision`.
    value: Option<Bytes>,
}

impl Version {
    fn of(kv: &KeyValue) -> Self {
        Version {
            create_revision: kv.create_revision,
            mod_revision: kv.mod_revision,
            value: Some(kv.value.clone()),
        }
    }

    fn of_event(event: &Event) -> Self {
        match event.kind {
            EventKind::Delete => Version {
                value: None,
                ..Version::of(&event.kv)
            },
            EventKind::Create | EventKind::Update => Version::of(&event.kv),
        }
    }

    fn to_kv(&self, key: &str) -> Option<KeyValue> {
        Some(KeyValue {
            key: key.to_owned(),
            value: self.value.clone()?,
            create_revision: self.create_revision,
            mod_revision: self.mod_revision,
        })
    }
}

/// The version of a key that was current at `revision`, if it was live then.
fn version_at(versions: &[Version], revision: Revision) -> Option<&Version> {
    let n = versions.partition_point(|v| v.mod_revision <= revision);
    versions[..n].last().filter(|v| v.value.is_some())
}

impl Default for Engine {
    fn default() -> Self {
        Self::new(EngineConfig::default())
    }
}

impl Engine {
    /// An empty store at revision 1.
    pub fn new(config: EngineConfig) -> Self {
        Engine {
            state: RwLock::new(State {
                revision: 1,
                compacted: 0,
                keys: BTreeMap::new(),
                history: VecDeque::new(),
                watchers: BTreeMap::new(),
                watch_buffer: config.watch_buffer.max(1),
            }),
        }
    }

    /// A store holding `snapshot`. Fails with [`Error::Backend`] if the snapshot is inconsistent
    /// (events missing or out of order, or disagreeing with the live values).
    pub fn restore(config: EngineConfig, snapshot: Snapshot) -> Result<Self> {
        let corrupt = |what: String| Error::Backend(format!("inconsistent snapshot: {what}"));
        let Snapshot {
            revision,
            compacted,
            live,
            events,
        } = snapshot;
        if revision < 1 || compacted > revision {
            return Err(corrupt(format!(
                "revision {revision}, compaction point {compacted}"
            )));
        }
        // No write has revision 1: an empty store's first event is at 2.
        let base = compacted.max(1);
        if events.len() as u64 != revision - base {
            return Err(corrupt(format!(
                "{} events for revisions {}..={revision}",
                events.len(),
                base + 1
            )));
        }
        let mut keys: BTreeMap<String, Vec<Version>> = BTreeMap::new();
        let mut history = VecDeque::with_capacity(events.len());
        for (i, event) in events.into_iter().enumerate() {
            if event.revision() != base + 1 + i as u64 {
                return Err(corrupt(format!(
                    "event {} where {} was expected",
                    event.revision(),
                    base + 1 + i as u64
                )));
            }
            let versions = keys.entry(event.kv.key.clone()).or_default();
            if versions.is_empty()
                && let Some(prev) = &event.prev
            {
                // The first event since the compaction point: its previous value is the one
                // that was current at the compaction point.
                versions.push(Version::of(prev));
            }
            versions.push(Version::of_event(&event));
            history.push_back(Arc::new(event));
        }
        for kv in live {
            match keys.get(&kv.key).and_then(|v| v.last()) {
                // Written since the compaction point: the history already ends with this value.
                Some(last) if last.value.as_ref() == Some(&kv.value) => {
                    if last.mod_revision != kv.mod_revision {
                        return Err(corrupt(format!("{} at two revisions", kv.key)));
                    }
                }
                Some(_) => return Err(corrupt(format!("{} disagrees with its events", kv.key))),
                None if kv.mod_revision > compacted => {
                    return Err(corrupt(format!("{} has no event", kv.key)));
                }
                None => {
                    keys.insert(kv.key.clone(), vec![Version::of(&kv)]);
                }
            }
        }
        Ok(Engine {
            state: RwLock::new(State {
                revision,
                compacted,
                keys,
                history,
                watchers: BTreeMap::new(),
                watch_buffer: config.watch_buffer.max(1),
            }),
        })
    }

    /// Everything [`Engine::restore`] needs to rebuild this store: the live values and the
    /// history since the compaction point. Values are shared, not copied.
    pub fn snapshot(&self) -> Snapshot {
        let state = self.state.read();
        Snapshot {
            revision: state.revision,
            compacted: state.compacted,
            live: state
                .keys
                .iter()
                .filter_map(|(key, versions)| versions.last()?.to_kv(key))
                .collect(),
            events: state.history.iter().map(|e| Event::clone(e)).collect(),
        }
    }

    /// The store revision: the revision of the latest write (1 for an empty store).
    pub fn revision(&self) -> Revision {
        self.state.read().revision
    }

    /// The compaction point: history at and below it is gone (0 if never compacted).
    pub fn compacted(&self) -> Revision {
        self.state.read().compacted
    }

    /// The number of events held for watch replay (the revisions since the compaction point).
    pub fn history_len(&self) -> usize {
        self.state.read().history.len()
    }

    /// Reads one key at the current revision.
    pub fn get(&self, key: &str) -> Option<KeyValue> {
        let state = self.state.read();
        state.keys.get(key)?.last()?.to_kv(key)
    }

    /// Reads the keys under `prefix` in key order (see [`ListOptions`]). A revision of 0 reads
    /// the current one.
    pub fn list(&self, prefix: &str, opts: &ListOptions) -> Result<ListResult> {
        let state = self.state.read();
        let revision = state.readable(opts.revision)?;
        let lower = match opts.start_after.as_deref() {
            Some(after) if after >= prefix => Bound::Excluded(after),
            _ => Bound::Included(prefix),
        };
        let limit = opts.limit.filter(|l| *l > 0).unwrap_or(usize::MAX);
        let mut items = Vec::new();
        let mut remaining = 0;
        for (key, versions) in state.keys.range::<str, _>((lower, Bound::Unbounded)) {
            if !key.starts_with(prefix) {
                break;
            }
            let Some(version) = version_at(versions, revision) else {
                continue;
            };
            if items.len() < limit {
                items.extend(version.to_kv(key));
            } else {
                remaining += 1;
            }
        }
        Ok(ListResult {
            items,
            revision,
            remaining,
        })
    }

    /// Creates, updates or deletes `key` at the next revision, atomically with its checks.
    pub fn write(&self, key: &str, op: WriteOp) -> Result<KeyValue> {
        let mut state = self.state.write();
        let current = state.keys.get(key).and_then(|v| v.last()?.to_kv(key));
        let event = op.plan(key, current.as_ref(), state.revision + 1)?;
        let kv = event.kv.clone();
        state.apply(Arc::new(event));
        Ok(kv)
    }

    /// Applies events that were checked and numbered elsewhere (a durable backend, after its
    /// commit). Their revisions must continue the store's without a gap; otherwise nothing is
    /// applied and [`Error::Backend`] is returned.
    pub fn apply(&self, events: &[Arc<Event>]) -> Result<()> {
        let mut state = self.state.write();
        for (i, event) in events.iter().enumerate() {
            let expected = state.revision + 1 + i as u64;
            if event.revision() != expected {
                return Err(Error::Backend(format!(
                    "event at revision {} applied where {expected} was expected",
                    event.revision()
                )));
            }
        }
        for event in events {
            state.apply(event.clone());
        }
        Ok(())
    }

    /// Checks that the store can compact at `revision`: `Ok(false)` if it already is,
    /// [`Error::FutureRevision`] if `revision` is newer than the store.
    pub fn check_compact(&self, revision: Revision) -> Result<bool> {
        let state = self.state.read();
        if revision > state.revision {
            return Err(Error::FutureRevision {
                requested: revision,
                current: state.revision,
            });
        }
        Ok(revision > state.compacted)
    }

    /// Forgets history at and below `revision`, keeping the latest version of every live key.
    /// Compacting at or below the current compaction point does nothing.
    pub fn compact(&self, revision: Revision) -> Result<()> {
        let mut guard = self.state.write();
        let state = &mut *guard;
        if revision > state.revision {
            return Err(Error::FutureRevision {
                requested: revision,
                current: state.revision,
            });
        }
        if revision <= state.compacted {
            return Ok(());
        }
        let dropped: Vec<Arc<Event>> = state
            .history
            .drain(..revision.saturating_sub(state.history_base()) as usize)
            .collect();
        // Only keys written since the last compaction can have versions to forget.
        let touched: HashSet<&str> = dropped.iter().map(|e| e.kv.key.as_str()).collect();
        for key in touched {
            let Some(versions) = state.keys.get_mut(key) else {
                continue;
            };
            let at_or_below = versions.partition_point(|v| v.mod_revision <= revision);
            // Keep the version current at `revision`, unless it is a tombstone.
            let keep_from = match versions[..at_or_below].last() {
                Some(v) if v.value.is_some() => at_or_below - 1,
                _ => at_or_below,
            };
            versions.drain(..keep_from);
            if versions.is_empty() {
                state.keys.remove(key);
            }
        }
        state.compacted = revision;
        Ok(())
    }

    /// Events under `prefix` with revisions greater than `from`: the retained history first,
    /// then live events, in revision order.
    pub fn watch(&self, prefix: &str, from: Revision) -> Result<WatchStream> {
        let mut state = self.state.write();
        if from < state.compacted {
            return Err(Error::Expired {
                requested: from,
                compacted: state.compacted,
            });
        }
        if from > state.revision {
            return Err(Error::FutureRevision {
                requested: from,
                current: state.revision,
            });
        }
        let replay: Vec<Arc<Event>> = state
            .history
            .range(from.saturating_sub(state.history_base()) as usize..)
            .filter(|e| e.kv.key.starts_with(prefix))
            .cloned()
            .collect();
        let live = state.subscribe(prefix);
        let last = state.revision;
        drop(state);
        let replay = futures::stream::iter(replay).map(|e| Ok(Event::clone(&e)));
        Ok(replay.chain(live_events(live, last)).boxed())
    }
}

impl State {
    /// The revision just before the first event in `history` (no write has revision 1).
    fn history_base(&self) -> Revision {
        self.compacted.max(1)
    }

    /// The revision a read at `requested` happens at.
    fn readable(&self, requested: Option<Revision>) -> Result<Revision> {
        match requested {
            None | Some(0) => Ok(self.revision),
            Some(r) if r > self.revision => Err(Error::FutureRevision {
                requested: r,
                current: self.revision,
            }),
            Some(r) if r < self.compacted => Err(Error::Expired {
                requested: r,
                compacted: self.compacted,
            }),
            Some(r) => Ok(r),
        }
    }

    fn apply(&mut self, event: Arc<Event>) {
        let version = Version::of_event(&event);
        match self.keys.get_mut(event.kv.key.as_str()) {
            Some(versions) => versions.push(version),
            None => {
                self.keys.insert(event.kv.key.clone(), vec![version]);
            }
        }
        self.revision = event.revision();
        self.publish(&event);
        self.history.push_back(event);
    }

    fn publish(&mut self, event: &Arc<Event>) {
        let mut closed = false;
        for (prefix, tx) in &self.watchers {
            if event.kv.key.starts_with(prefix.as_str()) {
                closed |= tx.send(event.clone()).is_err();
            }
        }
        if closed {
            self.watchers.retain(|_, tx| tx.receiver_count() > 0);
        }
    }

    fn subscribe(&mut self, prefix: &str) -> broadcast::Receiver<Arc<Event>> {
        self.watchers.retain(|_, tx| tx.receiver_count() > 0);
        if let Some(tx) = self.watchers.get(prefix) {
            return tx.subscribe();
        }
        let (tx, rx) = broadcast::channel(self.watch_buffer);
        self.watchers.insert(prefix.to_owned(), tx);
        rx
    }
}

/// The live part of a watch: events after `last`, until the store goes away. A watcher that
/// lagged gets one [`Error::Expired`] (requested: the last revision it saw; compacted: a lower
/// bound of the last revision it lost) and the stream ends.
fn live_events(
    rx: broadcast::Receiver<Arc<Event>>,
    last: Revision,
) -> impl futures::Stream<Item = Result<Event>> + Send + 'static {
    futures::stream::unfold(Some((rx, last)), |state| async move {
        let (mut rx, last) = state?;
        match rx.recv().await {
            Ok(event) => {
                let revision = event.revision();
                Some((Ok(Event::clone(&event)), Some((rx, revision))))
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::debug!(last, missed, "watcher fell behind; it must relist");
                let expired = Error::Expired {
                    requested: last,
                    compacted: last + missed,
                };
                Some((Err(expired), None))
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(engine: &Engine, key: &str, value: &str) -> KeyValue {
        let value = Bytes::copy_from_slice(value.as_bytes());
        match engine.get(key) {
            Some(kv) => engine.write(
                key,
                WriteOp::Update {
                    value,
                    expected: kv.mod_revision,
                },
            ),
            None => engine.write(key, WriteOp::Create(value)),
        }
        .unwrap()
    }

    fn del(engine: &Engine, key: &str) -> KeyValue {
        engine.write(key, WriteOp::Delete { expected: None }).unwrap()
    }

    fn keys_and_values(list: &ListResult) -> Vec<(String, String)> {
        let text = |b: &Bytes| String::from_utf8(b.to_vec()).unwrap();
        list.items
            .iter()
            .map(|kv| (kv.key.clone(), text(&kv.value)))
            .collect()
    }

    #[test]
    fn revisions_start_at_one_and_each_write_adds_one() {
        let engine = Engine::default();
        assert_eq!(engine.revision(), 1);
        assert_eq!(put(&engine, "/a", "1").mod_revision, 2);
        assert_eq!(put(&engine, "/a", "2").mod_revision, 3);
        assert_eq!(del(&engine, "/a").mod_revision, 4);
        let failed = engine.write("/a", WriteOp::Delete { expected: None });
        assert!(matches!(failed, Err(Error::NotFound { .. })));
        assert_eq!(engine.revision(), 4);
    }

    #[test]
    fn compaction_keeps_latest_versions_and_drops_tombstones() {
        let engine = Engine::default();
        put(&engine, "/k/a", "a1"); // 2
        put(&engine, "/k/a", "a2"); // 3
        put(&engine, "/k/b", "b1"); // 4
        del(&engine, "/k/b"); // 5
        put(&engine, "/k/c", "c1"); // 6
        put(&engine, "/k/c", "c2"); // 7
        engine.compact(6).unwrap();
        assert_eq!(engine.compacted(), 6);
        assert_eq!(engine.history_len(), 1);
        {
            let state = engine.state.read();
            assert_eq!(state.keys.len(), 2, "the deleted key is forgotten");
            assert_eq!(state.keys["/k/a"].len(), 1);
            assert_eq!(state.keys["/k/c"].len(), 2, "c1 is current at 6, c2 after");
        }
        let at = |r| {
            engine.list(
                "/k/",
                &ListOptions {
                    revision: Some(r),
                    ..Default::default()
                },
            )
        };
        assert_eq!(
            keys_and_values(&at(6).unwrap()),
            [("/k/a".into(), "a2".into()), ("/k/c".into(), "c1".into())]
        );
        assert!(matches!(
            at(5),
            Err(Error::Expired {
                requested: 5,
                compacted: 6
            })
        ));
        assert!(matches!(
            at(8),
            Err(Error::FutureRevision {
                requested: 8,
                current: 7
            })
        ));
        engine.compact(3).unwrap();
        assert_eq!(engine.compacted(), 6, "compacting backwards does nothing");
        engine.compact(7).unwrap();
        assert_eq!(engine.state.read().keys["/k/c"].len(), 1);
        assert_eq!(engine.get("/k/c").unwrap().mod_revision, 7);
    }

    #[test]
    fn restore_rebuilds_history_from_events() {
        let engine = Engine::default();
        put(&engine, "/k/a", "a1"); // 2
        put(&engine, "/k/b", "b1"); // 3
        put(&engine, "/k/a", "a2"); // 4
        del(&engine, "/k/b"); // 5
        put(&engine, "/k/c", "c1"); // 6
        engine.compact(3).unwrap();
        let state = engine.state.read();
        let snapshot = Snapshot {
            revision: state.revision,
            compacted: state.compacted,
            live: engine.list("", &ListOptions::default()).unwrap().items,
            events: state.history.iter().map(|e| Event::clone(e)).collect(),
        };
        drop(state);
        let restored = Engine::restore(EngineConfig::default(), snapshot.clone()).unwrap();
        for r in 3..=6 {
            let opts = ListOptions {
                revision: Some(r),
                ..Default::default()
            };
            assert_eq!(
                restored.list("/k/", &opts).unwrap(),
                engine.list("/k/", &opts).unwrap(),
                "state at {r}"
            );
        }
        let mut gap = snapshot;
        gap.events.remove(1);
        assert!(matches!(
            Engine::restore(EngineConfig::default(), gap),
            Err(Error::Backend(_))
        ));
    }

    #[tokio::test]
    async fn slow_watcher_expires_without_blocking_writers() {
        let engine = Engine::new(EngineConfig { watch_buffer: 16 });
        let mut slow = engine.watch("/k/", engine.revision()).unwrap();
        let mut other_prefix = engine.watch("/other/", engine.revision()).unwrap();
        for i in 0..100 {
            put(&engine, &format!("/k/{i}"), "v");
        }
        put(&engine, "/other/x", "v");
        assert!(matches!(
            slow.next().await,
            Some(Err(Error::Expired { requested: 1, .. }))
        ));
        assert!(slow.next().await.is_none(), "the stream ends after Expired");
        let event = other_prefix.next().await.unwrap().unwrap();
        assert_eq!(event.kv.key, "/other/x", "other prefixes are not affected");
    }

    #[tokio::test]
    async fn watchers_of_one_prefix_share_a_channel() {
        let engine = Engine::default();
        let watches: Vec<_> = (0..10).map(|_| engine.watch("/k/", 1).unwrap()).collect();
        assert_eq!(engine.state.read().watchers.len(), 1);
        drop(watches);
        put(&engine, "/k/a", "1");
        assert!(
            engine.state.read().watchers.is_empty(),
            "closed channels are dropped"
        );
    }
}
