//! The watch cache: the current state and recent history of every resource, fed by one storage
//! watch, so that a thousand watchers (and every `resourceVersion=0` list) cost no storage work.
//!
//! Like kube-apiserver's cacher: at start the cache lists everything under `/registry/` and
//! watches from that revision. Each resource prefix ([`resource_prefix`]) has its own cache,
//! created at start for the built-in resources and on first use for the others (custom
//! resources, whose CRDs come and go). Each event is decoded once: its labels and selectable
//! fields are extracted ([`Labels`], [`FieldValues`]), and the object keeps storage's own bytes
//! and where its resourceVersion goes, so that serving it to any number of watchers is a filter
//! and a byte copy.
//!
//! Watchers subscribe under the same lock under which events are applied, so replayed history
//! and live events join without a gap or a duplicate. A watcher that falls too far behind is
//! ended with `410 Expired` and relists, as client-go's reflector expects. A watch from a
//! revision older than the cache's history falls back to a storage watch (the embedded store
//! keeps its history across restarts).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use parking_lot::RwLock;
use serde_json::Value;
use tokio::sync::{broadcast, watch};

mod indexed;

pub use indexed::{FieldValues, Fields, Labels};

use crate::object::{RvSlot, field_value, from_storage};
use crate::projection::Projection;
use crate::registry::Registry;
use crate::storage::{self, Event, EventKind, ListOptions, Revision, Storage};

/// How many events of one resource the cache keeps for watchers that resume (by default).
pub const HISTORY_PER_RESOURCE: usize = 10_000;
/// How many live events a watcher may fall behind before it is ended with 410.
pub const WATCHER_BUFFER: usize = 4096;

