//! Publish Kubernetes Events about objects: the counterpart of client-go's `tools/events`
//! (events.k8s.io/v1) and `tools/record` (core/v1).
//!
//! Start here: build one [`Recorder`] per controller with a [`Reporter`] naming it, and
//! [`publish`](Recorder::publish) an [`Event`] about an object's [`ObjectReference`] (any
//! [`Resource`](kube_core::Resource) makes one with `object_ref`).
//!
//! ```no_run
//! use k8s_openapi::api::core::v1::ConfigMap;
//! use kube_client::{Api, Client, Config};
//! use kube_core::Resource;
//! use kube_runtime::events::{Event, EventType, Recorder, Reporter};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::try_from(Config::infer().await?)?;
//! let recorder = Recorder::new(client.clone(), Reporter::from("example.com/settings-controller"));
//! let settings = Api::<ConfigMap>::namespaced(client, "default").get("settings").await?;
//! let event = Event {
//!     type_: EventType::Normal,
//!     reason: "Synced".into(),
//!     note: Some("settings applied to 3 replicas".into()),
//!     action: "Sync".into(),
//!     secondary: None,
//! };
//! recorder.publish(&event, &settings.object_ref(&())).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # What happens to an event
//!
//! Every occurrence goes through the same steps as in client-go's `EventCorrelator`, for both
//! [API flavours](EventsApi):
//!
//! 1. **Aggregation.** Similar events (same reporter, object, type, reason and action; the note
//!    differs) are grouped. Once a group has seen 10 distinct notes, each within 10 minutes of
//!    the previous similar event, new notes are combined into one Event whose note reads
//!    `(combined from similar events): <latest note>`. The first 9 notes keep their own Events.
//!    client-go does this for core/v1 only; `tools/events` does not aggregate, we do for both so
//!    that a controller reporting a varying error message cannot create unbounded objects. On
//!    events.k8s.io/v1 the note of an Event is immutable, so a combined Event keeps the note of
//!    the first occurrence it combined and counts the others in its series.
//! 2. **Series.** An identical occurrence (same reporter, object, field path, type, reason,
//!    action, note and related object; the object's `resourceVersion` does not matter) does not
//!    create another Event: events.k8s.io/v1 patches `series {count, lastObservedTime}` of the
//!    existing one, core/v1 patches `count` and `lastTimestamp` (and `message`). Unlike
//!    `tools/events`, which writes the series only every 30 minutes, every counted repeat is
//!    written (the spam filter bounds how often). An events.k8s.io/v1 series ends after 6
//!    minutes without an occurrence, as in `tools/events`; the next one starts a new Event. An
//!    Event that has expired on the server (a `404` on the patch) is created again.
//! 3. **Spam filter.** A recorder may write 25 Events (creates or patches) about one object in
//!    a burst, then one every 5 minutes (a token bucket per reporter and object, kept by each
//!    recorder, as client-go keeps one per broadcaster). Occurrences over the limit are dropped
//!    with a `debug` log, not reported as errors; dropped repeats are still counted, so the next
//!    write carries the true count.
//!
//! All three caches are least-recently-used maps of 4096 entries, so memory stays bounded. The
//! limits are in [`RecorderConfig`]; the windows are measured with [`tokio::time::Instant`]
//! (tests can pause the clock), the timestamps written into Events come from the wall clock.
//!
//! Events are named `<object name>.<hex nanoseconds>` and live in the object's namespace, or in
//! `default` for cluster-scoped objects, as client-go does.

mod correlator;
mod lru;
mod recorder;

use k8s_openapi::api::core::v1::ObjectReference;

pub use recorder::{EventsApi, Published, Recorder, RecorderConfig};

/// Whether an event is routine or a problem (`type` in the Event).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EventType {
    /// Nothing to worry about.
    #[default]
    Normal,
    /// Something may need attention.
    Warning,
}

impl EventType {
    /// The value Kubernetes uses: `Normal` or `Warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing that happened to an object, as the reporting controller describes it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Event {
    /// Routine or a problem.
    pub type_: EventType,
    /// Why the action was taken, in `UpperCamelCase` (`BackOff`, `ScalingReplicaSet`): short,
    /// machine-readable, at most 128 characters.
    pub reason: String,
    /// A human-readable description (`message` in core/v1). events.k8s.io/v1 allows 1024 bytes;
    /// longer notes are cut there.
    pub note: Option<String>,
    /// What the controller did or failed to do (`Binding`, `Reconcile`): machine-readable, at
    /// most 128 characters, required by events.k8s.io/v1.
    pub action: String,
    /// Another object involved (`related`): the pod a scheduler bound to a node, the
    /// ReplicaSet a Deployment scaled...
    pub secondary: Option<ObjectReference>,
}

/// Who publishes the events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reporter {
    /// The controller's name (`reportingController`, and `source.component` in core/v1), e.g.
    /// `example.com/my-operator` or `deployment-controller`. events.k8s.io/v1 requires a
    /// qualified name.
    pub controller: String,
    /// This replica of the controller (`reportingInstance`). `None` uses
    /// `<controller>-<hostname>` as client-go does (at most 128 characters).
    pub instance: Option<String>,
}

impl From<&str> for Reporter {
    fn from(controller: &str) -> Self {
        controller.to_owned().into()
    }
}

impl From<String> for Reporter {
    fn from(controller: String) -> Self {
        Self {
            controller,
            instance: None,
        }
    }
}

/// Why an event could not be published.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The object reference has no name, so the Event could not be named after it.
    #[error("the object reference has no name")]
    UnnamedObject,
    /// Creating the Event failed.
    #[error("failed to create event {namespace}/{name}: {source}")]
    Create {
        /// The Event's namespace.
        namespace: String,
        /// The Event's name.
        name: String,
        /// What the apiserver (or the connection) said.
        #[source]
        source: kube_client::Error,
    },
    /// Counting a repeat into an existing Event failed.
    #[error("failed to update the series of event {namespace}/{name}: {source}")]
    Update {
        /// The Event's namespace.
        namespace: String,
        /// The Event's name.
        name: String,
        /// What the apiserver (or the connection) said.
        #[source]
        source: kube_client::Error,
    },
}

impl Error {
    /// The client error behind a failed write, if any.
    pub fn client_error(&self) -> Option<&kube_client::Error> {
        match self {
            Error::UnnamedObject => None,
            Error::Create { source, .. } | Error::Update { source, .. } => Some(source),
        }
    }
}

/// The result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;
