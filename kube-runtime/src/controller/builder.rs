//! Building a controller: the primary kind, what it owns, what it watches.

use std::fmt::Debug;
use std::sync::Arc;

use kube_client::Api;
use kube_core::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::metrics::ControllerMetrics;
use crate::informer::{
    HandlerFns, HandlerOptions, HandlerRegistration, InformerOptions, SharedInformer, SharedInformerFactory,
};
use crate::reflector::{ObjectKey, Store};
use crate::workqueue::{MetricsCollector, QueueConfig, RateLimiter, WorkQueue};

/// Controller options.
pub struct Config {
    /// The controller's name, for logs and metrics (default: the kind in lower case).
    pub name: Option<String>,
    /// How many reconciles may run at once (default 4), each on a different object.
    pub workers: usize,
    /// Selectors of the primary informer (its namespace comes from the `Api`).
    pub informer: InformerOptions,
    /// The factory whose shared informers the controller uses; by default a factory of its own.
    /// Pass yours to share caches between controllers.
    pub factory: Option<SharedInformerFactory>,
    /// Requeue delays after errors (default: client-go's default controller rate limiter).
    pub rate_limiter: Option<Box<dyn RateLimiter<ObjectKey>>>,
    /// Where the workqueue's metrics are exported, if anywhere.
    pub queue_metrics: Option<MetricsCollector>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            name: None,
            workers: 4,
            informer: InformerOptions::default(),
            factory: None,
            rate_limiter: None,
            queue_metrics: None,
        }
    }
}

impl Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("name", &self.name)
            .field("workers", &self.workers)
            .field("informer", &self.informer)
            .field("factory", &self.factory.is_some())
            .field("rate_limiter", &self.rate_limiter.is_some())
            .finish()
    }
}

impl Config {
    /// Name the controller.
    #[must_use]
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.into());
        self
    }
    /// Reconcile up to `n` objects at once.
    #[must_use]
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n.max(1);
        self
    }
    /// Use this factory's shared informers.
    #[must_use]
    pub fn factory(mut self, factory: &SharedInformerFactory) -> Self {
        self.factory = Some(factory.clone());
        self
    }
    /// Only reconcile objects matching this label selector.
    #[must_use]
    pub fn labels(mut self, selector: &str) -> Self {
        self.informer = self.informer.labels(selector);
        self
    }
    /// Use this rate limiter for requeues after errors.
    #[must_use]
    pub fn rate_limiter(mut self, limiter: impl RateLimiter<ObjectKey> + 'static) -> Self {
        self.rate_limiter = Some(Box::new(limiter));
        self
    }
}

/// A controller for objects of kind `K` (see the [module documentation](super)).
#[doc(alias = "reconciler")]
pub struct Controller<K> {
    pub(super) name: String,
    pub(super) factory: SharedInformerFactory,
    pub(super) own_factory: bool,
    pub(super) primary: SharedInformer<K>,
    pub(super) queue: WorkQueue<ObjectKey>,
    pub(super) workers: usize,
    pub(super) metrics: ControllerMetrics,
    pub(super) registrations: Vec<HandlerRegistration>,
    owner_kind: String,
    owner_group: String,
    namespaced: bool,
}

impl<K> Debug for Controller<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller")
            .field("name", &self.name)
            .field("workers", &self.workers)
            .field("watches", &self.registrations.len())
            .finish()
    }
}

impl<K> Controller<K>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default,
{
    /// A controller for the objects of `api` (all namespaces, or the `Api`'s one).
    pub fn new(api: Api<K>, config: Config) -> Self {
        Self::new_with(api, &K::DynamicType::default(), config)
    }
}

impl<K> Controller<K>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Debug + Send + Sync + 'static,
{
    /// [`new`](Self::new) for types that need run-time type information.
    pub fn new_with(api: Api<K>, dt: &K::DynamicType, config: Config) -> Self {
        let kind = K::kind(dt).into_owned();
        let name = config.name.unwrap_or_else(|| kind.to_lowercase());
        let (factory, own_factory) = match config.factory {
            Some(f) => (f, false),
            None => (SharedInformerFactory::new(api.clone().into_client()), true),
        };
        let mut options = config.informer;
        options.namespace = api.namespace().map(str::to_string);
        let primary = factory.informer_with::<K>(dt, options);
        let mut queue_config = QueueConfig::default().name(name.clone());
        if let Some(limiter) = config.rate_limiter {
            queue_config.rate_limiter = limiter;
        }
        queue_config.collector = config.queue_metrics;
        let queue = WorkQueue::new(queue_config);
        let enqueue = {
            let queue = queue.clone();
            move |obj: &Arc<K>| {
                if let Some(key) = ObjectKey::from_obj(&**obj) {
                    queue.add(key);
                }
            }
        };
        let on_update = enqueue.clone();
        let registration = primary.add_handler(
            HandlerFns::new()
                .on_add(move |obj: &Arc<K>, _| enqueue(obj))
                .on_update(move |_, new: &Arc<K>| on_update(new)),
            HandlerOptions::default(),
        );
        Self {
            metrics: ControllerMetrics::new(&name, config.workers),
            name,
            factory,
            own_factory,
            primary,
            queue,
            workers: config.workers.max(1),
            registrations: vec![registration],
            owner_kind: kind,
            owner_group: K::group(dt).into_owned(),
            namespaced: K::is_namespaced(dt),
        }
    }

