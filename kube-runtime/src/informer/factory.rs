//! The factory that hands out one shared informer per (resource, namespace, selectors).

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::future::BoxFuture;
use kube_client::{Api, Client};
use kube_core::Resource;
use parking_lot::Mutex;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::shared::{InformerConfig, SharedInformer};
use crate::reflector::{StoreConfig, StoreMode};
use crate::watcher;

/// Which objects an informer from the factory watches, and how it keeps them.
///
/// Two requests with the same resource, namespace and selectors get the same informer; the
/// other options are taken from the first request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InformerOptions {
    /// One namespace, or every namespace (`None`). Ignored for cluster-scoped resources.
    pub namespace: Option<String>,
    /// Only objects with these labels.
    pub label_selector: Option<String>,
    /// Only objects with these fields.
    pub field_selector: Option<String>,
    /// How the store keeps objects (default compact).
    pub mode: StoreMode,
    /// Get the initial state from a streaming list (`sendInitialEvents`).
    pub streaming_list: bool,
}

impl InformerOptions {
    /// Watch one namespace.
    #[must_use]
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.namespace = Some(namespace.into());
        self
    }
    /// Only objects matching this label selector.
    #[must_use]
    pub fn labels(mut self, selector: &str) -> Self {
        self.label_selector = Some(selector.into());
        self
    }
    /// Only objects matching this field selector.
    #[must_use]
    pub fn fields(mut self, selector: &str) -> Self {
        self.field_selector = Some(selector.into());
        self
    }
    /// Keep decoded objects in the store.
    #[must_use]
    pub fn decoded(mut self) -> Self {
        self.mode = StoreMode::Decoded;
        self
    }
    /// Get the initial state from a streaming list.
    #[must_use]
    pub fn streaming_list(mut self) -> Self {
        self.streaming_list = true;
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    type_id: TypeId,
    url: String,
    labels: Option<String>,
    fields: Option<String>,
}

/// What the factory needs of an informer without knowing its type.
trait Runnable: Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn run(&self, cancel: CancellationToken) -> BoxFuture<'static, ()>;
    fn wait_synced(&self) -> BoxFuture<'static, bool>;
    fn has_synced(&self) -> bool;
}

impl<K> Runnable for SharedInformer<K>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Debug + Send + Sync + 'static,
{
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn run(&self, cancel: CancellationToken) -> BoxFuture<'static, ()> {
        let informer = self.clone();
        Box::pin(async move {
            let _ = informer.run(cancel).await;
        })
    }
    fn wait_synced(&self) -> BoxFuture<'static, bool> {
        let informer = self.clone();
        Box::pin(async move { informer.wait_until_synced().await.is_ok() })
    }
    fn has_synced(&self) -> bool {
        SharedInformer::has_synced(self)
    }
}

/// Hands out shared informers, one per (resource, namespace, selectors) however many
/// consumers ask, and runs them.
///
/// ```no_run
/// # async fn run(client: kube_client::Client) {
/// use k8s_openapi::api::core::v1::Pod;
/// use kube_runtime::informer::{HandlerFns, HandlerOptions, InformerOptions, SharedInformerFactory};
///
/// let factory = SharedInformerFactory::new(client);
/// let pods = factory.informer::<Pod>(InformerOptions::default());
/// pods.add_handler(
///     HandlerFns::new().on_add(|pod: &std::sync::Arc<Pod>, _| println!("{:?}", pod.metadata.name)),
///     HandlerOptions::default(),
/// );
/// factory.start();
/// factory.wait_for_cache_sync().await;
/// println!("{} pods", pods.store().len());
/// # }
/// ```
#[derive(Clone)]
pub struct SharedInformerFactory {
    inner: Arc<FactoryInner>,
}

struct FactoryInner {
    client: Client,
    informers: Mutex<HashMap<Key, Arc<dyn Runnable>>>,
    started: AtomicBool,
    cancel: CancellationToken,
    tasks: Mutex<JoinSet<()>>,
}

impl Debug for SharedInformerFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedInformerFactory")
            .field("informers", &self.inner.informers.lock().len())
            .field("started", &self.inner.started.load(Ordering::Relaxed))
            .finish()
    }
}

