use std::collections::BTreeMap;

use prost::Message as _;
use serde_json::json;

use super::corev1::{ConfigMap, Namespace, NamespaceSpec, Secret};
use super::meta::{ObjectMeta, OwnerReference};
use super::*;

/// kubectl 1.35's body, captured with `-v=9`.
const KUBECTL_NAMESPACE: &str = "6b3873000a0f0a02763112094e616d657370616365121b0a130a03666f6f12001a0022002a0032003800420012001a020a001a002200";

/// kubectl 1.35's body, captured with `-v=9`.
const KUBECTL_CONFIG_MAP: &str = "6b3873000a0f0a0276311209436f6e6669674d617012260a120a02633112001a0022002a0032003800420012060a016112016212080a026b32120276321a002200";

/// kubectl 1.35's body, captured with `-v=9`.
const KUBECTL_SECRET: &str = "6b3873000a0c0a027631120653656372657412250a120a02733112001a0022002a00320038004200120d0a0475736572120561646d696e1a001a002200";

/// kubectl 1.35's body, captured with `-v=9`.
const KUBECTL_SERVICE_ACCOUNT: &str = "6b3873000a140a027631120e536572766963654163636f756e7412150a130a0373613112001a0022002a003200380042001a002200";

/// kubectl 1.35's body, captured with `-v=9`.
const KUBECTL_RESOURCE_QUOTA: &str = "6b3873000a130a027631120d5265736f7572636551756f746112340a120a02713112001a0022002a00320038004200121c0a0d0a0363707512060a043530306d0a0b0a04706f647312030a01321a001a002200";

/// kubectl 1.35's body for `create rolebinding rb2 --clusterrole=view --serviceaccount=default:robot`.
const KUBECTL_ROLE_BINDING: &str = "6b3873000a2b0a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f7631120b526f6c6542696e64696e6712690a130a0372623212001a0022002a0032003800420012220a0e536572766963654163636f756e7412001a05726f626f74220764656661756c741a2e0a19726261632e617574686f72697a6174696f6e2e6b38732e696f120b436c7573746572526f6c651a04766965771a002200";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.into()),
            kind: Some(kind.into()),
        }),
        raw: Some(raw),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut body = MAGIC.to_vec();
    body.extend(unknown.encode_to_vec());
    body
}

