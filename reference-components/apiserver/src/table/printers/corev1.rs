//! Core kinds other than pods.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::super::{Column, Row, age, name, since};
use super::{at, count, format_labels, int, list, or, text};

/// Namespace columns.
pub fn namespace_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Status", "string", "The status of the namespace", 0),
        Column::age(),
    ]
}

/// A Namespace's row.
pub fn namespace(obj: &Value, now: Timestamp) -> Row {
    Row::cells(vec![
        json!(name(obj)),
        json!(text(obj, "/status/phase")),
        age(obj, now),
    ])
}

/// Node columns.
pub fn node_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Status", "string", "The status of the node", 0),
        Column::new("Roles", "string", "The roles of the node", 0),
        Column::age(),
        Column::new("Version", "string", "Kubelet Version reported by the node.", 0),
        Column::new(
            "Internal-IP",
            "string",
            "List of addresses reachable to the node.",
            1,
        ),
        Column::new(
            "External-IP",
            "string",
            "List of addresses reachable to the node.",
            1,
        ),
        Column::new(
            "OS-Image",
            "string",
            "OS Image reported by the node from /etc/os-release.",
            1,
        ),
        Column::new(
            "Kernel-Version",
            "string",
            "Kernel Version reported by the node from 'uname -r'.",
            1,
        ),
        Column::new(
            "Container-Runtime",
            "string",
            "ContainerRuntime Version reported by the node.",
            1,
        ),
    ]
}

fn node_address(obj: &Value, type_: &str) -> String {
    list(obj, "/status/addresses")
        .iter()
        .find(|a| a["type"] == type_)
        .and_then(|a| a["address"].as_str())
        .unwrap_or("<none>")
        .to_string()
}

/// A Node's row: `Ready`/`NotReady`/`Unknown` (and `SchedulingDisabled`), roles from
/// `node-role.kubernetes.io/<role>` and `kubernetes.io/role` labels.
pub fn node(obj: &Value, now: Timestamp) -> Row {
    let mut status: Vec<String> = list(obj, "/status/conditions")
        .iter()
        .filter(|c| c["type"] == "Ready")
        .map(|c| {
            if c["status"] == "True" {
                "Ready".into()
            } else {
                "NotReady".into()
            }
        })
        .take(1)
        .collect();
    if status.is_empty() {
        status.push("Unknown".into());
    }
    if at(obj, "/spec/unschedulable") == true {
        status.push("SchedulingDisabled".into());
    }
    let mut roles: Vec<String> = at(obj, "/metadata/labels")
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                (!role.is_empty()).then(|| role.to_string())
            } else if k == "kubernetes.io/role" {
                v.as_str().filter(|r| !r.is_empty()).map(str::to_string)
            } else {
                None
            }
        })
        .collect();
    roles.sort();
    roles.dedup();
    let roles = if roles.is_empty() {
        "<none>".into()
    } else {
        roles.join(",")
    };
    let info = |field: &str| or(text(obj, &format!("/status/nodeInfo/{field}")), "<unknown>").to_string();
    Row::cells(vec![
        json!(name(obj)),
        json!(status.join(",")),
        json!(roles),
        age(obj, now),
        json!(text(obj, "/status/nodeInfo/kubeletVersion")),
        json!(node_address(obj, "InternalIP")),
        json!(node_address(obj, "ExternalIP")),
        json!(info("osImage")),
        json!(info("kernelVersion")),
        json!(info("containerRuntimeVersion")),
    ])
}

/// Service columns.
pub fn service_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Type", "string", "type determines how the Service is exposed.", 0),
        Column::new(
            "Cluster-IP",
            "string",
            "clusterIP is the IP address of the service and is usually assigned randomly.",
            0,
        ),
        Column::new(
            "External-IP",
            "string",
            "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.",
            0,
        ),
        Column::new(
            "Port(s)",
            "string",
            "The list of ports that are exposed by this service.",
            0,
        ),
        Column::age(),
        Column::new(
            "Selector",
            "string",
            "Route service traffic to pods with label keys and values matching this selector.",
            1,
        ),
    ]
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// `getServiceExternalIP` (wide form).
fn service_external_ip(obj: &Value) -> String {
    let external = strings(at(obj, "/spec/externalIPs"));
    match text(obj, "/spec/type") {
        "ClusterIP" | "NodePort" | "" if !external.is_empty() => external.join(","),
        "ClusterIP" | "NodePort" | "" => "<none>".into(),
        "LoadBalancer" => {
            let mut ips: Vec<&str> = list(obj, "/status/loadBalancer/ingress")
                .iter()
                .filter_map(|i| {
                    i["ip"]
                        .as_str()
                        .filter(|s| !s.is_empty())
                        .or_else(|| i["hostname"].as_str().filter(|s| !s.is_empty()))
                })
                .collect();
            ips.dedup();
            ips.extend(external);
            if ips.is_empty() {
                "<pending>".into()
            } else {
                ips.join(",")
            }
        }
        "ExternalName" => text(obj, "/spec/externalName").to_string(),
        _ => "<unknown>".into(),
    }
}

