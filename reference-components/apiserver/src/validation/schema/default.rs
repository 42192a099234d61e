//! Structural defaulting (apiextensions' `structuraldefaulting.Default`): a property with a
//! `default` that is missing (or a `null` it may not be) gets a copy of the default, wherever
//! its parent object exists; defaults are then defaulted in turn.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
use serde_json::Value;

use super::{embedded, field, is_resource_field, items, nullable};

fn default_value(s: &JSONSchemaProps, v: &mut Value) {
    match v {
        Value::Object(_) => default_object(s, v, embedded(s)),
        Value::Array(list) => {
            if let Some(item) = items(s) {
                for x in list {
                    default_value(item, x);
                }
            }
        }
        _ => {}
    }
}

/// Default an object of schema `s`; `resource` skips `apiVersion`, `kind` and `metadata`.
pub(super) fn default_object(s: &JSONSchemaProps, v: &mut Value, resource: bool) {
    let Some(map) = v.as_object_mut() else {
        return;
    };
    for (key, prop) in s.properties.iter().flatten() {
        if resource && is_resource_field(key) {
            continue;
        }
        let Some(default) = &prop.default else {
            continue;
        };
        let unset = match map.get(key) {
            None => true,
            Some(Value::Null) => !nullable(prop),
            Some(_) => false,
        };
        if unset {
            map.insert(key.clone(), default.0.clone());
        }
    }
    for (key, value) in map.iter_mut() {
        if resource && is_resource_field(key) {
            continue;
        }
        if let Some(f) = field(s, key) {
            default_value(f, value);
        }
    }
}