#[test]
fn real_kubectl_bodies_decode() {
    assert_eq!(
        decode(&hex(KUBECTL_NAMESPACE)).unwrap(),
        json!({"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "foo"}, "spec": {}, "status": {}})
    );
    assert_eq!(
        decode(&hex(KUBECTL_CONFIG_MAP)).unwrap(),
        json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c1"}, "data": {"a": "b", "k2": "v2"}})
    );
    assert_eq!(
        decode(&hex(KUBECTL_SECRET)).unwrap(),
        json!({"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "s1"}, "data": {"user": "YWRtaW4="}})
    );
    assert_eq!(
        decode(&hex(KUBECTL_SERVICE_ACCOUNT)).unwrap(),
        json!({"kind": "ServiceAccount", "apiVersion": "v1", "metadata": {"name": "sa1"}})
    );
    assert_eq!(
        decode(&hex(KUBECTL_RESOURCE_QUOTA)).unwrap(),
        json!({"kind": "ResourceQuota", "apiVersion": "v1", "metadata": {"name": "q1"},
               "spec": {"hard": {"cpu": "500m", "pods": "2"}}, "status": {}})
    );
    assert_eq!(
        decode(&hex(KUBECTL_ROLE_BINDING)).unwrap(),
        json!({"kind": "RoleBinding", "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": {"name": "rb2"},
               "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": "default"}],
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}})
    );
}

#[test]
fn every_metadata_field_round_trips() {
    let meta = ObjectMeta {
        name: Some("n".into()),
        generate_name: Some("gen-".into()),
        namespace: Some("ns".into()),
        labels: BTreeMap::from([("app".into(), "web".into())]),
        annotations: BTreeMap::from([("note".into(), "hi".into())]),
        owner_references: vec![OwnerReference {
            kind: Some("Deployment".into()),
            name: Some("web".into()),
            uid: Some("u-1".into()),
            api_version: Some("apps/v1".into()),
            controller: Some(true),
            block_owner_deletion: None,
        }],
        finalizers: vec!["example.com/keep".into()],
        ..Default::default()
    };
    let cm = ConfigMap {
        metadata: Some(meta),
        data: BTreeMap::new(),
        binary_data: BTreeMap::from([("bin".into(), vec![0, 1, 2])]),
        immutable: Some(true),
    };
    let v = decode(&envelope("v1", "ConfigMap", cm.encode_to_vec())).unwrap();
    assert_eq!(
        v["metadata"],
        json!({"name": "n", "generateName": "gen-", "namespace": "ns", "labels": {"app": "web"},
               "annotations": {"note": "hi"}, "finalizers": ["example.com/keep"],
               "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "u-1", "controller": true}]})
    );
    assert_eq!(v["binaryData"], json!({"bin": "AAEC"}));
    assert_eq!(v["immutable"], true);

    let ns = Namespace {
        metadata: Some(ObjectMeta {
            name: Some("x".into()),
            ..Default::default()
        }),
        spec: Some(NamespaceSpec {
            finalizers: vec!["kubernetes".into()],
        }),
        status: None,
    };
    let v = decode(&envelope("v1", "Namespace", ns.encode_to_vec())).unwrap();
    assert_eq!(v["spec"], json!({"finalizers": ["kubernetes"]}));

    let secret = Secret {
        metadata: None,
        data: BTreeMap::new(),
        type_: Some("kubernetes.io/tls".into()),
        string_data: BTreeMap::from([("k".into(), "v".into())]),
        immutable: None,
    };
    let v = decode(&envelope("v1", "Secret", secret.encode_to_vec())).unwrap();
    assert_eq!(v["type"], "kubernetes.io/tls");
    assert_eq!(v["stringData"], json!({"k": "v"}));
}

#[test]
fn what_is_not_decoded_is_refused() {
    // A kind this server does not decode from protobuf: 415.
    let err = decode(&envelope("apps/v1", "Deployment", Vec::new())).unwrap_err();
    assert_eq!(err.status().code, 415);
    assert!(
        err.status().message.contains("Deployment"),
        "{}",
        err.status().message
    );
    // A field the server does not decode (ObjectMeta's managedFields, 17): 415, not dropped.
    let mut raw = vec![0x0a, 0x05, 0x8a, 0x01, 0x02, 0x0a, 0x00];
    raw.extend([0x12, 0x04, 0x0a, 0x00, 0x12, 0x00]);
    let err = decode(&envelope("v1", "ConfigMap", raw)).unwrap_err();
    assert_eq!(err.status().code, 415);
    assert!(err.to_string().contains("field 17 of ObjectMeta"), "{err}");
    // Not Kubernetes protobuf at all: 400.
    assert_eq!(decode(b"{}").unwrap_err().status().code, 400);
    let mut truncated = hex(KUBECTL_NAMESPACE);
    truncated.truncate(20);
    assert_eq!(decode(&truncated).unwrap_err().status().code, 400);
}

#[test]
fn roles_keep_their_rules() {
    use super::rbac::{PolicyRule, Role};
    let role = Role {
        metadata: Some(ObjectMeta {
            name: Some("reader".into()),
            ..Default::default()
        }),
        rules: vec![PolicyRule {
            verbs: vec!["get".into(), "list".into()],
            api_groups: vec![String::new()],
            resources: vec!["pods".into()],
            resource_names: Vec::new(),
            non_resource_urls: Vec::new(),
        }],
    };
    let v = decode(&envelope(
        "rbac.authorization.k8s.io/v1",
        "Role",
        role.encode_to_vec(),
    ))
    .unwrap();
    assert_eq!(
        v["rules"],
        json!([{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}])
    );
}
