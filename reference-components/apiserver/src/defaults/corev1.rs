//! core/v1 defaults other than pods (`pkg/apis/core/v1/defaults.go`): services, namespaces,
//! secrets, volumes and claims, endpoints, nodes, limit ranges, replication controllers.

use serde_json::{Value, json};

use super::pod::{default_pod, default_pod_template};
use super::{each, ensure_object, object_mut, set_default, set_default_str, str_field, with};
use crate::validation::formats::{base64_encode, parse_ip};

/// Dispatches core/v1 kinds.
pub(super) fn default(kind: &str, obj: &mut Value) {
    match kind {
        "Pod" => default_pod(obj),
        "Service" => service(obj),
        "Namespace" => namespace(obj),
        "Secret" => secret(obj),
        "PersistentVolume" => persistent_volume(obj),
        "PersistentVolumeClaim" => persistent_volume_claim(obj),
        "Endpoints" => each(obj, "subsets", |ss| {
            each(ss, "ports", |p| set_default_str(p, "protocol", "TCP"))
        }),
        "Node" => node(obj),
        "LimitRange" => limit_range(obj),
        "ReplicationController" => replication_controller(obj),
        "PodTemplate" => with(obj, "template", default_pod_template),
        _ => {}
    }
}

fn service(obj: &mut Value) {
    let Some(spec) = ensure_object(obj, "spec") else {
        return;
    };
    set_default_str(spec, "sessionAffinity", "None");
    match str_field(spec, "sessionAffinity") {
        "None" => {
            if let Some(m) = spec.as_object_mut() {
                m.remove("sessionAffinityConfig");
            }
        }
        "ClientIP" => {
            let has_timeout = spec
                .pointer("/sessionAffinityConfig/clientIP/timeoutSeconds")
                .is_some_and(|t| !t.is_null());
            if !has_timeout {
                spec["sessionAffinityConfig"] = json!({"clientIP": {"timeoutSeconds": 10800}});
            }
        }
        _ => {}
    }
    set_default_str(spec, "type", "ClusterIP");
    each(spec, "ports", |p| {
        set_default_str(p, "protocol", "TCP");
        let unset = match p.get("targetPort") {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.is_empty(),
            Some(n) => n.as_i64() == Some(0),
        };
        if unset && let Some(port) = p.get("port").cloned() {
            p["targetPort"] = port;
        }
    });
    let svc_type = str_field(spec, "type").to_string();
    let has_external_ips = spec
        .get("externalIPs")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    let externally_accessible =
        svc_type == "LoadBalancer" || svc_type == "NodePort" || (svc_type == "ClusterIP" && has_external_ips);
    if externally_accessible {
        set_default_str(spec, "externalTrafficPolicy", "Cluster");
    }
    if matches!(svc_type.as_str(), "NodePort" | "LoadBalancer" | "ClusterIP") {
        set_default(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if svc_type == "LoadBalancer" {
        set_default(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    if svc_type != "ExternalName" {
        // What the registry fills in on a single-stack cluster: clusterIPs mirrors clusterIP,
        // one family matching the cluster IP.
        let cluster_ip = str_field(spec, "clusterIP").to_string();
        let has_ips = spec
            .get("clusterIPs")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        if !cluster_ip.is_empty() && !has_ips {
            spec["clusterIPs"] = json!([cluster_ip]);
        }
        set_default(spec, "ipFamilyPolicy", json!("SingleStack"));
        let v6 = parse_ip(&cluster_ip).is_some_and(|ip| ip.is_ipv6());
        set_default(spec, "ipFamilies", json!([if v6 { "IPv6" } else { "IPv4" }]));
    }
}

fn namespace(obj: &mut Value) {
    let name = obj
        .get("metadata")
        .map(|m| str_field(m, "name").to_string())
        .unwrap_or_default();
    if !name.is_empty()
        && let Some(meta) = ensure_object(obj, "metadata")
        && let Some(labels) = ensure_object(meta, "labels")
    {
        labels["kubernetes.io/metadata.name"] = json!(name);
    }
    if let Some(spec) = ensure_object(obj, "spec") {
        set_default(spec, "finalizers", json!(["kubernetes"]));
    }
    if let Some(status) = ensure_object(obj, "status") {
        set_default_str(status, "phase", "Active");
    }
}

/// Folds `stringData` into `data` (as the v1 conversion does) and defaults the type.
fn secret(obj: &mut Value) {
    if let Some(string_data) = obj.as_object_mut().and_then(|m| m.remove("stringData"))
        && let Some(entries) = string_data.as_object()
        && let Some(data) = ensure_object(obj, "data").and_then(Value::as_object_mut)
    {
        for (k, v) in entries {
            data.insert(
                k.clone(),
                json!(base64_encode(v.as_str().unwrap_or("").as_bytes())),
            );
        }
    }
    set_default_str(obj, "type", "Opaque");
}

fn persistent_volume(obj: &mut Value) {
    if let Some(status) = ensure_object(obj, "status") {
        set_default_str(status, "phase", "Pending");
    }
    let Some(spec) = ensure_object(obj, "spec") else {
        return;
    };
    set_default_str(spec, "persistentVolumeReclaimPolicy", "Retain");
    set_default(spec, "volumeMode", json!("Filesystem"));
    with(spec, "hostPath", |h| set_default(h, "type", json!("")));
}

fn persistent_volume_claim(obj: &mut Value) {
    if let Some(status) = ensure_object(obj, "status") {
        set_default_str(status, "phase", "Pending");
    }
    if let Some(spec) = ensure_object(obj, "spec") {
        set_default(spec, "volumeMode", json!("Filesystem"));
    }
}

fn node(obj: &mut Value) {
    if let Some(status) = object_mut(obj, "status")
        && status.get("allocatable").is_none_or(Value::is_null)
        && let Some(capacity) = status.get("capacity").filter(|c| c.is_object()).cloned()
    {
        status.insert("allocatable".into(), capacity);
    }
    // v1 conversion keeps podCIDR and podCIDRs in step.
    with(obj, "spec", |spec| {
        let cidr = str_field(spec, "podCIDR").to_string();
        let first = spec
            .get("podCIDRs")
            .and_then(|c| c.get(0))
            .and_then(Value::as_str)
            .map(str::to_string);
        match first {
            None if !cidr.is_empty() => spec["podCIDRs"] = json!([cidr]),
            Some(first) if cidr.is_empty() => spec["podCIDR"] = json!(first),
            _ => {}
        }
    });
}

fn limit_range(obj: &mut Value) {
    with(obj, "spec", |spec| {
        each(spec, "limits", |item| {
            if str_field(item, "type") != "Container" {
                return;
            }
            let copy = |item: &Value, key: &str| {
                item.get(key)
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default()
            };
            let (max, min) = (copy(item, "max"), copy(item, "min"));
            let Some(default) = ensure_object(item, "default").and_then(Value::as_object_mut) else {
                return;
            };
            for (k, v) in max {
                default.entry(k).or_insert(v);
            }
            let default = default.clone();
            let Some(request) = ensure_object(item, "defaultRequest").and_then(Value::as_object_mut) else {
                return;
            };
            for (k, v) in default.into_iter().chain(min) {
                request.entry(k).or_insert(v);
            }
        })
    });
}

fn replication_controller(obj: &mut Value) {
    let labels = obj
        .pointer("/spec/template/metadata/labels")
        .filter(|l| l.is_object())
        .cloned();
    if let Some(labels) = labels {
        let empty = |v: Option<&Value>| v.and_then(Value::as_object).is_none_or(|m| m.is_empty());
        if let Some(spec) = ensure_object(obj, "spec")
            && empty(spec.get("selector"))
        {
            spec["selector"] = labels.clone();
        }
        if let Some(meta) = ensure_object(obj, "metadata")
            && empty(meta.get("labels"))
        {
            meta["labels"] = labels;
        }
    }
    let Some(spec) = ensure_object(obj, "spec") else {
        return;
    };
    set_default(spec, "replicas", json!(1));
    with(spec, "template", default_pod_template);
}
