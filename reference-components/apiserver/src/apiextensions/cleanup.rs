//! Deleting the objects of a CRD that is being deleted (apiextensions' `CRDFinalizer`).
//!
//! Objects without finalizers are deleted at once (watchers see `DELETED`); objects with
//! finalizers get a `deletionTimestamp` and stay until their controllers remove the finalizers,
//! and the CRD waits for them.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::object::{meta_mut, now_rfc3339, to_storage};
use crate::storage::{self, ListOptions, Storage};

/// Delete what can be deleted under `prefix` (a CRD's `/registry/{group}/{plural}/`); returns
/// how many objects remain.
pub(super) async fn delete_instances(storage: &Arc<dyn Storage>, prefix: &str) -> storage::Result<usize> {
    let listed = storage.list(prefix, &ListOptions::default()).await?;
    let mut remaining = 0;
    for kv in listed.items {
        let mut obj: Value = serde_json::from_slice(&kv.value).unwrap_or(Value::Null);
        let finalizers = obj
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
        if finalizers && obj.is_object() {
            remaining += 1;
            if obj.pointer("/metadata/deletionTimestamp").is_some() {
                continue;
            }
            let meta = meta_mut(&mut obj);
            meta.insert("deletionTimestamp".into(), json!(now_rfc3339()));
            meta.insert("deletionGracePeriodSeconds".into(), json!(0));
            match storage.update(&kv.key, to_storage(obj), kv.mod_revision).await {
                Ok(_) | Err(storage::Error::Conflict { .. } | storage::Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
            continue;
        }
        match storage.delete(&kv.key, Some(kv.mod_revision)).await {
            Ok(_) | Err(storage::Error::NotFound { .. }) => {}
            Err(storage::Error::Conflict { .. }) => remaining += 1,
            Err(e) => return Err(e),
        }
    }
    Ok(remaining)
}
