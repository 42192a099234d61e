//! Defaulting: field by field for the main kinds, idempotence, and unknown fields kept.

use serde_json::{Value, json};

use super::default;
use super::pod::pull_policy_for;

fn defaulted(group: &str, kind: &str, mut obj: Value) -> Value {
    default(group, kind, &mut obj);
    let mut again = obj.clone();
    default(group, kind, &mut again);
    assert_eq!(again, obj, "defaulting {kind} twice changed it");
    obj
}

fn pod_spec() -> Value {
    json!({
        "serviceAccountName": "default",
        "containers": [{
            "name": "app", "image": "nginx:1.27", "x-extra": {"keep": true},
            "ports": [{"containerPort": 80}],
            "resources": {"limits": {"cpu": "500m"}},
            "livenessProbe": {"httpGet": {"port": 80}},
            "readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 5},
            "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]
        }],
        "initContainers": [{"name": "init", "image": "busybox"}],
        "volumes": [
            {"name": "scratch"},
            {"name": "cfg", "configMap": {"name": "settings"}},
            {"name": "sec", "secret": {"secretName": "creds", "defaultMode": 256}},
            {"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}
        ]
    })
}

#[test]
fn pods_get_every_default() {
    let pod = defaulted(
        "",
        "Pod",
        json!({"metadata": {"name": "p"}, "spec": pod_spec(), "x-top": [1]}),
    );
    let spec = &pod["spec"];
    assert_eq!(spec["restartPolicy"], "Always");
    assert_eq!(spec["dnsPolicy"], "ClusterFirst");
    assert_eq!(spec["terminationGracePeriodSeconds"], 30);
    assert_eq!(spec["schedulerName"], "default-scheduler");
    assert_eq!(spec["securityContext"], json!({}));
    assert_eq!(spec["enableServiceLinks"], true);
    assert_eq!(spec["priority"], 0);
    assert_eq!(spec["preemptionPolicy"], "PreemptLowerPriority");
    assert_eq!(spec["serviceAccount"], "default");
    let c = &spec["containers"][0];
    assert_eq!(c["imagePullPolicy"], "IfNotPresent");
    assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(c["terminationMessagePolicy"], "File");
    assert_eq!(c["ports"][0]["protocol"], "TCP");
    assert_eq!(
        c["resources"],
        json!({"limits": {"cpu": "500m"}, "requests": {"cpu": "500m"}})
    );
    assert_eq!(
        c["livenessProbe"],
        json!({
            "httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
            "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3
        })
    );
    assert_eq!(c["readinessProbe"]["periodSeconds"], 5);
    assert_eq!(c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
    let init = &spec["initContainers"][0];
    assert_eq!(init["imagePullPolicy"], "Always");
    assert_eq!(init["resources"], json!({}));
    let vols = &spec["volumes"];
    assert_eq!(vols[0]["emptyDir"], json!({}));
    assert_eq!(vols[1]["configMap"]["defaultMode"], 420);
    assert_eq!(vols[2]["secret"]["defaultMode"], 256);
    assert_eq!(vols[3]["projected"]["defaultMode"], 420);
    assert_eq!(
        vols[3]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"],
        3600
    );
    // Unknown fields survive, at the top and deep inside.
    assert_eq!(pod["x-top"], json!([1]));
    assert_eq!(c["x-extra"], json!({"keep": true}));
}

#[test]
fn pod_defaults_keep_explicit_values() {
    let spec = json!({
        "restartPolicy": "Never", "terminationGracePeriodSeconds": 0, "enableServiceLinks": false,
        "priorityClassName": "system-node-critical", "hostNetwork": true,
        "containers": [{"name": "a", "image": "a", "imagePullPolicy": "Never", "ports": [{"containerPort": 9000}]}]
    });
    let pod = defaulted("", "Pod", json!({"spec": spec}));
    assert_eq!(pod["spec"]["restartPolicy"], "Never");
    assert_eq!(pod["spec"]["terminationGracePeriodSeconds"], 0);
    assert_eq!(pod["spec"]["enableServiceLinks"], false);
    assert_eq!(pod["spec"]["priority"], 2_000_001_000);
    assert_eq!(pod["spec"]["containers"][0]["imagePullPolicy"], "Never");
    assert_eq!(pod["spec"]["containers"][0]["ports"][0]["hostPort"], 9000);
}

#[test]
fn image_pull_policy_follows_the_tag() {
    let cases = [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.27", "IfNotPresent"),
        ("registry:5000/team/app", "Always"),
        ("registry:5000/team/app:v2", "IfNotPresent"),
        (
            "nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "IfNotPresent",
        ),
        (
            "nginx:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "Always",
        ),
    ];
    for (image, want) in cases {
        assert_eq!(pull_policy_for(image), want, "{image}");
    }
}

#[test]
fn deployments_get_strategy_and_limits() {
    let d = defaulted(
        "apps",
        "Deployment",
        json!({"spec": {"template": {"spec": pod_spec()}}, "x": 1}),
    );
    let spec = &d["spec"];
    assert_eq!(spec["replicas"], 1);
    assert_eq!(
        spec["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
    );
    assert_eq!(spec["revisionHistoryLimit"], 10);
    assert_eq!(spec["progressDeadlineSeconds"], 600);
    let t = &spec["template"]["spec"];
    assert_eq!(t["restartPolicy"], "Always");
    assert_eq!(t["containers"][0]["terminationMessagePolicy"], "File");
    // Templates are not Pods: no requests from limits, no service links, no priority.
    assert_eq!(
        t["containers"][0]["resources"],
        json!({"limits": {"cpu": "500m"}})
    );
    assert!(t.get("enableServiceLinks").is_none() && t.get("priority").is_none());
    assert_eq!(d["x"], 1);
    let recreate = defaulted(
        "apps",
        "Deployment",
        json!({"spec": {"replicas": 0, "strategy": {"type": "Recreate"}}}),
    );
    assert_eq!(recreate["spec"]["replicas"], 0);
    assert_eq!(recreate["spec"]["strategy"], json!({"type": "Recreate"}));
}

#[test]
fn replica_sets_get_replicas() {
    let rs = defaulted(
        "apps",
        "ReplicaSet",
        json!({"spec": {"template": {"spec": pod_spec()}}}),
    );
    assert_eq!(rs["spec"]["replicas"], 1);
    assert_eq!(rs["spec"]["template"]["spec"]["dnsPolicy"], "ClusterFirst");
}

#[test]
fn stateful_sets_get_policies() {
    let claim = json!({"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}});
    let s = defaulted(
        "apps",
        "StatefulSet",
        json!({"spec": {"template": {"spec": pod_spec()}, "volumeClaimTemplates": [claim]}}),
    );
    let spec = &s["spec"];
    assert_eq!(spec["replicas"], 1);
    assert_eq!(spec["podManagementPolicy"], "OrderedReady");
    assert_eq!(
        spec["updateStrategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
    );
    assert_eq!(
        spec["persistentVolumeClaimRetentionPolicy"],
        json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
    );
    assert_eq!(spec["revisionHistoryLimit"], 10);
    assert_eq!(
        spec["volumeClaimTemplates"][0]["spec"]["volumeMode"],
        "Filesystem"
    );
    assert_eq!(spec["volumeClaimTemplates"][0]["status"]["phase"], "Pending");
    let on_delete = defaulted(
        "apps",
        "StatefulSet",
        json!({"spec": {"updateStrategy": {"type": "OnDelete"}}}),
    );
    assert_eq!(on_delete["spec"]["updateStrategy"], json!({"type": "OnDelete"}));
}

#[test]
fn daemon_sets_get_rolling_update() {
    let ds = defaulted(
        "apps",
        "DaemonSet",
        json!({"spec": {"template": {"spec": pod_spec()}}}),
    );
    assert_eq!(
        ds["spec"]["updateStrategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
    );
    assert_eq!(ds["spec"]["revisionHistoryLimit"], 10);
    assert_eq!(
        ds["spec"]["template"]["spec"]["schedulerName"],
        "default-scheduler"
    );
}

#[test]
fn services_get_type_ports_and_policies() {
    let svc = defaulted(
        "",
        "Service",
        json!({"spec": {"ports": [{"port": 80}, {"port": 443, "targetPort": "https"}]}}),
    );
    let spec = &svc["spec"];
    assert_eq!(spec["type"], "ClusterIP");
    assert_eq!(spec["sessionAffinity"], "None");
    assert_eq!(spec["internalTrafficPolicy"], "Cluster");
    assert_eq!(spec["ipFamilyPolicy"], "SingleStack");
    assert_eq!(spec["ipFamilies"], json!(["IPv4"]));
    assert!(spec.get("externalTrafficPolicy").is_none());
    assert_eq!(
        spec["ports"][0],
        json!({"port": 80, "protocol": "TCP", "targetPort": 80})
    );
    assert_eq!(spec["ports"][1]["targetPort"], "https");
    let lb = defaulted(
        "",
        "Service",
        json!({"spec": {"type": "LoadBalancer", "clusterIP": "fd00::10", "ports": [{"port": 80}]}}),
    );
    assert_eq!(lb["spec"]["externalTrafficPolicy"], "Cluster");
    assert_eq!(lb["spec"]["allocateLoadBalancerNodePorts"], true);
    assert_eq!(lb["spec"]["clusterIPs"], json!(["fd00::10"]));
    assert_eq!(lb["spec"]["ipFamilies"], json!(["IPv6"]));
    let sticky = defaulted("", "Service", json!({"spec": {"sessionAffinity": "ClientIP"}}));
    assert_eq!(
        sticky["spec"]["sessionAffinityConfig"],
        json!({"clientIP": {"timeoutSeconds": 10800}})
    );
    let external = defaulted(
        "",
        "Service",
        json!({"spec": {"type": "ExternalName", "externalName": "db.example.com"}}),
    );
    assert!(
        external["spec"].get("internalTrafficPolicy").is_none()
            && external["spec"].get("ipFamilies").is_none()
    );
}

#[test]
fn namespaces_get_label_finalizer_and_phase() {
    let ns = defaulted(
        "",
        "Namespace",
        json!({"metadata": {"name": "team-a", "labels": {"x": "y"}}}),
    );
    assert_eq!(
        ns["metadata"]["labels"],
        json!({"x": "y", "kubernetes.io/metadata.name": "team-a"})
    );
    assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
    assert_eq!(ns["status"]["phase"], "Active");
}

#[test]
fn secrets_fold_string_data_and_get_a_type() {
    let s = defaulted(
        "",
        "Secret",
        json!({"data": {"a": "YQ=="}, "stringData": {"user": "admin", "a": "b"}}),
    );
    assert_eq!(s["type"], "Opaque");
    assert_eq!(s["data"], json!({"a": "Yg==", "user": "YWRtaW4="}));
    assert!(s.get("stringData").is_none());
}

#[test]
fn claims_volumes_and_nodes() {
    let pvc = defaulted(
        "",
        "PersistentVolumeClaim",
        json!({"spec": {"accessModes": ["ReadWriteOnce"]}}),
    );
    assert_eq!(pvc["spec"]["volumeMode"], "Filesystem");
    assert_eq!(pvc["status"]["phase"], "Pending");
    let pv = defaulted(
        "",
        "PersistentVolume",
        json!({"spec": {"hostPath": {"path": "/d"}}}),
    );
    assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Retain");
    assert_eq!(pv["spec"]["hostPath"]["type"], "");
    assert_eq!(pv["status"]["phase"], "Pending");
    let node = defaulted(
        "",
        "Node",
        json!({"spec": {"podCIDR": "10.0.1.0/24"}, "status": {"capacity": {"cpu": "2"}}}),
    );
    assert_eq!(node["spec"]["podCIDRs"], json!(["10.0.1.0/24"]));
    assert_eq!(node["status"]["allocatable"], json!({"cpu": "2"}));
}

#[test]
fn replication_controllers_take_selector_from_template() {
    let rc = defaulted(
        "",
        "ReplicationController",
        json!({"spec": {"template": {"metadata": {"labels": {"app": "a"}}, "spec": pod_spec()}}}),
    );
    assert_eq!(rc["spec"]["selector"], json!({"app": "a"}));
    assert_eq!(rc["metadata"]["labels"], json!({"app": "a"}));
    assert_eq!(rc["spec"]["replicas"], 1);
    assert_eq!(rc["spec"]["template"]["spec"]["restartPolicy"], "Always");
}

#[test]
fn other_groups() {
    let rb = defaulted(
        "rbac.authorization.k8s.io",
        "RoleBinding",
        json!({
            "roleRef": {"kind": "Role", "name": "r"},
            "subjects": [{"kind": "User", "name": "u"}, {"kind": "ServiceAccount", "name": "s"}]
        }),
    );
    assert_eq!(rb["roleRef"]["apiGroup"], "rbac.authorization.k8s.io");
    assert_eq!(rb["subjects"][0]["apiGroup"], "rbac.authorization.k8s.io");
    assert!(rb["subjects"][1].get("apiGroup").is_none());
    let sc = defaulted("storage.k8s.io", "StorageClass", json!({"provisioner": "p"}));
    assert_eq!(
        (&sc["reclaimPolicy"], &sc["volumeBindingMode"]),
        (&json!("Delete"), &json!("Immediate"))
    );
    let es = defaulted(
        "discovery.k8s.io",
        "EndpointSlice",
        json!({"ports": [{"port": 80}]}),
    );
    assert_eq!(es["ports"][0], json!({"port": 80, "name": "", "protocol": "TCP"}));
    let hpa = defaulted(
        "autoscaling",
        "HorizontalPodAutoscaler",
        json!({"apiVersion": "autoscaling/v2", "spec": {"behavior": {}}}),
    );
    assert_eq!(hpa["spec"]["minReplicas"], 1);
    assert_eq!(
        hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        80
    );
    assert_eq!(
        hpa["spec"]["behavior"]["scaleUp"]["policies"][0],
        json!({"type": "Pods", "value": 4, "periodSeconds": 15})
    );
    assert_eq!(hpa["spec"]["behavior"]["scaleDown"]["selectPolicy"], "Max");
    let v1 = defaulted(
        "autoscaling",
        "HorizontalPodAutoscaler",
        json!({"apiVersion": "autoscaling/v1", "spec": {}}),
    );
    assert!(v1["spec"].get("metrics").is_none());
    let cr = defaulted("example.com", "Widget", json!({"spec": {"a": null}}));
    assert_eq!(cr, json!({"spec": {"a": null}}));
}

#[test]
fn defaulted_objects_validate() {
    use crate::validation::validate;
    let cases = [
        (
            "",
            "Pod",
            json!({"metadata": {"name": "p", "namespace": "d"}, "spec": pod_spec()}),
        ),
        (
            "apps",
            "Deployment",
            json!({"metadata": {"name": "d", "namespace": "d"}, "spec": {
            "selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": pod_spec()}}}),
        ),
        (
            "",
            "Service",
            json!({"metadata": {"name": "s", "namespace": "d"}, "spec": {"type": "NodePort", "ports": [{"port": 80}]}}),
        ),
    ];
    for (group, kind, obj) in cases {
        let obj = defaulted(group, kind, obj);
        let errs = validate(group, kind, true, &obj, None);
        assert!(errs.is_empty(), "{kind}: {errs:?}");
    }
}