/// A Service's row.
pub fn service(obj: &Value, now: Timestamp) -> Row {
    let cluster_ip = strings(at(obj, "/spec/clusterIPs"))
        .first()
        .map_or("<none>".to_string(), |s| s.to_string());
    let ports: Vec<String> = list(obj, "/spec/ports")
        .iter()
        .map(|p| {
            let protocol = p["protocol"].as_str().unwrap_or("TCP");
            match p["nodePort"].as_i64().filter(|n| *n > 0) {
                Some(node_port) => format!("{}:{node_port}/{protocol}", int(p, "/port")),
                None => format!("{}/{protocol}", int(p, "/port")),
            }
        })
        .collect();
    let ports = if ports.is_empty() {
        "<none>".into()
    } else {
        ports.join(",")
    };
    Row::cells(vec![
        json!(name(obj)),
        json!(text(obj, "/spec/type")),
        json!(cluster_ip),
        json!(service_external_ip(obj)),
        json!(ports),
        age(obj, now),
        json!(format_labels(at(obj, "/spec/selector"))),
    ])
}

/// Endpoints columns.
pub fn endpoints_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new(
            "Endpoints",
            "string",
            "The set of all endpoints is the union of all subsets.",
            0,
        ),
        Column::age(),
    ]
}

/// An Endpoints' row: the first three `ip:port`s, then `+ N more...`.
pub fn endpoints(obj: &Value, now: Timestamp) -> Row {
    let subsets = list(obj, "/subsets");
    let mut shown = Vec::new();
    let mut total = 0;
    for subset in subsets {
        let addresses = list(subset, "/addresses");
        let ports = list(subset, "/ports");
        if ports.is_empty() {
            for a in addresses {
                total += 1;
                if shown.len() < 3 {
                    shown.push(text(a, "/ip").to_string());
                }
            }
            continue;
        }
        for p in ports {
            for a in addresses {
                total += 1;
                if shown.len() < 3 {
                    let ip = text(a, "/ip");
                    let host = if ip.contains(':') {
                        format!("[{ip}]")
                    } else {
                        ip.to_string()
                    };
                    shown.push(format!("{host}:{}", int(p, "/port")));
                }
            }
        }
    }
    let cell = if subsets.is_empty() {
        "<none>".to_string()
    } else if total > 3 {
        format!("{} + {} more...", shown.join(","), total - 3)
    } else {
        shown.join(",")
    };
    Row::cells(vec![json!(name(obj)), json!(cell), age(obj, now)])
}

/// ConfigMap columns.
pub fn configmap_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Data", "string", "Data contains the configuration data.", 0),
        Column::age(),
    ]
}

/// A ConfigMap's row: the number of keys in `data` and `binaryData`.
pub fn configmap(obj: &Value, now: Timestamp) -> Row {
    Row::cells(vec![
        json!(name(obj)),
        json!(count(obj, "/data") + count(obj, "/binaryData")),
        age(obj, now),
    ])
}

/// Secret columns.
pub fn secret_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new(
            "Type",
            "string",
            "Used to facilitate programmatic handling of secret data.",
            0,
        ),
        Column::new("Data", "string", "Data contains the secret data.", 0),
        Column::age(),
    ]
}

/// A Secret's row.
pub fn secret(obj: &Value, now: Timestamp) -> Row {
    Row::cells(vec![
        json!(name(obj)),
        json!(text(obj, "/type")),
        json!(count(obj, "/data")),
        age(obj, now),
    ])
}

/// ServiceAccount columns.
pub fn serviceaccount_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new(
            "Secrets",
            "string",
            "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.",
            0,
        ),
        Column::age(),
    ]
}

