//! Conversion between versions that share storage: autoscaling/v1 HorizontalPodAutoscalers are
//! stored as autoscaling/v2, and events.k8s.io/v1 Events as core/v1 Events, as kube-apiserver
//! stores them. Each conversion is a pair of functions on JSON, and the round trip through the
//! other version keeps every field (v2-only HPA fields ride in the annotations Kubernetes uses).

use serde_json::{Map, Value, json};

/// How a served version maps onto the stored one.
#[derive(Debug)]
pub struct Conversion {
    /// The stored group.
    pub storage_group: &'static str,
    /// The stored `apiVersion`.
    pub storage_api_version: &'static str,
    /// The stored kind.
    pub storage_kind: &'static str,
    /// Served form → stored form.
    pub to_storage: fn(Value) -> Value,
    /// Stored form → served form.
    pub from_storage: fn(Value) -> Value,
}

/// autoscaling/v1 ↔ autoscaling/v2 HorizontalPodAutoscaler.
pub static HPA_V1: Conversion = Conversion {
    storage_group: "autoscaling",
    storage_api_version: "autoscaling/v2",
    storage_kind: "HorizontalPodAutoscaler",
    to_storage: hpa_v1_to_v2,
    from_storage: hpa_v2_to_v1,
};

/// events.k8s.io/v1 ↔ core/v1 Event.
pub static EVENTS_V1: Conversion = Conversion {
    storage_group: "",
    storage_api_version: "v1",
    storage_kind: "Event",
    to_storage: event_new_to_core,
    from_storage: event_core_to_new,
};

const METRICS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/metrics";
const CURRENT_METRICS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/current-metrics";
const CONDITIONS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/conditions";
const BEHAVIOR_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/behavior";

fn obj(v: &mut Value) -> &mut Map<String, Value> {
    if !v.is_object() {
        *v = json!({});
    }
    v.as_object_mut().expect("just made an object")
}

fn take_annotation(root: &mut Map<String, Value>, key: &str) -> Option<Value> {
    let ann = root
        .get_mut("metadata")?
        .get_mut("annotations")?
        .as_object_mut()?;
    let raw = ann.remove(key)?;
    if ann.is_empty()
        && let Some(m) = root.get_mut("metadata").and_then(Value::as_object_mut)
    {
        m.remove("annotations");
    }
    serde_json::from_str(raw.as_str()?).ok()
}

fn put_annotation(root: &mut Map<String, Value>, key: &str, value: &Value) {
    let meta = obj(root.entry("metadata").or_insert_with(|| json!({})));
    let ann = obj(meta.entry("annotations").or_insert_with(|| json!({})));
    ann.insert(key.into(), Value::String(value.to_string()));
}

fn is_cpu_utilization(m: &Value) -> bool {
    m.get("type").and_then(Value::as_str) == Some("Resource")
        && m.pointer("/resource/name").and_then(Value::as_str) == Some("cpu")
        && m.pointer("/resource/target/type").and_then(Value::as_str) == Some("Utilization")
}

fn hpa_v1_to_v2(mut v: Value) -> Value {
    let root = obj(&mut v);
    root.insert("apiVersion".into(), "autoscaling/v2".into());
    let extra_metrics = take_annotation(root, METRICS_ANNOTATION);
    let current_extra = take_annotation(root, CURRENT_METRICS_ANNOTATION);
    let conditions = take_annotation(root, CONDITIONS_ANNOTATION);
    let behavior = take_annotation(root, BEHAVIOR_ANNOTATION);
    let spec = obj(root.entry("spec").or_insert_with(|| json!({})));
    let mut metrics = Vec::new();
    if let Some(cpu) = spec
        .remove("targetCPUUtilizationPercentage")
        .filter(|c| !c.is_null())
    {
        metrics.push(json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": cpu}}}));
    }
    if let Some(Value::Array(more)) = extra_metrics {
        metrics.extend(more);
    }
    if !metrics.is_empty() {
        spec.insert("metrics".into(), Value::Array(metrics));
    }
    if let Some(b) = behavior {
        spec.insert("behavior".into(), b);
    }
    if let Some(status) = root.get_mut("status").and_then(Value::as_object_mut) {
        let mut current = Vec::new();
        if let Some(cpu) = status
            .remove("currentCPUUtilizationPercentage")
            .filter(|c| !c.is_null())
        {
            current.push(json!({"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": cpu}}}));
        }
        if let Some(Value::Array(more)) = current_extra {
            current.extend(more);
        }
        if !current.is_empty() {
            status.insert("currentMetrics".into(), Value::Array(current));
        }
        if let Some(c) = conditions {
            status.insert("conditions".into(), c);
        }
    }
    v
}

