//! Tests of validation: message formats and metadata here, kinds in the submodules.

mod apps;
mod core;
mod other;
mod pod;

use serde_json::{Value, json};

use super::{FieldError, FieldErrorKind, Path, invalid_message, render_value, validate};
use crate::defaults::default;

pub(super) const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
pub(super) const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

/// Defaults then validates a create, as the write handler does.
pub(super) fn check(group: &str, kind: &str, namespaced: bool, mut obj: Value) -> Vec<FieldError> {
    default(group, kind, &mut obj);
    validate(group, kind, namespaced, &obj, None)
}

/// Defaults both objects then validates an update.
pub(super) fn check_update(
    group: &str,
    kind: &str,
    namespaced: bool,
    mut old: Value,
    mut new: Value,
) -> Vec<FieldError> {
    default(group, kind, &mut old);
    default(group, kind, &mut new);
    validate(group, kind, namespaced, &new, Some(&old))
}

/// Asserts that the object is valid.
pub(super) fn assert_valid(errs: &[FieldError]) {
    let rendered: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert!(errs.is_empty(), "unexpected errors: {rendered:#?}");
}

/// Asserts that some error has exactly this field, reason and message.
pub(super) fn assert_error(errs: &[FieldError], field: &str, reason: &str, message: &str) {
    let found = errs.iter().any(|e| {
        let c = e.to_cause();
        c.field == field && c.reason == reason && c.message == message
    });
    let rendered: Vec<String> = errs
        .iter()
        .map(|e| format!("{} [{}]", e, e.kind.reason()))
        .collect();
    assert!(
        found,
        "no {reason} at {field} with message {message:?}; got {rendered:#?}"
    );
}

/// Asserts that some error is at `field` with `reason` and a message starting with `prefix`.
pub(super) fn assert_error_prefix(errs: &[FieldError], field: &str, reason: &str, prefix: &str) {
    let found = errs.iter().any(|e| {
        let c = e.to_cause();
        c.field == field && c.reason == reason && c.message.starts_with(prefix)
    });
    let rendered: Vec<String> = errs
        .iter()
        .map(|e| format!("{} [{}]", e, e.kind.reason()))
        .collect();
    assert!(
        found,
        "no {reason} at {field} starting {prefix:?}; got {rendered:#?}"
    );
}

pub(super) fn cm(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}, "data": {"k": "v"}})
}

#[test]
fn causes_render_like_kubernetes() {
    let p = Path::new("spec").child("containers").index(0).child("image");
    let cases = [
        (
            FieldError::required(&p, ""),
            "FieldValueRequired",
            "Required value",
        ),
        (
            FieldError::required(&p, "must be set"),
            "FieldValueRequired",
            "Required value: must be set",
        ),
        (
            FieldError::invalid(&p, "Foo", "bad"),
            "FieldValueInvalid",
            "Invalid value: \"Foo\": bad",
        ),
        (
            FieldError::invalid(&p, -1, "must be greater than or equal to 0"),
            "FieldValueInvalid",
            "Invalid value: -1: must be greater than or equal to 0",
        ),
        (
            FieldError::invalid(&p, json!({"app": "x"}), "no"),
            "FieldValueInvalid",
            "Invalid value: {\"app\":\"x\"}: no",
        ),
        (
            FieldError::invalid(&p, Value::Null, "no"),
            "FieldValueInvalid",
            "Invalid value: null: no",
        ),
        (
            FieldError::forbidden(&p, "not allowed"),
            "FieldValueForbidden",
            "Forbidden: not allowed",
        ),
        (
            FieldError::not_supported(&p, "X", &["Always", "Never", "OnFailure"]),
            "FieldValueNotSupported",
            "Unsupported value: \"X\": supported values: \"Always\", \"Never\", \"OnFailure\"",
        ),
        (
            FieldError::too_long(&p, 262144),
            "FieldValueTooLong",
            "Too long: may not be more than 262144 bytes",
        ),
        (
            FieldError::too_many(&p, 101, 100),
            "FieldValueTooMany",
            "Too many: 101: must have at most 100 items",
        ),
        (
            FieldError::duplicate(&p, "web"),
            "FieldValueDuplicate",
            "Duplicate value: \"web\"",
        ),
        (
            FieldError::not_found(&p, "data"),
            "FieldValueNotFound",
            "Not found: \"data\"",
        ),
    ];
    for (err, reason, message) in cases {
        let cause = err.to_cause();
        assert_eq!(
            (
                cause.field.as_str(),
                cause.reason.as_str(),
                cause.message.as_str()
            ),
            ("spec.containers[0].image", reason, message)
        );
    }
    assert!(matches!(
        FieldError::too_long(&p, 1).kind,
        FieldErrorKind::TooLong(1)
    ));
    assert_eq!(
        FieldError::too_long(&p, 1).body(),
        "Too long: may not be more than 1 byte"
    );
}

