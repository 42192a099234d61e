//! Kubernetes strategic merge patch.
//!
//! A strategic merge patch looks like a JSON merge patch (RFC 7386): objects merge key by key
//! and `null` deletes a key. The difference is in lists. Where the built-in type declares a
//! patch strategy (the table is in `strategic/schema.rs`), lists merge instead of being
//! replaced:
//!
//! - lists of objects merge item by item on their *merge key*: `containers` on `name`, `ports`
//!   on `containerPort`, `conditions` on `type`, ...;
//! - lists of primitives with the merge strategy (`metadata.finalizers`, `spec.podCIDRs`) merge
//!   as sets;
//! - every other list is replaced, as in a JSON merge patch.
//!
//! The patch can carry directives:
//!
//! | directive | where | effect |
//! |---|---|---|
//! | `$patch: replace` | in an object | the object replaces the live one instead of merging |
//! | `$patch: replace` | in a list item | the list (minus directive items) replaces the live list |
//! | `$patch: delete` | in an object | the field is removed |
//! | `$patch: delete` | in a list item | live items with the same merge key are removed |
//! | `$patch: merge` | anywhere | the default; accepted and ignored |
//! | `$deleteFromPrimitiveList/<field>: [..]` | in an object | those values leave the set `<field>` |
//! | `$setElementOrder/<field>: [..]` | in an object | the order of the merged list `<field>` |
//! | `$retainKeys: [..]` | in an object | live fields not listed are cleared first |
//!
//! Directives never reach the result. Only built-in kinds have a schema: custom resources take
//! a JSON merge patch instead, and the apiserver answers a strategic merge patch for them with
//! 415 Unsupported Media Type (see [`supports_strategic_merge`]).
//!
//! Two deliberate differences from the Go implementation: `$patch: delete` on a nested object
//! removes the field (Go leaves an empty object), and `$patch: merge` in a list item is
//! accepted (Go rejects it). Where Go copies a patch value verbatim because the live object lacks
//! the field, this implementation still strips directives and `null`s from it.
mod list;
mod schema;
mod strategy;

pub use strategy::{FieldStrategy, ListStrategy};

use super::PatchError;
use schema::{Field, Schema};
use serde_json::{Map, Value};

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";

/// Whether `kind` in `api_version` is a built-in kind that accepts a strategic merge patch.
///
/// The apiserver answers a strategic merge patch for anything else (custom resources, or kinds
/// this crate does not describe) with 415 Unsupported Media Type.
///
/// ```
/// # use kube_core::patch::strategic::supports_strategic_merge;
/// assert!(supports_strategic_merge("apps/v1", "Deployment"));
/// assert!(!supports_strategic_merge("example.com/v1", "Widget"));
/// ```
pub fn supports_strategic_merge(api_version: &str, kind: &str) -> bool {
    schema::for_kind(api_version, kind).is_some()
}

/// Apply a strategic merge patch to `target`, an object of kind `kind` in `api_version`.
///
/// Fails with [`PatchError::Invalid`] when the kind has no strategic merge schema (see
/// [`supports_strategic_merge`]) or the patch is malformed (a list item without its merge key,
/// an unknown `$patch` value, ...). On error `target` is left unchanged.
///
/// ```
/// # use kube_core::patch::apply_strategic_merge_patch;
/// # use serde_json::json;
/// let mut pod = json!({"spec": {"containers": [
///     {"name": "app", "image": "app:1"},
///     {"name": "sidecar", "image": "proxy:1"},
/// ]}});
/// let patch = json!({"spec": {"containers": [{"name": "app", "image": "app:2"}]}});
/// apply_strategic_merge_patch(&mut pod, &patch, "v1", "Pod").unwrap();
/// assert_eq!(pod, json!({"spec": {"containers": [
///     {"name": "app", "image": "app:2"},
///     {"name": "sidecar", "image": "proxy:1"},
/// ]}}));
/// ```
pub fn apply_strategic_merge_patch(
    target: &mut Value,
    patch: &Value,
    api_version: &str,
    kind: &str,
) -> Result<(), PatchError> {
    let schema = schema::for_kind(api_version, kind).ok_or_else(|| {
        invalid(format!(
            "strategic merge patch is not supported for {kind} in {api_version}: \
             use a JSON merge patch or a JSON patch"
        ))
    })?;
    let Value::Object(patch) = patch else {
        return Err(invalid("a strategic merge patch must be a JSON object"));
    };
    let Value::Object(live) = &*target else {
        return Err(invalid("the object to patch is not a JSON object"));
    };
    let merged = match Directive::of(patch)? {
        Directive::Delete => {
            return Err(invalid("`$patch: delete` cannot delete the whole object"));
        }
        Directive::Replace => fresh_object(patch, schema)?,
        Directive::Merge => {
            // Merge into a copy so that an error leaves `target` untouched.
            let mut merged = live.clone();
            merge_object(&mut merged, patch, schema)?;
            merged
        }
    };
    *target = Value::Object(merged);
    Ok(())
}