fn hpa_v2_to_v1(mut v: Value) -> Value {
    let root = obj(&mut v);
    root.insert("apiVersion".into(), "autoscaling/v1".into());
    let mut annotations: Vec<(&str, Value)> = Vec::new();
    if let Some(spec) = root.get_mut("spec").and_then(Value::as_object_mut) {
        if let Some(Value::Array(metrics)) = spec.remove("metrics") {
            let (cpu, rest): (Vec<Value>, Vec<Value>) = metrics.into_iter().partition(is_cpu_utilization);
            if let Some(u) = cpu
                .first()
                .and_then(|m| m.pointer("/resource/target/averageUtilization"))
            {
                spec.insert("targetCPUUtilizationPercentage".into(), u.clone());
            }
            if !rest.is_empty() {
                annotations.push((METRICS_ANNOTATION, Value::Array(rest)));
            }
        }
        if let Some(b) = spec.remove("behavior").filter(|b| !b.is_null()) {
            annotations.push((BEHAVIOR_ANNOTATION, b));
        }
    }
    if let Some(status) = root.get_mut("status").and_then(Value::as_object_mut) {
        if let Some(Value::Array(current)) = status.remove("currentMetrics") {
            let cpu_pos = current.iter().position(|m| {
                m.get("type").and_then(Value::as_str) == Some("Resource")
                    && m.pointer("/resource/name").and_then(Value::as_str) == Some("cpu")
                    && m.pointer("/resource/current/averageUtilization").is_some()
            });
            let mut rest = current;
            if let Some(i) = cpu_pos {
                let cpu = rest.remove(i);
                status.insert(
                    "currentCPUUtilizationPercentage".into(),
                    cpu.pointer("/resource/current/averageUtilization")
                        .cloned()
                        .unwrap_or(Value::Null),
                );
            }
            if !rest.is_empty() {
                annotations.push((CURRENT_METRICS_ANNOTATION, Value::Array(rest)));
            }
        }
        if let Some(c) = status.remove("conditions").filter(|c| !c.is_null()) {
            annotations.push((CONDITIONS_ANNOTATION, c));
        }
    }
    for (k, a) in annotations {
        put_annotation(root, k, &a);
    }
    v
}

/// (events.k8s.io name, core name) for fields that only differ in name.
const EVENT_RENAMES: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

fn rename(mut v: Value, api_version: &str, forward: bool) -> Value {
    let root = obj(&mut v);
    root.insert("apiVersion".into(), api_version.into());
    for (new, core) in EVENT_RENAMES {
        let (from, to) = if forward { (*new, *core) } else { (*core, *new) };
        if let Some(x) = root.remove(from) {
            root.insert(to.into(), x);
        }
    }
    v
}

fn event_new_to_core(v: Value) -> Value {
    rename(v, "v1", true)
}

fn event_core_to_new(v: Value) -> Value {
    rename(v, "events.k8s.io/v1", false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hpa_round_trips_keep_every_field() {
        let v2 = json!({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h"},
            "spec": {
                "scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
                "minReplicas": 1, "maxReplicas": 5,
                "metrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}},
                    {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}},
                ],
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 30}},
            },
            "status": {"currentReplicas": 2, "desiredReplicas": 3,
                       "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 75}}}],
                       "conditions": [{"type": "AbleToScale", "status": "True"}]},
        });
        let v1 = hpa_v2_to_v1(v2.clone());
        assert_eq!(v1["apiVersion"], "autoscaling/v1");
        assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 60);
        assert_eq!(v1["status"]["currentCPUUtilizationPercentage"], 75);
        assert!(
            v1["metadata"]["annotations"][METRICS_ANNOTATION]
                .as_str()
                .unwrap()
                .contains("memory")
        );
        assert!(v1["spec"].get("metrics").is_none());
        assert_eq!(hpa_v1_to_v2(v1), v2);

        let plain_v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
                              "spec": {"maxReplicas": 3, "targetCPUUtilizationPercentage": 50}});
        let stored = hpa_v1_to_v2(plain_v1.clone());
        assert_eq!(
            stored["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            50
        );
        assert_eq!(hpa_v2_to_v1(stored), plain_v1);
    }

    #[test]
    fn events_map_field_names_both_ways() {
        let new = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
                         "regarding": {"kind": "Pod", "name": "p"}, "note": "pulled", "reason": "Pulled",
                         "reportingController": "kubelet", "reportingInstance": "n1", "type": "Normal", "action": "Pull"});
        let core = event_new_to_core(new.clone());
        assert_eq!(core["apiVersion"], "v1");
        assert_eq!(core["involvedObject"]["name"], "p");
        assert_eq!(core["message"], "pulled");
        assert_eq!(core["reportingComponent"], "kubelet");
        assert_eq!(event_core_to_new(core), new);
    }
}