#[test]
fn values_and_paths_render_like_go() {
    assert_eq!(render_value(&json!("a\"b\\c\n")), "\"a\\\"b\\\\c\\n\"");
    assert_eq!(render_value(&json!(3)), "3");
    assert_eq!(render_value(&json!(true)), "true");
    assert_eq!(render_value(&json!(["a"])), "[\"a\"]");
    let p = Path::new("metadata").child("annotations").key("example.com/x");
    assert_eq!(p.to_string(), "metadata.annotations[example.com/x]");
    assert_eq!(Path::new("").child("data").to_string(), "data");
}

#[test]
fn invalid_message_aggregates_like_new_invalid() {
    let p = Path::new("spec").child("replicas");
    let one = vec![FieldError::invalid(&p, -1, "must be greater than or equal to 0")];
    assert_eq!(
        invalid_message("apps", "Deployment", "web", &one),
        "Deployment.apps \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"
    );
    let two = vec![
        one[0].clone(),
        FieldError::required(&Path::new("spec").child("selector"), ""),
        one[0].clone(),
    ];
    assert_eq!(
        invalid_message("", "Pod", "p", &two),
        "Pod \"p\" is invalid: [spec.replicas: Invalid value: -1: must be greater than or equal to 0, spec.selector: Required value]"
    );
}

#[test]
fn valid_config_map_passes() {
    assert_valid(&check("", "ConfigMap", true, cm("settings")));
}

#[test]
fn name_is_required() {
    let errs = check(
        "",
        "ConfigMap",
        true,
        json!({"metadata": {"namespace": "default"}}),
    );
    assert_error(
        &errs,
        "metadata.name",
        "FieldValueRequired",
        "Required value: name or generateName is required",
    );
}

#[test]
fn names_follow_each_kinds_rule() {
    let errs = check("", "ConfigMap", true, cm("Bad_Name"));
    assert_error(
        &errs,
        "metadata.name",
        "FieldValueInvalid",
        &format!("Invalid value: \"Bad_Name\": {SUBDOMAIN_MSG}"),
    );
    let ns = |name: &str| check("", "Namespace", false, json!({"metadata": {"name": name}}));
    assert_valid(&ns("team-a"));
    assert_error(
        &ns("a.b"),
        "metadata.name",
        "FieldValueInvalid",
        "Invalid value: \"a.b\": must not contain dots",
    );
    assert_error(
        &ns("Team"),
        "metadata.name",
        "FieldValueInvalid",
        &format!("Invalid value: \"Team\": {LABEL_MSG}"),
    );
    let svc =
        json!({"metadata": {"name": "1web", "namespace": "default"}, "spec": {"ports": [{"port": 80}]}});
    let msg = "Invalid value: \"1web\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
    assert_error(
        &check("", "Service", true, svc),
        "metadata.name",
        "FieldValueInvalid",
        msg,
    );
    let role = |name: &str| {
        check(
            "rbac.authorization.k8s.io",
            "ClusterRole",
            false,
            json!({"metadata": {"name": name}}),
        )
    };
    assert_valid(&role("system:controller:Foo"));
    assert_error(
        &role("a/b"),
        "metadata.name",
        "FieldValueInvalid",
        "Invalid value: \"a/b\": may not contain '/'",
    );
    assert_error(
        &role(".."),
        "metadata.name",
        "FieldValueInvalid",
        "Invalid value: \"..\": may not be '..'",
    );
}

#[test]
fn namespace_required_or_forbidden_by_scope() {
    let errs = check("", "ConfigMap", true, json!({"metadata": {"name": "a"}}));
    assert_error(
        &errs,
        "metadata.namespace",
        "FieldValueRequired",
        "Required value",
    );
    let errs = check(
        "",
        "Node",
        false,
        json!({"metadata": {"name": "n1", "namespace": "default"}}),
    );
    assert_error(
        &errs,
        "metadata.namespace",
        "FieldValueForbidden",
        "Forbidden: not allowed on this type",
    );
}

