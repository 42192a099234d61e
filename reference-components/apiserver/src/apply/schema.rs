//! What server-side apply needs to know about a type: which lists are atomic, sets or
//! associative (and on which keys), which objects are atomic, which fields are declared.
//!
//! kube-apiserver reads this from the OpenAPI schema (`x-kubernetes-list-type`,
//! `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`), falling back to the strategic merge
//! tags (`patchMergeKey` makes an associative list, `patchStrategy: merge` alone a set). Here:
//!
//! - **built-in kinds** walk kube-core's strategic merge tables
//!   ([`FieldStrategy`]), corrected where the list map keys say more than the merge key
//!   (container ports are keyed by `containerPort` *and* `protocol`) and for the atomic structs
//!   of `k8s.io/api` (label selectors, object references, key selectors);
//! - **custom resources** read their structural schema, where a list without
//!   `x-kubernetes-list-type` is atomic;
//! - fields nobody describes (`x-kubernetes-preserve-unknown-fields`) are *deduced*: objects
//!   merge key by key, lists are atomic.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use kube_core::patch::strategic::{FieldStrategy, ListStrategy};
use serde_json::Value;

/// How the items of a list are told apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListType<'a> {
    /// The list is one value: replaced and owned whole.
    Atomic,
    /// A set of scalars, each item owned on its own.
    Set,
    /// An associative list: items are identified by these key fields.
    Map(Vec<&'a str>),
}

/// The type of one value in an object.
#[derive(Debug, Clone, Copy)]
pub enum Ty<'a> {
    /// A field of a built-in kind.
    Builtin(Builtin),
    /// A node of a custom resource's structural schema; `true` for the root and embedded
    /// resources, whose `metadata` is an ObjectMeta.
    Crd(&'a JSONSchemaProps, bool),
    /// Unknown structure (`x-kubernetes-preserve-unknown-fields`): objects are granular maps,
    /// lists atomic.
    Deduced,
}

/// A field of a built-in kind: its strategic merge strategy and what server-side apply adds.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    strategy: FieldStrategy,
    atomic: bool,
    atomic_items: bool,
    name_keys: Option<&'static [&'static str]>,
}

/// Lists whose `x-kubernetes-list-map-keys` are more than their patch merge key, by (field,
/// merge key).
const MAP_KEYS: &[(&str, &str, &[&str])] = &[
    ("ports", "containerPort", &["containerPort", "protocol"]),
    ("ports", "port", &["port", "protocol"]),
    (
        "topologySpreadConstraints",
        "topologyKey",
        &["topologyKey", "whenUnsatisfiable"],
    ),
];

/// Key fields that items may leave out, with the default the server fills in.
const KEY_DEFAULTS: &[(&str, &str)] = &[("protocol", "TCP")];

/// Fields of built-in kinds that hold atomic structs or maps (`+structType=atomic`,
/// `+mapType=atomic`), by name: label selectors (and the map selectors of Services and
/// ReplicationControllers), node selectors, object references and key selectors.
fn is_atomic_field(name: &str) -> bool {
    // A match, not a list scan: this runs for every field of every object written.
    matches!(
        name,
        "selector"
            | "nodeSelector"
            | "podSelector"
            | "namespaceSelector"
            | "labelSelector"
            | "requiredDuringSchedulingIgnoredDuringExecution"
            | "preference"
            | "configMapKeyRef"
            | "secretKeyRef"
            | "fieldRef"
            | "resourceFieldRef"
            | "involvedObject"
            | "related"
            | "regarding"
            | "claimRef"
            | "targetRef"
            | "dataSource"
            | "dataSourceRef"
    )
}

/// Lists of built-in kinds whose items are atomic structs (`OwnerReference`,
/// `LocalObjectReference`).
fn is_atomic_items(name: &str) -> bool {
    matches!(name, "ownerReferences" | "imagePullSecrets")
}

impl Builtin {
    fn new(strategy: FieldStrategy) -> Self {
        Self {
            strategy,
            atomic: false,
            atomic_items: false,
            name_keys: None,
        }
    }

