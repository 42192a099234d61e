//! The built-in printers: the columns and cells kube-apiserver's
//! `pkg/printers/internalversion/printers.go` gives each kind. Kinds without a printer there
//! (Role, ClusterRole, LimitRange, CustomResourceDefinition) print `Name` and `Created At`.

mod corev1;
mod other;
mod workloads;

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Column, RowFn};

pub use workloads::{scale, scale_columns};

/// The printer of the built-in `group` `kind` (in its stored form), if it has one.
pub fn builtin(group: &str, kind: &str) -> Option<(Vec<Column>, RowFn)> {
    let printer: (Vec<Column>, RowFn) = match (group, kind) {
        ("", "Pod") => (workloads::pod_columns(), workloads::pod),
        ("", "ReplicationController") => (workloads::rc_columns(), workloads::replication_controller),
        ("apps", "ReplicaSet") => (workloads::rs_columns(), workloads::replica_set),
        ("apps", "Deployment") => (workloads::deployment_columns(), workloads::deployment),
        ("apps", "StatefulSet") => (workloads::statefulset_columns(), workloads::stateful_set),
        ("apps", "DaemonSet") => (workloads::daemonset_columns(), workloads::daemon_set),
        ("apps", "ControllerRevision") => (workloads::revision_columns(), workloads::controller_revision),
        ("autoscaling", "HorizontalPodAutoscaler") => (workloads::hpa_columns(), workloads::hpa),
        ("", "Namespace") => (corev1::namespace_columns(), corev1::namespace),
        ("", "Node") => (corev1::node_columns(), corev1::node),
        ("", "Service") => (corev1::service_columns(), corev1::service),
        ("", "Endpoints") => (corev1::endpoints_columns(), corev1::endpoints),
        ("", "ConfigMap") => (corev1::configmap_columns(), corev1::configmap),
        ("", "Secret") => (corev1::secret_columns(), corev1::secret),
        ("", "ServiceAccount") => (corev1::serviceaccount_columns(), corev1::service_account),
        ("", "Event") => (corev1::event_columns(), corev1::event),
        ("", "ResourceQuota") => (corev1::quota_columns(), corev1::resource_quota),
        ("", "PersistentVolume") => (corev1::pv_columns(), corev1::persistent_volume),
        ("", "PersistentVolumeClaim") => (corev1::pvc_columns(), corev1::persistent_volume_claim),
        ("coordination.k8s.io", "Lease") => (other::lease_columns(), other::lease),
        ("discovery.k8s.io", "EndpointSlice") => (other::endpointslice_columns(), other::endpoint_slice),
        ("networking.k8s.io", "Ingress") => (other::ingress_columns(), other::ingress),
        ("networking.k8s.io", "IngressClass") => (other::ingressclass_columns(), other::ingress_class),
        ("storage.k8s.io", "StorageClass") => (other::storageclass_columns(), other::storage_class),
        ("rbac.authorization.k8s.io", "RoleBinding") => {
            (other::binding_columns("roleBinding"), other::binding)
        }
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => {
            (other::binding_columns("clusterRoleBinding"), other::binding)
        }
        _ => return None,
    };
    Some(printer)
}

/// The value at a `/`-separated JSON pointer, or null.
fn at<'a>(v: &'a Value, pointer: &str) -> &'a Value {
    v.pointer(pointer).unwrap_or(&Value::Null)
}

/// The string at `pointer`, or `""`.
fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    at(v, pointer).as_str().unwrap_or_default()
}

/// The integer at `pointer`, or 0.
fn int(v: &Value, pointer: &str) -> i64 {
    at(v, pointer).as_i64().unwrap_or_default()
}

/// The array at `pointer`, or empty.
fn list<'a>(v: &'a Value, pointer: &str) -> &'a [Value] {
    at(v, pointer).as_array().map(Vec::as_slice).unwrap_or_default()
}

/// The number of entries of the object or array at `pointer`.
fn count(v: &Value, pointer: &str) -> i64 {
    match at(v, pointer) {
        Value::Object(m) => m.len() as i64,
        Value::Array(a) => a.len() as i64,
        _ => 0,
    }
}

/// `value` unless empty, else `fallback`.
fn or<'a>(value: &'a str, fallback: &'a str) -> &'a str {
    if value.is_empty() { fallback } else { value }
}

/// `labels.FormatLabels`: `k=v,k2=v2` sorted by key, `<none>` when empty.
fn format_labels(map: &Value) -> String {
    let Some(map) = map.as_object().filter(|m| !m.is_empty()) else {
        return "<none>".into();
    };
    let sorted: BTreeMap<&String, &Value> = map.iter().collect();
    sorted
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join(",")
}

/// A label selector's string form (`metav1.LabelSelectorAsSelector(...).String()`):
/// requirements sorted by key, `""` for an empty or absent selector.
fn selector_string(selector: &Value) -> String {
    let mut requirements: Vec<(String, String)> = Vec::new();
    if let Some(labels) = selector.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in labels {
            requirements.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or_default())));
        }
    }
    for expr in selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = expr.get("key").and_then(Value::as_str).unwrap_or_default();
        let mut values: Vec<&str> = expr
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        values.sort_unstable();
        let values = values.join(",");
        let s = match expr.get("operator").and_then(Value::as_str).unwrap_or_default() {
            "In" => format!("{key} in ({values})"),
            "NotIn" => format!("{key} notin ({values})"),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            _ => continue,
        };
        requirements.push((key.to_string(), s));
    }
    requirements.sort_by(|a, b| a.0.cmp(&b.0));
    requirements
        .into_iter()
        .map(|(_, s)| s)
        .collect::<Vec<_>>()
        .join(",")
}

/// `metav1.FormatLabelSelector`: the selector's string, `<none>` when empty.
fn format_selector(selector: &Value) -> String {
    let s = selector_string(selector);
    if s.is_empty() { "<none>".into() } else { s }
}

/// The `Containers` and `Images` cells of a pod spec (`layoutContainerCells`).
fn containers(spec: &Value) -> (String, String) {
    let cs = spec.get("containers").and_then(Value::as_array);
    let names: Vec<&str> = cs
        .into_iter()
        .flatten()
        .map(|c| c.get("name").and_then(Value::as_str).unwrap_or_default())
        .collect();
    let images: Vec<&str> = cs
        .into_iter()
        .flatten()
        .map(|c| c.get("image").and_then(Value::as_str).unwrap_or_default())
        .collect();
    (names.join(","), images.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors_print_like_apimachinery() {
        let sel = json!({"matchLabels": {"b": "2", "a": "1"}, "matchExpressions": [
            {"key": "c", "operator": "In", "values": ["y", "x"]},
            {"key": "d", "operator": "DoesNotExist"},
        ]});
        assert_eq!(selector_string(&sel), "a=1,b=2,c in (x,y),!d");
        assert_eq!(format_selector(&json!({})), "<none>");
        assert_eq!(format_labels(&json!({"z": "1", "a": "2"})), "a=2,z=1");
        assert_eq!(format_labels(&Value::Null), "<none>");
    }
}