    /// Also reconcile the controller owner of every changed object of `api`'s kind (the owner
    /// reference with `controller: true` whose kind and group are `K`'s).
    #[must_use]
    pub fn owns<C>(self, api: Api<C>, options: InformerOptions) -> Self
    where
        C: Resource + Clone + Serialize + DeserializeOwned + Debug + Send + Sync + 'static,
        C::DynamicType: Default,
    {
        let kind = self.owner_kind.clone();
        let group = self.owner_group.clone();
        let namespaced = self.namespaced;
        self.watches(
            api,
            move |obj: &C| owner_key(obj, &kind, &group, namespaced).into_iter().collect(),
            options,
        )
    }

    /// Also reconcile the objects `mapper` names for every changed object of `api`'s kind.
    #[must_use]
    pub fn watches<O, F>(mut self, api: Api<O>, mapper: F, options: InformerOptions) -> Self
    where
        O: Resource + Clone + Serialize + DeserializeOwned + Debug + Send + Sync + 'static,
        O::DynamicType: Default,
        F: Fn(&O) -> Vec<ObjectKey> + Send + Sync + 'static,
    {
        let mut options = options;
        options.namespace = api.namespace().map(str::to_string);
        let informer = self.factory.informer::<O>(options);
        let mapper = Arc::new(mapper);
        let queue = self.queue.clone();
        let enqueue = move |obj: &O| {
            for key in mapper(obj) {
                queue.add(key);
            }
        };
        let (on_add, on_update, on_delete) = (enqueue.clone(), enqueue.clone(), enqueue);
        let registration = informer.add_handler(
            HandlerFns::new()
                .on_add(move |obj: &Arc<O>, _| on_add(obj))
                .on_update(move |old: &Arc<O>, new: &Arc<O>| {
                    on_update(old);
                    on_update(new);
                })
                .on_delete(move |obj: &Arc<O>, _| on_delete(obj)),
            HandlerOptions::default(),
        );
        self.registrations.push(registration);
        self
    }

    /// The primary objects' cache.
    pub fn store(&self) -> Store<K> {
        self.primary.store()
    }

    /// The work queue (to add keys from triggers of your own).
    pub fn queue(&self) -> &WorkQueue<ObjectKey> {
        &self.queue
    }

    /// The reconcile metrics.
    pub fn metrics(&self) -> &ControllerMetrics {
        &self.metrics
    }

    /// The factory whose informers the controller uses.
    pub fn factory(&self) -> &SharedInformerFactory {
        &self.factory
    }
}

/// The key of `obj`'s controller owner if it is of kind `kind` in group `group`.
fn owner_key<C: Resource>(obj: &C, kind: &str, group: &str, namespaced: bool) -> Option<ObjectKey> {
    let meta = obj.meta();
    let owner = meta.owner_references.as_ref()?.iter().find(|r| {
        r.controller == Some(true)
            && r.kind == kind
            && r.api_version.rsplit_once('/').map_or("", |(g, _)| g) == group
    })?;
    Some(ObjectKey {
        namespace: if namespaced { meta.namespace.clone() } else { None },
        name: owner.name.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    fn owned(refs: Vec<OwnerReference>) -> ConfigMap {
        let mut cm = ConfigMap::default();
        cm.metadata.namespace = Some("ns".into());
        cm.metadata.owner_references = Some(refs);
        cm
    }

    fn oref(api_version: &str, kind: &str, name: &str, controller: bool) -> OwnerReference {
        OwnerReference {
            api_version: api_version.into(),
            kind: kind.into(),
            name: name.into(),
            uid: "u".into(),
            controller: Some(controller),
            block_owner_deletion: None,
        }
    }

    #[test]
    fn maps_to_the_controller_owner_of_the_right_kind() {
        let cm = owned(vec![
            oref("apps/v1", "Deployment", "not-controller", false),
            oref("apps/v1", "Deployment", "web", true),
        ]);
        assert_eq!(
            owner_key(&cm, "Deployment", "apps", true),
            Some(ObjectKey::namespaced("ns", "web"))
        );
        // Another group or kind is not ours.
        assert_eq!(owner_key(&cm, "Deployment", "extensions", true), None);
        assert_eq!(owner_key(&cm, "ReplicaSet", "apps", true), None);
        // Core group owners and cluster-scoped owners.
        let cm = owned(vec![oref("v1", "Node", "n1", true)]);
        assert_eq!(owner_key(&cm, "Node", "", false), Some(ObjectKey::cluster("n1")));
    }
}
