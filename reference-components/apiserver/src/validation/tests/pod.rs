//! Pod validation: create rules, container rules, and the update allow-list.

use serde_json::{Value, json};

use super::{LABEL_MSG, assert_error, assert_error_prefix, assert_valid, check, check_update};

fn pod() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "resourceVersion": "1"},
        "spec": {
            "containers": [{
                "name": "app", "image": "nginx:1.27",
                "ports": [{"name": "http", "containerPort": 80}],
                "env": [{"name": "MODE", "value": "prod"}, {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}},
                "livenessProbe": {"httpGet": {"port": 80}},
                "readinessProbe": {"tcpSocket": {"port": "http"}}
            }],
            "initContainers": [{"name": "setup", "image": "busybox", "command": ["true"]}],
            "volumes": [{"name": "data", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "settings"}}],
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoSchedule"}],
            "nodeSelector": {"kubernetes.io/os": "linux"}
        }
    })
}

fn errs_with(edit: impl FnOnce(&mut Value)) -> Vec<super::FieldError> {
    let mut p = pod();
    edit(&mut p);
    check("", "Pod", true, p)
}

#[test]
fn valid_pod_passes() {
    assert_valid(&check("", "Pod", true, pod()));
}

#[test]
fn containers_are_required() {
    let errs = errs_with(|p| p["spec"]["containers"] = json!([]));
    assert_error(&errs, "spec.containers", "FieldValueRequired", "Required value");
}

#[test]
fn container_names_are_unique_dns_labels_across_init_containers() {
    let errs = errs_with(|p| p["spec"]["initContainers"][0]["name"] = json!("app"));
    assert_error(
        &errs,
        "spec.initContainers[0].name",
        "FieldValueDuplicate",
        "Duplicate value: \"app\"",
    );
    let errs = errs_with(|p| p["spec"]["containers"][0]["name"] = json!("App"));
    assert_error(
        &errs,
        "spec.containers[0].name",
        "FieldValueInvalid",
        &format!("Invalid value: \"App\": {LABEL_MSG}"),
    );
}

#[test]
fn image_is_required() {
    let errs = errs_with(|p| p["spec"]["containers"][0]["image"] = json!(""));
    assert_error(
        &errs,
        "spec.containers[0].image",
        "FieldValueRequired",
        "Required value",
    );
}

#[test]
fn ports_are_checked() {
    let errs = errs_with(|p| {
        p["spec"]["containers"][0]["ports"] = json!([
            {"name": "http", "containerPort": 70000, "protocol": "HTTP"},
            {"name": "http", "containerPort": 81}
        ])
    });
    let range = "Invalid value: 70000: must be between 1 and 65535, inclusive";
    assert_error(
        &errs,
        "spec.containers[0].ports[0].containerPort",
        "FieldValueInvalid",
        range,
    );
    let proto = "Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"";
    assert_error(
        &errs,
        "spec.containers[0].ports[0].protocol",
        "FieldValueNotSupported",
        proto,
    );
    assert_error(
        &errs,
        "spec.containers[0].ports[1].name",
        "FieldValueDuplicate",
        "Duplicate value: \"http\"",
    );
}

#[test]
fn restart_and_dns_policies_are_enums() {
    let errs = errs_with(|p| {
        p["spec"]["restartPolicy"] = json!("Sometimes");
        p["spec"]["dnsPolicy"] = json!("Custom");
    });
    let msg = "Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"";
    assert_error(&errs, "spec.restartPolicy", "FieldValueNotSupported", msg);
    let msg = "Unsupported value: \"Custom\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"";
    assert_error(&errs, "spec.dnsPolicy", "FieldValueNotSupported", msg);
}

#[test]
fn env_var_names_are_printable_ascii_without_equals() {
    let errs = errs_with(|p| p["spec"]["containers"][0]["env"][0]["name"] = json!("A=B"));
    let msg = "Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='";
    assert_error(&errs, "spec.containers[0].env[0].name", "FieldValueInvalid", msg);
    let errs = errs_with(|p| p["spec"]["containers"][0]["env"][0]["valueFrom"] = json!({}));
    let msg = "Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`";
    assert_error(
        &errs,
        "spec.containers[0].env[0].valueFrom",
        "FieldValueInvalid",
        msg,
    );
}

#[test]
fn volumes_are_unique_and_mounts_must_name_one() {
    let errs = errs_with(|p| {
        p["spec"]["volumes"][1]["name"] = json!("data");
        p["spec"]["containers"][0]["volumeMounts"] = json!([{"name": "logs", "mountPath": "/logs"}]);
    });
    assert_error(
        &errs,
        "spec.volumes[1].name",
        "FieldValueDuplicate",
        "Duplicate value: \"data\"",
    );
    assert_error(
        &errs,
        "spec.containers[0].volumeMounts[0].name",
        "FieldValueNotFound",
        "Not found: \"logs\"",
    );
    let errs = errs_with(|p| {
        p["spec"]["volumes"][1] =
            json!({"name": "x", "secret": {"secretName": "s"}, "configMap": {"name": "c"}})
    });
    assert_error(
        &errs,
        "spec.volumes[1].configMap",
        "FieldValueForbidden",
        "Forbidden: may not specify more than 1 volume type",
    );
}

