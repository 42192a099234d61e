use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::*;
use crate::registry::Registry;

fn def(group: &str, plural: &str) -> std::sync::Arc<ResourceDef> {
    let registry = Registry::builtin();
    registry
        .all()
        .iter()
        .find(|d| d.group == group && d.plural == plural)
        .cloned()
        .unwrap()
}

fn now() -> Timestamp {
    "2025-06-01T12:00:00Z".parse().unwrap()
}

fn row(group: &str, plural: &str, obj: Value) -> Vec<Value> {
    let d = def(group, plural);
    Printer::of(&d).row(&d, &obj, now()).cells
}

fn headers(group: &str, plural: &str) -> Vec<String> {
    Printer::of(&def(group, plural))
        .columns()
        .iter()
        .filter(|c| c.priority == 0)
        .map(|c| c.name.to_uppercase())
        .collect()
}

#[test]
fn human_durations_match_apimachinery() {
    for (secs, text) in [
        (-5, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (119, "119s"),
        (120, "2m"),
        (200, "3m20s"),
        (600, "10m"),
        (179 * 60, "179m"),
        (3 * 3600, "3h"),
        (5 * 3600 + 3 * 60, "5h3m"),
        (20 * 3600, "20h"),
        (3 * 86400 + 4 * 3600, "3d4h"),
        (40 * 86400, "40d"),
        (2 * 365 * 86400 + 15 * 86400, "2y15d"),
        (9 * 365 * 86400, "9y"),
    ] {
        assert_eq!(human_duration(secs), text, "{secs}s");
    }
}

#[test]
fn columns_are_the_ones_kubectl_prints() {
    assert_eq!(
        headers("", "pods"),
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    );
    assert_eq!(
        headers("apps", "deployments"),
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    );
    assert_eq!(
        headers("", "services"),
        ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    );
    assert_eq!(headers("", "namespaces"), ["NAME", "STATUS", "AGE"]);
    assert_eq!(headers("", "configmaps"), ["NAME", "DATA", "AGE"]);
    assert_eq!(headers("", "secrets"), ["NAME", "TYPE", "DATA", "AGE"]);
    assert_eq!(
        headers("", "nodes"),
        ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    );
    assert_eq!(
        headers("", "events"),
        ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    );
    assert_eq!(headers("events.k8s.io", "events"), headers("", "events"));
    assert_eq!(
        headers("coordination.k8s.io", "leases"),
        ["NAME", "HOLDER", "AGE"]
    );
    assert_eq!(
        headers("apps", "replicasets"),
        ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    );
    assert_eq!(headers("apps", "statefulsets"), ["NAME", "READY", "AGE"]);
    assert_eq!(
        headers("apps", "daemonsets"),
        [
            "NAME",
            "DESIRED",
            "CURRENT",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "NODE SELECTOR",
            "AGE"
        ]
    );
    assert_eq!(
        headers("rbac.authorization.k8s.io", "roles"),
        ["NAME", "CREATED AT"]
    );
    // Every built-in resource has a printer whose rows are as wide as its columns.
    for d in Registry::builtin().all() {
        let p = Printer::of(d);
        let obj = json!({"metadata": {"name": "x", "creationTimestamp": "2025-06-01T11:00:00Z"}});
        assert_eq!(
            p.columns().len(),
            p.row(d, &obj, now()).cells.len(),
            "{}",
            d.plural
        );
    }
}

#[test]
fn pod_status_reads_like_kubectl() {
    let base = |status: Value| {
        json!({
            "metadata": {"name": "web", "creationTimestamp": "2025-06-01T11:59:00Z"},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "n1"},
            "status": status,
        })
    };
    let cells = row("", "pods", base(json!({"phase": "Pending"})));
    assert_eq!(
        &cells[..5],
        &[
            json!("web"),
            json!("0/2"),
            json!("Pending"),
            json!("0"),
            json!("60s")
        ]
    );
    assert_eq!(
        &cells[5..],
        &[json!("<none>"), json!("n1"), json!("<none>"), json!("<none>")]
    );

    let running = json!({"phase": "Running", "podIPs": [{"ip": "127.1.0.5"}], "conditions": [{"type": "Ready", "status": "True"}],
    "containerStatuses": [
        {"name": "a", "ready": true, "restartCount": 2, "state": {"running": {}}, "lastState": {"terminated": {"finishedAt": "2025-06-01T11:55:00Z", "exitCode": 1}}},
        {"name": "b", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
    ]});
    let cells = row("", "pods", base(running));
    assert_eq!(cells[1], "1/2");
    assert_eq!(cells[2], "CrashLoopBackOff");
    assert_eq!(cells[3], "2 (5m ago)");
    assert_eq!(cells[5], "127.1.0.5");

    let init = json!({"phase": "Pending", "initContainerStatuses": [{"name": "i", "state": {"waiting": {"reason": "PodInitializing"}}}]});
    let mut pod = base(init);
    pod["spec"]["initContainers"] = json!([{"name": "i"}]);
    assert_eq!(row("", "pods", pod)[2], "Init:0/1");

    let mut deleting = base(json!({"phase": "Running"}));
    deleting["metadata"]["deletionTimestamp"] = json!("2025-06-01T12:00:00Z");
    assert_eq!(row("", "pods", deleting)[2], "Terminating");

    let d = def("", "pods");
    let done = base(
        json!({"phase": "Succeeded", "containerStatuses": [{"name": "a", "state": {"terminated": {"reason": "Completed", "exitCode": 0}}}]}),
    );
    let r = Printer::of(&d).row(&d, &done, now());
    assert_eq!(r.cells[2], "Completed");
    assert_eq!(r.conditions.unwrap()[0]["type"], "Completed");
}

#[test]
fn workload_and_core_rows() {
    let deploy = json!({
        "metadata": {"name": "web", "creationTimestamp": "2025-06-01T10:00:00Z"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"spec": {"containers": [{"name": "c", "image": "nginx"}, {"name": "s", "image": "envoy"}]}}},
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    });
    assert_eq!(
        row("apps", "deployments", deploy),
        [
            json!("web"),
            json!("2/3"),
            json!(3),
            json!(2),
            json!("120m"),
            json!("c,s"),
            json!("nginx,envoy"),
            json!("app=web")
        ]
    );
    let svc = json!({
        "metadata": {"name": "web", "creationTimestamp": "2025-06-01T11:00:00Z"},
        "spec": {"type": "NodePort", "clusterIPs": ["127.96.0.10"], "selector": {"app": "web"},
                 "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}, {"port": 53, "protocol": "UDP"}]},
    });
    assert_eq!(
        row("", "services", svc),
        [
            json!("web"),
            json!("NodePort"),
            json!("127.96.0.10"),
            json!("<none>"),
            json!("80:30080/TCP,53/UDP"),
            json!("60m"),
            json!("app=web")
        ]
    );
    let cm = json!({"metadata": {"name": "cfg"}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
    assert_eq!(
        row("", "configmaps", cm),
        [json!("cfg"), json!(3), json!("<unknown>")]
    );
    let secret = json!({"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "YQ=="}});
    assert_eq!(row("", "secrets", secret)[1..3], [json!("Opaque"), json!(1)]);
    let node = json!({"metadata": {"name": "n1", "labels": {"node-role.kubernetes.io/control-plane": ""}},
        "spec": {"unschedulable": true},
        "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.35.0"}}});
    let cells = row("", "nodes", node);
    assert_eq!(
        cells[1..3],
        [json!("Ready,SchedulingDisabled"), json!("control-plane")]
    );
    assert_eq!(cells[4], "v1.35.0");
    let event = json!({"metadata": {"name": "e1"}, "type": "Warning", "reason": "BackOff", "message": " restarting \n",
        "involvedObject": {"kind": "Pod", "name": "web"}, "lastTimestamp": "2025-06-01T11:59:30Z", "count": 4});
    let cells = row("", "events", event);
    assert_eq!(
        cells[..4],
        [json!("30s"), json!("Warning"), json!("BackOff"), json!("pod/web")]
    );
    assert_eq!(cells[6], "restarting");
    assert_eq!(cells[8], 4);
}

#[test]
fn tables_carry_rows_objects_and_list_metadata() {
    let d = def("", "configmaps");
    let objs = vec![
        json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "a", "labels": {"x": "y"}}, "data": {"k": "v"}}),
        json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "b"}}),
    ];
    let mut meta = Map::new();
    meta.insert("resourceVersion".into(), json!("42"));
    let t = build(
        &d,
        &Printer::of(&d),
        "v1",
        &objs,
        meta.clone(),
        IncludeObject::Metadata,
        true,
    );
    assert_eq!(t["kind"], "Table");
    assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(t["metadata"]["resourceVersion"], "42");
    assert_eq!(t["columnDefinitions"][0]["name"], "Name");
    assert_eq!(t["columnDefinitions"][0]["format"], "name");
    assert_eq!(t["rows"][0]["cells"][1], 1);
    assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(t["rows"][0]["object"]["metadata"]["labels"]["x"], "y");
    assert!(t["rows"][0]["object"].get("data").is_none());

    let whole = build(
        &d,
        &Printer::of(&d),
        "v1beta1",
        &objs,
        meta.clone(),
        IncludeObject::Object,
        false,
    );
    assert_eq!(whole["apiVersion"], "meta.k8s.io/v1beta1");
    assert!(whole.get("columnDefinitions").is_none());
    assert_eq!(whole["rows"][0]["object"]["data"]["k"], "v");
    let none = build(&d, &Printer::of(&d), "v1", &objs, meta, IncludeObject::None, true);
    assert!(none["rows"][1].get("object").is_none());
    assert!(IncludeObject::parse(Some("Bogus")).is_err());
}
