//! Leases, EndpointSlices, events.k8s.io Events, HPAs, Ingresses, IngressClasses,
//! StorageClasses and RBAC.

use serde_json::{Value, json};

use super::{assert_error, assert_valid, check, check_update};

fn meta(name: &str) -> Value {
    json!({"name": name, "namespace": "default", "resourceVersion": "1"})
}

#[test]
fn leases_are_checked() {
    let lease = json!({"metadata": meta("leader"), "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15, "leaseTransitions": 0}});
    assert_valid(&check("coordination.k8s.io", "Lease", true, lease.clone()));
    let mut bad = lease;
    bad["spec"]["leaseDurationSeconds"] = json!(0);
    let errs = check("coordination.k8s.io", "Lease", true, bad);
    assert_error(
        &errs,
        "spec.leaseDurationSeconds",
        "FieldValueInvalid",
        "Invalid value: 0: must be greater than 0",
    );
}

#[test]
fn endpoint_slices_are_checked() {
    let slice = json!({
        "metadata": meta("web-abc"), "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.1.2.3"], "conditions": {"ready": true}}],
        "ports": [{"name": "http", "port": 80}]
    });
    assert_valid(&check("discovery.k8s.io", "EndpointSlice", true, slice.clone()));
    let mut bad = slice.clone();
    bad["endpoints"][0]["addresses"] = json!(["fe80::1"]);
    let errs = check("discovery.k8s.io", "EndpointSlice", true, bad);
    assert_error(
        &errs,
        "endpoints[0].addresses[0]",
        "FieldValueInvalid",
        "Invalid value: \"fe80::1\": must be a valid IPv4 address",
    );
    let mut many = slice.clone();
    many["endpoints"][0]["addresses"] =
        json!((0..101).map(|i| format!("10.0.0.{}", i + 1)).collect::<Vec<_>>());
    let errs = check("discovery.k8s.io", "EndpointSlice", true, many);
    assert_error(
        &errs,
        "endpoints[0].addresses",
        "FieldValueTooMany",
        "Too many: 101: must have at most 100 items",
    );
    let mut retyped = slice.clone();
    retyped["addressType"] = json!("IPv6");
    retyped["endpoints"] = json!([]);
    let errs = check_update("discovery.k8s.io", "EndpointSlice", true, slice, retyped);
    assert_error(
        &errs,
        "addressType",
        "FieldValueInvalid",
        "Invalid value: \"IPv6\": field is immutable",
    );
}

#[test]
fn events_k8s_io_events_are_strict() {
    let event = json!({
        "apiVersion": "events.k8s.io/v1", "metadata": meta("web.1"),
        "eventTime": "2024-01-01T00:00:00.000000Z", "reportingController": "example.com/ctl",
        "reportingInstance": "ctl-1", "action": "Scale", "reason": "Scaled", "type": "Normal",
        "regarding": {"kind": "Deployment", "name": "web", "namespace": "default"}
    });
    assert_valid(&check("events.k8s.io", "Event", true, event.clone()));
    let mut bad = event;
    bad["type"] = json!("Info");
    bad.as_object_mut().unwrap().remove("reportingController");
    bad["deprecatedCount"] = json!(3);
    let errs = check("events.k8s.io", "Event", true, bad);
    assert_error(
        &errs,
        "reportingController",
        "FieldValueRequired",
        "Required value",
    );
    assert_error(
        &errs,
        "type",
        "FieldValueInvalid",
        "Invalid value: \"\": has invalid value: Info",
    );
    assert_error(
        &errs,
        "count",
        "FieldValueInvalid",
        "Invalid value: \"\": needs to be unset",
    );
}

#[test]
fn horizontal_pod_autoscalers_are_checked() {
    let hpa = json!({
        "apiVersion": "autoscaling/v2", "metadata": meta("web"),
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 5}
    });
    assert_valid(&check(
        "autoscaling",
        "HorizontalPodAutoscaler",
        true,
        hpa.clone(),
    ));
    let mut bad = hpa;
    bad["spec"]["minReplicas"] = json!(0);
    bad["spec"]["scaleTargetRef"]["name"] = json!("");
    bad["spec"]["metrics"] = json!([{"type": "Resource"}]);
    let errs = check("autoscaling", "HorizontalPodAutoscaler", true, bad);
    assert_error(
        &errs,
        "spec.minReplicas",
        "FieldValueInvalid",
        "Invalid value: 0: must be greater than or equal to 1",
    );
    assert_error(
        &errs,
        "spec.scaleTargetRef.name",
        "FieldValueRequired",
        "Required value",
    );
    let msg = "Required value: must populate information for the given metric source";
    assert_error(&errs, "spec.metrics[0].resource", "FieldValueRequired", msg);
}