/// A ServiceAccount's row.
pub fn service_account(obj: &Value, now: Timestamp) -> Row {
    Row::cells(vec![
        json!(name(obj)),
        json!(count(obj, "/secrets")),
        age(obj, now),
    ])
}

/// Event columns (`kubectl get events`: LAST SEEN, TYPE, REASON, OBJECT, MESSAGE).
pub fn event_columns() -> Vec<Column> {
    vec![
        Column::new(
            "Last Seen",
            "string",
            "The time at which the most recent occurrence of this event was recorded.",
            0,
        ),
        Column::new(
            "Type",
            "string",
            "Type of this event (Normal, Warning), new types could be added in the future",
            0,
        ),
        Column::new(
            "Reason",
            "string",
            "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
            0,
        ),
        Column::new("Object", "string", "The object that this event is about.", 0),
        Column::new(
            "Subobject",
            "string",
            "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement.",
            1,
        ),
        Column::new(
            "Source",
            "string",
            "The component reporting this event. Should be a short machine understandable string.",
            1,
        ),
        Column::new(
            "Message",
            "string",
            "A human-readable description of the status of this operation.",
            0,
        ),
        Column::new(
            "First Seen",
            "string",
            "The time at which the event was first recorded.",
            1,
        ),
        Column::new(
            "Count",
            "string",
            "The number of times this event has occurred.",
            1,
        ),
        Column {
            priority: 1,
            ..Column::name()
        },
    ]
}

/// An Event's row.
pub fn event(obj: &Value, now: Timestamp) -> Row {
    let first = match text(obj, "/firstTimestamp") {
        "" => since(at(obj, "/eventTime").as_str(), now),
        t => since(Some(t), now),
    };
    let mut last = match text(obj, "/lastTimestamp") {
        "" => first.clone(),
        t => since(Some(t), now),
    };
    let mut count = int(obj, "/count");
    if at(obj, "/series").is_object() {
        last = since(at(obj, "/series/lastObservedTime").as_str(), now);
        count = int(obj, "/series/count");
    } else if count == 0 {
        count = 1;
    }
    let kind = text(obj, "/involvedObject/kind").to_ascii_lowercase();
    let target = match text(obj, "/involvedObject/name") {
        "" => kind,
        n => format!("{kind}/{n}"),
    };
    let component = or(text(obj, "/source/component"), text(obj, "/reportingComponent"));
    let host = or(text(obj, "/source/host"), text(obj, "/reportingInstance"));
    let source = if host.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {host}")
    };
    Row::cells(vec![
        json!(last),
        json!(text(obj, "/type")),
        json!(text(obj, "/reason")),
        json!(target),
        json!(text(obj, "/involvedObject/fieldPath")),
        json!(source),
        json!(text(obj, "/message").trim()),
        json!(first),
        json!(count),
        json!(name(obj)),
    ])
}

/// ResourceQuota columns.
pub fn quota_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::age(),
        Column::new(
            "Request",
            "string",
            "Request represents a minimum amount of cpu/memory that a container may consume.",
            0,
        ),
        Column::new(
            "Limit",
            "string",
            "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
            0,
        ),
    ]
}

/// A ResourceQuota's row: `resource: used/hard` for each hard limit, `limits.*` apart.
pub fn resource_quota(obj: &Value, now: Timestamp) -> Row {
    let hard = at(obj, "/status/hard").as_object();
    let mut resources: Vec<&String> = hard.into_iter().flat_map(|h| h.keys()).collect();
    resources.sort();
    let mut requests = Vec::new();
    let mut limits = Vec::new();
    for r in resources {
        let used = at(obj, "/status/used")
            .get(r.as_str())
            .and_then(Value::as_str)
            .unwrap_or("0");
        let limit = at(obj, "/status/hard")
            .get(r.as_str())
            .and_then(Value::as_str)
            .unwrap_or("0");
        let entry = format!("{r}: {used}/{limit}");
        if r.split('.').next() == Some("limits") && r.contains('.') {
            limits.push(entry);
        } else {
            requests.push(entry);
        }
    }
    Row::cells(vec![
        json!(name(obj)),
        age(obj, now),
        json!(requests.join(", ")),
        json!(limits.join(", ")),
    ])
}

fn access_modes(modes: &Value) -> String {
    let modes = strings(modes);
    let mut out = Vec::new();
    for (mode, short) in [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ] {
        if modes.contains(&mode) {
            out.push(short);
        }
    }
    out.join(",")
}

