//! Workload validation: Deployments, ReplicaSets, StatefulSets, DaemonSets,
//! ControllerRevisions and ReplicationControllers.

use serde_json::{Value, json};

use super::{assert_error, assert_error_prefix, assert_valid, check, check_update};

fn template() -> Value {
    json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "nginx"}]}})
}

fn workload(kind: &str) -> Value {
    let mut obj = json!({
        "apiVersion": "apps/v1", "kind": kind,
        "metadata": {"name": "web", "namespace": "default", "resourceVersion": "1"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template()}
    });
    if kind == "StatefulSet" {
        obj["spec"]["serviceName"] = json!("web");
        obj["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] =
            json!([{"name": "data", "mountPath": "/data"}]);
        obj["spec"]["volumeClaimTemplates"] = json!([{
            "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
        }]);
    }
    obj
}

fn errs_with(kind: &str, edit: impl FnOnce(&mut Value)) -> Vec<super::FieldError> {
    let mut obj = workload(kind);
    edit(&mut obj);
    check("apps", kind, true, obj)
}

const KINDS: [&str; 4] = ["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"];

#[test]
fn valid_workloads_pass() {
    for kind in KINDS {
        assert_valid(&check("apps", kind, true, workload(kind)));
    }
    let rev =
        json!({"metadata": {"name": "web-1", "namespace": "default"}, "data": {"spec": {}}, "revision": 1});
    assert_valid(&check("apps", "ControllerRevision", true, rev));
}

#[test]
fn selector_must_match_template_labels() {
    for kind in KINDS {
        let errs = errs_with(kind, |o| {
            o["spec"]["selector"] = json!({"matchLabels": {"app": "api"}})
        });
        let msg = "Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`";
        assert_error(&errs, "spec.template.metadata.labels", "FieldValueInvalid", msg);
    }
}

#[test]
fn selector_is_required_and_not_empty() {
    let errs = errs_with("Deployment", |o| {
        o["spec"].as_object_mut().unwrap().remove("selector");
    });
    assert_error(&errs, "spec.selector", "FieldValueRequired", "Required value");
    let errs = errs_with("StatefulSet", |o| o["spec"]["selector"] = json!({}));
    assert_error(
        &errs,
        "spec.selector",
        "FieldValueInvalid",
        "Invalid value: {}: empty selector is invalid for statefulset",
    );
    let errs = errs_with("DaemonSet", |o| {
        o["spec"]["selector"] = json!({"matchExpressions": [{"key": "app", "operator": "In"}]})
    });
    let msg = "Required value: must be specified when `operator` is 'In' or 'NotIn'";
    assert_error(
        &errs,
        "spec.selector.matchExpressions[0].values",
        "FieldValueRequired",
        msg,
    );
}

#[test]
fn replicas_are_not_negative() {
    let errs = errs_with("ReplicaSet", |o| o["spec"]["replicas"] = json!(-1));
    assert_error(
        &errs,
        "spec.replicas",
        "FieldValueInvalid",
        "Invalid value: -1: must be greater than or equal to 0",
    );
}

#[test]
fn template_must_restart_always() {
    let errs = errs_with("Deployment", |o| {
        o["spec"]["template"]["spec"]["restartPolicy"] = json!("Never")
    });
    let msg = "Unsupported value: \"Never\": supported values: \"Always\"";
    assert_error(
        &errs,
        "spec.template.spec.restartPolicy",
        "FieldValueNotSupported",
        msg,
    );
    let errs = errs_with("DaemonSet", |o| {
        o["spec"]["template"]["spec"]["activeDeadlineSeconds"] = json!(10)
    });
    let msg = "Forbidden: activeDeadlineSeconds in DaemonSet is not Supported";
    assert_error(
        &errs,
        "spec.template.spec.activeDeadlineSeconds",
        "FieldValueForbidden",
        msg,
    );
}

#[test]
fn template_pod_spec_is_validated() {
    let errs = errs_with("Deployment", |o| {
        o["spec"]["template"]["spec"]["containers"][0]["image"] = json!("")
    });
    assert_error(
        &errs,
        "spec.template.spec.containers[0].image",
        "FieldValueRequired",
        "Required value",
    );
    let errs = errs_with("StatefulSet", |o| {
        o["spec"]["template"]["spec"]["containers"] = json!([])
    });
    assert_error(
        &errs,
        "spec.template.spec.containers",
        "FieldValueRequired",
        "Required value",
    );
}

#[test]
fn deployment_strategy_is_checked() {
    let errs = errs_with("Deployment", |o| {
        o["spec"]["strategy"] = json!({"type": "BlueGreen"})
    });
    let msg =
        "Unsupported value: {\"type\":\"BlueGreen\"}: supported values: \"Recreate\", \"RollingUpdate\"";
    assert_error(&errs, "spec.strategy", "FieldValueNotSupported", msg);
    let errs = errs_with(
        "Deployment",
        |o| {
            o["spec"]["strategy"] =
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "0%"}})
        },
    );
    let msg = "Invalid value: 0: may not be 0 when `maxSurge` is 0";
    assert_error(
        &errs,
        "spec.strategy.rollingUpdate.maxUnavailable",
        "FieldValueInvalid",
        msg,
    );
    let errs = errs_with("Deployment", |o| {
        o["spec"]["strategy"] = json!({"type": "Recreate", "rollingUpdate": {}})
    });
    let msg = "Forbidden: may not be specified when strategy `type` is 'Recreate'";
    assert_error(&errs, "spec.strategy.rollingUpdate", "FieldValueForbidden", msg);
}

