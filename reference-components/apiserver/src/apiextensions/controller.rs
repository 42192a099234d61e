//! The CRD loop: a queue of CRD names fed by a watch of the CRDs (and by its own retries), and a
//! reconcile step that reads the CRD from storage and brings the registry and the CRD's status
//! in line with it.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::names::{self, Condition};
use super::{CLEANUP_FINALIZER, cleanup, set_condition};
use crate::object::to_storage;
use crate::registry::SharedRegistry;
use crate::registry::crd::{self, CRD_PREFIX, condition_true};
use crate::server::ApiState;
use crate::storage::{self, KeyValue, ListOptions, Storage};
use crate::watch_cache::{WatchCache, WatchStart};

/// How long a CRD waits before it is looked at again, when its objects are still being deleted
/// or a step failed.
const RETRY: Duration = Duration::from_millis(500);

/// The lifetime of each served CRD: cancelled when the CRD is gone, which ends the watches of
/// its objects.
#[derive(Debug, Default)]
pub struct Lifetimes(HashMap<String, CancellationToken>);

/// Register the served versions of `crd` when it is established (as terminating when it is
/// being deleted), or unregister them when it is not.
fn serve(registry: &SharedRegistry, lifetimes: &mut Lifetimes, crd: &CustomResourceDefinition) {
    let name = crd.metadata.name.clone().unwrap_or_default();
    if !condition_true(crd, "Established") {
        registry.update(|r| r.remove_custom(&name));
        return;
    }
    let token = lifetimes.0.entry(name.clone()).or_default().clone();
    let defs = crd::defs(crd, &token);
    registry.update(|r| r.set_custom(&name, defs));
}

/// Serve the CRDs that storage holds as established: called at start, before the first request,
/// so that custom resources survive a restart without a gap.
pub async fn restore(storage: &Arc<dyn Storage>, registry: &SharedRegistry) -> storage::Result<Lifetimes> {
    let listed = storage.list(CRD_PREFIX, &ListOptions::default()).await?;
    let mut lifetimes = Lifetimes::default();
    for kv in listed.items {
        if let Some(crd) = crd::parse(&kv.value) {
            serve(registry, &mut lifetimes, &crd);
        }
    }
    Ok(lifetimes)
}

/// Start the loop for `state` (it ends when the server shuts down).
pub fn start(state: &Arc<ApiState>, lifetimes: Lifetimes) {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(feed(state.cache.clone(), tx.clone(), state.shutdown.clone()));
    let controller = Controller { lifetimes, queue: tx };
    tokio::spawn(controller.run(Arc::downgrade(state), rx, state.shutdown.clone()));
}

