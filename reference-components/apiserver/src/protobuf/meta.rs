//! `k8s.io/apimachinery/pkg/apis/meta/v1` messages (field numbers from its `generated.proto`),
//! and core/v1's object references, with their JSON forms.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::wire::Shape;

/// `metav1.Time`: seconds and nanos since the epoch.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Time {
    /// Seconds since the epoch.
    #[prost(int64, optional, tag = "1")]
    pub seconds: Option<i64>,
    /// Nanoseconds.
    #[prost(int32, optional, tag = "2")]
    pub nanos: Option<i32>,
}

/// The shape of [`Time`].
pub static TIME: Shape = Shape {
    name: "Time",
    fields: &[(1, None), (2, None)],
};

impl Time {
    /// RFC 3339 at whole seconds, as Kubernetes writes `metav1.Time`; `None` for the zero time
    /// (an empty message, which Go sends for unset times).
    pub fn to_rfc3339(&self) -> Option<String> {
        let seconds = self.seconds.unwrap_or_default();
        if seconds == 0 && self.nanos.unwrap_or_default() == 0 {
            return None;
        }
        jiff::Timestamp::from_second(seconds)
            .ok()
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
    }
}

/// `metav1.OwnerReference`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OwnerReference {
    /// Kind.
    #[prost(string, optional, tag = "1")]
    pub kind: Option<String>,
    /// Name.
    #[prost(string, optional, tag = "3")]
    pub name: Option<String>,
    /// UID.
    #[prost(string, optional, tag = "4")]
    pub uid: Option<String>,
    /// API version.
    #[prost(string, optional, tag = "5")]
    pub api_version: Option<String>,
    /// Whether it is the managing controller.
    #[prost(bool, optional, tag = "6")]
    pub controller: Option<bool>,
    /// Whether it blocks the owner's foreground deletion.
    #[prost(bool, optional, tag = "7")]
    pub block_owner_deletion: Option<bool>,
}

/// The shape of [`OwnerReference`].
pub static OWNER_REFERENCE: Shape = Shape {
    name: "OwnerReference",
    fields: &[(1, None), (3, None), (4, None), (5, None), (6, None), (7, None)],
};

/// `metav1.ObjectMeta`, without `managedFields` (which kubectl's create commands never send).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ObjectMeta {
    /// Name.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    /// Prefix of a generated name.
    #[prost(string, optional, tag = "2")]
    pub generate_name: Option<String>,
    /// Namespace.
    #[prost(string, optional, tag = "3")]
    pub namespace: Option<String>,
    /// Self link (ignored by servers).
    #[prost(string, optional, tag = "4")]
    pub self_link: Option<String>,
    /// UID.
    #[prost(string, optional, tag = "5")]
    pub uid: Option<String>,
    /// Resource version.
    #[prost(string, optional, tag = "6")]
    pub resource_version: Option<String>,
    /// Generation.
    #[prost(int64, optional, tag = "7")]
    pub generation: Option<i64>,
    /// Creation time.
    #[prost(message, optional, tag = "8")]
    pub creation_timestamp: Option<Time>,
    /// Deletion time.
    #[prost(message, optional, tag = "9")]
    pub deletion_timestamp: Option<Time>,
    /// Grace period of a deletion.
    #[prost(int64, optional, tag = "10")]
    pub deletion_grace_period_seconds: Option<i64>,
    /// Labels.
    #[prost(btree_map = "string, string", tag = "11")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[prost(btree_map = "string, string", tag = "12")]
    pub annotations: BTreeMap<String, String>,
    /// Owner references.
    #[prost(message, repeated, tag = "13")]
    pub owner_references: Vec<OwnerReference>,
    /// Finalizers.
    #[prost(string, repeated, tag = "14")]
    pub finalizers: Vec<String>,
}

/// The shape of [`ObjectMeta`].
pub static OBJECT_META: Shape = Shape {
    name: "ObjectMeta",
    fields: &[
        (1, None),
        (2, None),
        (3, None),
        (4, None),
        (5, None),
        (6, None),
        (7, None),
        (8, Some(&TIME)),
        (9, Some(&TIME)),
        (10, None),
        (11, None),
        (12, None),
        (13, Some(&OWNER_REFERENCE)),
        (14, None),
    ],
};

/// Insert `value` under `key` unless it is absent or empty (Go's `omitempty`).
pub fn put(map: &mut Map<String, Value>, key: &str, value: Option<&String>) {
    if let Some(v) = value.filter(|v| !v.is_empty()) {
        map.insert(key.into(), json!(v));
    }
}

/// Insert a map of strings unless empty.
pub fn put_map(map: &mut Map<String, Value>, key: &str, value: &BTreeMap<String, String>) {
    if !value.is_empty() {
        map.insert(key.into(), json!(value));
    }
}