fn storage_class_of(obj: &Value) -> String {
    let annotation = at(
        obj,
        "/metadata/annotations/volume.beta.kubernetes.io~1storage-class",
    );
    annotation
        .as_str()
        .unwrap_or_else(|| text(obj, "/spec/storageClassName"))
        .to_string()
}

/// PersistentVolume columns.
pub fn pv_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new(
            "Capacity",
            "string",
            "capacity is the description of the persistent volume's resources and capacity.",
            0,
        ),
        Column::new(
            "Access Modes",
            "string",
            "accessModes contains all ways the volume can be mounted.",
            0,
        ),
        Column::new(
            "Reclaim Policy",
            "string",
            "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim.",
            0,
        ),
        Column::new(
            "Status",
            "string",
            "phase indicates if a volume is available, bound to a claim, or released by a claim.",
            0,
        ),
        Column::new(
            "Claim",
            "string",
            "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim.",
            0,
        ),
        Column::new("StorageClass", "string", "StorageClass of the pv", 0),
        Column::new(
            "VolumeAttributesClass",
            "string",
            "VolumeAttributesClass of the pv",
            0,
        ),
        Column::new(
            "Reason",
            "string",
            "reason is a brief CamelCase string that describes any failure.",
            0,
        ),
        Column::age(),
        Column::new(
            "VolumeMode",
            "string",
            "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state.",
            1,
        ),
    ]
}

/// A PersistentVolume's row.
pub fn persistent_volume(obj: &Value, now: Timestamp) -> Row {
    let claim = if at(obj, "/spec/claimRef").is_object() {
        format!(
            "{}/{}",
            text(obj, "/spec/claimRef/namespace"),
            text(obj, "/spec/claimRef/name")
        )
    } else {
        String::new()
    };
    let phase = if at(obj, "/metadata/deletionTimestamp").is_string() {
        "Terminating"
    } else {
        text(obj, "/status/phase")
    };
    Row::cells(vec![
        json!(name(obj)),
        json!(text(obj, "/spec/capacity/storage")),
        json!(access_modes(at(obj, "/spec/accessModes"))),
        json!(text(obj, "/spec/persistentVolumeReclaimPolicy")),
        json!(phase),
        json!(claim),
        json!(storage_class_of(obj)),
        json!(or(text(obj, "/spec/volumeAttributesClassName"), "<unset>")),
        json!(text(obj, "/status/reason")),
        age(obj, now),
        json!(or(text(obj, "/spec/volumeMode"), "<unset>")),
    ])
}

/// PersistentVolumeClaim columns.
pub fn pvc_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new(
            "Status",
            "string",
            "phase represents the current phase of PersistentVolumeClaim.",
            0,
        ),
        Column::new(
            "Volume",
            "string",
            "volumeName is the binding reference to the PersistentVolume backing this claim.",
            0,
        ),
        Column::new(
            "Capacity",
            "string",
            "capacity represents the actual resources of the underlying volume.",
            0,
        ),
        Column::new(
            "Access Modes",
            "string",
            "accessModes contains the actual access modes the volume backing the PVC has.",
            0,
        ),
        Column::new("StorageClass", "string", "StorageClass of the pvc", 0),
        Column::new(
            "VolumeAttributesClass",
            "string",
            "VolumeAttributesClass of the pvc",
            0,
        ),
        Column::age(),
        Column::new(
            "VolumeMode",
            "string",
            "volumeMode defines what type of volume is required by the claim.",
            1,
        ),
    ]
}

/// A PersistentVolumeClaim's row.
pub fn persistent_volume_claim(obj: &Value, now: Timestamp) -> Row {
    let phase = if at(obj, "/metadata/deletionTimestamp").is_string() {
        "Terminating"
    } else {
        text(obj, "/status/phase")
    };
    let bound = !text(obj, "/spec/volumeName").is_empty();
    let (capacity, modes) = if bound {
        (
            text(obj, "/status/capacity/storage").to_string(),
            access_modes(at(obj, "/status/accessModes")),
        )
    } else {
        (String::new(), String::new())
    };
    Row::cells(vec![
        json!(name(obj)),
        json!(phase),
        json!(text(obj, "/spec/volumeName")),
        json!(capacity),
        json!(modes),
        json!(storage_class_of(obj)),
        json!(or(text(obj, "/spec/volumeAttributesClassName"), "<unset>")),
        age(obj, now),
        json!(or(text(obj, "/spec/volumeMode"), "<unset>")),
    ])
}
