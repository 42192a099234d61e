//! The scheduler's loop: informers on pods and nodes feed the [`Cache`] and a queue of pods to
//! place; one scheduling cycle at a time takes a pod, runs [`algorithm::schedule`] on a
//! snapshot, assumes the pod on the chosen node and binds it in the background, or reports why
//! it fits nowhere and parks it until the cluster changes.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod, PodCondition};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube_client::{Api, Client};
use kube_core::params::PatchParams;
use kube_core::{Patch, Resource};
use kube_runtime::events::{Event, EventType, Recorder, Reporter};
use kube_runtime::informer::{EventHandler, HandlerOptions, InformerOptions, SharedInformerFactory};
use kube_runtime::reflector::{ObjectKey, Store};
use parking_lot::Mutex;
use serde_json::json;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::algorithm::{self, FitError};
use crate::cache::Cache;
use crate::config::{ConfigError, DEFAULT_SCHEDULER_NAME, KubeSchedulerConfiguration};
use crate::framework::PodInfo;
use crate::metrics::{Outcome, SchedulerMetrics};
use crate::profile::Profile;
use crate::queue::SchedulingQueue;

/// The longest a pod parked as unschedulable waits without a cluster event before it is tried
/// again (`DefaultPodMaxInUnschedulablePodsDuration`).
pub const MAX_UNSCHEDULABLE_WAIT: Duration = Duration::from_secs(5 * 60);

/// The field selector of the pod informer: finished pods hold no resources.
pub const POD_FIELD_SELECTOR: &str = "status.phase!=Succeeded,status.phase!=Failed";

/// A scheduler: its profiles and retry delays, and the client it works through. Cheap to clone;
/// [`run`](Self::run) can be called again after it returns (a new leadership term).
#[derive(Clone)]
pub struct Scheduler {
    client: Client,
    profiles: Arc<HashMap<String, Profile>>,
    backoff: (Duration, Duration),
    metrics: Arc<SchedulerMetrics>,
}

impl Scheduler {
    /// A scheduler as `config` describes it (its profiles and backoff; the client connection
    /// and leader election are the caller's).
    pub fn new(client: Client, config: &KubeSchedulerConfiguration) -> Result<Self, ConfigError> {
        let profiles: HashMap<String, Profile> = config
            .profiles()?
            .into_iter()
            .map(|p| (p.name.clone(), p))
            .collect();
        let metrics = Arc::new(SchedulerMetrics::new(profiles.keys().map(String::as_str)));
        Ok(Self {
            client,
            profiles: Arc::new(profiles),
            backoff: config.backoff(),
            metrics,
        })
    }

    /// The scheduler's metrics, kept across runs.
    pub fn metrics(&self) -> Arc<SchedulerMetrics> {
        self.metrics.clone()
    }

    /// Schedules pods until `stop` fires: starts the informers, waits for their caches, then
    /// runs scheduling cycles. Bindings in flight when `stop` fires are abandoned (the
    /// apiserver binds a pod at most once, so a successor cannot double-bind it).
    pub async fn run(&self, stop: CancellationToken) {
        let factory = SharedInformerFactory::new(self.client.clone());
        let pods = factory.informer::<Pod>(InformerOptions::default().fields(POD_FIELD_SELECTOR));
        let nodes = factory.informer::<Node>(InformerOptions::default());
        let shared = Arc::new(Shared {
            client: self.client.clone(),
            profiles: self.profiles.clone(),
            recorders: self
                .profiles
                .keys()
                .map(|name| {
                    (
                        name.clone(),
                        Recorder::new(self.client.clone(), Reporter::from(name.as_str())),
                    )
                })
                .collect(),
            cache: Cache::new(),
            queue: SchedulingQueue::new(),
            pods: pods.store(),
            parked: Mutex::new(HashMap::new()),
            attempts: Mutex::new(HashMap::new()),
            backoff: self.backoff,
            metrics: self.metrics.clone(),
            next_start: Mutex::new(0),
            moves: AtomicU64::new(0),
        });
        let handlers = [
            pods.add_handler(PodEvents(shared.clone()), HandlerOptions::default()),
            nodes.add_handler(NodeEvents(shared.clone()), HandlerOptions::default()),
        ];
        factory.start();
        let timers = tokio::spawn({
            let (queue, stop) = (shared.queue.clone(), stop.clone());
            async move { queue.run_timers(stop).await }
        });
        // Synced once the handlers (not just the informers' stores) have seen the first lists:
        // the cache is filled by the handlers, and a cycle on a half-filled cache would call
        // feasible nodes missing.
        let synced = async {
            for handler in &handlers {
                if !handler.wait_until_synced().await {
                    return false;
                }
            }
            true
        };
        let synced = tokio::select! {
            synced = synced => synced,
            () = stop.cancelled() => false,
        };
        if synced {
            tracing::info!(profiles = ?self.profiles.keys().collect::<Vec<_>>(), "scheduler caches synced, scheduling");
            let mut bindings = JoinSet::new();
            loop {
                let key = tokio::select! {
                    key = shared.queue.pop() => key,
                    () = stop.cancelled() => None,
                };
                let Some(key) = key else { break };
                shared.schedule_one(&key, &mut bindings);
                // Reap finished bindings so the set stays small.
                while bindings.try_join_next().is_some() {}
            }
            bindings.shutdown().await;
        }
        shared.queue.shut_down();
        let _ = timers.await;
        factory.shutdown().await;
    }
}