#[test]
fn daemon_set_rolling_update_needs_exactly_one_nonzero() {
    let errs = errs_with(
        "DaemonSet",
        |o| {
            o["spec"]["updateStrategy"] =
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}})
        },
    );
    let msg = "Invalid value: 1: may not be set when maxUnavailable is non-zero";
    assert_error(
        &errs,
        "spec.updateStrategy.rollingUpdate.maxSurge",
        "FieldValueInvalid",
        msg,
    );
}

#[test]
fn stateful_set_policy_and_claims_are_checked() {
    let errs = errs_with("StatefulSet", |o| {
        o["spec"]["podManagementPolicy"] = json!("Random")
    });
    let msg = "Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'";
    assert_error(&errs, "spec.podManagementPolicy", "FieldValueInvalid", msg);
    let errs = errs_with("StatefulSet", |o| {
        o["spec"]["volumeClaimTemplates"][0]["spec"]["accessModes"] = json!([])
    });
    let msg = "Required value: at least 1 access mode is required";
    assert_error(
        &errs,
        "spec.volumeClaimTemplates[0].spec.accessModes",
        "FieldValueRequired",
        msg,
    );
}

#[test]
fn selectors_are_immutable_on_update() {
    for kind in ["Deployment", "ReplicaSet", "DaemonSet"] {
        let mut new = workload(kind);
        new["spec"]["selector"] = json!({"matchLabels": {"app": "web", "tier": "a"}});
        new["spec"]["template"]["metadata"]["labels"]["tier"] = json!("a");
        let errs = check_update("apps", kind, true, workload(kind), new);
        let msg = "Invalid value: {\"matchLabels\":{\"app\":\"web\",\"tier\":\"a\"}}: field is immutable";
        assert_error(&errs, "spec.selector", "FieldValueInvalid", msg);
    }
    let mut scaled = workload("Deployment");
    scaled["spec"]["replicas"] = json!(5);
    assert_valid(&check_update(
        "apps",
        "Deployment",
        true,
        workload("Deployment"),
        scaled,
    ));
}

#[test]
fn stateful_set_updates_are_limited() {
    let mut new = workload("StatefulSet");
    new["spec"]["serviceName"] = json!("other");
    let errs = check_update("apps", "StatefulSet", true, workload("StatefulSet"), new);
    let msg = "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden";
    assert_error(&errs, "spec", "FieldValueForbidden", msg);
    let mut scaled = workload("StatefulSet");
    scaled["spec"]["replicas"] = json!(3);
    scaled["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
    assert_valid(&check_update(
        "apps",
        "StatefulSet",
        true,
        workload("StatefulSet"),
        scaled,
    ));
}

#[test]
fn controller_revision_data_is_required_and_immutable() {
    let errs = check(
        "apps",
        "ControllerRevision",
        true,
        json!({"metadata": {"name": "r", "namespace": "default"}}),
    );
    assert_error(
        &errs,
        "data",
        "FieldValueRequired",
        "Required value: data is mandatory",
    );
    let old = json!({"metadata": {"name": "r", "namespace": "default"}, "data": {"a": 1}, "revision": 1});
    let mut new = old.clone();
    new["data"] = json!({"a": 2});
    let errs = check_update("apps", "ControllerRevision", true, old, new);
    assert_error(
        &errs,
        "data",
        "FieldValueInvalid",
        "Invalid value: {\"a\":2}: field is immutable",
    );
}

#[test]
fn replication_controllers_are_checked() {
    let rc = json!({"metadata": {"name": "rc", "namespace": "default"}, "spec": {"template": template()}});
    assert_valid(&check("", "ReplicationController", true, rc.clone()));
    let mut bad = rc;
    bad["spec"]["selector"] = json!({"app": "api"});
    bad["spec"]["replicas"] = json!(-2);
    let errs = check("", "ReplicationController", true, bad);
    let msg = "Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`";
    assert_error(&errs, "spec.template.metadata.labels", "FieldValueInvalid", msg);
    assert_error_prefix(&errs, "spec.replicas", "FieldValueInvalid", "Invalid value: -2");
    let errs = check(
        "",
        "ReplicationController",
        true,
        json!({"metadata": {"name": "rc", "namespace": "default"}}),
    );
    assert_error(&errs, "spec.selector", "FieldValueRequired", "Required value");
    assert_error(&errs, "spec.template", "FieldValueRequired", "Required value");
}
