//! `LeaseLock`: the record in a `coordination.k8s.io/v1` Lease.

use std::sync::Mutex;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube_client::{Api, Client};
use kube_core::params::PostParams;

use super::{Error, ResourceLock, Result};
use crate::record::LeaderElectionRecord;

/// A lock stored in a Lease's spec (`holderIdentity`, `leaseDurationSeconds`, `acquireTime`,
/// `renewTime`, `leaseTransitions`), the lock client-go and the control plane use by default.
#[derive(Debug)]
pub struct LeaseLock {
    api: Api<Lease>,
    namespace: String,
    name: String,
    identity: String,
    last: Mutex<Option<Lease>>,
    events: Option<super::LockEvents>,
}

impl LeaseLock {
    /// A lock on the Lease `namespace/name`, held as `identity`.
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

    fn remember(&self, lease: Lease) {
        *self.last.lock().expect("lock cache poisoned") = Some(lease);
    }
}

/// client-go's `LeaderElectionRecordToLeaseSpec`.
pub fn record_to_lease_spec(r: &LeaderElectionRecord) -> LeaseSpec {
    LeaseSpec {
        holder_identity: Some(r.holder_identity.clone()),
        lease_duration_seconds: Some(r.lease_duration_seconds as i32),
        acquire_time: r.acquire_time.map(micro),
        renew_time: r.renew_time.map(micro),
        lease_transitions: Some(r.leader_transitions as i32),
        ..LeaseSpec::default()
    }
}

/// `metav1.MicroTime`: truncated to microseconds, as Go formats it.
fn micro(t: jiff::Timestamp) -> MicroTime {
    let micros = t.as_microsecond();
    MicroTime(jiff::Timestamp::from_microsecond(micros).unwrap_or(t))
}

/// client-go's `LeaseSpecToLeaderElectionRecord`.
pub fn lease_spec_to_record(spec: &LeaseSpec) -> LeaderElectionRecord {
    LeaderElectionRecord {
        holder_identity: spec.holder_identity.clone().unwrap_or_default(),
        lease_duration_seconds: spec.lease_duration_seconds.unwrap_or_default().into(),
        acquire_time: spec.acquire_time.as_ref().map(|t| t.0),
        renew_time: spec.renew_time.as_ref().map(|t| t.0),
        leader_transitions: spec.lease_transitions.unwrap_or_default().into(),
    }
}

#[async_trait::async_trait]
impl ResourceLock for LeaseLock {
    async fn get(&self) -> Result<(LeaderElectionRecord, Vec<u8>)> {
        let lease = self
            .api
            .get(&self.name)
            .await
            .map_err(|e| Error::from_api(self.describe(), e))?;
        let spec = lease.spec.clone().unwrap_or_default();
        let mut raw = serde_json::to_vec(&spec).map_err(|source| Error::InvalidRecord {
            what: self.describe(),
            source,
        })?;
        // Any write changes the resourceVersion: including it restarts the expiry clock on every
        // write, even one that leaves the spec's bytes unchanged.
        raw.extend_from_slice(
            lease
                .metadata
                .resource_version
                .as_deref()
                .unwrap_or_default()
                .as_bytes(),
        );
        self.remember(lease);
        Ok((lease_spec_to_record(&spec), raw))
    }

    async fn create(&self, record: &LeaderElectionRecord) -> Result<()> {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                namespace: Some(self.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(record_to_lease_spec(record)),
        };
        let created = self
            .api
            .create(&PostParams::default(), &lease)
            .await
            .map_err(|e| Error::from_api(self.describe(), e))?;
        self.remember(created);
        Ok(())
    }

    async fn update(&self, record: &LeaderElectionRecord) -> Result<()> {
        let mut lease = self
            .last
            .lock()
            .expect("lock cache poisoned")
            .clone()
            .ok_or_else(|| Error::NotInitialized(self.describe()))?;
        lease.spec = Some(record_to_lease_spec(record));
        let updated = self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
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