fn invalid(reason: impl Into<String>) -> PatchError {
    PatchError::Invalid(reason.into())
}

/// The `$patch` directive of an object in the patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Directive {
    /// No directive, or `$patch: merge`.
    Merge,
    /// `$patch: replace`.
    Replace,
    /// `$patch: delete`.
    Delete,
}

impl Directive {
    fn of(patch: &Map<String, Value>) -> Result<Self, PatchError> {
        match patch.get(DIRECTIVE) {
            None => Ok(Directive::Merge),
            Some(Value::String(directive)) => match directive.as_str() {
                "merge" => Ok(Directive::Merge),
                "replace" => Ok(Directive::Replace),
                "delete" => Ok(Directive::Delete),
                other => Err(invalid(format!(
                    "unknown `$patch` directive {other:?}: expected replace, delete or merge"
                ))),
            },
            Some(other) => Err(invalid(format!("`$patch` must be a string, found {other}"))),
        }
    }
}

fn is_directive_key(key: &str) -> bool {
    key == DIRECTIVE
        || key == RETAIN_KEYS
        || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
        || key.starts_with(SET_ELEMENT_ORDER)
}

/// Merge the patch object into the live object `live`, whose fields `schema` describes. The
/// patch's own `$patch` directive has already been handled by the caller.
fn merge_object(
    live: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    schema: &Schema,
) -> Result<(), PatchError> {
    if let Some(keys) = patch.get(RETAIN_KEYS) {
        retain_keys(live, patch, keys)?;
    }
    // `$setElementOrder` orders a list relative to the live list before the merge.
    let orders: Vec<(&str, &Value, Vec<Value>)> = patch
        .iter()
        .filter_map(|(key, order)| {
            let name = key.strip_prefix(SET_ELEMENT_ORDER)?;
            let live_before = match live.get(name) {
                Some(Value::Array(items)) => items.clone(),
                _ => Vec::new(),
            };
            Some((name, order, live_before))
        })
        .collect();

    for (key, value) in patch {
        if !is_directive_key(key) {
            merge_field(live, key, value, schema.field(key))?;
        }
    }
    for (key, remove) in patch {
        if let Some(name) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            list::delete_from_primitive_list(live, name, remove)?;
        }
    }
    for (name, order, live_before) in orders {
        let field = schema.field(name);
        list::set_element_order(live, name, order, &live_before, patch.get(name), field)?;
    }
    Ok(())
}

/// Merge one field of the patch into the live object.
fn merge_field(
    live: &mut Map<String, Value>,
    key: &str,
    value: &Value,
    field: Field,
) -> Result<(), PatchError> {
    let replacement = match (live.get_mut(key), value) {
        (_, Value::Null) => None,
        (Some(Value::Object(live_object)), Value::Object(patch)) => match Directive::of(patch)? {
            Directive::Merge => return merge_object(live_object, patch, field.schema()),
            Directive::Replace => Some(Value::Object(fresh_object(patch, field.schema())?)),
            Directive::Delete => None,
        },
        (Some(Value::Array(live_list)), Value::Array(patch)) => {
            return list::merge(live_list, patch, field);
        }
        // The live object lacks the field, or holds a value of another type.
        _ => fresh(value, field)?,
    };
    match replacement {
        Some(value) => live.insert(key.to_owned(), value),
        None => live.remove(key),
    };
    Ok(())
}

/// The value a patch value stands for where there is nothing live to merge it with: the patch
/// merged into nothing, so that its directives and `null`s do not leak into the object. `None`
/// when the patch deletes it.
fn fresh(value: &Value, field: Field) -> Result<Option<Value>, PatchError> {
    Ok(Some(match value {
        Value::Null => return Ok(None),
        Value::Object(patch) => match Directive::of(patch)? {
            Directive::Delete => return Ok(None),
            Directive::Merge | Directive::Replace => Value::Object(fresh_object(patch, field.schema())?),
        },
        Value::Array(patch) => {
            let mut items = Vec::new();
            list::merge(&mut items, patch, field)?;
            Value::Array(items)
        }
        scalar => scalar.clone(),
    }))
}

