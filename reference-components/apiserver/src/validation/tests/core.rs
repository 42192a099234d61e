//! core/v1 kinds other than pods and replication controllers.

use serde_json::{Value, json};

use super::{SUBDOMAIN_MSG, assert_error, assert_error_prefix, assert_valid, check, check_update, cm};

fn meta(name: &str) -> Value {
    json!({"name": name, "namespace": "default", "resourceVersion": "1"})
}

fn service(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": meta("web"), "spec": spec})
}

#[test]
fn valid_services_pass() {
    let specs = [
        json!({"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http"}]}),
        json!({"type": "NodePort", "ports": [{"name": "a", "port": 80, "nodePort": 30080}, {"name": "b", "port": 443}]}),
        json!({"type": "LoadBalancer", "ports": [{"port": 80}], "externalTrafficPolicy": "Local", "healthCheckNodePort": 31000}),
        json!({"clusterIP": "None", "selector": {"app": "db"}}),
        json!({"type": "ExternalName", "externalName": "db.example.com."}),
        json!({"clusterIP": "10.0.0.10", "ports": [{"port": 53, "protocol": "UDP"}]}),
    ];
    for spec in specs {
        assert_valid(&check("", "Service", true, service(spec)));
    }
}

#[test]
fn service_ports_are_checked() {
    let errs = check("", "Service", true, service(json!({"selector": {"app": "web"}})));
    assert_error(&errs, "spec.ports", "FieldValueRequired", "Required value");
    let ports =
        json!([{"port": 0}, {"name": "a", "port": 80, "targetPort": "Bad_Name"}, {"name": "a", "port": 81}]);
    let errs = check("", "Service", true, service(json!({"ports": ports})));
    assert_error(
        &errs,
        "spec.ports[0].name",
        "FieldValueRequired",
        "Required value",
    );
    assert_error(
        &errs,
        "spec.ports[0].port",
        "FieldValueInvalid",
        "Invalid value: 0: must be between 1 and 65535, inclusive",
    );
    let msg =
        "Invalid value: \"Bad_Name\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)";
    assert_error(&errs, "spec.ports[1].targetPort", "FieldValueInvalid", msg);
    assert_error(
        &errs,
        "spec.ports[2].name",
        "FieldValueDuplicate",
        "Duplicate value: \"a\"",
    );
}

#[test]
fn service_type_and_node_ports_are_checked() {
    let errs = check(
        "",
        "Service",
        true,
        service(json!({"type": "Ingress", "ports": [{"port": 80}]})),
    );
    let msg = "Unsupported value: \"Ingress\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"";
    assert_error(&errs, "spec.type", "FieldValueNotSupported", msg);
    let errs = check(
        "",
        "Service",
        true,
        service(json!({"ports": [{"port": 80, "nodePort": 30080}]})),
    );
    let msg = "Forbidden: may not be used when `type` is 'ClusterIP'";
    assert_error(&errs, "spec.ports[0].nodePort", "FieldValueForbidden", msg);
    let errs = check(
        "",
        "Service",
        true,
        service(json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 80}]})),
    );
    let msg =
        "Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767";
    assert_error(&errs, "spec.ports[0].nodePort", "FieldValueInvalid", msg);
    let errs = check(
        "",
        "Service",
        true,
        service(json!({"sessionAffinity": "Sticky", "ports": [{"port": 80}]})),
    );
    let msg = "Unsupported value: \"Sticky\": supported values: \"ClientIP\", \"None\"";
    assert_error(&errs, "spec.sessionAffinity", "FieldValueNotSupported", msg);
    let errs = check(
        "",
        "Service",
        true,
        service(json!({"clusterIP": "10.0.0.300", "ports": [{"port": 80}]})),
    );
    let msg = "Invalid value: \"10.0.0.300\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
    assert_error(&errs, "spec.clusterIPs[0]", "FieldValueInvalid", msg);
}

#[test]
fn service_cluster_ip_is_immutable() {
    let old = service(json!({"clusterIP": "10.0.0.10", "ports": [{"port": 80}]}));
    let new = service(json!({"clusterIP": "10.0.0.11", "ports": [{"port": 80}]}));
    let errs = check_update("", "Service", true, old.clone(), new);
    assert_error(
        &errs,
        "spec.clusterIPs[0]",
        "FieldValueInvalid",
        "Invalid value: [\"10.0.0.11\"]: may not change once set",
    );
    // Leaving the allocated IP out of an update keeps it.
    let mut omitted = service(json!({"ports": [{"port": 8080}]}));
    omitted["spec"]["ipFamilies"] = json!(["IPv4"]);
    let errs = check_update("", "Service", true, old, omitted);
    assert!(
        errs.iter().all(|e| !e.field.starts_with("spec.clusterIPs")),
        "{errs:?}"
    );
}

