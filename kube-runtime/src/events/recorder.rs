//! The [`Recorder`]: correlates occurrences and writes Events to the apiserver.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event as CoreEvent, EventSource, ObjectReference};
use k8s_openapi::api::events::v1::Event as EventsV1Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use kube_client::{Api, Client};
use kube_core::Patch;
use kube_core::params::{PatchParams, PostParams};
use serde_json::json;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::correlator::{Correlator, Decision, Step};
use super::{Error, Event, Reporter, Result};

/// How long an events.k8s.io/v1 series stays open without an occurrence (`tools/events`).
const SERIES_IDLE: Duration = Duration::from_secs(6 * 60);
/// The longest note events.k8s.io/v1 accepts, in bytes.
const MAX_NOTE_BYTES: usize = 1024;
/// The longest `reportingInstance` Kubernetes accepts.
const MAX_INSTANCE_LEN: usize = 128;

/// Which Event API the recorder writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EventsApi {
    /// `events.k8s.io/v1` Events (`regarding`, `note`, `series`), as client-go's `tools/events`.
    #[default]
    EventsV1,
    /// Legacy `v1` Events (`involvedObject`, `message`, `count`, `firstTimestamp`,
    /// `lastTimestamp`), as client-go's `tools/record`.
    CoreV1,
}

/// The recorder's limits; the defaults are client-go's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecorderConfig {
    /// Which Event API to write.
    pub api: EventsApi,
    /// How many Events one reporter may write about one object in a burst (25). `0` turns the
    /// spam filter off.
    pub spam_burst: u32,
    /// How long it takes to earn one more write after the burst (5 minutes).
    pub spam_refill: Duration,
    /// How many distinct notes a group of similar events may have before new ones are
    /// combined (10: the 10th and later are combined). `0` turns aggregation off.
    pub aggregate_max_events: usize,
    /// How long after the last similar event a group starts afresh (10 minutes).
    pub aggregate_window: Duration,
    /// Entries in each of the recorder's caches (4096).
    pub cache_size: usize,
}

impl Default for RecorderConfig {
    fn default() -> Self {
        Self {
            api: EventsApi::EventsV1,
            spam_burst: 25,
            spam_refill: Duration::from_secs(300),
            aggregate_max_events: 10,
            aggregate_window: Duration::from_secs(600),
            cache_size: 4096,
        }
    }
}

/// What [`Recorder::publish`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// A new Event was created.
    Created {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
    /// The occurrence was counted into an existing Event.
    Repeated {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// How many occurrences it stands for now (`series.count`, or `count` in core/v1).
        count: u32,
    },
    /// The spam filter dropped the occurrence: nothing was written.
    Dropped,
}

/// Publishes [`Event`]s for one controller, with client-go's aggregation, series and spam
/// filter (see the [module documentation](super)).
///
/// Cheap to clone: clones share the caches. Writes of one recorder happen one at a time (as
/// client-go's single recording goroutine does), so concurrent repeats of one event count into
/// one series instead of racing to create it.
#[doc(alias = "EventRecorder")]
#[doc(alias = "EventBroadcaster")]
#[derive(Debug, Clone)]
pub struct Recorder {
    client: Client,
    controller: Arc<str>,
    instance: Arc<str>,
    api: EventsApi,
    state: Arc<Mutex<State>>,
}

#[derive(Debug)]
struct State {
    correlator: Correlator,
    /// The wall-clock nanoseconds of the last Event name, so that names never repeat.
    last_nanos: i128,
}

impl Recorder {
    /// A recorder writing events.k8s.io/v1 Events with client-go's default limits.
    pub fn new(client: Client, reporter: Reporter) -> Self {
        Self::with_config(client, reporter, RecorderConfig::default())
    }

    /// A recorder with other limits or the core/v1 API.
    pub fn with_config(client: Client, reporter: Reporter, config: RecorderConfig) -> Self {
        let instance = reporter
            .instance
            .unwrap_or_else(|| default_instance(&reporter.controller));
        let idle = (config.api == EventsApi::EventsV1).then_some(SERIES_IDLE);
        Self {
            client,
            controller: reporter.controller.into(),
            instance: instance.into(),
            api: config.api,
            state: Arc::new(Mutex::new(State {
                correlator: Correlator::new(&config, idle),
                last_nanos: 0,
            })),
        }
    }

    /// The reporter's `reportingController`.
    pub fn controller(&self) -> &str {
        &self.controller
    }

