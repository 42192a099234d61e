//! CustomResourceDefinitions at run time: what kube-apiserver's apiextensions controllers do,
//! as one loop ([`controller`]) over the CRDs in storage.
//!
//! - A new or changed CRD is named (`names`: `NamesAccepted`, then `Established`), and once
//!   established its served versions are registered ([`crate::registry::crd::defs`]): its
//!   endpoints, discovery entries and watch cache appear within milliseconds.
//! - Deleting a CRD (the delete handler calls [`prepare_delete`]) adds the
//!   `customresourcecleanup.apiextensions.k8s.io` finalizer; the loop then refuses new objects,
//!   deletes every object of the resource (`cleanup`), removes the finalizer, and once the
//!   CRD is gone stops serving it (404 afterwards, watches end).
//! - At start, [`restore`] serves the CRDs already established in storage before the server
//!   answers its first request.

mod cleanup;
pub mod controller;
mod names;

use serde_json::{Value, json};

pub use controller::{restore, start};

/// The finalizer that holds a CRD until its objects are deleted.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

/// The first delete of a CRD: add the cleanup finalizer (the generic delete then sets the
/// deletion timestamp and keeps the object) and mark it `Terminating`.
pub fn prepare_delete(crd: &mut Value) {
    let Some(root) = crd.as_object_mut() else {
        return;
    };
    let meta = root.entry("metadata").or_insert_with(|| json!({}));
    if meta.get("deletionTimestamp").is_some() {
        return;
    }
    if let Some(m) = meta.as_object_mut() {
        let finalizers = m.entry("finalizers").or_insert_with(|| json!([]));
        if let Some(list) = finalizers.as_array_mut()
            && !list.iter().any(|f| f == CLEANUP_FINALIZER)
        {
            list.push(json!(CLEANUP_FINALIZER));
        }
    }
    set_condition(
        crd,
        &names::Condition {
            type_: "Terminating",
            status: "True",
            reason: "InstanceDeletionPending",
            message: "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon"
                .into(),
        },
    );
}

/// Set a condition in `status.conditions`, keeping its `lastTransitionTime` when its status
/// does not change.
fn set_condition(crd: &mut Value, c: &names::Condition) {
    let Some(root) = crd.as_object_mut() else {
        return;
    };
    let status = root.entry("status").or_insert_with(|| json!({}));
    if !status.is_object() {
        *status = json!({});
    }
    let conditions = status
        .as_object_mut()
        .expect("made an object")
        .entry("conditions")
        .or_insert_with(|| json!([]));
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    let list = conditions.as_array_mut().expect("made an array");
    let old = list
        .iter()
        .position(|x| x.get("type").and_then(Value::as_str) == Some(c.type_));
    let since = old
        .map(|i| &list[i])
        .filter(|x| x.get("status").and_then(Value::as_str) == Some(c.status))
        .and_then(|x| x.get("lastTransitionTime").cloned())
        .unwrap_or_else(|| json!(crate::object::now_rfc3339()));
    let new = json!({
        "type": c.type_, "status": c.status, "lastTransitionTime": since,
        "reason": c.reason, "message": c.message,
    });
    match old {
        Some(i) => list[i] = new,
        None => list.push(new),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_delete_adds_the_finalizer_and_terminating_once() {
        let mut crd = json!({"metadata": {"name": "w.example.com", "finalizers": ["other"]}, "status": {"conditions": [
            {"type": "Established", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z"}]}});
        prepare_delete(&mut crd);
        prepare_delete(&mut crd);
        assert_eq!(crd["metadata"]["finalizers"], json!(["other", CLEANUP_FINALIZER]));
        let conditions = crd["status"]["conditions"].as_array().unwrap();
        assert_eq!(conditions.len(), 2);
        assert_eq!(conditions[0]["lastTransitionTime"], "2024-01-01T00:00:00Z");
        assert_eq!(conditions[1]["type"], "Terminating");
        assert_eq!(conditions[1]["reason"], "InstanceDeletionPending");
        // Already being deleted: nothing changes.
        let mut deleting = json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}});
        prepare_delete(&mut deleting);
        assert!(deleting["metadata"].get("finalizers").is_none());
    }
}