#[test]
fn config_maps_are_checked() {
    let mut obj = cm("settings");
    obj["data"] = json!({"bad key": "x", "dup": "y"});
    obj["binaryData"] = json!({"dup": "eQ=="});
    let errs = check("", "ConfigMap", true, obj);
    let msg = "Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";
    assert_error(&errs, "data[bad key]", "FieldValueInvalid", msg);
    assert_error(
        &errs,
        "data[dup]",
        "FieldValueInvalid",
        "Invalid value: \"dup\": duplicate of key present in binaryData",
    );
    let mut big = cm("big");
    big["data"] = json!({"a": "x".repeat(1024 * 1024 + 1)});
    assert_error(
        &check("", "ConfigMap", true, big),
        "",
        "FieldValueTooLong",
        "Too long: may not be more than 1048576 bytes",
    );
}

#[test]
fn immutable_config_maps_and_secrets_keep_their_data() {
    let mut old = cm("settings");
    old["immutable"] = json!(true);
    let mut new = old.clone();
    new["data"]["k"] = json!("changed");
    let errs = check_update("", "ConfigMap", true, old, new);
    assert_error(
        &errs,
        "data",
        "FieldValueForbidden",
        "Forbidden: field is immutable when `immutable` is set",
    );
    let old = json!({"metadata": meta("s"), "data": {"a": "YQ=="}, "immutable": true});
    let mut new = old.clone();
    new["immutable"] = json!(false);
    new["type"] = json!("kubernetes.io/tls");
    let errs = check_update("", "Secret", true, old, new);
    assert_error(
        &errs,
        "immutable",
        "FieldValueForbidden",
        "Forbidden: field is immutable when `immutable` is set",
    );
    assert_error(
        &errs,
        "type",
        "FieldValueInvalid",
        "Invalid value: \"kubernetes.io/tls\": field is immutable",
    );
}

#[test]
fn secrets_are_checked() {
    let secret = |data: Value, t: &str| json!({"metadata": meta("s"), "type": t, "data": data});
    assert_valid(&check(
        "",
        "Secret",
        true,
        secret(json!({"password": "aHVudGVyMg=="}), "Opaque"),
    ));
    assert_valid(&check(
        "",
        "Secret",
        true,
        secret(json!({}), "example.com/custom"),
    ));
    let errs = check("", "Secret", true, secret(json!({"a": "not*base64"}), "Opaque"));
    let msg = "Invalid value: \"<secret contents redacted>\": illegal base64 data at input byte 3";
    assert_error(&errs, "data[a]", "FieldValueInvalid", msg);
    let errs = check(
        "",
        "Secret",
        true,
        secret(json!({"tls.crt": ""}), "kubernetes.io/tls"),
    );
    assert_error(&errs, "data[tls.key]", "FieldValueRequired", "Required value");
    let errs = check(
        "",
        "Secret",
        true,
        secret(json!({}), "kubernetes.io/service-account-token"),
    );
    let field = "metadata.annotations[kubernetes.io/service-account.name]";
    assert_error(&errs, field, "FieldValueRequired", "Required value");
}

#[test]
fn namespaces_nodes_and_service_accounts() {
    assert_valid(&check(
        "",
        "Namespace",
        false,
        json!({"metadata": {"name": "team-a"}}),
    ));
    assert_valid(&check(
        "",
        "ServiceAccount",
        true,
        json!({"metadata": meta("builder")}),
    ));
    let node = json!({
        "metadata": {"name": "node-1", "resourceVersion": "1"},
        "spec": {"podCIDR": "10.244.1.0/24", "taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]},
        "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"}}
    });
    assert_valid(&check("", "Node", false, node.clone()));
    let mut bad = node.clone();
    bad["spec"]["taints"][0]["effect"] = json!("Never");
    let msg =
        "Unsupported value: \"Never\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"";
    assert_error(
        &check("", "Node", false, bad),
        "metadata.taints[0].effect",
        "FieldValueNotSupported",
        msg,
    );
    let mut moved = node.clone();
    moved["spec"]["podCIDR"] = json!("10.244.2.0/24");
    moved["spec"]["podCIDRs"] = json!(["10.244.2.0/24"]);
    let errs = check_update("", "Node", false, node, moved);
    let msg = "Forbidden: node updates may not change podCIDR except from \"\" to valid";
    assert_error(&errs, "spec.podCIDRs", "FieldValueForbidden", msg);
}