impl ObjectMeta {
    /// The JSON form, empty fields left out.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        put(&mut m, "name", self.name.as_ref());
        put(&mut m, "generateName", self.generate_name.as_ref());
        put(&mut m, "namespace", self.namespace.as_ref());
        put(&mut m, "selfLink", self.self_link.as_ref());
        put(&mut m, "uid", self.uid.as_ref());
        put(&mut m, "resourceVersion", self.resource_version.as_ref());
        if let Some(g) = self.generation.filter(|g| *g != 0) {
            m.insert("generation".into(), json!(g));
        }
        if let Some(t) = self.creation_timestamp.as_ref().and_then(Time::to_rfc3339) {
            m.insert("creationTimestamp".into(), json!(t));
        }
        if let Some(t) = self.deletion_timestamp.as_ref().and_then(Time::to_rfc3339) {
            m.insert("deletionTimestamp".into(), json!(t));
        }
        if let Some(s) = self.deletion_grace_period_seconds {
            m.insert("deletionGracePeriodSeconds".into(), json!(s));
        }
        put_map(&mut m, "labels", &self.labels);
        put_map(&mut m, "annotations", &self.annotations);
        if !self.owner_references.is_empty() {
            let refs: Vec<Value> = self
                .owner_references
                .iter()
                .map(|r| {
                    let mut o = json!({
                        "apiVersion": r.api_version.clone().unwrap_or_default(),
                        "kind": r.kind.clone().unwrap_or_default(),
                        "name": r.name.clone().unwrap_or_default(),
                        "uid": r.uid.clone().unwrap_or_default(),
                    });
                    if let Some(c) = r.controller {
                        o["controller"] = json!(c);
                    }
                    if let Some(b) = r.block_owner_deletion {
                        o["blockOwnerDeletion"] = json!(b);
                    }
                    o
                })
                .collect();
            m.insert("ownerReferences".into(), Value::Array(refs));
        }
        if !self.finalizers.is_empty() {
            m.insert("finalizers".into(), json!(self.finalizers));
        }
        Value::Object(m)
    }
}

/// core/v1 `ObjectReference`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ObjectReference {
    /// Kind.
    #[prost(string, optional, tag = "1")]
    pub kind: Option<String>,
    /// Namespace.
    #[prost(string, optional, tag = "2")]
    pub namespace: Option<String>,
    /// Name.
    #[prost(string, optional, tag = "3")]
    pub name: Option<String>,
    /// UID.
    #[prost(string, optional, tag = "4")]
    pub uid: Option<String>,
    /// API version.
    #[prost(string, optional, tag = "5")]
    pub api_version: Option<String>,
    /// Resource version.
    #[prost(string, optional, tag = "6")]
    pub resource_version: Option<String>,
    /// Field path.
    #[prost(string, optional, tag = "7")]
    pub field_path: Option<String>,
}

/// The shape of [`ObjectReference`].
pub static OBJECT_REFERENCE: Shape = Shape {
    name: "ObjectReference",
    fields: &[
        (1, None),
        (2, None),
        (3, None),
        (4, None),
        (5, None),
        (6, None),
        (7, None),
    ],
};

impl ObjectReference {
    /// The JSON form, empty fields left out.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        put(&mut m, "kind", self.kind.as_ref());
        put(&mut m, "namespace", self.namespace.as_ref());
        put(&mut m, "name", self.name.as_ref());
        put(&mut m, "uid", self.uid.as_ref());
        put(&mut m, "apiVersion", self.api_version.as_ref());
        put(&mut m, "resourceVersion", self.resource_version.as_ref());
        put(&mut m, "fieldPath", self.field_path.as_ref());
        Value::Object(m)
    }
}

/// core/v1 `LocalObjectReference`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LocalObjectReference {
    /// Name.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
}

/// The shape of [`LocalObjectReference`].
pub static LOCAL_OBJECT_REFERENCE: Shape = Shape {
    name: "LocalObjectReference",
    fields: &[(1, None)],
};

impl LocalObjectReference {
    /// The JSON form.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        put(&mut m, "name", self.name.as_ref());
        Value::Object(m)
    }
}

/// `metav1.LabelSelectorRequirement`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LabelSelectorRequirement {
    /// Label key.
    #[prost(string, optional, tag = "1")]
    pub key: Option<String>,
    /// `In`, `NotIn`, `Exists`, `DoesNotExist`.
    #[prost(string, optional, tag = "2")]
    pub operator: Option<String>,
    /// Values.
    #[prost(string, repeated, tag = "3")]
    pub values: Vec<String>,
}

/// `metav1.LabelSelector`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LabelSelector {
    /// Equality requirements.
    #[prost(btree_map = "string, string", tag = "1")]
    pub match_labels: BTreeMap<String, String>,
    /// Set-based requirements.
    #[prost(message, repeated, tag = "2")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

static LABEL_SELECTOR_REQUIREMENT: Shape = Shape {
    name: "LabelSelectorRequirement",
    fields: &[(1, None), (2, None), (3, None)],
};

/// The shape of [`LabelSelector`].
pub static LABEL_SELECTOR: Shape = Shape {
    name: "LabelSelector",
    fields: &[(1, None), (2, Some(&LABEL_SELECTOR_REQUIREMENT))],
};

impl LabelSelector {
    /// The JSON form.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        put_map(&mut m, "matchLabels", &self.match_labels);
        if !self.match_expressions.is_empty() {
            let exprs: Vec<Value> = self
                .match_expressions
                .iter()
                .map(|e| {
                    let mut o = Map::new();
                    put(&mut o, "key", e.key.as_ref());
                    put(&mut o, "operator", e.operator.as_ref());
                    if !e.values.is_empty() {
                        o.insert("values".into(), json!(e.values));
                    }
                    Value::Object(o)
                })
                .collect();
            m.insert("matchExpressions".into(), Value::Array(exprs));
        }
        Value::Object(m)
    }
}