    fn field(self, name: &str) -> Self {
        let strategy = self.strategy.field(name);
        let name_keys = match strategy.list() {
            ListStrategy::MergeOnKey(key) => MAP_KEYS
                .iter()
                .find(|(field, merge_key, _)| *field == name && *merge_key == key)
                .map(|(_, _, keys)| *keys),
            _ => None,
        };
        Self {
            strategy,
            atomic: is_atomic_field(name),
            atomic_items: is_atomic_items(name),
            name_keys,
        }
    }
}

/// The schema of `metadata` (ObjectMeta): finalizers are a set, owner references a map on
/// `uid` with atomic items. Every built-in kind's table describes it the same way.
fn object_meta() -> Ty<'static> {
    let meta = FieldStrategy::of_kind("v1", "ConfigMap").expect("ConfigMap has a strategic merge schema");
    Ty::Builtin(Builtin::new(meta).field("metadata"))
}

impl<'a> Ty<'a> {
    /// The object of a built-in kind. Kinds without a strategic merge table get the one of a
    /// kind whose only merging lists are in its metadata.
    pub fn builtin(api_version: &str, kind: &str) -> Ty<'static> {
        let strategy = FieldStrategy::of_kind(api_version, kind)
            .or_else(|| FieldStrategy::of_kind("v1", "ConfigMap"))
            .expect("ConfigMap has a strategic merge schema");
        Ty::Builtin(Builtin::new(strategy))
    }

    /// The object of a custom resource with this structural schema (`None`: no schema).
    pub fn custom(root: Option<&'a JSONSchemaProps>) -> Ty<'a> {
        root.map_or(Ty::Deduced, |root| Ty::Crd(root, true))
    }

    /// Whether the object is atomic (replaced and owned whole).
    pub fn atomic_object(&self) -> bool {
        match self {
            Ty::Builtin(b) => b.atomic,
            Ty::Crd(s, _) => s.x_kubernetes_map_type.as_deref() == Some("atomic"),
            Ty::Deduced => false,
        }
    }

    /// The type of the field `name` of this object, and whether it is a declared field (not a
    /// key of a map).
    pub fn field(&self, name: &str) -> (Ty<'a>, bool) {
        match self {
            Ty::Builtin(b) => (Ty::Builtin(b.field(name)), true),
            Ty::Crd(_, true) if name == "metadata" => (object_meta(), true),
            Ty::Crd(s, _) => {
                if let Some(prop) = s.properties.as_ref().and_then(|p| p.get(name)) {
                    let resource = prop.x_kubernetes_embedded_resource == Some(true);
                    return (Ty::Crd(prop, resource), true);
                }
                match &s.additional_properties {
                    Some(JSONSchemaPropsOrBool::Schema(a)) => (Ty::Crd(a, false), false),
                    _ => (Ty::Deduced, false),
                }
            }
            Ty::Deduced => (Ty::Deduced, false),
        }
    }

    /// How the items of this list are told apart.
    pub fn list_type(&self) -> ListType<'a> {
        match self {
            Ty::Builtin(b) => match b.strategy.list() {
                ListStrategy::MergeOnKey(key) => match b.name_keys {
                    Some(keys) => ListType::Map(keys.to_vec()),
                    None => ListType::Map(vec![key]),
                },
                ListStrategy::Set => ListType::Set,
                ListStrategy::Replace => ListType::Atomic,
            },
            Ty::Crd(s, _) => match s.x_kubernetes_list_type.as_deref() {
                Some("set") => ListType::Set,
                Some("map") => ListType::Map(
                    s.x_kubernetes_list_map_keys
                        .iter()
                        .flatten()
                        .map(String::as_str)
                        .collect(),
                ),
                _ => ListType::Atomic,
            },
            Ty::Deduced => ListType::Atomic,
        }
    }

    /// The type of the items of this list.
    pub fn item(&self) -> Ty<'a> {
        match self {
            Ty::Builtin(b) => {
                let mut item = Builtin::new(b.strategy.item());
                item.atomic = b.atomic_items;
                Ty::Builtin(item)
            }
            Ty::Crd(s, _) => match &s.items {
                Some(JSONSchemaPropsOrArray::Schema(items)) => {
                    Ty::Crd(items, items.x_kubernetes_embedded_resource == Some(true))
                }
                _ => Ty::Deduced,
            },
            Ty::Deduced => Ty::Deduced,
        }
    }

    /// The value a key field of an item of this list takes when the item leaves it out.
    pub fn key_default(&self, key: &str) -> Option<Value> {
        match self {
            Ty::Builtin(_) => KEY_DEFAULTS
                .iter()
                .find(|(field, _)| *field == key)
                .map(|(_, default)| Value::String((*default).to_string())),
            Ty::Crd(s, _) => match &s.items {
                Some(JSONSchemaPropsOrArray::Schema(items)) => items
                    .properties
                    .as_ref()
                    .and_then(|p| p.get(key))
                    .and_then(|p| p.default.as_ref())
                    .map(|d| d.0.clone()),
                _ => None,
            },
            Ty::Deduced => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn walk<'a>(ty: Ty<'a>, path: &[&str]) -> Ty<'a> {
        path.iter().fold(ty, |ty, step| match *step {
            "[]" => ty.item(),
            name => ty.field(name).0,
        })
    }

    #[test]
    fn builtin_lists_and_atomic_structs() {
        let deploy = Ty::builtin("apps/v1", "Deployment");
        let pod_spec = walk(deploy, &["spec", "template", "spec"]);
        let containers = walk(pod_spec, &["containers"]);
        assert_eq!(containers.list_type(), ListType::Map(vec!["name"]));
        assert_eq!(
            walk(containers, &["[]", "ports"]).list_type(),
            ListType::Map(vec!["containerPort", "protocol"])
        );
        assert_eq!(walk(containers, &["[]", "args"]).list_type(), ListType::Atomic);
        assert_eq!(
            walk(containers, &["[]", "ports"]).key_default("protocol"),
            Some(json!("TCP"))
        );
        assert!(walk(deploy, &["spec", "selector"]).atomic_object());
        assert!(!walk(deploy, &["spec", "template", "metadata", "labels"]).atomic_object());
        assert!(walk(containers, &["[]", "env", "[]", "valueFrom", "secretKeyRef"]).atomic_object());
        let owners = walk(deploy, &["metadata", "ownerReferences"]);
        assert_eq!(owners.list_type(), ListType::Map(vec!["uid"]));
        assert!(owners.item().atomic_object());
        assert_eq!(
            walk(deploy, &["metadata", "finalizers"]).list_type(),
            ListType::Set
        );
        let svc = Ty::builtin("v1", "Service");
        assert_eq!(
            walk(svc, &["spec", "ports"]).list_type(),
            ListType::Map(vec!["port", "protocol"])
        );
        // Kinds without a table still know their metadata.
        let crd = Ty::builtin("apiextensions.k8s.io/v1", "CustomResourceDefinition");
        assert_eq!(walk(crd, &["metadata", "finalizers"]).list_type(), ListType::Set);
        assert_eq!(walk(crd, &["spec", "versions"]).list_type(), ListType::Atomic);
    }

    #[test]
    fn custom_resources_read_their_schema() {
        let schema: JSONSchemaProps = serde_json::from_value(json!({
            "type": "object",
            "properties": {
                "spec": {"type": "object", "properties": {
                    "ports": {"type": "array", "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["port", "protocol"],
                        "items": {"type": "object", "properties": {
                            "port": {"type": "integer"},
                            "protocol": {"type": "string", "default": "TCP"}}}},
                    "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                    "args": {"type": "array", "items": {"type": "string"}},
                    "ref": {"type": "object", "x-kubernetes-map-type": "atomic"},
                    "extra": {"type": "object", "additionalProperties": {"type": "string"}},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                }}
            }
        }))
        .unwrap();
        let root = Ty::custom(Some(&schema));
        let spec = root.field("spec").0;
        let ports = spec.field("ports").0;
        assert_eq!(ports.list_type(), ListType::Map(vec!["port", "protocol"]));
        assert_eq!(ports.key_default("protocol"), Some(json!("TCP")));
        assert_eq!(spec.field("tags").0.list_type(), ListType::Set);
        assert_eq!(spec.field("args").0.list_type(), ListType::Atomic);
        assert!(spec.field("ref").0.atomic_object());
        assert!(spec.field("ports").1, "declared");
        assert!(
            !spec.field("extra").0.field("k").1,
            "map keys are not declared fields"
        );
        assert!(!spec.field("free").0.field("k").1);
        assert_eq!(
            root.field("metadata").0.field("finalizers").0.list_type(),
            ListType::Set
        );
    }
}
