//! Pods and the controllers that own them.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::super::{Column, Row, age, name, since};
use super::{at, containers, format_labels, format_selector, int, list, or, selector_string, text};

const CONTAINERS: Column = Column::new(
    "Containers",
    "string",
    "Names of each container in the template.",
    1,
);
const IMAGES: Column = Column::new(
    "Images",
    "string",
    "Images referenced by each container in the template.",
    1,
);

fn selector(priority: i32) -> Column {
    Column::new(
        "Selector",
        "string",
        "Label query over pods that should match the replica count.",
        priority,
    )
}

/// Pod columns (with `-o wide`: IP, node, nominated node, readiness gates).
pub fn pod_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new(
            "Ready",
            "string",
            "The aggregate readiness state of this pod for accepting traffic.",
            0,
        ),
        Column::new(
            "Status",
            "string",
            "The aggregate status of the containers in this pod.",
            0,
        ),
        Column::new(
            "Restarts",
            "string",
            "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
            0,
        ),
        Column::age(),
        Column::new(
            "IP",
            "string",
            "podIP address allocated to the pod. Routable at least within the cluster.",
            1,
        ),
        Column::new(
            "Node",
            "string",
            "NodeName indicates in which node this pod is scheduled.",
            1,
        ),
        Column::new(
            "Nominated Node",
            "string",
            "nominatedNodeName is set only when this pod preempts other pods on the node.",
            1,
        ),
        Column::new(
            "Readiness Gates",
            "string",
            "If specified, all readiness gates will be evaluated for pod readiness.",
            1,
        ),
    ]
}

fn condition_true(conditions: &[Value], type_: &str) -> bool {
    conditions
        .iter()
        .any(|c| c["type"] == type_ && c["status"] == "True")
}

fn terminated_reason(terminated: &Value, prefix: &str) -> String {
    match terminated["reason"].as_str().filter(|r| !r.is_empty()) {
        Some(r) => format!("{prefix}{r}"),
        None if int(terminated, "/signal") != 0 => format!("{prefix}Signal:{}", int(terminated, "/signal")),
        None => format!("{prefix}ExitCode:{}", int(terminated, "/exitCode")),
    }
}

