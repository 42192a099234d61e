//! Pruning (apiextensions' `structuralpruning.Prune` and `PruneNonNullableNullsWithoutDefaults`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use serde_json::Value;

use super::{embedded, field, is_resource_field, items, nullable, preserves};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;

/// Prune a value of schema `s`.
pub(super) fn prune_value(s: &JSONSchemaProps, v: &mut Value) {
    match v {
        Value::Object(_) => prune_object(s, v, embedded(s)),
        Value::Array(list) => {
            if let Some(item) = items(s) {
                for x in list {
                    prune_value(item, x);
                }
            }
        }
        _ => {}
    }
}

/// Prune an object of schema `s`; `resource` for the object itself and embedded resources,
/// whose `apiVersion`, `kind` and `metadata` are kept (the object's own `metadata` is decoded
/// separately; an embedded one is reduced to `ObjectMeta`'s fields).
pub(super) fn prune_object(s: &JSONSchemaProps, v: &mut Value, resource: bool) {
    let Some(map) = v.as_object_mut() else {
        return;
    };
    let is_root = resource && !embedded(s);
    map.retain(|key, value| {
        if resource && is_resource_field(key) {
            return true;
        }
        match field(s, key) {
            // A null that is neither nullable nor defaulted reads as absent.
            Some(f) => !(value.is_null() && !nullable(f) && f.default.is_none()),
            None => preserves(s),
        }
    });
    for (key, value) in map.iter_mut() {
        if resource && is_resource_field(key) {
            if key == "metadata" && !is_root && value.is_object() {
                coerce_metadata(value);
            }
            continue;
        }
        if let Some(f) = field(s, key) {
            prune_value(f, value);
        }
    }
}

/// An embedded resource's `metadata`, reduced to the fields `ObjectMeta` has (left as it is when
/// it does not decode; validation reports it then).
fn coerce_metadata(meta: &mut Value) {
    if let Ok(typed) = ObjectMeta::deserialize(&*meta)
        && let Ok(v) = serde_json::to_value(typed)
    {
        *meta = v;
    }
}