/// Queue the name of every CRD that changes (all of them first), watching again if the watch
/// ends.
async fn feed(cache: WatchCache, queue: mpsc::UnboundedSender<String>, shutdown: CancellationToken) {
    loop {
        match cache.watch(CRD_PREFIX, WatchStart::Initial).await {
            Ok(watch) => {
                for ev in &watch.initial {
                    let _ = queue.send(ev.obj.name.clone());
                }
                let mut events = watch.events;
                loop {
                    tokio::select! {
                        ev = events.next() => match ev {
                            Some(Ok(ev)) => {
                                if queue.send(ev.obj.name.clone()).is_err() {
                                    return;
                                }
                            }
                            Some(Err(_)) | None => break,
                        },
                        _ = shutdown.cancelled() => return,
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "watching CustomResourceDefinitions failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// What to do with a CRD after a reconcile.
enum Next {
    Done,
    Retry,
}

struct Controller {
    lifetimes: Lifetimes,
    queue: mpsc::UnboundedSender<String>,
}

type Result<T> = std::result::Result<T, String>;

fn failed(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Controller {
    async fn run(
        mut self,
        state: Weak<ApiState>,
        mut rx: mpsc::UnboundedReceiver<String>,
        shutdown: CancellationToken,
    ) {
        loop {
            let name = tokio::select! {
                name = rx.recv() => match name {
                    Some(n) => n,
                    None => return,
                },
                _ = shutdown.cancelled() => return,
            };
            let Some(state) = state.upgrade() else {
                return;
            };
            let next = self.reconcile(&state, &name).await.unwrap_or_else(|e| {
                tracing::warn!(crd = %name, error = %e, "reconciling a CustomResourceDefinition failed; retrying");
                Next::Retry
            });
            if let Next::Retry = next {
                let queue = self.queue.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(RETRY).await;
                    let _ = queue.send(name);
                });
            }
        }
    }

    async fn reconcile(&mut self, state: &ApiState, name: &str) -> Result<Next> {
        let key = format!("{CRD_PREFIX}{name}");
        let Some(kv) = state.storage.get(&key).await.map_err(failed)? else {
            self.gone(state, name).await?;
            return Ok(Next::Done);
        };
        let parsed = serde_json::from_slice::<Value>(&kv.value).and_then(|obj| {
            Ok((
                serde_json::from_value::<CustomResourceDefinition>(obj.clone())?,
                obj,
            ))
        });
        let (crd, obj) = match parsed {
            Ok(p) => p,
            Err(e) => {
                // Validation keeps this from happening; retrying would not help.
                tracing::warn!(crd = %name, error = %e, "undecodable CustomResourceDefinition in storage");
                return Ok(Next::Done);
            }
        };
        if crd.metadata.deletion_timestamp.is_some() {
            serve(&state.registry, &mut self.lifetimes, &crd);
            return self.finalize(state, &kv, obj, &crd).await;
        }
        let group: Vec<CustomResourceDefinition> = all_crds(&state.storage)
            .await?
            .into_iter()
            .filter(|c| c.spec.group == crd.spec.group)
            .collect();
        let naming = names::name(&crd, &group);
        let mut next = obj.clone();
        set_condition(&mut next, &naming.names_accepted);
        set_condition(&mut next, &naming.established);
        next["status"]["acceptedNames"] = serde_json::to_value(&naming.accepted).map_err(failed)?;
        if next != obj {
            match state
                .storage
                .update(&key, to_storage(next.clone()), kv.mod_revision)
                .await
            {
                Ok(_) => {}
                // Changed meanwhile: the change queues the CRD again.
                Err(storage::Error::Conflict { .. } | storage::Error::NotFound { .. }) => {
                    return Ok(Next::Done);
                }
                Err(e) => return Err(failed(e)),
            }
        }
        let named: CustomResourceDefinition = serde_json::from_value(next).map_err(failed)?;
        serve(&state.registry, &mut self.lifetimes, &named);
        Ok(Next::Done)
    }

    /// The CRD is gone: stop serving it, end its watches, and look again at the CRDs that
    /// waited for its names.
    async fn gone(&mut self, state: &ApiState, name: &str) -> Result<()> {
        state.registry.update(|r| r.remove_custom(name));
        if let Some(token) = self.lifetimes.0.remove(name) {
            token.cancel();
        }
        for other in all_crds(&state.storage).await? {
            if !condition_true(&other, "Established") {
                let _ = self.queue.send(other.metadata.name.unwrap_or_default());
            }
        }
        Ok(())
    }

    /// A CRD being deleted: delete its objects, then drop the cleanup finalizer.
    async fn finalize(
        &mut self,
        state: &ApiState,
        kv: &KeyValue,
        obj: Value,
        crd: &CustomResourceDefinition,
    ) -> Result<Next> {
        let ours = crd
            .metadata
            .finalizers
            .as_ref()
            .is_some_and(|f| f.iter().any(|f| f == CLEANUP_FINALIZER));
        if !ours {
            return Ok(Next::Done);
        }
        let prefix = format!("/registry/{}/{}/", crd.spec.group, crd.spec.names.plural);
        let remaining = cleanup::delete_instances(&state.storage, &prefix)
            .await
            .map_err(failed)?;
        let mut next = obj.clone();
        if remaining > 0 {
            set_condition(
                &mut next,
                &Condition {
                    type_: "Terminating",
                    status: "True",
                    reason: "InstanceDeletionInProgress",
                    message: "CustomResource deletion is in progress".into(),
                },
            );
            if next != obj {
                write(&state.storage, kv, next).await?;
            }
            return Ok(Next::Retry);
        }
        set_condition(
            &mut next,
            &Condition {
                type_: "Terminating",
                status: "False",
                reason: "InstanceDeletionCompleted",
                message: "removed all instances".into(),
            },
        );
        let finalizers = next["metadata"]["finalizers"]
            .as_array_mut()
            .expect("the cleanup finalizer is there");
        finalizers.retain(|f| f != CLEANUP_FINALIZER);
        if !finalizers.is_empty() {
            write(&state.storage, kv, next).await?;
            return Ok(Next::Done);
        }
        match state.storage.delete(&kv.key, Some(kv.mod_revision)).await {
            Ok(_) | Err(storage::Error::NotFound { .. }) => Ok(Next::Done),
            Err(storage::Error::Conflict { .. }) => Ok(Next::Retry),
            Err(e) => Err(failed(e)),
        }
    }
}

/// Write `obj` over `kv` (compare-and-swap; a lost race is left to the event it caused).
async fn write(storage: &Arc<dyn Storage>, kv: &KeyValue, obj: Value) -> Result<()> {
    match storage.update(&kv.key, to_storage(obj), kv.mod_revision).await {
        Ok(_) | Err(storage::Error::Conflict { .. } | storage::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(failed(e)),
    }
}

/// Every CRD in storage (a consistent read: names are decided on what is really claimed).
async fn all_crds(storage: &Arc<dyn Storage>) -> Result<Vec<CustomResourceDefinition>> {
    let listed = storage
        .list(CRD_PREFIX, &ListOptions::default())
        .await
        .map_err(failed)?;
    Ok(listed
        .items
        .iter()
        .filter_map(|kv| crd::parse(&kv.value))
        .collect())
}