/// A pod's row: ready containers, the status kubectl users know (`Running`,
/// `ContainerCreating`, `Init:0/1`, `CrashLoopBackOff`, `Completed`, `Terminating`), restarts.
pub fn pod(obj: &Value, now: Timestamp) -> Row {
    let spec = at(obj, "/spec");
    let status = at(obj, "/status");
    let conditions = list(status, "/conditions");
    let init_specs = list(spec, "/initContainers");
    let restartable = |container_name: &str| {
        init_specs
            .iter()
            .any(|c| c["name"] == container_name && c["restartPolicy"] == "Always")
    };
    let total = list(spec, "/containers").len()
        + init_specs
            .iter()
            .filter(|c| c["restartPolicy"] == "Always")
            .count();
    let mut ready = 0;
    let mut restarts = 0;
    let mut restartable_restarts = 0;
    let mut last_restart: Option<&str> = None;
    let mut last_restartable_restart: Option<&str> = None;
    let phase = text(status, "/phase");
    let mut reason = or(text(status, "/reason"), phase).to_string();
    if conditions
        .iter()
        .any(|c| c["type"] == "PodScheduled" && c["reason"] == "SchedulingGated")
    {
        reason = "SchedulingGated".into();
    }
    // RFC 3339 timestamps in UTC compare as strings.
    let newer = |current: Option<&str>, candidate: &Value| -> bool {
        candidate
            .as_str()
            .is_some_and(|c| current.is_none_or(|cur| c > cur))
    };

    let mut initializing = false;
    for (i, cs) in list(status, "/initContainerStatuses").iter().enumerate() {
        let cname = cs["name"].as_str().unwrap_or_default();
        restarts += int(cs, "/restartCount");
        let finished = at(cs, "/lastState/terminated/finishedAt");
        if newer(last_restart, finished) {
            last_restart = finished.as_str();
        }
        if restartable(cname) {
            restartable_restarts += int(cs, "/restartCount");
            if newer(last_restartable_restart, finished) {
                last_restartable_restart = finished.as_str();
            }
        }
        let terminated = at(cs, "/state/terminated");
        let waiting_reason = text(cs, "/state/waiting/reason");
        if terminated.is_object() && int(terminated, "/exitCode") == 0 {
            continue;
        }
        if restartable(cname) && cs["started"] == true {
            if cs["ready"] == true {
                ready += 1;
            }
            continue;
        }
        if terminated.is_object() {
            reason = terminated_reason(terminated, "Init:");
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            reason = format!("Init:{waiting_reason}");
        } else {
            reason = format!("Init:{i}/{}", init_specs.len());
        }
        initializing = true;
        break;
    }

    if !initializing || condition_true(conditions, "Initialized") {
        restarts = restartable_restarts;
        last_restart = last_restartable_restart;
        let mut has_running = false;
        for cs in list(status, "/containerStatuses").iter().rev() {
            restarts += int(cs, "/restartCount");
            let finished = at(cs, "/lastState/terminated/finishedAt");
            if newer(last_restart, finished) {
                last_restart = finished.as_str();
            }
            let waiting_reason = text(cs, "/state/waiting/reason");
            let terminated = at(cs, "/state/terminated");
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if terminated.is_object() {
                reason = terminated_reason(terminated, "");
            } else if cs["ready"] == true && at(cs, "/state/running").is_object() {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if condition_true(conditions, "Ready") {
                "Running"
            } else {
                "NotReady"
            }
            .into();
        }
    }

    let deleting = at(obj, "/metadata/deletionTimestamp").is_string();
    if deleting && text(status, "/reason") == "NodeLost" {
        reason = "Unknown".into();
    } else if deleting && phase != "Failed" && phase != "Succeeded" {
        reason = "Terminating".into();
    }

    let restarts_cell = match last_restart.filter(|_| restarts != 0) {
        Some(at) => format!("{restarts} ({} ago)", since(Some(at), now)),
        None => restarts.to_string(),
    };
    let pod_ip = list(status, "/podIPs")
        .first()
        .and_then(|p| p["ip"].as_str())
        .unwrap_or_default();
    let gates = list(spec, "/readinessGates");
    let readiness_gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let met = gates
            .iter()
            .filter(|g| {
                conditions
                    .iter()
                    .find(|c| c["type"] == g["conditionType"])
                    .is_some_and(|c| c["status"] == "True")
            })
            .count();
        format!("{met}/{}", gates.len())
    };
    let conditions = match phase {
        "Succeeded" => Some(
            json!([{"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}]),
        ),
        "Failed" => Some(
            json!([{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]),
        ),
        _ => None,
    };
    Row {
        cells: vec![
            json!(name(obj)),
            json!(format!("{ready}/{total}")),
            json!(reason),
            json!(restarts_cell),
            age(obj, now),
            json!(or(pod_ip, "<none>")),
            json!(or(text(spec, "/nodeName"), "<none>")),
            json!(or(text(status, "/nominatedNodeName"), "<none>")),
            json!(readiness_gates),
        ],
        conditions,
    }
}

/// ReplicationController columns.
pub fn rc_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new(
            "Desired",
            "integer",
            "Replicas is the number of desired replicas.",
            0,
        ),
        Column::new(
            "Current",
            "integer",
            "Replicas is the most recently observed number of replicas.",
            0,
        ),
        Column::new(
            "Ready",
            "integer",
            "The number of ready replicas for this replication controller.",
            0,
        ),
        Column::age(),
        CONTAINERS,
        IMAGES,
        selector(1),
    ]
}

/// A ReplicationController's row.
pub fn replication_controller(obj: &Value, now: Timestamp) -> Row {
    replicated(obj, now, format_labels(at(obj, "/spec/selector")))
}

/// The row ReplicationControllers and ReplicaSets share: desired, current and ready replicas,
/// age, containers, images and the selector (a label map or a LabelSelector, formatted).
fn replicated(obj: &Value, now: Timestamp, selector: String) -> Row {
    let (names, images) = containers(at(obj, "/spec/template/spec"));
    Row::cells(vec![
        json!(name(obj)),
        json!(int(obj, "/spec/replicas")),
        json!(int(obj, "/status/replicas")),
        json!(int(obj, "/status/readyReplicas")),
        age(obj, now),
        json!(names),
        json!(images),
        json!(selector),
    ])
}

/// ReplicaSet columns.
pub fn rs_columns() -> Vec<Column> {
    rc_columns()
}

/// A ReplicaSet's row.
pub fn replica_set(obj: &Value, now: Timestamp) -> Row {
    replicated(obj, now, format_selector(at(obj, "/spec/selector")))
}

/// Deployment columns.
pub fn deployment_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Ready", "string", "Number of the pod with ready state", 0),
        Column::new(
            "Up-to-date",
            "string",
            "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
            0,
        ),
        Column::new(
            "Available",
            "string",
            "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
            0,
        ),
        Column::age(),
        CONTAINERS,
        IMAGES,
        selector(1),
    ]
}

