//! One shared informer: a watcher feeding a store and any number of event handlers.

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use futures::StreamExt;
use kube_client::Api;
use kube_core::Resource;
use parking_lot::Mutex;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::handler::{EventHandler, HandlerOptions, Listener, Notification};
use crate::reflector::{IndexFn, ObjectKey, Store, StoreConfig, StoreError, Writer};
use crate::watcher::{self, Event};

/// What an informer watches and how it caches.
pub struct InformerConfig<K> {
    /// The watcher's options (selectors, page size, streaming list, backoff).
    pub watcher: watcher::Config,
    /// The store's options (mode, transform, indices).
    pub store: StoreConfig<K>,
}

impl<K: Resource + 'static> Default for InformerConfig<K> {
    fn default() -> Self {
        Self {
            watcher: watcher::Config::default(),
            store: StoreConfig::default(),
        }
    }
}

impl<K> Debug for InformerConfig<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InformerConfig")
            .field("watcher", &self.watcher)
            .field("store", &self.store)
            .finish()
    }
}

/// A watch on one collection shared by every consumer: one watcher, one [`Store`], and event
/// handlers that can be added at any time.
///
/// Usually obtained from a [`SharedInformerFactory`](super::SharedInformerFactory), which makes
/// sure there is one per (resource, namespace, selectors) and runs it.
#[doc(alias = "SharedIndexInformer")]
pub struct SharedInformer<K> {
    inner: Arc<Inner<K>>,
}

impl<K> Clone for SharedInformer<K> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<K> Debug for SharedInformer<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedInformer")
            .field("api", &self.inner.api)
            .field("handlers", &self.inner.dispatch.lock().listeners.len())
            .field("started", &self.inner.started.load(Ordering::Relaxed))
            .finish()
    }
}

struct Inner<K> {
    api: Api<K>,
    watcher: watcher::Config,
    store: Store<K>,
    /// Taken by `run`.
    writer: Mutex<Option<Writer<K>>>,
    /// Held while an event is applied and handed out, and while a handler is added: a new
    /// handler's replay of the current objects never interleaves with an event.
    dispatch: Mutex<Dispatch<K>>,
    started: AtomicBool,
    next_id: AtomicU64,
    /// Wakes the run loop when the resync schedule changes.
    resync_changed: Notify,
}

struct Dispatch<K> {
    listeners: Vec<Listener<K>>,
}

/// A handler's registration: whether it has received its initial state, and a way to remove it.
pub struct HandlerRegistration {
    synced: tokio::sync::watch::Receiver<bool>,
    informer_synced: Box<dyn Fn() -> bool + Send + Sync>,
    remove: Box<dyn Fn() + Send + Sync>,
}

impl Debug for HandlerRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandlerRegistration")
            .field("synced", &self.has_synced())
            .finish()
    }
}

impl HandlerRegistration {
    /// Whether the informer has synced and this handler has been handed every object of the
    /// initial state.
    pub fn has_synced(&self) -> bool {
        (self.informer_synced)() && *self.synced.borrow()
    }

    /// Wait until [`has_synced`](Self::has_synced); false if the handler stopped before (its
    /// informer went away).
    pub async fn wait_until_synced(&self) -> bool {
        self.synced.clone().wait_for(|synced| *synced).await.is_ok()
    }

    /// Stop calling the handler (notifications already queued may still be delivered).
    pub fn remove(&self) {
        (self.remove)();
    }
}

/// Why [`SharedInformer::run`] did not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// The informer is running (or ran) already; an informer runs once.
    #[error("the informer has been started already")]
    AlreadyStarted,
}

impl<K> SharedInformer<K>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Debug + Send + Sync + 'static,
{
    /// An informer over `api` (not running yet: call [`run`](Self::run)).
    pub fn new(api: Api<K>, config: InformerConfig<K>) -> Self {
        let writer = Writer::new(config.store);
        let store = writer.store();
        Self {
            inner: Arc::new(Inner {
                api,
                watcher: config.watcher,
                store,
                writer: Mutex::new(Some(writer)),
                dispatch: Mutex::new(Dispatch {
                    listeners: Vec::new(),
                }),
                started: AtomicBool::new(false),
                next_id: AtomicU64::new(1),
                resync_changed: Notify::new(),
            }),
        }
    }

    /// The informer's cache.
    #[doc(alias = "GetIndexer")]
    #[doc(alias = "Lister")]
    pub fn store(&self) -> Store<K> {
        self.inner.store.clone()
    }

    /// Whether the first list has been cached.
    pub fn has_synced(&self) -> bool {
        self.inner.store.has_synced()
    }

    /// Wait until the first list has been cached.
    pub async fn wait_until_synced(&self) -> Result<(), StoreError> {
        self.inner.store.wait_until_synced().await
    }

    /// Add an index (also after the informer started: it is filled from the current objects).
    pub fn add_index(
        &self,
        name: &str,
        f: impl Fn(&K) -> Vec<String> + Send + Sync + 'static,
    ) -> Result<(), StoreError> {
        let f: IndexFn<K> = Arc::new(f);
        self.inner.store.add_index(name, f)
    }

    /// Whether [`run`](Self::run) has been called.
    pub fn is_started(&self) -> bool {
        self.inner.started.load(Ordering::Acquire)
    }