#[test]
fn labels_and_annotations_are_checked() {
    let mut obj = cm("a");
    obj["metadata"]["labels"] = json!({"app": "bad value", "-x": "ok"});
    let errs = check("", "ConfigMap", true, obj);
    let value_msg = "Invalid value: \"bad value\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
    assert_error(&errs, "metadata.labels", "FieldValueInvalid", value_msg);
    assert_error_prefix(
        &errs,
        "metadata.labels",
        "FieldValueInvalid",
        "Invalid value: \"-x\": name part must consist of",
    );
    let mut obj = cm("a");
    obj["metadata"]["annotations"] = json!({"big": "x".repeat(256 * 1024), "Example.com/Key": "fine"});
    let errs = check("", "ConfigMap", true, obj);
    assert_eq!(errs.len(), 1);
    assert_error(
        &errs,
        "metadata.annotations",
        "FieldValueTooLong",
        "Too long: may not be more than 262144 bytes",
    );
}

#[test]
fn finalizers_and_owner_references_are_checked() {
    let mut obj = cm("a");
    obj["metadata"]["finalizers"] = json!(["custom"]);
    obj["metadata"]["ownerReferences"] =
        json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs"}]);
    let errs = check("", "ConfigMap", true, obj.clone());
    let msg =
        "Invalid value: \"custom\": name is neither a standard finalizer name nor is it fully qualified";
    assert_error(&errs, "metadata.finalizers[0]", "FieldValueInvalid", msg);
    assert_error(
        &errs,
        "metadata.ownerReferences.uid",
        "FieldValueInvalid",
        "Invalid value: \"\": must not be empty",
    );
    // Custom resources use apimachinery's rules only: no standard-finalizer check.
    let errs = check("example.com", "Widget", true, obj);
    assert_eq!(errs.len(), 1, "{errs:?}");
}

#[test]
fn custom_resources_get_metadata_validation_only() {
    let cr = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "default"}, "spec": {"anything": [1, 2]}});
    assert_valid(&check("example.com", "Widget", true, cr.clone()));
    let mut bad = cr;
    bad["metadata"]["name"] = json!("W");
    assert_error(
        &check("example.com", "Widget", true, bad),
        "metadata.name",
        "FieldValueInvalid",
        &format!("Invalid value: \"W\": {SUBDOMAIN_MSG}"),
    );
}

#[test]
fn identity_fields_are_immutable_on_update() {
    let mut old = cm("a");
    old["metadata"]["uid"] = json!("u1");
    old["metadata"]["resourceVersion"] = json!("5");
    old["metadata"]["creationTimestamp"] = json!("2024-01-01T00:00:00Z");
    old["metadata"]["generation"] = json!(3);
    let mut new = old.clone();
    new["metadata"]["name"] = json!("b");
    new["metadata"]["uid"] = json!("u2");
    new["metadata"]["creationTimestamp"] = json!("2025-01-01T00:00:00Z");
    new["metadata"]["generation"] = json!(2);
    let errs = check_update("", "ConfigMap", true, old.clone(), new);
    assert_error(
        &errs,
        "metadata.name",
        "FieldValueInvalid",
        "Invalid value: \"b\": field is immutable",
    );
    assert_error(
        &errs,
        "metadata.uid",
        "FieldValueInvalid",
        "Invalid value: \"u2\": field is immutable",
    );
    assert_error(
        &errs,
        "metadata.creationTimestamp",
        "FieldValueInvalid",
        "Invalid value: \"2025-01-01T00:00:00Z\": field is immutable",
    );
    assert_error(
        &errs,
        "metadata.generation",
        "FieldValueInvalid",
        "Invalid value: 2: must not be decremented",
    );
    // Omitted uid and creationTimestamp are filled in by the apiserver, so they are accepted.
    let mut same = old.clone();
    same["metadata"].as_object_mut().unwrap().remove("uid");
    same["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("creationTimestamp");
    assert_valid(&check_update("", "ConfigMap", true, old, same));
}

#[test]
fn no_new_finalizers_while_deleting() {
    let mut old = cm("a");
    old["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
    old["metadata"]["finalizers"] = json!(["kubernetes"]);
    let mut new = old.clone();
    new["metadata"]["finalizers"] = json!(["kubernetes", "example.com/x"]);
    let errs = check_update("", "ConfigMap", true, old, new);
    let msg = "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"example.com/x\"}";
    assert_error(&errs, "metadata.finalizers", "FieldValueForbidden", msg);
}

#[test]
fn paths_print_as_kubernetes_prints_them() {
    let spec = Path::new("").child("spec");
    assert_eq!(spec.to_string(), "spec");
    let c = spec.child("containers").index(0).child("ports").index(1234);
    assert_eq!(c.to_string(), "spec.containers[0].ports[1234]");
    assert_eq!(
        spec.child("nodeSelector").key("a/b").to_string(),
        "spec.nodeSelector[a/b]"
    );
    assert_eq!(
        Path::new("x").index(usize::MAX).to_string(),
        format!("x[{}]", usize::MAX)
    );
}