/// A Deployment's row.
pub fn deployment(obj: &Value, now: Timestamp) -> Row {
    let (names, images) = containers(at(obj, "/spec/template/spec"));
    Row::cells(vec![
        json!(name(obj)),
        json!(format!(
            "{}/{}",
            int(obj, "/status/readyReplicas"),
            int(obj, "/spec/replicas")
        )),
        json!(int(obj, "/status/updatedReplicas")),
        json!(int(obj, "/status/availableReplicas")),
        age(obj, now),
        json!(names),
        json!(images),
        json!(selector_string(at(obj, "/spec/selector"))),
    ])
}

/// StatefulSet columns.
pub fn statefulset_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Ready", "string", "Number of the pod with ready state", 0),
        Column::age(),
        CONTAINERS,
        IMAGES,
    ]
}

/// A StatefulSet's row.
pub fn stateful_set(obj: &Value, now: Timestamp) -> Row {
    let (names, images) = containers(at(obj, "/spec/template/spec"));
    Row::cells(vec![
        json!(name(obj)),
        json!(format!(
            "{}/{}",
            int(obj, "/status/readyReplicas"),
            int(obj, "/spec/replicas")
        )),
        age(obj, now),
        json!(names),
        json!(images),
    ])
}

/// DaemonSet columns.
pub fn daemonset_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new(
            "Desired",
            "integer",
            "The total number of nodes that should be running the daemon pod.",
            0,
        ),
        Column::new(
            "Current",
            "integer",
            "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.",
            0,
        ),
        Column::new(
            "Ready",
            "integer",
            "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition.",
            0,
        ),
        Column::new(
            "Up-to-date",
            "integer",
            "The total number of nodes that are running updated daemon pod",
            0,
        ),
        Column::new(
            "Available",
            "integer",
            "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available.",
            0,
        ),
        Column::new(
            "Node Selector",
            "string",
            "NodeSelector is a selector which must be true for the pod to fit on a node.",
            0,
        ),
        Column::age(),
        CONTAINERS,
        IMAGES,
        selector(1),
    ]
}

/// A DaemonSet's row.
pub fn daemon_set(obj: &Value, now: Timestamp) -> Row {
    let (names, images) = containers(at(obj, "/spec/template/spec"));
    Row::cells(vec![
        json!(name(obj)),
        json!(int(obj, "/status/desiredNumberScheduled")),
        json!(int(obj, "/status/currentNumberScheduled")),
        json!(int(obj, "/status/numberReady")),
        json!(int(obj, "/status/updatedNumberScheduled")),
        json!(int(obj, "/status/numberAvailable")),
        json!(format_labels(at(obj, "/spec/template/spec/nodeSelector"))),
        age(obj, now),
        json!(names),
        json!(images),
        json!(format_selector(at(obj, "/spec/selector"))),
    ])
}

/// ControllerRevision columns.
pub fn revision_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Controller", "string", "Controller of the object", 0),
        Column::new(
            "Revision",
            "string",
            "Revision indicates the revision of the state represented by Data.",
            0,
        ),
        Column::age(),
    ]
}

/// A ControllerRevision's row: its controller as `kind.group/name`.
pub fn controller_revision(obj: &Value, now: Timestamp) -> Row {
    let controller = list(obj, "/metadata/ownerReferences")
        .iter()
        .find(|r| r["controller"] == true)
        .map(|r| {
            let group = r["apiVersion"]
                .as_str()
                .and_then(|v| v.split_once('/'))
                .map(|(g, _)| g)
                .unwrap_or_default();
            let kind = r["kind"].as_str().unwrap_or_default().to_ascii_lowercase();
            let kind = if group.is_empty() {
                kind
            } else {
                format!("{kind}.{group}")
            };
            format!("{kind}/{}", r["name"].as_str().unwrap_or_default())
        })
        .unwrap_or_else(|| "<none>".into());
    Row::cells(vec![
        json!(name(obj)),
        json!(controller),
        json!(int(obj, "/revision")),
        age(obj, now),
    ])
}

