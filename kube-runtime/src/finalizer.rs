//! Run cleanup before an object goes away: the finalizer helper of controller-runtime and
//! kube-rs.
//!
//! Start here: call [`finalizer`] from a reconciler with the object it got, a finalizer name
//! your controller owns, and a closure that handles two [`Event`]s: [`Event::Apply`] (the object
//! exists: make the world match it) and [`Event::Cleanup`] (it is being deleted: undo what
//! `Apply` did outside the object).
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use k8s_openapi::api::core::v1::ConfigMap;
//! use kube_client::{Api, Client, Config};
//! use kube_runtime::finalizer::{self, finalizer};
//!
//! #[derive(Debug, thiserror::Error)]
//! #[error("the backend said no")]
//! struct BackendError;
//!
//! async fn reconcile(api: &Api<ConfigMap>, cm: Arc<ConfigMap>) -> Result<(), finalizer::Error<BackendError>> {
//!     finalizer(api, "example.com/cleanup", cm, |event| async move {
//!         match event {
//!             finalizer::Event::Apply(cm) => {
//!                 // Create or update whatever the ConfigMap describes.
//!                 Ok(())
//!             }
//!             finalizer::Event::Cleanup(cm) => {
//!                 // Delete it; an error keeps the finalizer, and the ConfigMap with it.
//!                 Ok(())
//!             }
//!         }
//!     })
//!     .await
//! }
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! # let client = Client::try_from(Config::infer().await?)?;
//! # let api: Api<ConfigMap> = Api::namespaced(client, "default");
//! # let cm = api.get("settings").await?;
//! # reconcile(&api, Arc::new(cm)).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # What it does
//!
//! | the object                           | has our finalizer            | lacks it                          |
//! |--------------------------------------|------------------------------|-----------------------------------|
//! | exists (no `deletionTimestamp`)      | `Apply`                      | add the finalizer, then `Apply`   |
//! | is being deleted (`deletionTimestamp`) | `Cleanup`, then remove the finalizer | nothing (returns `T::default()`) |
//!
//! - **Adding** happens before anything is applied, so nothing `Apply` creates can escape
//!   cleanup. `Apply` then gets the object as the patch returned it (with the finalizer and a new
//!   `resourceVersion`), in the same call: no need to wait for the watch to bring it back. The
//!   patch also triggers a watch event, so `Apply` runs again on the next reconcile, as it does
//!   after any change; it must be idempotent anyway.
//! - **Removing** happens only after `Cleanup` succeeds. When a cleanup fails the finalizer
//!   stays, the object stays, and the error is returned: the controller retries it.
//! - Both are JSON patches guarded so that a concurrent change conflicts instead of being
//!   clobbered. Appending tests that the finalizer list is still the one we read; when there is
//!   no list yet, it carries the object's `resourceVersion` as a precondition (a JSON patch
//!   `test` of a missing list against `null` passes on Kubernetes but not on every server).
//!   Removing tests each entry it removes by index. A patch that loses a race fails with `422
//!   Invalid` (a failed `test`) or `409 Conflict` (a stale `resourceVersion`): the error is
//!   returned and the next reconcile works from the fresh object. Other finalizers are never
//!   touched.
//! - `api` must address the object's namespace (e.g. `Api::namespaced(client, &ns)`), as the
//!   controller's own `Api` does.

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

