//! Defaults of the other served groups: RBAC bindings, storage classes, endpoint slices,
//! ingress classes and horizontal pod autoscalers.

use serde_json::{Value, json};

use super::{each, ensure_object, set_default, set_default_str, str_field, with};

/// Dispatches kinds outside the core and apps groups; others have no defaults.
pub(super) fn default(group: &str, kind: &str, obj: &mut Value) {
    match (group, kind) {
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => rbac_binding(obj),
        ("storage.k8s.io", "StorageClass") => {
            set_default(obj, "reclaimPolicy", json!("Delete"));
            set_default(obj, "volumeBindingMode", json!("Immediate"));
        }
        ("discovery.k8s.io", "EndpointSlice") => each(obj, "ports", |p| {
            set_default(p, "name", json!(""));
            set_default(p, "protocol", json!("TCP"));
        }),
        ("networking.k8s.io", "IngressClass") => {
            with(obj, "spec", |s| {
                with(s, "parameters", |p| set_default(p, "scope", json!("Cluster")))
            });
        }
        ("autoscaling", "HorizontalPodAutoscaler") => hpa(obj),
        _ => {}
    }
}

fn rbac_binding(obj: &mut Value) {
    with(obj, "roleRef", |r| {
        set_default_str(r, "apiGroup", "rbac.authorization.k8s.io")
    });
    each(obj, "subjects", |s| {
        if matches!(str_field(s, "kind"), "User" | "Group") {
            set_default_str(s, "apiGroup", "rbac.authorization.k8s.io");
        }
    });
}

/// `SetDefaults_HorizontalPodAutoscaler` of autoscaling/v1 or v2 (told apart by `apiVersion`).
fn hpa(obj: &mut Value) {
    let v1 = str_field(obj, "apiVersion") == "autoscaling/v1";
    let Some(spec) = ensure_object(obj, "spec") else {
        return;
    };
    set_default(spec, "minReplicas", json!(1));
    if v1 {
        return;
    }
    let no_metrics = spec
        .get("metrics")
        .and_then(Value::as_array)
        .is_none_or(|m| m.is_empty());
    if no_metrics {
        spec["metrics"] = json!([{
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}
        }]);
    }
    with(spec, "behavior", |b| {
        let up_policies = json!([
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15}
        ]);
        let down_policies = json!([{"type": "Percent", "value": 100, "periodSeconds": 15}]);
        for (key, policies, window) in [
            ("scaleUp", up_policies, Some(0)),
            ("scaleDown", down_policies, None),
        ] {
            let Some(rules) = ensure_object(b, key) else {
                continue;
            };
            set_default(rules, "selectPolicy", json!("Max"));
            if let Some(w) = window {
                set_default(rules, "stabilizationWindowSeconds", json!(w));
            }
            set_default(rules, "policies", policies);
        }
    });
}