impl SharedInformerFactory {
    /// A factory whose informers use `client`.
    pub fn new(client: Client) -> Self {
        Self {
            inner: Arc::new(FactoryInner {
                client,
                informers: Mutex::new(HashMap::new()),
                started: AtomicBool::new(false),
                cancel: CancellationToken::new(),
                tasks: Mutex::new(JoinSet::new()),
            }),
        }
    }

    /// The client the informers use.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The shared informer for `K` with these options. Once the factory has been started, a
    /// new informer starts right away.
    pub fn informer<K>(&self, options: InformerOptions) -> SharedInformer<K>
    where
        K: Resource + Clone + Serialize + DeserializeOwned + Debug + Send + Sync + 'static,
        K::DynamicType: Default,
    {
        self.informer_with(&K::DynamicType::default(), options)
    }

    /// [`informer`](Self::informer) for types that need run-time type information, such as
    /// [`DynamicObject`](kube_core::DynamicObject).
    pub fn informer_with<K>(&self, dt: &K::DynamicType, options: InformerOptions) -> SharedInformer<K>
    where
        K: Resource + Clone + Serialize + DeserializeOwned + Debug + Send + Sync + 'static,
    {
        let client = self.inner.client.clone();
        let api: Api<K> = match &options.namespace {
            Some(ns) => Api::namespaced_with(client, ns, dt),
            None => Api::all_with(client, dt),
        };
        let key = Key {
            type_id: TypeId::of::<K>(),
            url: api.resource_url().to_string(),
            labels: options.label_selector.clone(),
            fields: options.field_selector.clone(),
        };
        let mut informers = self.inner.informers.lock();
        if let Some(existing) = informers.get(&key) {
            return existing
                .as_any()
                .downcast_ref::<SharedInformer<K>>()
                .expect("informers are keyed by their type")
                .clone();
        }
        let mut watcher = watcher::Config {
            label_selector: options.label_selector,
            field_selector: options.field_selector,
            ..watcher::Config::default()
        };
        if options.streaming_list {
            watcher = watcher.streaming_list();
        }
        let store = StoreConfig {
            mode: options.mode,
            ..StoreConfig::default()
        };
        let informer = SharedInformer::new(api, InformerConfig { watcher, store });
        let runnable: Arc<dyn Runnable> = Arc::new(informer.clone());
        if self.inner.started.load(Ordering::Acquire) {
            self.spawn(&runnable);
        }
        informers.insert(key, runnable);
        informer
    }

    /// Start every informer not yet running (and any requested later).
    pub fn start(&self) {
        self.inner.started.store(true, Ordering::Release);
        let informers: Vec<Arc<dyn Runnable>> = self.inner.informers.lock().values().cloned().collect();
        for informer in &informers {
            self.spawn(informer);
        }
    }

    fn spawn(&self, informer: &Arc<dyn Runnable>) {
        // `run` refuses a second start, so spawning an informer twice is harmless.
        let fut = informer.run(self.inner.cancel.child_token());
        self.inner.tasks.lock().spawn(fut);
    }

    /// Wait until every informer requested so far has synced; false if one never will (the
    /// factory was shut down first).
    #[doc(alias = "WaitForCacheSync")]
    pub async fn wait_for_cache_sync(&self) -> bool {
        let waits: Vec<_> = self
            .inner
            .informers
            .lock()
            .values()
            .map(|i| i.wait_synced())
            .collect();
        futures::future::join_all(waits).await.into_iter().all(|ok| ok)
    }

    /// Whether every informer requested so far has synced.
    pub fn has_synced(&self) -> bool {
        self.inner.informers.lock().values().all(|i| i.has_synced())
    }

    /// Stop every informer and wait for them to finish.
    pub async fn shutdown(&self) {
        self.inner.cancel.cancel();
        let mut tasks = std::mem::take(&mut *self.inner.tasks.lock());
        while tasks.join_next().await.is_some() {}
    }

    /// A token that fires when the factory shuts down.
    pub fn cancellation(&self) -> CancellationToken {
        self.inner.cancel.clone()
    }
}

impl Drop for FactoryInner {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