use kube_client::Api;
use kube_core::params::PatchParams;
use kube_core::{Patch, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// What the reconciler is asked to do.
#[derive(Debug)]
pub enum Event<K> {
    /// The object exists and carries our finalizer: make the world match it. Must be
    /// idempotent: it runs on every reconcile.
    Apply(Arc<K>),
    /// The object is being deleted and still carries our finalizer: undo what `Apply` did
    /// outside the object. Must be idempotent: it runs again when removing the finalizer fails.
    /// On success the finalizer is removed, which lets the deletion finish.
    Cleanup(Arc<K>),
}

/// Why [`finalizer`] failed. `E` is the reconciler's own error.
#[derive(Debug, thiserror::Error)]
pub enum Error<E>
where
    E: std::error::Error + 'static,
{
    /// [`Event::Apply`] failed.
    #[error("failed to apply object: {0}")]
    ApplyFailed(#[source] E),
    /// [`Event::Cleanup`] failed; the finalizer stays.
    #[error("failed to clean up object: {0}")]
    CleanupFailed(#[source] E),
    /// The patch adding our finalizer failed (`409`/`422` when it lost a race).
    #[error("failed to add finalizer: {0}")]
    AddFinalizer(#[source] kube_client::Error),
    /// The patch removing our finalizer failed (`409`/`422` when it lost a race).
    #[error("failed to remove finalizer: {0}")]
    RemoveFinalizer(#[source] kube_client::Error),
    /// The object has no name, so it cannot be patched.
    #[error("object has no name")]
    UnnamedObject,
}

impl<E: std::error::Error + 'static> Error<E> {
    /// The client error of a failed finalizer patch, if that is what this is.
    pub fn client_error(&self) -> Option<&kube_client::Error> {
        match self {
            Error::AddFinalizer(e) | Error::RemoveFinalizer(e) => Some(e),
            _ => None,
        }
    }
}

/// Reconcile `obj` with the finalizer `finalizer_name` guarding its cleanup (see the
/// [module documentation](self) for the cases).
///
/// `reconcile` is called at most once, with [`Event::Apply`] or [`Event::Cleanup`]; its result
/// is returned. When there is nothing to do (the object is being deleted and our finalizer is
/// already gone), the result is `T::default()`; a controller's `Action` should default to
/// "wait for the next change".
pub async fn finalizer<K, T, E, F, Fut>(
    api: &Api<K>,
    finalizer_name: &str,
    obj: Arc<K>,
    reconcile: F,
) -> Result<T, Error<E>>
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug,
    T: Default,
    E: std::error::Error + 'static,
    F: FnOnce(Event<K>) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let name = obj.meta().name.clone().ok_or(Error::UnnamedObject)?;
    let ours = positions(obj.finalizers(), finalizer_name);
    let deleting = obj.meta().deletion_timestamp.is_some();
    match (deleting, ours.is_empty()) {
        (false, false) => reconcile(Event::Apply(obj)).await.map_err(Error::ApplyFailed),
        (false, true) => {
            let patch = add_patch(obj.as_ref(), finalizer_name);
            let updated = api
                .patch(&name, &PatchParams::default(), &patch)
                .await
                .map_err(Error::AddFinalizer)?;
            tracing::debug!(%name, finalizer = finalizer_name, "finalizer added");
            reconcile(Event::Apply(Arc::new(updated)))
                .await
                .map_err(Error::ApplyFailed)
        }
        (true, false) => {
            let done = reconcile(Event::Cleanup(obj))
                .await
                .map_err(Error::CleanupFailed)?;
            match api
                .patch(
                    &name,
                    &PatchParams::default(),
                    &remove_patch(&ours, finalizer_name),
                )
                .await
            {
                Ok(_) => {}
                // Gone already: so is our finalizer.
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(Error::RemoveFinalizer(e)),
            }
            tracing::debug!(%name, finalizer = finalizer_name, "finalizer removed");
            Ok(done)
        }
        (true, true) => Ok(T::default()),
    }
}

/// The indexes of `name` in `finalizers` (Kubernetes does not deduplicate them).
fn positions(finalizers: &[String], name: &str) -> Vec<usize> {
    finalizers
        .iter()
        .enumerate()
        .filter(|(_, f)| *f == name)
        .map(|(i, _)| i)
        .collect()
}

/// Append `name` to the finalizers, guarded against concurrent changes of the list.
fn add_patch<K: Resource>(obj: &K, name: &str) -> Patch<Value> {
    let ops = match &obj.meta().finalizers {
        Some(list) => json!([
            {"op": "test", "path": "/metadata/finalizers", "value": list},
            {"op": "add", "path": "/metadata/finalizers/-", "value": name},
        ]),
        None => {
            let mut ops = Vec::new();
            if let Some(rv) = &obj.meta().resource_version {
                // A resourceVersion the patch sets is a precondition: 409 when stale.
                ops.push(json!({"op": "add", "path": "/metadata/resourceVersion", "value": rv}));
            }
            ops.push(json!({"op": "add", "path": "/metadata/finalizers", "value": [name]}));
            Value::Array(ops)
        }
    };
    json_patch(ops)
}

/// Remove the entries at `indexes` (all equal to `name`), testing each one first.
fn remove_patch(indexes: &[usize], name: &str) -> Patch<Value> {
    // Highest index first, so the lower ones stay valid.
    let ops = indexes
        .iter()
        .rev()
        .flat_map(|i| {
            let path = format!("/metadata/finalizers/{i}");
            [
                json!({"op": "test", "path": path, "value": name}),
                json!({"op": "remove", "path": path}),
            ]
        })
        .collect();
    json_patch(Value::Array(ops))
}

fn json_patch(ops: Value) -> Patch<Value> {
    Patch::Json(serde_json::from_value(ops).expect("well-formed JSON patch operations"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;

    fn ops(p: &Patch<Value>) -> Value {
        serde_json::from_slice(&p.serialize().unwrap()).unwrap()
    }

    #[test]
    fn add_tests_the_list_it_appends_to() {
        let mut cm = ConfigMap::default();
        cm.meta_mut().resource_version = Some("7".into());
        cm.meta_mut().finalizers = Some(vec!["a/b".into()]);
        let p = add_patch(&cm, "x/y");
        assert_eq!(p.content_type(), kube_core::patch::JSON_PATCH);
        assert_eq!(
            ops(&p),
            json!([
                {"op": "test", "path": "/metadata/finalizers", "value": ["a/b"]},
                {"op": "add", "path": "/metadata/finalizers/-", "value": "x/y"},
            ])
        );
    }

    #[test]
    fn add_without_a_list_is_conditional_on_the_resource_version() {
        let mut cm = ConfigMap::default();
        cm.meta_mut().resource_version = Some("7".into());
        assert_eq!(
            ops(&add_patch(&cm, "x/y")),
            json!([
                {"op": "add", "path": "/metadata/resourceVersion", "value": "7"},
                {"op": "add", "path": "/metadata/finalizers", "value": ["x/y"]},
            ])
        );
    }

    #[test]
    fn remove_tests_every_entry_highest_first() {
        let list: Vec<String> = ["x/y", "a/b", "x/y"].map(String::from).into();
        let at = positions(&list, "x/y");
        assert_eq!(at, [0, 2]);
        assert_eq!(
            ops(&remove_patch(&at, "x/y")),
            json!([
                {"op": "test", "path": "/metadata/finalizers/2", "value": "x/y"},
                {"op": "remove", "path": "/metadata/finalizers/2"},
                {"op": "test", "path": "/metadata/finalizers/0", "value": "x/y"},
                {"op": "remove", "path": "/metadata/finalizers/0"},
            ])
        );
        let mut doc = json!({"metadata": {"finalizers": list}});
        let Patch::Json(p) = remove_patch(&at, "x/y") else {
            unreachable!()
        };
        kube_core::patch::apply_json_patch(&mut doc, &p).unwrap();
        assert_eq!(doc, json!({"metadata": {"finalizers": ["a/b"]}}));
    }
}