/// What the cycle, the bindings and the event handlers share.
struct Shared {
    client: Client,
    profiles: Arc<HashMap<String, Profile>>,
    recorders: HashMap<String, Recorder>,
    cache: Cache,
    queue: Arc<SchedulingQueue>,
    pods: Store<Pod>,
    /// Unschedulable pods waiting for a cluster change, with the end of their backoff.
    parked: Mutex<HashMap<ObjectKey, (Instant, i32)>>,
    /// Failed attempts per pod, for the backoff.
    attempts: Mutex<HashMap<ObjectKey, u32>>,
    backoff: (Duration, Duration),
    metrics: Arc<SchedulerMetrics>,
    /// Where the next cycle starts filtering (`nextStartNodeIndex`).
    next_start: Mutex<usize>,
    /// Cluster changes that could make parked pods fit, counted (`moveRequestCycle`).
    moves: AtomicU64,
}

fn scheduler_name(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.scheduler_name.as_deref())
        .filter(|n| !n.is_empty())
        .unwrap_or(DEFAULT_SCHEDULER_NAME)
}

/// The pod's place in the queue: `spec.priority` (set from its PriorityClass), 0 if none.
fn priority(pod: &Pod) -> i32 {
    pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0)
}

/// Whether the pod waits for its scheduling gates to be removed (the `SchedulingGates` plugin):
/// not scheduled until then.
fn is_gated(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.scheduling_gates.as_ref())
        .is_some_and(|g| !g.is_empty())
}

fn is_bound(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .is_some_and(|n| !n.is_empty())
}

/// The longest event note kube-scheduler writes; longer ones are cut and end in `" ..."`.
const NOTE_LIMIT: usize = 1024;

/// `truncateMessage`: at most [`NOTE_LIMIT`] bytes, the cut marked with `" ..."`.
fn truncate_message(message: &str) -> String {
    if message.len() <= NOTE_LIMIT {
        return message.to_owned();
    }
    let mut end = NOTE_LIMIT - 4;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} ...", &message[..end])
}

/// How a failed attempt is reported.
enum Failure {
    /// No node fits: `PodScheduled=False, reason Unschedulable`, parked until the cluster changes
    /// (or retried after the backoff if it changed while the cycle ran).
    Unschedulable {
        /// Why.
        fit: FitError,
        /// Whether a cluster change happened after the cycle took its snapshot.
        missed_a_change: bool,
    },
    /// Something went wrong (a binding the apiserver refused): `reason SchedulerError`, retried
    /// after the backoff.
    Error(String),
}

impl Shared {
    fn is_ours(&self, pod: &Pod) -> bool {
        self.profiles.contains_key(scheduler_name(pod))
    }

    /// One scheduling cycle for the pod of `key`.
    fn schedule_one(self: &Arc<Self>, key: &ObjectKey, bindings: &mut JoinSet<()>) {
        self.unpark(key);
        let Some(pod) = self.pods.get(key) else {
            return;
        };
        if is_bound(&pod)
            || is_gated(&pod)
            || pod.metadata.deletion_timestamp.is_some()
            || self.cache.is_assumed(key)
        {
            return;
        }
        let Some(profile) = self.profiles.get(scheduler_name(&pod)) else {
            return;
        };
        let info = Arc::new(PodInfo::new(pod.clone()));
        // Cluster changes from here on may be missed by this cycle's snapshot: a failure then
        // retries after the backoff instead of waiting for the next change.
        let moves_seen = self.moves.load(Ordering::SeqCst);
        let snapshot = self.cache.snapshot();
        let mut next_start = self.next_start.lock();
        let decision = algorithm::schedule(profile, &info, &snapshot, &mut next_start, &mut rand::rng());
        drop(next_start);
        match decision {
            Ok(placement) => {
                tracing::debug!(pod = %key, node = %placement.node, feasible = placement.feasible, "assuming pod");
                self.cache.assume(info, &placement.node);
                let this = self.clone();
                let key = key.clone();
                bindings.spawn(async move { this.bind(pod, key, placement.node).await });
            }
            Err(fit) => {
                tracing::info!(pod = %key, reason = %fit, "unable to schedule pod");
                let missed_a_change = self.moves.load(Ordering::SeqCst) != moves_seen;
                self.fail(&pod, key, Failure::Unschedulable { fit, missed_a_change });
            }
        }
    }