#[test]
fn endpoints_need_real_ips() {
    let ep = |ip: &str| json!({"metadata": meta("web"), "subsets": [{"addresses": [{"ip": ip}], "ports": [{"port": 80}]}]});
    assert_valid(&check("", "Endpoints", true, ep("10.1.2.3")));
    let msg = "Invalid value: \"10.1.2\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
    assert_error(
        &check("", "Endpoints", true, ep("10.1.2")),
        "subsets[0].addresses[0].ip",
        "FieldValueInvalid",
        msg,
    );
    let msg = "Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)";
    assert_error(
        &check("", "Endpoints", true, ep("127.0.0.1")),
        "subsets[0].addresses[0].ip",
        "FieldValueInvalid",
        msg,
    );
}

#[test]
fn legacy_events_check_namespaces() {
    let event = json!({
        "metadata": {"name": "web.17a", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"},
        "reason": "Started", "message": "started", "type": "Normal", "count": 1
    });
    assert_valid(&check("", "Event", true, event.clone()));
    let mut bad = event;
    bad["involvedObject"]["namespace"] = json!("other");
    let msg = "Invalid value: \"other\": does not match event.namespace";
    assert_error(
        &check("", "Event", true, bad),
        "involvedObject.namespace",
        "FieldValueInvalid",
        msg,
    );
}

#[test]
fn quotas_and_limit_ranges_are_checked() {
    let rq = |hard: Value| json!({"metadata": meta("q"), "spec": {"hard": hard}});
    assert_valid(&check(
        "",
        "ResourceQuota",
        true,
        rq(json!({"pods": "10", "requests.cpu": "4", "count/deployments.apps": "5"})),
    ));
    let errs = check(
        "",
        "ResourceQuota",
        true,
        rq(json!({"widgets": "1", "pods": "1.5"})),
    );
    assert_error(
        &errs,
        "spec.hard[widgets]",
        "FieldValueInvalid",
        "Invalid value: \"widgets\": must be a standard resource for quota",
    );
    assert_error(
        &errs,
        "spec.hard[pods]",
        "FieldValueInvalid",
        "Invalid value: \"1500m\": must be an integer",
    );
    let lr = json!({"metadata": meta("l"), "spec": {"limits": [{"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}}]}});
    let errs = check("", "LimitRange", true, lr);
    assert_error(
        &errs,
        "spec.limits[0].min[cpu]",
        "FieldValueInvalid",
        "Invalid value: \"2\": min value 2 is greater than max value 1",
    );
}

#[test]
fn persistent_volumes_and_claims_are_checked() {
    let pv = json!({
        "metadata": {"name": "pv1", "resourceVersion": "1"},
        "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/data"}}
    });
    assert_valid(&check("", "PersistentVolume", false, pv.clone()));
    let mut bad = pv.clone();
    bad["spec"].as_object_mut().unwrap().remove("capacity");
    bad["spec"].as_object_mut().unwrap().remove("hostPath");
    let errs = check("", "PersistentVolume", false, bad);
    assert_error(&errs, "spec.capacity", "FieldValueRequired", "Required value");
    assert_error(
        &errs,
        "spec",
        "FieldValueRequired",
        "Required value: must specify a volume type",
    );
    let mut moved = pv.clone();
    moved["spec"]["hostPath"]["path"] = json!("/other");
    let errs = check_update("", "PersistentVolume", false, pv, moved);
    let prefix = "Forbidden: spec.persistentvolumesource is immutable after creation\n";
    assert_error_prefix(
        &errs,
        "spec.persistentvolumesource",
        "FieldValueForbidden",
        prefix,
    );
    let pvc = json!({"metadata": meta("data"), "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
    assert_valid(&check("", "PersistentVolumeClaim", true, pvc.clone()));
    let mut bad = pvc;
    bad["spec"]["resources"] = json!({});
    bad["spec"]["storageClassName"] = json!("Fast");
    let errs = check("", "PersistentVolumeClaim", true, bad);
    assert_error(
        &errs,
        "spec.resources[storage]",
        "FieldValueRequired",
        "Required value",
    );
    assert_error(
        &errs,
        "spec.storageClassName",
        "FieldValueInvalid",
        &format!("Invalid value: \"Fast\": {SUBDOMAIN_MSG}"),
    );
}
