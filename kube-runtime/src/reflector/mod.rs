//! Reflectors and stores: a local, indexed cache of a collection, kept current by a watcher.
//!
//! ```no_run
//! # async fn run(client: kube_client::Client) -> Result<(), Box<dyn std::error::Error>> {
//! use futures::StreamExt;
//! use k8s_openapi::api::core::v1::Pod;
//! use kube_client::Api;
//! use kube_runtime::reflector::{self, ObjectKey, StoreConfig, Writer};
//! use kube_runtime::watcher;
//!
//! let writer = Writer::new(StoreConfig::default().index("node", |pod: &Pod| {
//!     pod.spec.as_ref().and_then(|s| s.node_name.clone()).into_iter().collect()
//! }));
//! let store = writer.store();
//! let events = reflector::reflector(writer, watcher::watcher(Api::<Pod>::all(client), Default::default()));
//! tokio::spawn(events.for_each(|_| async {}));
//!
//! store.wait_until_synced().await?;
//! let on_node = store.by_index("node", "node-1")?;
//! let web = store.get(&ObjectKey::namespaced("default", "web"));
//! println!("{} pods on node-1; web is {}", on_node.len(), if web.is_some() { "there" } else { "missing" });
//! # Ok(()) }
//! ```
//!
//! A [`Writer`] owns the cache and applies watch events; [`Store`] handles read it from any
//! task. Objects are filed by [`ObjectKey`] (namespace/name), indexed by namespace and by any
//! [`IndexFn`] you add, and pass through a [`Transform`] before they are cached. By default the
//! transform drops `metadata.managedFields` and the store keeps objects in their compact JSON
//! form ([`StoreMode::Compact`]): about an eighth of the memory of decoded objects.

mod index;
mod key;
mod store;

use std::sync::Arc;

use futures::{Stream, StreamExt};
use kube_core::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use self::index::{IndexFn, NAMESPACE_INDEX};
pub use self::key::ObjectKey;
pub use self::store::{Prior, Store, StoreError, Writer};
use crate::watcher;

/// A function applied to every object before it is cached or handed to handlers, to drop what
/// the program never reads.
pub type Transform<K> = Arc<dyn Fn(&mut K) + Send + Sync>;

/// How a store keeps its objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreMode {
    /// As compact JSON, decoded on each read: a fraction of the memory, at about 20 µs per
    /// read of a 3 KB object. The default.
    #[default]
    Compact,
    /// Decoded, shared `Arc<K>`s, as client-go and kube-rs keep them: reads are free, memory is
    /// five to ten times the JSON size.
    Decoded,
}

/// How to build a store.
pub struct StoreConfig<K> {
    /// How objects are kept.
    pub mode: StoreMode,
    /// Applied to each object before caching (default: [`drop_managed_fields`]).
    pub transform: Option<Transform<K>>,
    /// Custom indices by name.
    pub indexers: Vec<(String, IndexFn<K>)>,
}

impl<K: Resource + 'static> Default for StoreConfig<K> {
    fn default() -> Self {
        Self {
            mode: StoreMode::default(),
            transform: Some(Arc::new(drop_managed_fields::<K>)),
            indexers: Vec::new(),
        }
    }
}

impl<K> StoreConfig<K> {
    /// Keep decoded objects.
    #[must_use]
    pub fn decoded(mut self) -> Self {
        self.mode = StoreMode::Decoded;
        self
    }
    /// Replace the transform.
    #[must_use]
    pub fn transform(mut self, f: impl Fn(&mut K) + Send + Sync + 'static) -> Self {
        self.transform = Some(Arc::new(f));
        self
    }
    /// Cache objects exactly as the server sends them.
    #[must_use]
    pub fn no_transform(mut self) -> Self {
        self.transform = None;
        self
    }
    /// Add an index.
    #[must_use]
    pub fn index(mut self, name: &str, f: impl Fn(&K) -> Vec<String> + Send + Sync + 'static) -> Self {
        self.indexers.push((name.into(), Arc::new(f)));
        self
    }
}

impl<K> std::fmt::Debug for StoreConfig<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("mode", &self.mode)
            .field("transform", &self.transform.is_some())
            .field(
                "indexers",
                &self.indexers.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// The default transform: drop `metadata.managedFields`, which servers add to every object and
/// few programs read (often a third of an object's size).
pub fn drop_managed_fields<K: Resource>(obj: &mut K) {
    obj.meta_mut().managed_fields = None;
}

/// Keep `writer`'s store current with a watcher's events, passing them on with their objects
/// shared (`Arc<K>`) and transformed.
pub fn reflector<K, S>(
    mut writer: Writer<K>,
    events: S,
) -> impl Stream<Item = watcher::Result<watcher::Event<Arc<K>>>>
where
    K: Resource + Serialize + DeserializeOwned + Send + Sync + 'static,
    S: Stream<Item = watcher::Result<watcher::Event<K>>>,
{
    events.map(move |event| event.map(|event| writer.apply_event(event)))
}