    /// Binds the assumed pod; reports the outcome.
    async fn bind(self: Arc<Self>, pod: Arc<Pod>, key: ObjectKey, node: String) {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), key.namespace().unwrap_or_default());
        let uid = pod.metadata.uid.as_deref().unwrap_or_default();
        match api.bind_with_uid(&key.name, uid, &node).await {
            Ok(_) => {
                tracing::info!(pod = %key, %node, "bound pod");
                self.attempts.lock().remove(&key);
                self.metrics.attempt(scheduler_name(&pod), Outcome::Scheduled);
                let note = format!(
                    "Successfully assigned {}/{} to {node}",
                    key.namespace().unwrap_or_default(),
                    key.name
                );
                self.record(&pod, EventType::Normal, "Scheduled", "Binding", note);
            }
            Err(err) => {
                self.cache.forget(&key);
                if err.is_conflict() || err.is_not_found() {
                    // Bound by someone else, being deleted, or gone: nothing left to do here;
                    // the informer brings the news.
                    tracing::info!(pod = %key, %node, error = %err, "binding not needed any more");
                    return;
                }
                tracing::warn!(pod = %key, %node, error = %err, "binding failed");
                let message = format!("binding rejected: running Bind plugin \"DefaultBinder\": {err}");
                self.fail(&pod, &key, Failure::Error(message));
            }
        }
    }

    /// Reports a failed attempt (event and pod condition) and arranges the retry.
    fn fail(&self, pod: &Arc<Pod>, key: &ObjectKey, failure: Failure) {
        let attempts = {
            let mut attempts = self.attempts.lock();
            let n = attempts.entry(key.clone()).or_default();
            *n += 1;
            *n
        };
        let (initial, max) = self.backoff;
        let backoff = initial.saturating_mul(1 << (attempts - 1).min(20)).min(max);
        let (reason, message) = match &failure {
            Failure::Unschedulable { fit, .. } => ("Unschedulable", fit.to_string()),
            Failure::Error(message) => ("SchedulerError", message.clone()),
        };
        match failure {
            Failure::Unschedulable {
                missed_a_change: true,
                ..
            } => {
                self.metrics.attempt(scheduler_name(pod), Outcome::Unschedulable);
                self.queue.add_after(key.clone(), priority(pod), backoff);
            }
            Failure::Unschedulable { .. } => {
                self.metrics.attempt(scheduler_name(pod), Outcome::Unschedulable);
                let mut parked = self.parked.lock();
                parked.insert(key.clone(), (Instant::now() + backoff, priority(pod)));
                self.metrics.set_unschedulable(parked.len());
                self.queue
                    .add_after(key.clone(), priority(pod), MAX_UNSCHEDULABLE_WAIT);
            }
            Failure::Error(_) => {
                self.metrics.attempt(scheduler_name(pod), Outcome::Error);
                self.queue.add_after(key.clone(), priority(pod), backoff);
            }
        }
        self.record(
            pod,
            EventType::Warning,
            "FailedScheduling",
            "Scheduling",
            truncate_message(&message),
        );
        self.set_unscheduled_condition(pod, key, reason, message);
    }

    /// Writes `PodScheduled=False` with `reason` and `message` unless the pod says so already.
    fn set_unscheduled_condition(&self, pod: &Pod, key: &ObjectKey, reason: &str, message: String) {
        let current = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"));
        let same = |c: &&PodCondition| {
            c.status == "False"
                && c.reason.as_deref() == Some(reason)
                && c.message.as_deref() == Some(message.as_str())
        };
        if current.as_ref().is_some_and(same) {
            return;
        }
        // The transition time moves only when the status does, as `UpdatePodCondition` keeps it.
        let transition = match current {
            Some(c) if c.status == "False" => c.last_transition_time.clone(),
            _ => None,
        }
        .map_or_else(
            || json!(jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
            |t| json!(t),
        );
        let patch = json!({"status": {"conditions": [{
            "type": "PodScheduled",
            "status": "False",
            "reason": reason,
            "message": message,
            "lastProbeTime": null,
            "lastTransitionTime": transition,
        }]}});
        let api: Api<Pod> = Api::namespaced(self.client.clone(), key.namespace().unwrap_or_default());
        let key = key.clone();
        tokio::spawn(async move {
            if let Err(err) = api
                .patch_status(&key.name, &PatchParams::default(), &Patch::Strategic(&patch))
                .await
            {
                tracing::warn!(pod = %key, error = %err, "could not update the PodScheduled condition");
            }
        });
    }

    /// Publishes an event about `pod` in the background.
    fn record(&self, pod: &Pod, type_: EventType, reason: &str, action: &str, note: String) {
        let Some(recorder) = self.recorders.get(scheduler_name(pod)).cloned() else {
            return;
        };
        let event = Event {
            type_,
            reason: reason.into(),
            note: Some(note),
            action: action.into(),
            secondary: None,
        };
        let regarding = pod.object_ref(&());
        tokio::spawn(async move {
            if let Err(err) = recorder.publish(&event, &regarding).await {
                tracing::warn!(error = %err, "could not publish an event");
            }
        });
    }

    /// Something changed that may let parked pods fit: each goes back once its backoff ends.
    fn move_parked(&self, why: &str) {
        self.moves.fetch_add(1, Ordering::SeqCst);
        let parked: Vec<(ObjectKey, (Instant, i32))> = self.parked.lock().drain().collect();
        self.metrics.set_unschedulable(0);
        if parked.is_empty() {
            return;
        }
        tracing::debug!(pods = parked.len(), why, "retrying unschedulable pods");
        let now = Instant::now();
        for (key, (until, priority)) in parked {
            self.queue
                .add_after(key, priority, until.saturating_duration_since(now));
        }
    }

    /// Takes the pod of `key` out of the parked ones; the end of its backoff if it was there.
    fn unpark(&self, key: &ObjectKey) -> Option<Instant> {
        let mut parked = self.parked.lock();
        let until = parked.remove(key).map(|(until, _)| until);
        self.metrics.set_unschedulable(parked.len());
        until
    }

    fn forget_pod(&self, key: &ObjectKey) {
        self.unpark(key);
        self.attempts.lock().remove(key);
    }
}