/// An object as the cache holds it.
#[derive(Debug)]
pub struct CachedObject {
    /// Storage key.
    pub key: String,
    /// The revision that last wrote it.
    pub rv: Revision,
    /// The stored JSON (the very bytes storage holds, not a copy), or the served JSON when
    /// `slot` is `None`.
    stored: Bytes,
    /// Where the served form gets its `resourceVersion`.
    slot: Option<RvSlot>,
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.labels`.
    pub labels: Labels,
    /// The selectable fields' values.
    pub fields: FieldValues,
}

impl CachedObject {
    /// The served JSON, `resourceVersion` included (a copy of the stored bytes with it written
    /// in): for callers that need it whole. Responses, lists and watch events use
    /// [`CachedObject::write_served`] instead, which copies once into their buffer.
    pub fn served(&self) -> Bytes {
        match self.slot {
            Some(slot) => slot.served(&self.stored, self.rv),
            None => self.stored.clone(),
        }
    }

    /// The length of the served JSON.
    pub fn served_len(&self) -> usize {
        match self.slot {
            Some(slot) => slot.served_len(&self.stored, self.rv),
            None => self.stored.len(),
        }
    }

    /// Appends the served JSON to `out`.
    pub fn write_served(&self, out: &mut impl bytes::BufMut) {
        match self.slot {
            Some(slot) => slot.write(&self.stored, self.rv, out),
            None => out.put_slice(&self.stored),
        }
    }
}

/// One change, as watchers see it.
#[derive(Debug, Clone)]
pub struct CachedEvent {
    /// Create, update or delete.
    pub kind: EventKind,
    /// The object after the change (for deletes: its last state, at the deleting revision).
    pub obj: Arc<CachedObject>,
    /// The object before the change.
    pub prev: Option<Arc<CachedObject>>,
}

impl CachedEvent {
    /// The revision of the change.
    pub fn rv(&self) -> Revision {
        self.obj.rv
    }
}

/// Why the cache could not serve a watch.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The revision is older than any history still kept.
    #[error("too old resource version: {requested} ({oldest})")]
    Expired {
        /// Asked for.
        requested: Revision,
        /// Oldest available.
        oldest: Revision,
    },
    /// The cache did not reach the revision in time.
    #[error("Too large resource version: {requested}, current: {current}")]
    TooLarge {
        /// Asked for.
        requested: Revision,
        /// Where the cache is.
        current: Revision,
    },
    /// No such resource prefix.
    #[error("resource {0} is not cached")]
    Unknown(String),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] storage::Error),
}

struct ResourceCache {
    fields: Fields,
    objects: BTreeMap<String, Arc<CachedObject>>,
    history: VecDeque<CachedEvent>,
    /// Events with revisions above this are all in `history`.
    history_from: Revision,
    tx: broadcast::Sender<CachedEvent>,
}

struct State {
    history_limit: usize,
    revision: Revision,
    /// The revision the state was listed at: every event after it is in the histories.
    loaded_at: Revision,
    resources: HashMap<String, ResourceCache>,
}

impl State {
    /// The cache of `prefix`, created empty when the resource has had no object yet (custom
    /// resources come and go at run time).
    fn resource_mut(&mut self, prefix: &str, fields: &HashMap<String, Fields>) -> &mut ResourceCache {
        let history_from = self.loaded_at;
        self.resources.entry(prefix.to_string()).or_insert_with(|| {
            let (tx, _) = broadcast::channel(WATCHER_BUFFER);
            ResourceCache {
                fields: fields_for(fields, prefix),
                objects: BTreeMap::new(),
                history: VecDeque::new(),
                history_from,
                tx,
            }
        })
    }
}

/// The selectable fields of `prefix`: those the registry declared, else name and namespace.
fn fields_for(fields: &HashMap<String, Fields>, prefix: &str) -> Fields {
    fields.get(prefix).cloned().unwrap_or_else(|| {
        Arc::new(vec![
            ("metadata.name".into(), String::new()),
            ("metadata.namespace".into(), String::new()),
        ])
    })
}

/// The cache of every registered resource.
#[derive(Clone)]
pub struct WatchCache {
    state: Arc<RwLock<State>>,
    progress: watch::Receiver<Revision>,
    /// Cleared while the storage watch is down (etcd unreachable): watches end with a 503
    /// error event, and new ones are refused with 503, until the cache has reloaded.
    healthy: Arc<std::sync::atomic::AtomicBool>,
    storage: Arc<dyn Storage>,
    fields_by_prefix: Arc<HashMap<String, Fields>>,
    expected: Arc<Expected>,
}

impl std::fmt::Debug for WatchCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchCache")
            .field("revision", &*self.progress.borrow())
            .finish_non_exhaustive()
    }
}

/// Decode a stored value into a cached object.
fn cache_object(fields: &Fields, key: &str, value: &Bytes, rv: Revision) -> Option<Arc<CachedObject>> {
    let wanted = ["metadata.namespace", "metadata.name", "metadata.labels"];
    let projection = Projection::new(wanted.into_iter().chain(fields.iter().map(|(f, _)| f.as_str())));
    let obj = projection.decode(value).ok()?;
    cached(key, value, rv, describe(fields, &obj))
}

/// The cached object of `value` as `described`.
fn cached(key: &str, value: &Bytes, rv: Revision, described: Described) -> Option<Arc<CachedObject>> {
    let Described {
        namespace,
        name,
        labels,
        fields,
    } = described;
    let slot = RvSlot::find(value);
    let stored = match slot {
        Some(_) => value.clone(),
        None => Bytes::from(serde_json::to_vec(&from_storage(value, rv).ok()?).ok()?),
    };
    Some(Arc::new(CachedObject {
        key: key.to_string(),
        rv,
        stored,
        slot,
        namespace,
        name,
        labels,
        fields,
    }))
}

/// What the cache indexes of an object (whole, or the projection of [`cache_object`]).
fn describe(fields: &Fields, obj: &Value) -> Described {
    let meta = obj.get("metadata");
    let s = |f: &str| {
        meta.and_then(|m| m.get(f))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let labels = meta
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
        .map(|l| {
            l.iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    Described {
        namespace: s("namespace"),
        name: s("name"),
        labels,
        fields: FieldValues::new(fields.clone(), fields.iter().map(|(f, d)| field_value(obj, f, d))),
    }
}

/// What the cache indexes of an object: its namespace, name, labels and selectable fields.
/// A handler that is about to store an object describes it ([`WatchCache::describe`]) and
/// tells the cache ([`WatchCache::expect`]), so that the cache takes the description when the
/// event of those very bytes arrives instead of parsing them again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    namespace: String,
    name: String,
    labels: Labels,
    fields: FieldValues,
}

/// Writes the cache was told about, by key: the bytes being stored and their description.
/// Taken when their event arrives (or dropped if the event carries other bytes: another write,
/// or a backend that copies values); forgotten by the handler if the write fails.
type Expected = parking_lot::Mutex<HashMap<String, (Bytes, Described)>>;

/// At most this many expected writes are kept: should events stop arriving (the cache
/// restarting its storage watch), the map is emptied rather than left to grow.
const MAX_EXPECTED: usize = 4096;

/// Whether `a` and `b` are the same bytes in memory (not merely equal).
fn same_bytes(a: &Bytes, b: &Bytes) -> bool {
    a.as_ptr() == b.as_ptr() && a.len() == b.len()
}

/// The resource prefix of a key: `/registry/{resource}/` for built-in resources, and
/// `/registry/{group}/{resource}/` when the first segment is a group (it has a dot: custom
/// resources, CustomResourceDefinitions).
pub fn resource_prefix(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("/registry/")?;
    let first = rest.find('/')?;
    let end = if rest[..first].contains('.') {
        first + 1 + rest[first + 1..].find('/')?
    } else {
        first
    };
    Some(&key[..("/registry/".len() + end + 1)])
}

impl WatchCache {
    /// List everything, then follow one storage watch in the background.
    pub async fn start(
        storage: Arc<dyn Storage>,
        registry: &Registry,
        history_limit: usize,
    ) -> Result<Self, CacheError> {
        let mut fields_by_prefix: HashMap<String, Fields> = HashMap::new();
        for def in registry.all() {
            let mut fields: Vec<(String, String)> = vec![
                ("metadata.name".into(), String::new()),
                ("metadata.namespace".into(), String::new()),
            ];
            fields.extend(
                def.field_selectors
                    .iter()
                    .map(|(f, d)| (f.to_string(), d.to_string())),
            );
            // Versions sharing storage select on the union of their fields.
            match fields_by_prefix.get_mut(&def.key_prefix()) {
                Some(existing) => {
                    let merged = Arc::make_mut(existing);
                    for f in fields {
                        if !merged.contains(&f) {
                            merged.push(f);
                        }
                    }
                }
                None => {
                    fields_by_prefix.insert(def.key_prefix(), Arc::new(fields));
                }
            }
        }
        let fields_by_prefix = Arc::new(fields_by_prefix);
        let (mut state, revision) = Self::load(&storage, &fields_by_prefix).await?;
        state.history_limit = history_limit.max(1);
        let (progress_tx, progress) = watch::channel(revision);
        let cache = Self {
            state: Arc::new(RwLock::new(state)),
            progress,
            healthy: Arc::new(std::sync::atomic::AtomicBool::new(true)),
            storage,
            fields_by_prefix,
            expected: Arc::default(),
        };
        tokio::spawn(cache.clone().follow(revision, progress_tx));
        Ok(cache)
    }

    async fn load(
        storage: &Arc<dyn Storage>,
        prefixes: &HashMap<String, Fields>,
    ) -> Result<(State, Revision), CacheError> {
        let listed = storage.list("/registry/", &ListOptions::default()).await?;
        let mut state = State {
            history_limit: HISTORY_PER_RESOURCE,
            revision: listed.revision,
            loaded_at: listed.revision,
            resources: HashMap::new(),
        };
        for p in prefixes.keys() {
            state.resource_mut(p, prefixes);
        }
        for kv in listed.items {
            let Some(prefix) = resource_prefix(&kv.key) else {
                continue;
            };
            let rc = state.resource_mut(prefix, prefixes);
            if let Some(obj) = cache_object(&rc.fields, &kv.key, &kv.value, kv.mod_revision) {
                rc.objects.insert(kv.key.clone(), obj);
            }
        }
        Ok((state, listed.revision))
    }

    async fn follow(self, mut from: Revision, progress: watch::Sender<Revision>) {
        loop {
            match self.storage.watch("/registry/", from).await {
                Ok(mut events) => {
                    while let Some(ev) = events.next().await {
                        match ev {
                            Ok(ev) => {
                                from = ev.revision();
                                self.apply(&ev);
                                progress.send_replace(from);
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "storage watch failed; reloading the watch cache");
                                break;
                            }
                        }
                    }
                }
                Err(e) => {
                    if self.is_healthy() {
                        tracing::warn!(error = %e, "storage watch could not start; reloading the watch cache");
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            match Self::load(&self.storage, &self.fields_by_prefix).await {
                Ok((mut state, rev)) => {
                    state.history_limit = self.state.read().history_limit;
                    // Replacing the state drops every broadcast sender: current watchers end and
                    // resume, and those too far behind get 410 from the new history.
                    *self.state.write() = state;
                    from = rev;
                    progress.send_replace(rev);
                    if !self.healthy.swap(true, std::sync::atomic::Ordering::AcqRel) {
                        tracing::info!(revision = rev, "storage is back; the watch cache has reloaded");
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "reloading the watch cache failed");
                    // A broken connection that heals at once only makes watchers resume; storage
                    // that stays unreachable ends them with an error.
                    if matches!(e, CacheError::Storage(storage::Error::Unavailable(_))) {
                        self.end_watchers();
                    }
                    // Back off while storage stays away (the loop would spin otherwise).
                    tokio::time::sleep(Duration::from_millis(400)).await;
                }
            }
        }
    }

    fn is_healthy(&self) -> bool {
        self.healthy.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Storage is unreachable: mark the cache unhealthy and end every current watcher (each
    /// gets a 503 error event; clients resume from their last resourceVersion once storage is
    /// back).
    fn end_watchers(&self) {
        if !self.healthy.swap(false, std::sync::atomic::Ordering::AcqRel) {
            return;
        }
        let mut state = self.state.write();
        for rc in state.resources.values_mut() {
            // Dropping the sender closes every receiver once it has drained what was sent.
            rc.tx = broadcast::channel(WATCHER_BUFFER).0;
        }
    }

    fn apply(&self, ev: &Event) {
        let prefix = resource_prefix(&ev.kv.key);
        // Decoded before taking the lock, so that readers do not wait for it.
        let expected = match ev.kind {
            EventKind::Create | EventKind::Update => self.expected.lock().remove(&ev.kv.key),
            EventKind::Delete => None,
        };
        let decoded = prefix.map(|prefix| match expected {
            Some((bytes, described)) if same_bytes(&bytes, &ev.kv.value) => {
                cached(&ev.kv.key, &ev.kv.value, ev.kv.mod_revision, described)
            }
            _ => {
                let fields = fields_for(&self.fields_by_prefix, prefix);
                cache_object(&fields, &ev.kv.key, &ev.kv.value, ev.kv.mod_revision)
            }
        });
        let mut state = self.state.write();
        state.revision = state.revision.max(ev.revision());
        let limit = state.history_limit;
        let (Some(prefix), Some(decoded)) = (prefix, decoded) else {
            return;
        };
        let rc = state.resource_mut(prefix, &self.fields_by_prefix);
        let Some(obj) = decoded else {
            tracing::warn!(key = %ev.kv.key, "undecodable object in storage; not cached");
            return;
        };
        let prev = match ev.kind {
            EventKind::Delete => rc.objects.remove(&ev.kv.key),
            EventKind::Create | EventKind::Update => rc.objects.insert(ev.kv.key.clone(), obj.clone()),
        };
        let cached = CachedEvent {
            kind: ev.kind,
            obj,
            prev,
        };
        rc.history.push_back(cached.clone());
        while rc.history.len() > limit {
            if let Some(old) = rc.history.pop_front() {
                rc.history_from = old.rv();
            }
        }
        let _ = rc.tx.send(cached);
    }

    /// The revision the cache has reached.
    pub fn revision(&self) -> Revision {
        *self.progress.borrow()
    }

    /// Wait until the cache has reached `rv` (at most `timeout`).
    pub async fn wait_for(&self, rv: Revision, timeout: Duration) -> Result<(), CacheError> {
        let mut progress = self.progress.clone();
        let reached = tokio::time::timeout(timeout, progress.wait_for(|r| *r >= rv)).await;
        match reached {
            Ok(Ok(_)) => Ok(()),
            _ => Err(CacheError::TooLarge {
                requested: rv,
                current: self.revision(),
            }),
        }
    }

    /// Wait until the cache reflects every write acknowledged so far (a consistent read).
    pub async fn wait_consistent(&self) -> Result<Revision, CacheError> {
        let rv = self.storage.revision().await?;
        self.wait_for(rv, Duration::from_secs(3)).await?;
        Ok(rv.max(self.revision()))
    }

    /// The objects under `prefix` (a resource prefix, optionally narrowed to a namespace) and the
    /// revision they were read at.
    pub fn list(
        &self,
        resource_prefix: &str,
        prefix: &str,
    ) -> Result<(Revision, Vec<Arc<CachedObject>>), CacheError> {
        let state = self.state.read();
        let Some(rc) = state.resources.get(resource_prefix) else {
            // A resource without objects yet.
            return Ok((state.revision, Vec::new()));
        };
        let items = rc
            .objects
            .range::<str, _>((std::ops::Bound::Included(prefix), std::ops::Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.clone())
            .collect();
        Ok((state.revision, items))
    }

    /// One object.
    pub fn get(&self, resource_prefix: &str, key: &str) -> Option<Arc<CachedObject>> {
        self.state
            .read()
            .resources
            .get(resource_prefix)?
            .objects
            .get(key)
            .cloned()
    }

    /// What the cache indexes of `obj`, about to be stored at `key` (`None` outside the
    /// resources the cache knows).
    pub fn describe(&self, key: &str, obj: &Value) -> Option<Described> {
        let prefix = resource_prefix(key)?;
        Some(describe(&fields_for(&self.fields_by_prefix, prefix), obj))
    }

    /// `value`, described by `described`, is about to be stored at `key`: when the event of
    /// these very bytes arrives, the cache takes the description instead of parsing them.
    pub fn expect(&self, key: &str, value: &Bytes, described: Described) {
        let mut expected = self.expected.lock();
        if expected.len() >= MAX_EXPECTED {
            expected.clear();
        }
        expected.insert(key.to_string(), (value.clone(), described));
    }

    /// The write of `value` at `key` failed: forget what [`expect`](Self::expect) said of it.
    pub fn forget(&self, key: &str, value: &Bytes) {
        let mut expected = self.expected.lock();
        if expected
            .get(key)
            .is_some_and(|(bytes, _)| same_bytes(bytes, value))
        {
            expected.remove(key);
        }
    }

    /// Decode a storage value the way the cache does (for objects read from storage directly).
    pub fn decode(
        &self,
        resource_prefix: &str,
        key: &str,
        value: &Bytes,
        rv: Revision,
    ) -> Option<Arc<CachedObject>> {
        let fields = fields_for(&self.fields_by_prefix, resource_prefix);
        cache_object(&fields, key, value, rv)
    }

    /// Watch a resource: either the current state first (as creates, at the cache's revision)
    /// and then changes, or the changes after `from`.
    pub async fn watch(&self, resource_prefix: &str, start: WatchStart) -> Result<Watch, CacheError> {
        if !self.is_healthy() {
            return Err(unavailable());
        }
        if let WatchStart::After(rv) = start
            && rv > self.revision()
        {
            self.wait_for(rv, Duration::from_secs(3)).await?;
        }
        if !self.state.read().resources.contains_key(resource_prefix) {
            self.state
                .write()
                .resource_mut(resource_prefix, &self.fields_by_prefix);
        }
        let taken = {
            let state = self.state.read();
            let rc = state
                .resources
                .get(resource_prefix)
                .ok_or_else(|| CacheError::Unknown(resource_prefix.into()))?;
            match start {
                WatchStart::Initial => {
                    let objs: Vec<CachedEvent> = rc
                        .objects
                        .values()
                        .map(|o| CachedEvent {
                            kind: EventKind::Create,
                            obj: o.clone(),
                            prev: None,
                        })
                        .collect();
                    Ok((objs, state.revision, rc.tx.subscribe(), state.revision))
                }
                WatchStart::After(rv) if rv >= rc.history_from => {
                    let replay = rc.history.iter().filter(|e| e.rv() > rv).cloned().collect();
                    Ok((replay, rv, rc.tx.subscribe(), state.revision))
                }
                WatchStart::After(rv) => Err((rv, rc.history_from)),
            }
        };
        let (initial, after, rx, at) = match taken {
            Ok(t) => t,
            Err((rv, oldest)) => return self.watch_storage(resource_prefix, rv, oldest).await,
        };
        let last = initial.last().map_or(after, CachedEvent::rv).max(after);
        let healthy = self.healthy.clone();
        let live = futures::stream::unfold(Some(rx), move |rx| {
            let healthy = healthy.clone();
            async move {
                let mut rx = rx?;
                match rx.recv().await {
                    Ok(ev) => Some((Ok(ev), Some(rx))),
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::debug!(missed = n, "watcher fell behind; ending it with 410");
                        Some((
                            Err(CacheError::Expired {
                                requested: 0,
                                oldest: 0,
                            }),
                            Some(rx),
                        ))
                    }
                    // Closed because storage went away: say so, then end.
                    Err(broadcast::error::RecvError::Closed)
                        if !healthy.load(std::sync::atomic::Ordering::Acquire) =>
                    {
                        Some((Err(unavailable()), None))
                    }
                    Err(broadcast::error::RecvError::Closed) => None,
                }
            }
        })
        .filter(move |ev| futures::future::ready(ev.as_ref().map_or(true, |e| e.rv() > last)));
        Ok(Watch {
            at,
            initial,
            events: live.boxed(),
        })
    }

    async fn watch_storage(
        &self,
        resource_prefix: &str,
        from: Revision,
        oldest: Revision,
    ) -> Result<Watch, CacheError> {
        let events = self
            .storage
            .watch(resource_prefix, from)
            .await
            .map_err(|e| match e {
                storage::Error::Expired { .. } => CacheError::Expired {
                    requested: from,
                    oldest,
                },
                other => CacheError::Storage(other),
            })?;
        let fields = fields_for(&self.fields_by_prefix, resource_prefix);
        let stream = events.filter_map(move |ev| {
            let fields = fields.clone();
            async move {
                match ev {
                    Ok(ev) => {
                        let obj = cache_object(&fields, &ev.kv.key, &ev.kv.value, ev.kv.mod_revision)?;
                        let prev = ev
                            .prev
                            .as_ref()
                            .and_then(|p| cache_object(&fields, &p.key, &p.value, p.mod_revision));
                        Some(Ok(CachedEvent {
                            kind: ev.kind,
                            obj,
                            prev,
                        }))
                    }
                    Err(e) => Some(Err(CacheError::Storage(e))),
                }
            }
        });
        Ok(Watch {
            at: from,
            initial: Vec::new(),
            events: stream.boxed(),
        })
    }
}

/// The error of a cache whose storage watch is down.
fn unavailable() -> CacheError {
    CacheError::Storage(storage::Error::Unavailable(
        "the watch cache lost its storage watch; retry shortly".into(),
    ))
}

/// A watch served by the cache.
pub struct Watch {
    /// The revision the initial events (if any) were taken at.
    pub at: Revision,
    /// Events to send first: the current state (for [`WatchStart::Initial`]) or the history
    /// after the start revision.
    pub initial: Vec<CachedEvent>,
    /// Live events, in revision order. An `Err` ends the watch.
    pub events: futures::stream::BoxStream<'static, Result<CachedEvent, CacheError>>,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("at", &self.at)
            .field("initial", &self.initial.len())
            .finish_non_exhaustive()
    }
}

/// Where a watch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchStart {
    /// With the current state, as synthetic creates.
    Initial,
    /// With the changes after this revision.
    After(Revision),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::to_storage;
    use crate::storage::MemoryStorage;
    use serde_json::json;

    /// The cached labels of `key`, once the cache has it.
    async fn cached_labels(cache: &WatchCache, key: &str) -> Labels {
        let prefix = resource_prefix(key).unwrap();
        for _ in 0..500 {
            if let Some(obj) = cache.get(prefix, key) {
                return obj.labels.clone();
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("{key} never reached the cache");
    }

    #[tokio::test]
    async fn an_expected_write_is_taken_as_described_and_anything_else_parsed() {
        let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        let cache = WatchCache::start(storage.clone(), &Registry::builtin(), 100)
            .await
            .unwrap();
        let object = |name: &str, label: &str| json!({"metadata": {"name": name, "namespace": "default", "labels": {"x": label}}});
        // The description differs from the bytes here, to show which one the cache used.
        let key = "/registry/configmaps/default/a";
        let bytes = to_storage(object("a", "in the bytes"));
        let described = cache.describe(key, &object("a", "described")).unwrap();
        cache.expect(key, &bytes, described.clone());
        storage.create(key, bytes.clone()).await.unwrap();
        assert_eq!(cached_labels(&cache, key).await.get("x"), Some("described"));
        assert!(cache.expected.lock().is_empty());

        // Equal bytes elsewhere in memory (a backend that copies values) are parsed.
        let key = "/registry/configmaps/default/b";
        let bytes = to_storage(object("b", "in the bytes"));
        cache.expect(key, &bytes, described.clone());
        storage.create(key, Bytes::copy_from_slice(&bytes)).await.unwrap();
        assert_eq!(cached_labels(&cache, key).await.get("x"), Some("in the bytes"));
        assert!(cache.expected.lock().is_empty());

        // A failed write is forgotten; someone else's expectation of the key is not.
        let key = "/registry/configmaps/default/c";
        let (mine, theirs) = (to_storage(object("c", "1")), to_storage(object("c", "2")));
        cache.expect(key, &theirs, described.clone());
        cache.forget(key, &mine);
        assert_eq!(cache.expected.lock().len(), 1);
        cache.forget(key, &theirs);
        assert!(cache.expected.lock().is_empty());
    }

    #[test]
    fn resource_prefixes_of_built_in_and_grouped_keys() {
        assert_eq!(
            resource_prefix("/registry/pods/default/web"),
            Some("/registry/pods/")
        );
        assert_eq!(resource_prefix("/registry/nodes/n1"), Some("/registry/nodes/"));
        assert_eq!(
            resource_prefix("/registry/example.com/widgets/default/w"),
            Some("/registry/example.com/widgets/")
        );
        assert_eq!(
            resource_prefix("/registry/apiextensions.k8s.io/customresourcedefinitions/w.example.com"),
            Some("/registry/apiextensions.k8s.io/customresourcedefinitions/")
        );
        assert_eq!(resource_prefix("/registry/example.com/widgets"), None);
        assert_eq!(resource_prefix("/registry/pods"), None);
        assert_eq!(resource_prefix("/other/pods/x"), None);
    }
}