/// HorizontalPodAutoscaler columns.
pub fn hpa_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new(
            "Reference",
            "string",
            "reference to scaled resource; horizontal pod autoscaler will learn the current resource consumption and will set the desired number of pods by using its Scale subresource.",
            0,
        ),
        Column::new(
            "Targets",
            "string",
            "metrics contains the specifications for which to use to calculate the desired replica count.",
            0,
        ),
        Column::new(
            "MinPods",
            "string",
            "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.",
            0,
        ),
        Column::new(
            "MaxPods",
            "string",
            "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up.",
            0,
        ),
        Column::new(
            "Replicas",
            "string",
            "currentReplicas is current number of replicas of pods managed by this autoscaler.",
            0,
        ),
        Column::age(),
    ]
}

fn quantity(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => "<unknown>".into(),
    }
}

/// `formatHPAMetrics` for the metric sources of autoscaling/v2 (two shown, then `+ N more...`).
fn hpa_targets(spec: &[Value], statuses: &[Value]) -> String {
    if spec.is_empty() {
        return "<none>".into();
    }
    let shown: Vec<String> = spec
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let status = statuses.get(i).unwrap_or(&Value::Null);
            let source = match m["type"].as_str().unwrap_or_default() {
                "Resource" => "resource",
                "ContainerResource" => "containerResource",
                "Pods" => "pods",
                "Object" => "object",
                "External" => "external",
                _ => return "<unknown type>".into(),
            };
            let target = &m[source]["target"];
            let current = &status[source]["current"];
            let named = |s: String| match m[source]["name"].as_str() {
                Some(n) if matches!(source, "resource" | "containerResource") => format!("{n}: {s}"),
                _ => s,
            };
            if let Some(avg) = target.get("averageValue") {
                let cur = current.get("averageValue").map_or("<unknown>".into(), quantity);
                let suffix = if matches!(source, "object" | "external") {
                    " (avg)"
                } else {
                    ""
                };
                named(format!("{cur}/{}{suffix}", quantity(avg)))
            } else if let Some(util) = target.get("averageUtilization") {
                let cur = current
                    .get("averageUtilization")
                    .map_or("<unknown>".into(), |u| format!("{u}%"));
                named(format!("{cur}/{util}%"))
            } else if let Some(value) = target.get("value") {
                let cur = current.get("value").map_or("<unknown>".into(), quantity);
                named(format!("{cur}/{}", quantity(value)))
            } else {
                named("<unknown>/<auto>".into())
            }
        })
        .collect();
    if shown.len() > 2 {
        format!("{} + {} more...", shown[..2].join(", "), shown.len() - 2)
    } else {
        shown.join(", ")
    }
}

/// A HorizontalPodAutoscaler's row (autoscaling/v2 form).
pub fn hpa(obj: &Value, now: Timestamp) -> Row {
    let reference = format!(
        "{}/{}",
        text(obj, "/spec/scaleTargetRef/kind"),
        text(obj, "/spec/scaleTargetRef/name")
    );
    let min = match at(obj, "/spec/minReplicas") {
        Value::Number(n) => n.to_string(),
        _ => "<unset>".into(),
    };
    Row::cells(vec![
        json!(name(obj)),
        json!(reference),
        json!(hpa_targets(
            list(obj, "/spec/metrics"),
            list(obj, "/status/currentMetrics")
        )),
        json!(min),
        json!(int(obj, "/spec/maxReplicas")),
        json!(int(obj, "/status/currentReplicas")),
        age(obj, now),
    ])
}

/// Columns of the `scale` subresource (an autoscaling/v1 Scale).
pub fn scale_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new(
            "Desired",
            "integer",
            "desired number of instances for the scaled object.",
            0,
        ),
        Column::new(
            "Available",
            "integer",
            "actual number of observed instances of the scaled object.",
            0,
        ),
    ]
}

/// A Scale's row.
pub fn scale(obj: &Value, _now: Timestamp) -> Row {
    Row::cells(vec![
        json!(name(obj)),
        json!(int(obj, "/spec/replicas")),
        json!(int(obj, "/status/replicas")),
    ])
}