/// Pods: bound ones go to the cache, pending ones of ours to the queue.
struct PodEvents(Arc<Shared>);

impl EventHandler<Pod> for PodEvents {
    fn on_add(&self, pod: &Arc<Pod>, _initial: bool) {
        let s = &self.0;
        s.cache.update_pod(pod);
        if !is_bound(pod)
            && !is_gated(pod)
            && s.is_ours(pod)
            && let Some(key) = ObjectKey::from_obj(pod.as_ref())
        {
            s.queue.add(key, priority(pod));
        }
    }

    fn on_update(&self, old: &Arc<Pod>, new: &Arc<Pod>) {
        let s = &self.0;
        s.cache.update_pod(new);
        let Some(key) = ObjectKey::from_obj(new.as_ref()) else {
            return;
        };
        if is_bound(new) {
            s.forget_pod(&key);
            return;
        }
        // A pending pod whose spec or labels changed may fit now; a status change (our own
        // condition, say) changes nothing.
        let changed = old.spec != new.spec || old.metadata.labels != new.metadata.labels;
        if changed && s.is_ours(new) {
            let until = s.unpark(&key);
            let wait = until.map_or(Duration::ZERO, |u| u.saturating_duration_since(Instant::now()));
            s.queue.add_after(key, priority(new), wait);
        }
    }

    fn on_delete(&self, pod: &Arc<Pod>, _unknown: bool) {
        let s = &self.0;
        let Some(key) = ObjectKey::from_obj(pod.as_ref()) else {
            return;
        };
        s.cache.remove_pod(&key);
        s.forget_pod(&key);
        if is_bound(pod) {
            s.move_parked("assigned pod deleted");
        }
    }
}

/// Nodes: the cache, and a retry of parked pods when a node could now take them.
struct NodeEvents(Arc<Shared>);

impl EventHandler<Node> for NodeEvents {
    fn on_add(&self, node: &Arc<Node>, _initial: bool) {
        self.0.cache.add_node(node.clone());
        self.0.move_parked("node added");
    }

    fn on_update(&self, old: &Arc<Node>, new: &Arc<Node>) {
        self.0.cache.add_node(new.clone());
        // Heartbeats change only conditions and times; what scheduling reads is here.
        fn allocatable(n: &Node) -> Option<&std::collections::BTreeMap<String, Quantity>> {
            n.status.as_ref().and_then(|s| s.allocatable.as_ref())
        }
        if old.spec != new.spec
            || old.metadata.labels != new.metadata.labels
            || allocatable(old) != allocatable(new)
        {
            self.0.move_parked("node changed");
        }
    }

    fn on_delete(&self, node: &Arc<Node>, _unknown: bool) {
        self.0
            .cache
            .remove_node(node.metadata.name.as_deref().unwrap_or_default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_notes_are_cut_as_kube_scheduler_cuts_them() {
        assert_eq!(truncate_message("short"), "short");
        let long = "é".repeat(600); // 1200 bytes
        let cut = truncate_message(&long);
        assert!(cut.len() <= NOTE_LIMIT && cut.ends_with(" ..."), "{}", cut.len());
        assert!(long.starts_with(cut.trim_end_matches(" ...")));
    }
}