#[test]
fn ingresses_are_checked() {
    let rule = json!({"host": "web.example.com", "http": {"paths": [{
        "path": "/", "pathType": "Prefix",
        "backend": {"service": {"name": "web", "port": {"number": 80}}}
    }]}});
    let ingress = json!({"metadata": meta("web"), "spec": {"ingressClassName": "nginx", "rules": [rule]}});
    assert_valid(&check("networking.k8s.io", "Ingress", true, ingress.clone()));
    let errs = check(
        "networking.k8s.io",
        "Ingress",
        true,
        json!({"metadata": meta("web"), "spec": {}}),
    );
    let msg = "Invalid value: null: either `defaultBackend` or `rules` must be specified";
    assert_error(&errs, "spec", "FieldValueInvalid", msg);
    let mut bad = ingress;
    bad["spec"]["rules"][0]["host"] = json!("10.0.0.1");
    bad["spec"]["rules"][0]["http"]["paths"][0]["path"] = json!("web");
    bad["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] = json!({});
    let errs = check("networking.k8s.io", "Ingress", true, bad);
    let msg = "Invalid value: \"10.0.0.1\": must be a DNS name, not an IP address";
    assert_error(&errs, "spec.rules[0].host", "FieldValueInvalid", msg);
    let msg = "Invalid value: \"web\": must be an absolute path";
    assert_error(
        &errs,
        "spec.rules[0].http.paths[0].path",
        "FieldValueInvalid",
        msg,
    );
    let msg = "Required value: port name or number is required";
    assert_error(
        &errs,
        "spec.rules[0].http.paths[0].backend",
        "FieldValueRequired",
        msg,
    );
}

#[test]
fn ingress_classes_are_checked() {
    let class =
        |c: &str| json!({"metadata": {"name": "nginx", "resourceVersion": "1"}, "spec": {"controller": c}});
    assert_valid(&check(
        "networking.k8s.io",
        "IngressClass",
        false,
        class("k8s.io/ingress-nginx"),
    ));
    let errs = check("networking.k8s.io", "IngressClass", false, class("nginx"));
    let msg = "Invalid value: \"nginx\": must be a domain-prefixed path (such as \"acme.io/foo\")";
    assert_error(&errs, "spec.controller", "FieldValueInvalid", msg);
    let errs = check_update(
        "networking.k8s.io",
        "IngressClass",
        false,
        class("k8s.io/a"),
        class("k8s.io/b"),
    );
    assert_error(
        &errs,
        "spec.controller",
        "FieldValueInvalid",
        "Invalid value: \"k8s.io/b\": field is immutable",
    );
}

#[test]
fn storage_classes_are_checked() {
    let sc = json!({"metadata": {"name": "fast", "resourceVersion": "1"}, "provisioner": "example.com/disk", "parameters": {"type": "ssd"}});
    assert_valid(&check("storage.k8s.io", "StorageClass", false, sc.clone()));
    let mut other = sc.clone();
    other["provisioner"] = json!("example.com/other");
    let errs = check_update("storage.k8s.io", "StorageClass", false, sc.clone(), other);
    assert_error(
        &errs,
        "provisioner",
        "FieldValueForbidden",
        "Forbidden: updates to provisioner are forbidden.",
    );
    let mut bad = sc;
    bad["reclaimPolicy"] = json!("Recycle");
    let errs = check("storage.k8s.io", "StorageClass", false, bad);
    let msg = "Unsupported value: \"Recycle\": supported values: \"Delete\", \"Retain\"";
    assert_error(&errs, "reclaimPolicy", "FieldValueNotSupported", msg);
}

#[test]
fn rbac_objects_are_checked() {
    let group = "rbac.authorization.k8s.io";
    let role = json!({"metadata": meta("reader"), "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]});
    assert_valid(&check(group, "Role", true, role));
    let bad = json!({"metadata": meta("r"), "rules": [{"apiGroups": [""], "resources": ["pods"]}, {"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]});
    let errs = check(group, "Role", true, bad);
    let msg = "Required value: verbs must contain at least one value";
    assert_error(&errs, "rules[0].verbs", "FieldValueRequired", msg);
    let msg = "Invalid value: [\"/healthz\"]: namespaced rules cannot apply to non-resource URLs";
    assert_error(&errs, "rules[1].nonResourceURLs", "FieldValueInvalid", msg);
    let binding = json!({
        "metadata": meta("read"),
        "roleRef": {"kind": "Role", "name": "reader"},
        "subjects": [{"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "name": "ci"}]
    });
    assert_valid(&check(group, "RoleBinding", true, binding.clone()));
    let mut moved = binding.clone();
    moved["roleRef"]["name"] = json!("writer");
    let errs = check_update(group, "RoleBinding", true, binding.clone(), moved);
    let msg = "Invalid value: {\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"Role\",\"name\":\"writer\"}: cannot change roleRef";
    assert_error(&errs, "roleRef", "FieldValueInvalid", msg);
    let mut bad = binding;
    bad["subjects"][0]["kind"] = json!("Robot");
    let errs = check(group, "ClusterRoleBinding", false, {
        let mut b = bad;
        b["metadata"].as_object_mut().unwrap().remove("namespace");
        b
    });
    let msg = "Unsupported value: \"Robot\": supported values: \"ServiceAccount\", \"User\", \"Group\"";
    assert_error(&errs, "subjects[0].kind", "FieldValueNotSupported", msg);
    assert_error(
        &errs,
        "subjects[1].namespace",
        "FieldValueRequired",
        "Required value",
    );
    let msg = "Unsupported value: \"Role\": supported values: \"ClusterRole\"";
    assert_error(&errs, "roleRef.kind", "FieldValueNotSupported", msg);
}