    /// Add an event handler. Added after the informer synced, it is first handed the current
    /// objects as additions (`is_initial_list = true`), then the changes, in order.
    #[doc(alias = "AddEventHandler")]
    pub fn add_handler(&self, handler: impl EventHandler<K>, options: HandlerOptions) -> HandlerRegistration {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (listener, synced) = Listener::spawn(id, Arc::new(handler), &options);
        {
            let mut dispatch = self.inner.dispatch.lock();
            if self.inner.store.has_synced() {
                for obj in self.inner.store.list() {
                    listener.send(Notification::Add(obj, true));
                }
                listener.send(Notification::Synced);
            }
            dispatch.listeners.push(listener);
        }
        if options.resync.is_some() {
            self.inner.resync_changed.notify_one();
        }
        let weak = Arc::downgrade(&self.inner);
        let store = self.inner.store.clone();
        HandlerRegistration {
            synced,
            informer_synced: Box::new(move || store.has_synced()),
            remove: Box::new(move || {
                if let Some(inner) = weak.upgrade() {
                    inner.dispatch.lock().listeners.retain(|l| l.id != id);
                }
            }),
        }
    }

    /// Replace the transform applied before caching. Only before the informer started.
    pub fn set_transform(&self, f: impl Fn(&mut K) + Send + Sync + 'static) -> Result<(), RunError> {
        match self.inner.writer.lock().as_mut() {
            Some(writer) => {
                writer.set_transform(Some(Arc::new(f)));
                Ok(())
            }
            None => Err(RunError::AlreadyStarted),
        }
    }

    /// Watch and dispatch until `cancel` fires. Watch errors are logged and retried with the
    /// watcher's backoff; they never end the informer.
    pub async fn run(&self, cancel: CancellationToken) -> Result<(), RunError> {
        let Some(mut writer) = self.inner.writer.lock().take() else {
            return Err(RunError::AlreadyStarted);
        };
        self.inner.started.store(true, Ordering::Release);
        let resource = self.inner.api.resource_url().to_string();
        let mut events = std::pin::pin!(watcher::watcher(
            self.inner.api.clone(),
            self.inner.watcher.clone()
        ));
        loop {
            let resync_at = self.next_resync();
            tokio::select! {
                _ = cancel.cancelled() => break,
                event = events.next() => match event {
                    Some(Ok(event)) => self.dispatch(&mut writer, event),
                    Some(Err(error)) => tracing::warn!(%resource, %error, "informer watch failed; retrying"),
                    None => break,
                },
                _ = sleep_until(resync_at) => self.resync(),
                _ = self.inner.resync_changed.notified() => {}
            }
        }
        Ok(())
    }

    fn next_resync(&self) -> Option<Instant> {
        self.inner
            .dispatch
            .lock()
            .listeners
            .iter()
            .filter_map(|l| l.next_resync)
            .min()
    }

    fn resync(&self) {
        let mut dispatch = self.inner.dispatch.lock();
        let now = Instant::now();
        let due: Vec<usize> = dispatch
            .listeners
            .iter_mut()
            .enumerate()
            .filter_map(|(i, l)| l.resync_due(now).then_some(i))
            .collect();
        if due.is_empty() || !self.inner.store.has_synced() {
            return;
        }
        let objects = self.inner.store.list();
        for i in due {
            let listener = &dispatch.listeners[i];
            for obj in &objects {
                listener.send(Notification::Update(obj.clone(), obj.clone()));
            }
        }
    }

    fn dispatch(&self, writer: &mut Writer<K>, event: Event<K>) {
        let mut dispatch = self.inner.dispatch.lock();
        let wanted = !dispatch.listeners.is_empty();
        let mut out: Vec<Notification<K>> = Vec::new();
        match event {
            Event::Init => writer.begin_relist(),
            Event::InitApply(obj) => {
                let initial = !self.inner.store.has_synced();
                let obj = writer.prepare(obj);
                match writer.upsert(&obj) {
                    None => out.push(Notification::Add(obj, initial)),
                    Some(prior) if wanted => {
                        let old = prior.into_object();
                        // A relist re-delivers unchanged objects: only changes are updates.
                        if old.meta().resource_version != obj.meta().resource_version {
                            out.push(Notification::Update(old, obj));
                        }
                    }
                    Some(_) => {}
                }
            }
            Event::InitDone => {
                let first = !self.inner.store.has_synced();
                for (_, prior) in writer.finish_relist() {
                    if wanted {
                        out.push(Notification::Delete(prior.into_object(), true));
                    }
                }
                if first {
                    for listener in &dispatch.listeners {
                        listener.send(Notification::Synced);
                    }
                }
            }
            Event::Apply(obj) => {
                let obj = writer.prepare(obj);
                match writer.upsert(&obj) {
                    None => out.push(Notification::Add(obj, false)),
                    Some(prior) if wanted => out.push(Notification::Update(prior.into_object(), obj)),
                    Some(_) => {}
                }
            }
            Event::Delete(obj) => {
                let obj = writer.prepare(obj);
                if let Some(key) = ObjectKey::from_obj(&*obj) {
                    writer.remove(&key);
                }
                out.push(Notification::Delete(obj, false));
            }
        }
        if !wanted || out.is_empty() {
            return;
        }
        let mut gone = Vec::new();
        for listener in &dispatch.listeners {
            for n in &out {
                if !listener.send(clone_notification(n)) {
                    gone.push(listener.id);
                    break;
                }
            }
        }
        if !gone.is_empty() {
            dispatch.listeners.retain(|l| !gone.contains(&l.id));
        }
    }
}

fn clone_notification<K>(n: &Notification<K>) -> Notification<K> {
    match n {
        Notification::Add(o, i) => Notification::Add(o.clone(), *i),
        Notification::Update(a, b) => Notification::Update(a.clone(), b.clone()),
        Notification::Delete(o, u) => Notification::Delete(o.clone(), *u),
        Notification::Synced => Notification::Synced,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