#[test]
fn requests_may_not_exceed_limits() {
    let errs = errs_with(|p| p["spec"]["containers"][0]["resources"]["requests"]["cpu"] = json!("1"));
    let msg = "Invalid value: \"1\": must be less than or equal to cpu limit of 500m";
    assert_error(
        &errs,
        "spec.containers[0].resources.requests",
        "FieldValueInvalid",
        msg,
    );
    let errs = errs_with(|p| p["spec"]["containers"][0]["resources"]["limits"]["gpu"] = json!("1"));
    let msg = "Invalid value: \"gpu\": must be a standard resource type or fully qualified";
    assert_error(
        &errs,
        "spec.containers[0].resources.limits[gpu]",
        "FieldValueInvalid",
        msg,
    );
}

#[test]
fn liveness_probes_need_success_threshold_one() {
    let errs = errs_with(|p| p["spec"]["containers"][0]["livenessProbe"]["successThreshold"] = json!(2));
    assert_error(
        &errs,
        "spec.containers[0].livenessProbe.successThreshold",
        "FieldValueInvalid",
        "Invalid value: 2: must be 1",
    );
    let errs = errs_with(|p| p["spec"]["containers"][0]["readinessProbe"] = json!({"periodSeconds": 5}));
    let msg = "Required value: must specify a handler type";
    assert_error(
        &errs,
        "spec.containers[0].readinessProbe",
        "FieldValueRequired",
        msg,
    );
}

#[test]
fn tolerations_follow_operator_rules() {
    let errs = errs_with(|p| {
        p["spec"]["tolerations"] =
            json!([{"key": "k", "operator": "Exists", "value": "v"}, {"operator": "Equal"}])
    });
    let msg = "Invalid value: \"v\": value must be empty when `operator` is 'Exists'";
    assert_error(&errs, "spec.tolerations[0].operator", "FieldValueInvalid", msg);
    let msg = "Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\"";
    assert_error(&errs, "spec.tolerations[1].operator", "FieldValueInvalid", msg);
}

#[test]
fn host_network_ports_must_match() {
    let errs = errs_with(|p| {
        p["spec"]["hostNetwork"] = json!(true);
        p["spec"]["containers"][0]["ports"][0]["hostPort"] = json!(8080);
    });
    let msg = "Invalid value: 8080: must match `containerPort` when `hostNetwork` is true";
    assert_error(
        &errs,
        "spec.containers[0].ports[0].hostPort",
        "FieldValueInvalid",
        msg,
    );
}

#[test]
fn ephemeral_containers_cannot_be_set_on_create() {
    let errs =
        errs_with(|p| p["spec"]["ephemeralContainers"] = json!([{"name": "debug", "image": "busybox"}]));
    assert_error(
        &errs,
        "spec.ephemeralContainers",
        "FieldValueForbidden",
        "Forbidden: cannot be set on create",
    );
}

#[test]
fn pod_updates_may_change_images_and_add_tolerations() {
    let mut new = pod();
    new["spec"]["containers"][0]["image"] = json!("nginx:1.28");
    new["spec"]["tolerations"]
        .as_array_mut()
        .unwrap()
        .push(json!({"key": "k", "operator": "Exists"}));
    new["spec"]["activeDeadlineSeconds"] = json!(60);
    assert_valid(&check_update("", "Pod", true, pod(), new));
}

#[test]
fn pod_updates_may_not_change_other_fields() {
    let mut new = pod();
    new["spec"]["nodeSelector"] = json!({"disk": "ssd"});
    let errs = check_update("", "Pod", true, pod(), new);
    let prefix = "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n";
    assert_error_prefix(&errs, "spec", "FieldValueForbidden", prefix);
    let mut new = pod();
    new["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "b", "image": "b"}));
    let errs = check_update("", "Pod", true, pod(), new);
    assert_error(
        &errs,
        "spec.containers",
        "FieldValueForbidden",
        "Forbidden: pod updates may not add or remove containers",
    );
    let mut new = pod();
    new["spec"]["tolerations"] = json!([]);
    let errs = check_update("", "Pod", true, pod(), new);
    let msg = "Forbidden: existing toleration can not be modified except its tolerationSeconds";
    assert_error(&errs, "spec.tolerations", "FieldValueForbidden", msg);
}

#[test]
fn active_deadline_may_only_decrease() {
    let mut old = pod();
    old["spec"]["activeDeadlineSeconds"] = json!(30);
    let mut new = old.clone();
    new["spec"]["activeDeadlineSeconds"] = json!(60);
    let errs = check_update("", "Pod", true, old, new);
    let msg = "Invalid value: 60: must be less than or equal to previous value";
    assert_error(&errs, "spec.activeDeadlineSeconds", "FieldValueInvalid", msg);
}

#[test]
fn negative_grace_period_may_become_one() {
    let mut old = pod();
    old["spec"]["terminationGracePeriodSeconds"] = json!(-1);
    let mut new = old.clone();
    new["spec"]["terminationGracePeriodSeconds"] = json!(1);
    assert_valid(&check_update("", "Pod", true, old, new));
}

#[test]
fn stored_objects_are_defaulted_before_comparison() {
    // The stored pod predates some defaults: the update must not be blamed for them.
    let old = pod();
    let mut new = pod();
    crate::defaults::default("", "Pod", &mut new);
    new["spec"]["containers"][0]["image"] = json!("nginx:1.28");
    assert_valid(&super::validate("", "Pod", true, &new, Some(&old)));
}
