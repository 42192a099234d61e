//! The Kubernetes Events a lock records on its object, as client-go's `RecordEvent` does.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube_client::{Api, Client};
use kube_core::params::PostParams;

/// Publishes `<identity> became leader` / `<identity> stopped leading` as core/v1 Events
/// (type `Normal`, reason `LeaderElection`) about the lock object, like client-go's resource
/// locks do when their `ResourceLockConfig` has an `EventRecorder`.
///
/// Give one to a lock with `with_events`; without it a lock only logs the transitions.
#[derive(Debug, Clone)]
pub struct LockEvents {
    client: Client,
    component: String,
}

impl LockEvents {
    /// Events reported by `component` (the `source.component`, e.g. `kube-scheduler`).
    pub fn new(client: Client, component: &str) -> Self {
        Self {
            client,
            component: component.into(),
        }
    }

    /// Publish in the background (a failure is logged, never fatal to the election).
    pub(crate) fn emit(&self, regarding: ObjectReference, identity: &str, what: &str) {
        let namespace = regarding.namespace.clone().unwrap_or_else(|| "default".into());
        let now = jiff::Timestamp::now();
        // A legacy event, as client-go's `tools/record` writes it: no `eventTime` (which would
        // make `action` required), timestamps and count instead.
        let event = Event {
            metadata: ObjectMeta {
                name: Some(format!(
                    "{}.{:x}",
                    regarding.name.as_deref().unwrap_or("lock"),
                    now.as_nanosecond()
                )),
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            involved_object: regarding,
            reason: Some("LeaderElection".into()),
            message: Some(format!("{identity} {what}")),
            type_: Some("Normal".into()),
            source: Some(EventSource {
                component: Some(self.component.clone()),
                host: None,
            }),
            reporting_component: Some(self.component.clone()),
            reporting_instance: Some(identity.into()),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            count: Some(1),
            ..Event::default()
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        tokio::spawn(async move {
            if let Err(error) = api.create(&PostParams::default(), &event).await {
                tracing::warn!(%error, "could not record a leader election event");
            }
        });
    }
}

/// What a lock's `record_event` does: log the transition and, with [`LockEvents`], publish it
/// about the lock object (described from what the lock last read, or just its name).
pub(crate) fn record<K: kube_core::Resource<DynamicType = ()>>(
    events: Option<&LockEvents>,
    last: Option<&K>,
    (namespace, name, identity): (&str, &str, &str),
    event: &str,
) {
    tracing::info!(lock = %format!("{namespace}/{name}"), identity, "{event}");
    if let Some(events) = events {
        events.emit(reference(last, namespace, name), identity, event);
    }
}

/// A reference to a lock object for an event, from what the lock last read (or just its name).
fn reference<K: kube_core::Resource<DynamicType = ()>>(
    last: Option<&K>,
    namespace: &str,
    name: &str,
) -> ObjectReference {
    let meta = last.map(|o| o.meta());
    ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        namespace: Some(namespace.into()),
        name: Some(name.into()),
        uid: meta.and_then(|m| m.uid.clone()),
        resource_version: meta.and_then(|m| m.resource_version.clone()),
        field_path: None,
    }
}