    /// The reporter's `reportingInstance`.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Publish one occurrence of `event` about the object `regarding` refers to.
    ///
    /// Returns what was written; an occurrence the spam filter drops is
    /// [`Published::Dropped`], not an error. Errors are the apiserver's refusals and connection
    /// failures; they are not retried (the next occurrence tries again).
    pub async fn publish(&self, event: &Event, regarding: &ObjectReference) -> Result<Published> {
        let object_name = regarding
            .name
            .as_deref()
            .filter(|n| !n.is_empty())
            .ok_or(Error::UnnamedObject)?;
        let mut state = self.state.lock().await;
        let now = Instant::now();
        let decision = state
            .correlator
            .observe(&self.controller, &self.instance, event, regarding, now);
        match &decision.step {
            Step::Drop => {
                tracing::debug!(
                    namespace = regarding.namespace.as_deref().unwrap_or_default(),
                    name = object_name,
                    reason = %event.reason,
                    "event dropped by the spam filter"
                );
                return Ok(Published::Dropped);
            }
            Step::Repeat {
                namespace,
                name,
                count,
            } => match self.patch_series(namespace, name, *count, &decision).await {
                Ok(()) => {
                    return Ok(Published::Repeated {
                        namespace: namespace.clone(),
                        name: name.clone(),
                        count: *count,
                    });
                }
                Err(e) if e.is_not_found() => {
                    tracing::debug!(%namespace, %name, "event expired on the server; creating it again");
                    state.correlator.forget(&decision.key);
                }
                Err(source) => {
                    return Err(Error::Update {
                        namespace: namespace.clone(),
                        name: name.clone(),
                        source,
                    });
                }
            },
            Step::Create => {}
        }
        let now = jiff::Timestamp::now();
        let nanos = now.as_nanosecond().max(state.last_nanos + 1);
        state.last_nanos = nanos;
        let name = format!("{object_name}.{nanos:x}");
        let namespace = regarding
            .namespace
            .clone()
            .filter(|ns| !ns.is_empty())
            .unwrap_or_else(|| "default".to_owned());
        let meta = ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace.clone()),
            ..ObjectMeta::default()
        };
        let created = match self.api {
            EventsApi::EventsV1 => {
                let ev = self.events_v1(meta, event, regarding, decision.note.clone(), now);
                let api = Api::<EventsV1Event>::namespaced(self.client.clone(), &namespace);
                api.create(&PostParams::default(), &ev).await.map(drop)
            }
            EventsApi::CoreV1 => {
                let ev = self.core_v1(meta, event, regarding, decision.note.clone(), now);
                let api = Api::<CoreEvent>::namespaced(self.client.clone(), &namespace);
                api.create(&PostParams::default(), &ev).await.map(drop)
            }
        };
        if let Err(source) = created {
            return Err(Error::Create {
                namespace,
                name,
                source,
            });
        }
        state
            .correlator
            .created(decision.key, &namespace, &name, Instant::now());
        tracing::debug!(%namespace, %name, reason = %event.reason, "event created");
        Ok(Published::Created { namespace, name })
    }

    fn events_v1(
        &self,
        metadata: ObjectMeta,
        event: &Event,
        regarding: &ObjectReference,
        note: Option<String>,
        now: jiff::Timestamp,
    ) -> EventsV1Event {
        EventsV1Event {
            metadata,
            event_time: Some(MicroTime(now)),
            type_: Some(event.type_.as_str().to_owned()),
            reason: Some(event.reason.clone()),
            action: Some(event.action.clone()),
            note: note.map(|n| truncate(n, MAX_NOTE_BYTES)),
            regarding: Some(regarding.clone()),
            related: event.secondary.clone(),
            reporting_controller: Some(self.controller.to_string()),
            reporting_instance: Some(self.instance.to_string()),
            ..EventsV1Event::default()
        }
    }

    fn core_v1(
        &self,
        metadata: ObjectMeta,
        event: &Event,
        regarding: &ObjectReference,
        note: Option<String>,
        now: jiff::Timestamp,
    ) -> CoreEvent {
        CoreEvent {
            metadata,
            involved_object: regarding.clone(),
            type_: Some(event.type_.as_str().to_owned()),
            reason: Some(event.reason.clone()),
            action: Some(event.action.clone()).filter(|a| !a.is_empty()),
            message: note,
            related: event.secondary.clone(),
            source: Some(EventSource {
                component: Some(self.controller.to_string()),
                host: None,
            }),
            reporting_component: Some(self.controller.to_string()),
            reporting_instance: Some(self.instance.to_string()),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            count: Some(1),
            ..CoreEvent::default()
        }
    }

    /// Write the new count of an existing Event.
    async fn patch_series(
        &self,
        namespace: &str,
        name: &str,
        count: u32,
        decision: &Decision,
    ) -> kube_client::Result<()> {
        let now = jiff::Timestamp::now();
        let pp = PatchParams::default();
        match self.api {
            EventsApi::EventsV1 => {
                let patch = json!({
                    "series": {"count": count, "lastObservedTime": MicroTime(now)},
                });
                let api = Api::<EventsV1Event>::namespaced(self.client.clone(), namespace);
                api.patch(name, &pp, &Patch::Merge(patch)).await.map(drop)
            }
            EventsApi::CoreV1 => {
                let patch = json!({
                    "count": count,
                    "lastTimestamp": Time(now),
                    "message": decision.note,
                });
                let api = Api::<CoreEvent>::namespaced(self.client.clone(), namespace);
                api.patch(name, &pp, &Patch::Merge(patch)).await.map(drop)
            }
        }
    }
}

/// `<controller>-<hostname>` (client-go's default), or the controller alone without a hostname.
fn default_instance(controller: &str) -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty());
    let instance = match host {
        Some(host) => format!("{controller}-{host}"),
        None => controller.to_owned(),
    };
    truncate(instance, MAX_INSTANCE_LEN)
}

/// Cut `s` to at most `max` bytes, at a character boundary.
fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("abc".into(), 5), "abc");
        assert_eq!(truncate("abcdef".into(), 3), "abc");
        // 'é' is two bytes: cutting in its middle keeps the character out.
        assert_eq!(truncate("aé".into(), 2), "a");
        assert!(default_instance(&"x".repeat(200)).len() <= MAX_INSTANCE_LEN);
        assert!(default_instance("ctl").starts_with("ctl"));
    }
}