fn fresh_object(patch: &Map<String, Value>, schema: &Schema) -> Result<Map<String, Value>, PatchError> {
    let mut object = Map::new();
    merge_object(&mut object, patch, schema)?;
    Ok(object)
}

/// `$retainKeys`: clear the live fields the list does not name. Every field the patch sets
/// must be in the list.
fn retain_keys(
    live: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    keys: &Value,
) -> Result<(), PatchError> {
    let keys = keys
        .as_array()
        .and_then(|keys| keys.iter().map(Value::as_str).collect::<Option<Vec<_>>>())
        .ok_or_else(|| invalid("`$retainKeys` must be a list of field names"))?;
    if let Some((key, _)) = patch
        .iter()
        .find(|(key, value)| !value.is_null() && !is_directive_key(key) && !keys.contains(&key.as_str()))
    {
        return Err(invalid(format!(
            "the patch sets {key:?}, which its `$retainKeys` list does not name"
        )));
    }
    live.retain(|key, _| keys.contains(&key.as_str()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patched(api_version: &str, kind: &str, target: Value, patch: Value) -> Value {
        let mut target = target;
        apply_strategic_merge_patch(&mut target, &patch, api_version, kind)
            .unwrap_or_else(|e| panic!("patch failed: {e}"));
        target
    }

    fn pod_with(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
    }

    fn containers(pod: &Value) -> Vec<&str> {
        pod["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect()
    }

    fn two_containers() -> Value {
        pod_with(json!({"containers": [
            {"name": "a", "image": "a:1", "args": ["--x"]},
            {"name": "b", "image": "b:1"}
        ]}))
    }

    #[test]
    fn containers_merge_by_name() {
        let pod = patched(
            "v1",
            "Pod",
            two_containers(),
            json!({"spec": {"containers": [
                {"name": "b", "image": "b:2"}
            ]}}),
        );
        assert_eq!(
            pod["spec"]["containers"],
            json!([
                {"name": "a", "image": "a:1", "args": ["--x"]},
                {"name": "b", "image": "b:2"}
            ])
        );
    }

    #[test]
    fn added_item_goes_first_unless_set_element_order_places_it() {
        let add_c = json!({"spec": {"containers": [{"name": "c", "image": "c:1"}]}});
        let pod = patched("v1", "Pod", two_containers(), add_c);
        assert_eq!(containers(&pod), ["c", "a", "b"]);

        let add_c_last = json!({"spec": {
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
            "containers": [{"name": "c", "image": "c:1"}]
        }});
        let pod = patched("v1", "Pod", two_containers(), add_c_last);
        assert_eq!(containers(&pod), ["a", "b", "c"]);
        assert_eq!(pod["spec"]["containers"][2], json!({"name": "c", "image": "c:1"}));
        assert!(pod["spec"].get("$setElementOrder/containers").is_none());
    }

    #[test]
    fn set_element_order_reorders_and_must_agree_with_the_patch() {
        let reorder = json!({"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}});
        let pod = patched("v1", "Pod", two_containers(), reorder);
        assert_eq!(containers(&pod), ["b", "a"]);

        let contradicting = json!({"spec": {
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"name": "b"}, {"name": "a"}]
        }});
        let mut pod = two_containers();
        assert!(apply_strategic_merge_patch(&mut pod, &contradicting, "v1", "Pod").is_err());
    }

    #[test]
    fn patch_delete_removes_a_list_item_by_merge_key() {
        let pod = patched(
            "v1",
            "Pod",
            two_containers(),
            json!({"spec": {"containers": [
                {"name": "a", "$patch": "delete"}
            ]}}),
        );
        assert_eq!(pod["spec"]["containers"], json!([{"name": "b", "image": "b:1"}]));
    }

    #[test]
    fn env_merges_by_name_and_null_deletes_inside_an_item() {
        let pod = pod_with(json!({"containers": [{"name": "a", "env": [
            {"name": "X", "value": "1"},
            {"name": "Y", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
        ]}]}));
        let pod = patched(
            "v1",
            "Pod",
            pod,
            json!({"spec": {"containers": [{"name": "a", "env": [
                {"name": "Y", "value": "2", "valueFrom": null},
                {"name": "Z", "value": "3"}
            ]}]}}),
        );
        assert_eq!(
            pod["spec"]["containers"][0]["env"],
            json!([
                {"name": "X", "value": "1"},
                {"name": "Y", "value": "2"},
                {"name": "Z", "value": "3"}
            ])
        );
    }

    #[test]
    fn ports_merge_by_container_port_and_numbers_match_by_value() {
        let pod = pod_with(json!({"containers": [{"name": "a", "ports": [
            {"containerPort": 80, "protocol": "TCP"},
            {"containerPort": 443, "protocol": "TCP"}
        ]}]}));
        let pod = patched(
            "v1",
            "Pod",
            pod,
            json!({"spec": {"containers": [{"name": "a", "ports": [
                {"containerPort": 80.0, "name": "http"}
            ]}]}}),
        );
        assert_eq!(
            pod["spec"]["containers"][0]["ports"],
            json!([
                {"containerPort": 80.0, "protocol": "TCP", "name": "http"},
                {"containerPort": 443, "protocol": "TCP"}
            ])
        );
    }

    #[test]
    fn volumes_merge_by_name_and_retain_keys_clears_the_old_source() {
        let pod = pod_with(json!({"volumes": [
            {"name": "data", "emptyDir": {}},
            {"name": "cfg", "configMap": {"name": "c"}}
        ]}));
        let pod = patched(
            "v1",
            "Pod",
            pod,
            json!({"spec": {"volumes": [
                {"name": "data", "hostPath": {"path": "/d"}, "$retainKeys": ["name", "hostPath"]}
            ]}}),
        );
        assert_eq!(
            pod["spec"]["volumes"],
            json!([
                {"name": "data", "hostPath": {"path": "/d"}},
                {"name": "cfg", "configMap": {"name": "c"}}
            ])
        );

        let outside_retained = json!({"spec": {"volumes": [
            {"name": "data", "nfs": {"server": "s"}, "$retainKeys": ["name", "hostPath"]}
        ]}});
        let mut pod = pod;
        assert!(apply_strategic_merge_patch(&mut pod, &outside_retained, "v1", "Pod").is_err());
    }

    #[test]
    fn finalizers_merge_as_a_set() {
        let cm = json!({"metadata": {"name": "c", "finalizers": ["a", "b"]}});
        let union = patched(
            "v1",
            "ConfigMap",
            cm.clone(),
            json!({"metadata": {"finalizers": ["b", "c"]}}),
        );
        assert_eq!(union["metadata"]["finalizers"], json!(["a", "b", "c"]));

        let removed = patched(
            "v1",
            "ConfigMap",
            cm.clone(),
            json!({"metadata": {
                "$deleteFromPrimitiveList/finalizers": ["a"]
            }}),
        );
        assert_eq!(removed["metadata"], json!({"name": "c", "finalizers": ["b"]}));

        let both = patched(
            "v1",
            "ConfigMap",
            cm,
            json!({"metadata": {
                "$setElementOrder/finalizers": ["b", "c"],
                "$deleteFromPrimitiveList/finalizers": ["a"],
                "finalizers": ["c"]
            }}),
        );
        assert_eq!(both["metadata"], json!({"name": "c", "finalizers": ["b", "c"]}));
    }

    #[test]
    fn patch_replace_on_a_list_and_on_a_map() {
        let pod = patched(
            "v1",
            "Pod",
            two_containers(),
            json!({"spec": {"containers": [
                {"name": "z", "image": "z:1"},
                {"$patch": "replace"}
            ]}}),
        );
        assert_eq!(pod["spec"]["containers"], json!([{"name": "z", "image": "z:1"}]));

        let cm = json!({"metadata": {"name": "c", "labels": {"a": "1", "b": "2"}}});
        let cm = patched(
            "v1",
            "ConfigMap",
            cm,
            json!({"metadata": {"labels": {
                "$patch": "replace", "c": "3"
            }}}),
        );
        assert_eq!(cm["metadata"]["labels"], json!({"c": "3"}));
    }

    #[test]
    fn patch_delete_on_a_map_removes_it() {
        let pod = pod_with(json!({"affinity": {"nodeAffinity": {}}, "containers": []}));
        let pod = patched(
            "v1",
            "Pod",
            pod,
            json!({"spec": {"affinity": {"$patch": "delete"}}}),
        );
        assert_eq!(pod["spec"], json!({"containers": []}));
    }

    #[test]
    fn null_deletes_a_key_and_maps_merge() {
        let cm = json!({"metadata": {"name": "c", "labels": {"a": "1", "b": "2"}}, "data": {"k": "v"}});
        let cm = patched(
            "v1",
            "ConfigMap",
            cm,
            json!({
                "metadata": {"labels": {"a": null, "c": "3"}},
                "data": {"k2": "v2"}
            }),
        );
        assert_eq!(
            cm,
            json!({
                "metadata": {"name": "c", "labels": {"b": "2", "c": "3"}},
                "data": {"k": "v", "k2": "v2"}
            })
        );
    }

    #[test]
    fn status_conditions_merge_by_type() {
        let pod = json!({"status": {"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Ready", "status": "False", "reason": "Starting"}
        ]}});
        let pod = patched(
            "v1",
            "Pod",
            pod,
            json!({"status": {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True", "reason": null}
            ]}}),
        );
        assert_eq!(
            pod["status"],
            json!({"phase": "Running", "conditions": [
                {"type": "PodScheduled", "status": "True"},
                {"type": "Ready", "status": "True"}
            ]})
        );

        let deploy = json!({"status": {"conditions": [{"type": "Available", "status": "True"}]}});
        let deploy = patched(
            "apps/v1",
            "Deployment",
            deploy,
            json!({"status": {"conditions": [
                {"type": "Progressing", "status": "True"}
            ]}}),
        );
        assert_eq!(
            deploy["status"]["conditions"],
            json!([
                {"type": "Progressing", "status": "True"},
                {"type": "Available", "status": "True"}
            ])
        );
    }

    #[test]
    fn lists_without_a_strategy_are_replaced() {
        let pod = pod_with(json!({
            "tolerations": [{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists"}],
            "containers": [{"name": "a", "args": ["--x", "--y"]}]
        }));
        let pod = patched(
            "v1",
            "Pod",
            pod,
            json!({"spec": {
                "tolerations": [{"key": "c", "operator": "Exists", "effect": null}],
                "containers": [{"name": "a", "args": ["--z"]}]
            }}),
        );
        assert_eq!(
            pod["spec"],
            json!({
                "tolerations": [{"key": "c", "operator": "Exists"}],
                "containers": [{"name": "a", "args": ["--z"]}]
            })
        );
    }

    #[test]
    fn deployment_template_containers_merge() {
        let deploy = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {"replicas": 1, "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [
                    {"name": "web", "image": "web:1", "ports": [{"containerPort": 80}]},
                    {"name": "log", "image": "log:1"}
                ]}
            }}
        });
        let deploy = patched(
            "apps/v1",
            "Deployment",
            deploy,
            json!({"spec": {
                "replicas": 3,
                "template": {
                    "metadata": {"annotations": {"restartedAt": "now"}},
                    "spec": {"containers": [{"name": "web", "image": "web:2"}]}
                }
            }}),
        );
        assert_eq!(
            deploy["spec"],
            json!({"replicas": 3, "template": {
                "metadata": {"labels": {"app": "web"}, "annotations": {"restartedAt": "now"}},
                "spec": {"containers": [
                    {"name": "web", "image": "web:2", "ports": [{"containerPort": 80}]},
                    {"name": "log", "image": "log:1"}
                ]}
            }})
        );
    }

    #[test]
    fn cron_job_template_reaches_pod_spec() {
        let cron = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}
        ]}}}}}});
        let cron = patched(
            "batch/v1",
            "CronJob",
            cron,
            json!({"spec": {"jobTemplate": {"spec": {
                "template": {"spec": {"containers": [{"name": "a", "image": "a:2"}]}}
            }}}}),
        );
        assert_eq!(
            cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"],
            json!([{"name": "a", "image": "a:2"}, {"name": "b", "image": "b:1"}])
        );
    }

    #[test]
    fn service_node_and_owner_reference_keys() {
        let svc = json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}});
        let svc = patched(
            "v1",
            "Service",
            svc,
            json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}),
        );
        assert_eq!(
            svc["spec"]["ports"],
            json!([{"port": 80, "targetPort": 9090}, {"port": 443}])
        );

        let node = json!({
            "spec": {"podCIDRs": ["10.0.0.0/24"]},
            "status": {"addresses": [{"type": "InternalIP", "address": "10.1.1.1"}, {"type": "Hostname", "address": "n1"}]}
        });
        let node = patched(
            "v1",
            "Node",
            node,
            json!({
                "spec": {"podCIDRs": ["10.0.0.0/24", "fd00::/64"]},
                "status": {"addresses": [{"type": "InternalIP", "address": "10.1.1.2"}]}
            }),
        );
        assert_eq!(node["spec"]["podCIDRs"], json!(["10.0.0.0/24", "fd00::/64"]));
        assert_eq!(
            node["status"]["addresses"],
            json!([
                {"type": "InternalIP", "address": "10.1.1.2"},
                {"type": "Hostname", "address": "n1"}
            ])
        );

        let rs = json!({"metadata": {"ownerReferences": [
            {"uid": "1", "kind": "Deployment", "name": "a"},
            {"uid": "2", "kind": "Deployment", "name": "b"}
        ]}});
        let rs = patched(
            "apps/v1",
            "ReplicaSet",
            rs,
            json!({"metadata": {"ownerReferences": [
                {"uid": "2", "$patch": "delete"},
                {"uid": "1", "controller": true}
            ]}}),
        );
        assert_eq!(
            rs["metadata"]["ownerReferences"],
            json!([
                {"uid": "1", "kind": "Deployment", "name": "a", "controller": true}
            ])
        );
    }

    #[test]
    fn directives_and_nulls_do_not_leak_into_new_fields() {
        let pod = pod_with(json!({"containers": [{"name": "a"}]}));
        let pod = patched(
            "v1",
            "Pod",
            pod,
            json!({"spec": {
                "initContainers": [
                    {"name": "init", "env": [{"name": "A", "value": "1"}, {"name": "B", "$patch": "delete"}]},
                    {"name": "gone", "$patch": "delete"}
                ],
                "securityContext": {"runAsUser": 1, "fsGroup": null, "$patch": "merge"},
                "affinity": {"$patch": "delete"}
            }}),
        );
        assert_eq!(
            pod["spec"],
            json!({
                "containers": [{"name": "a"}],
                "initContainers": [{"name": "init", "env": [{"name": "A", "value": "1"}]}],
                "securityContext": {"runAsUser": 1}
            })
        );
    }

    #[test]
    fn patch_replace_and_delete_at_the_top() {
        let cm = json!({"metadata": {"name": "c"}, "data": {"a": "1"}});
        let replaced = patched(
            "v1",
            "ConfigMap",
            cm.clone(),
            json!({
                "$patch": "replace", "metadata": {"name": "c"}, "data": {"b": "2"}
            }),
        );
        assert_eq!(replaced, json!({"metadata": {"name": "c"}, "data": {"b": "2"}}));
        let mut target = cm;
        let delete_all = json!({"$patch": "delete"});
        assert!(apply_strategic_merge_patch(&mut target, &delete_all, "v1", "ConfigMap").is_err());
    }

    #[test]
    fn invalid_patches_are_rejected_and_leave_the_target_unchanged() {
        let original = two_containers();
        let bad = [
            json!({"spec": {"containers": [{"image": "no-name"}]}}),
            json!({"spec": {"containers": ["not-an-object"]}}),
            json!({"spec": {"containers": [{"name": "a", "$patch": "explode"}]}}),
            json!({"metadata": {"finalizers": [{"a": 1}]}}),
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}}),
            json!({"spec": {"$retainKeys": "containers"}}),
            json!(["not", "an", "object"]),
        ];
        for patch in bad {
            let mut pod = original.clone();
            let err = apply_strategic_merge_patch(&mut pod, &patch, "v1", "Pod");
            assert!(matches!(err, Err(PatchError::Invalid(_))), "{patch} gave {err:?}");
            assert_eq!(pod, original, "{patch} changed the target");
        }
    }

    #[test]
    fn unknown_kinds_are_rejected() {
        assert!(supports_strategic_merge("v1", "Pod"));
        assert!(supports_strategic_merge("coordination.k8s.io/v1", "Lease"));
        assert!(!supports_strategic_merge("example.com/v1", "Widget"));
        assert!(!supports_strategic_merge("example.com/v1", "Deployment"));
        let mut widget = json!({"spec": {"items": [1]}});
        let err = apply_strategic_merge_patch(&mut widget, &json!({"spec": {}}), "example.com/v1", "Widget");
        assert!(matches!(err, Err(PatchError::Invalid(reason)) if reason.contains("Widget")));
        assert_eq!(widget, json!({"spec": {"items": [1]}}));
    }
}
