//! `ConfigMapLock` and `EndpointsLock`: the record as JSON in an annotation.

use std::fmt::Debug;
use std::sync::Mutex;

use k8s_openapi::api::core::v1::{ConfigMap, Endpoints};
use kube_client::{Api, Client};
use kube_core::Resource;
use kube_core::params::PostParams;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Error, ResourceLock, Result};
use crate::record::{LEADER_ANNOTATION, LeaderElectionRecord};

/// A lock stored as record JSON in the `control-plane.alpha.kubernetes.io/leader` annotation of
/// an object of kind `K` (client-go's `ConfigMapLock` and `EndpointsLock`).
#[derive(Debug)]
pub struct AnnotationLock<K> {
    api: Api<K>,
    namespace: String,
    name: String,
    identity: String,
    last: Mutex<Option<K>>,
    events: Option<super::LockEvents>,
}

/// A lock in a ConfigMap's annotation.
pub type ConfigMapLock = AnnotationLock<ConfigMap>;
/// A lock in an Endpoints object's annotation.
pub type EndpointsLock = AnnotationLock<Endpoints>;

impl<K> AnnotationLock<K>
where
    K: Resource<DynamicType = ()>
        + Clone
        + Default
        + Debug
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    /// A lock on the object `namespace/name`, held as `identity`.
    pub fn new(client: Client, namespace: &str, name: &str, identity: &str) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            namespace: namespace.into(),
            name: name.into(),
            identity: identity.into(),
            last: Mutex::new(None),
            events: None,
        }
    }

    /// Also publish the transitions as Kubernetes Events about the lock object.
    #[must_use]
    pub fn with_events(mut self, events: super::LockEvents) -> Self {
        self.events = Some(events);
        self
    }

    fn remember(&self, obj: K) {
        *self.last.lock().expect("lock cache poisoned") = Some(obj);
    }
}

#[async_trait::async_trait]
impl<K> ResourceLock for AnnotationLock<K>
where
    K: Resource<DynamicType = ()>
        + Clone
        + Default
        + Debug
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    async fn get(&self) -> Result<(LeaderElectionRecord, Vec<u8>)> {
        let obj = self
            .api
            .get(&self.name)
            .await
            .map_err(|e| Error::from_api(self.describe(), e))?;
        let raw = obj
            .meta()
            .annotations
            .as_ref()
            .and_then(|a| a.get(LEADER_ANNOTATION))
            .cloned();
        let record = match &raw {
            Some(raw) => {
                LeaderElectionRecord::from_annotation(raw).map_err(|source| Error::InvalidRecord {
                    what: self.describe(),
                    source,
                })?
            }
            None => LeaderElectionRecord::default(),
        };
        // Any write changes the resourceVersion: including it restarts the expiry clock even
        // when two renewals fall in the same second (the annotation has whole seconds).
        let raw = format!(
            "{}{}",
            raw.unwrap_or_default(),
            obj.meta().resource_version.as_deref().unwrap_or_default()
        );
        self.remember(obj);
        Ok((record, raw.into_bytes()))
    }

    async fn create(&self, record: &LeaderElectionRecord) -> Result<()> {
        let mut obj = K::default();
        let meta = obj.meta_mut();
        meta.name = Some(self.name.clone());
        meta.namespace = Some(self.namespace.clone());
        meta.annotations = Some([(LEADER_ANNOTATION.to_string(), record.to_annotation())].into());
        let created = self
            .api
            .create(&PostParams::default(), &obj)
            .await
            .map_err(|e| Error::from_api(self.describe(), e))?;
        self.remember(created);
        Ok(())
    }

    async fn update(&self, record: &LeaderElectionRecord) -> Result<()> {
        let mut obj = self
            .last
            .lock()
            .expect("lock cache poisoned")
            .clone()
            .ok_or_else(|| Error::NotInitialized(self.describe()))?;
        obj.meta_mut()
            .annotations
            .get_or_insert_default()
            .insert(LEADER_ANNOTATION.to_string(), record.to_annotation());
        let updated = self
            .api
            .replace(&self.name, &PostParams::default(), &obj)
            .await
            .map_err(|e| Error::from_api(self.describe(), e))?;
        self.remember(updated);
        Ok(())
    }

    fn identity(&self) -> &str {
        &self.identity
    }

    fn describe(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    fn record_event(&self, event: &str) {
        let last = self.last.lock().expect("lock cache poisoned");
        let names = (
            self.namespace.as_str(),
            self.name.as_str(),
            self.identity.as_str(),
        );
        super::events::record(self.events.as_ref(), last.as_ref(), names, event);
    }
}
