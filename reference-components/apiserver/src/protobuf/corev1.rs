//! core/v1 kinds kubectl's typed create commands send (field numbers from
//! `k8s.io/api/core/v1/generated.proto`): `create namespace`, `create configmap`, `create secret
//! generic|tls|docker-registry`, `create serviceaccount`, `create quota`.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::meta::{
    LOCAL_OBJECT_REFERENCE, LocalObjectReference, OBJECT_META, OBJECT_REFERENCE, ObjectMeta, ObjectReference,
    TIME, Time, put, put_map,
};
use super::wire::Shape;

fn base64_map(map: &BTreeMap<String, Vec<u8>>) -> Value {
    let engine = base64::engine::general_purpose::STANDARD;
    Value::Object(
        map.iter()
            .map(|(k, v)| (k.clone(), json!(engine.encode(v))))
            .collect(),
    )
}

fn object(api_version: &str, kind: &str, metadata: Option<&ObjectMeta>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("kind".into(), json!(kind));
    m.insert("apiVersion".into(), json!(api_version));
    m.insert(
        "metadata".into(),
        metadata.map_or_else(|| json!({}), ObjectMeta::to_json),
    );
    m
}

/// `Namespace`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Namespace {
    /// Metadata.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// Spec.
    #[prost(message, optional, tag = "2")]
    pub spec: Option<NamespaceSpec>,
    /// Status.
    #[prost(message, optional, tag = "3")]
    pub status: Option<NamespaceStatus>,
}

/// `NamespaceSpec`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NamespaceSpec {
    /// Finalizers.
    #[prost(string, repeated, tag = "1")]
    pub finalizers: Vec<String>,
}

/// `NamespaceStatus`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NamespaceStatus {
    /// Phase.
    #[prost(string, optional, tag = "1")]
    pub phase: Option<String>,
    /// Conditions.
    #[prost(message, repeated, tag = "2")]
    pub conditions: Vec<NamespaceCondition>,
}

/// `NamespaceCondition`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NamespaceCondition {
    /// Type.
    #[prost(string, optional, tag = "1")]
    pub type_: Option<String>,
    /// Status.
    #[prost(string, optional, tag = "2")]
    pub status: Option<String>,
    /// Last transition.
    #[prost(message, optional, tag = "4")]
    pub last_transition_time: Option<Time>,
    /// Reason.
    #[prost(string, optional, tag = "5")]
    pub reason: Option<String>,
    /// Message.
    #[prost(string, optional, tag = "6")]
    pub message: Option<String>,
}

static NAMESPACE_CONDITION: Shape = Shape {
    name: "NamespaceCondition",
    fields: &[(1, None), (2, None), (4, Some(&TIME)), (5, None), (6, None)],
};
static NAMESPACE_SPEC: Shape = Shape {
    name: "NamespaceSpec",
    fields: &[(1, None)],
};
static NAMESPACE_STATUS: Shape = Shape {
    name: "NamespaceStatus",
    fields: &[(1, None), (2, Some(&NAMESPACE_CONDITION))],
};

/// The shape of [`Namespace`].
pub static NAMESPACE: Shape = Shape {
    name: "Namespace",
    fields: &[
        (1, Some(&OBJECT_META)),
        (2, Some(&NAMESPACE_SPEC)),
        (3, Some(&NAMESPACE_STATUS)),
    ],
};

impl Namespace {
    /// The JSON form.
    pub fn to_json(&self) -> Value {
        let mut m = object("v1", "Namespace", self.metadata.as_ref());
        let mut spec = Map::new();
        if let Some(s) = self.spec.as_ref().filter(|s| !s.finalizers.is_empty()) {
            spec.insert("finalizers".into(), json!(s.finalizers));
        }
        m.insert("spec".into(), Value::Object(spec));
        let mut status = Map::new();
        if let Some(s) = &self.status {
            put(&mut status, "phase", s.phase.as_ref());
            if !s.conditions.is_empty() {
                let conditions: Vec<Value> = s
                    .conditions
                    .iter()
                    .map(|c| {
                        let mut o = Map::new();
                        put(&mut o, "type", c.type_.as_ref());
                        put(&mut o, "status", c.status.as_ref());
                        if let Some(t) = c.last_transition_time.as_ref().and_then(Time::to_rfc3339) {
                            o.insert("lastTransitionTime".into(), json!(t));
                        }
                        put(&mut o, "reason", c.reason.as_ref());
                        put(&mut o, "message", c.message.as_ref());
                        Value::Object(o)
                    })
                    .collect();
                status.insert("conditions".into(), Value::Array(conditions));
            }
        }
        m.insert("status".into(), Value::Object(status));
        Value::Object(m)
    }
}

/// `ConfigMap`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ConfigMap {
    /// Metadata.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// Data.
    #[prost(btree_map = "string, string", tag = "2")]
    pub data: BTreeMap<String, String>,
    /// Binary data.
    #[prost(btree_map = "string, bytes", tag = "3")]
    pub binary_data: BTreeMap<String, Vec<u8>>,
    /// Immutable.
    #[prost(bool, optional, tag = "4")]
    pub immutable: Option<bool>,
}

/// The shape of [`ConfigMap`].
pub static CONFIG_MAP: Shape = Shape {
    name: "ConfigMap",
    fields: &[(1, Some(&OBJECT_META)), (2, None), (3, None), (4, None)],
};

impl ConfigMap {
    /// The JSON form (`binaryData` in base64).
    pub fn to_json(&self) -> Value {
        let mut m = object("v1", "ConfigMap", self.metadata.as_ref());
        put_map(&mut m, "data", &self.data);
        if !self.binary_data.is_empty() {
            m.insert("binaryData".into(), base64_map(&self.binary_data));
        }
        if let Some(i) = self.immutable {
            m.insert("immutable".into(), json!(i));
        }
        Value::Object(m)
    }
}

/// `Secret`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Secret {
    /// Metadata.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// Data.
    #[prost(btree_map = "string, bytes", tag = "2")]
    pub data: BTreeMap<String, Vec<u8>>,
    /// Type.
    #[prost(string, optional, tag = "3")]
    pub type_: Option<String>,
    /// Write-only string data.
    #[prost(btree_map = "string, string", tag = "4")]
    pub string_data: BTreeMap<String, String>,
    /// Immutable.
    #[prost(bool, optional, tag = "5")]
    pub immutable: Option<bool>,
}

/// The shape of [`Secret`].
pub static SECRET: Shape = Shape {
    name: "Secret",
    fields: &[
        (1, Some(&OBJECT_META)),
        (2, None),
        (3, None),
        (4, None),
        (5, None),
    ],
};

impl Secret {
    /// The JSON form (`data` in base64).
    pub fn to_json(&self) -> Value {
        let mut m = object("v1", "Secret", self.metadata.as_ref());
        if !self.data.is_empty() {
            m.insert("data".into(), base64_map(&self.data));
        }
        put(&mut m, "type", self.type_.as_ref());
        put_map(&mut m, "stringData", &self.string_data);
        if let Some(i) = self.immutable {
            m.insert("immutable".into(), json!(i));
        }
        Value::Object(m)
    }
}

/// `ServiceAccount`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ServiceAccount {
    /// Metadata.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// Mountable secrets.
    #[prost(message, repeated, tag = "2")]
    pub secrets: Vec<ObjectReference>,
    /// Image pull secrets.
    #[prost(message, repeated, tag = "3")]
    pub image_pull_secrets: Vec<LocalObjectReference>,
    /// Whether pods mount a token by default.
    #[prost(bool, optional, tag = "4")]
    pub automount_service_account_token: Option<bool>,
}

/// The shape of [`ServiceAccount`].
pub static SERVICE_ACCOUNT: Shape = Shape {
    name: "ServiceAccount",
    fields: &[
        (1, Some(&OBJECT_META)),
        (2, Some(&OBJECT_REFERENCE)),
        (3, Some(&LOCAL_OBJECT_REFERENCE)),
        (4, None),
    ],
};

impl ServiceAccount {
    /// The JSON form.
    pub fn to_json(&self) -> Value {
        let mut m = object("v1", "ServiceAccount", self.metadata.as_ref());
        if !self.secrets.is_empty() {
            let s: Vec<Value> = self.secrets.iter().map(ObjectReference::to_json).collect();
            m.insert("secrets".into(), Value::Array(s));
        }
        if !self.image_pull_secrets.is_empty() {
            let s: Vec<Value> = self
                .image_pull_secrets
                .iter()
                .map(LocalObjectReference::to_json)
                .collect();
            m.insert("imagePullSecrets".into(), Value::Array(s));
        }
        if let Some(a) = self.automount_service_account_token {
            m.insert("automountServiceAccountToken".into(), json!(a));
        }
        Value::Object(m)
    }
}

/// `resource.Quantity`: its canonical string.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Quantity {
    /// The quantity, e.g. `500m`.
    #[prost(string, optional, tag = "1")]
    pub string: Option<String>,
}

static QUANTITY: Shape = Shape {
    name: "Quantity",
    fields: &[(1, None)],
};
static QUANTITY_ENTRY: Shape = Shape {
    name: "map entry",
    fields: &[(1, None), (2, Some(&QUANTITY))],
};

fn quantities(map: &BTreeMap<String, Quantity>) -> Value {
    Value::Object(
        map.iter()
            .map(|(k, q)| (k.clone(), json!(q.string.clone().unwrap_or_default())))
            .collect(),
    )
}

/// `ResourceQuota`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResourceQuota {
    /// Metadata.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// Spec.
    #[prost(message, optional, tag = "2")]
    pub spec: Option<ResourceQuotaSpec>,
    /// Status.
    #[prost(message, optional, tag = "3")]
    pub status: Option<ResourceQuotaStatus>,
}

/// `ResourceQuotaSpec`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResourceQuotaSpec {
    /// Hard limits.
    #[prost(btree_map = "string, message", tag = "1")]
    pub hard: BTreeMap<String, Quantity>,
    /// Scopes.
    #[prost(string, repeated, tag = "2")]
    pub scopes: Vec<String>,
    /// Scope selector.
    #[prost(message, optional, tag = "3")]
    pub scope_selector: Option<ScopeSelector>,
}

/// `ScopeSelector`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ScopeSelector {
    /// Requirements.
    #[prost(message, repeated, tag = "1")]
    pub match_expressions: Vec<ScopedResourceSelectorRequirement>,
}

/// `ScopedResourceSelectorRequirement`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ScopedResourceSelectorRequirement {
    /// Scope name.
    #[prost(string, optional, tag = "1")]
    pub scope_name: Option<String>,
    /// Operator.
    #[prost(string, optional, tag = "2")]
    pub operator: Option<String>,
    /// Values.
    #[prost(string, repeated, tag = "3")]
    pub values: Vec<String>,
}

/// `ResourceQuotaStatus`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResourceQuotaStatus {
    /// Enforced hard limits.
    #[prost(btree_map = "string, message", tag = "1")]
    pub hard: BTreeMap<String, Quantity>,
    /// Observed use.
    #[prost(btree_map = "string, message", tag = "2")]
    pub used: BTreeMap<String, Quantity>,
}

static SCOPED_REQUIREMENT: Shape = Shape {
    name: "ScopedResourceSelectorRequirement",
    fields: &[(1, None), (2, None), (3, None)],
};
static SCOPE_SELECTOR: Shape = Shape {
    name: "ScopeSelector",
    fields: &[(1, Some(&SCOPED_REQUIREMENT))],
};
static QUOTA_SPEC: Shape = Shape {
    name: "ResourceQuotaSpec",
    fields: &[(1, Some(&QUANTITY_ENTRY)), (2, None), (3, Some(&SCOPE_SELECTOR))],
};
static QUOTA_STATUS: Shape = Shape {
    name: "ResourceQuotaStatus",
    fields: &[(1, Some(&QUANTITY_ENTRY)), (2, Some(&QUANTITY_ENTRY))],
};

/// The shape of [`ResourceQuota`].
pub static RESOURCE_QUOTA: Shape = Shape {
    name: "ResourceQuota",
    fields: &[
        (1, Some(&OBJECT_META)),
        (2, Some(&QUOTA_SPEC)),
        (3, Some(&QUOTA_STATUS)),
    ],
};

impl ResourceQuota {
    /// The JSON form.
    pub fn to_json(&self) -> Value {
        let mut m = object("v1", "ResourceQuota", self.metadata.as_ref());
        let mut spec = Map::new();
        if let Some(s) = &self.spec {
            if !s.hard.is_empty() {
                spec.insert("hard".into(), quantities(&s.hard));
            }
            if !s.scopes.is_empty() {
                spec.insert("scopes".into(), json!(s.scopes));
            }
            if let Some(sel) = &s.scope_selector {
                let exprs: Vec<Value> = sel
                    .match_expressions
                    .iter()
                    .map(|e| {
                        let mut o = Map::new();
                        put(&mut o, "scopeName", e.scope_name.as_ref());
                        put(&mut o, "operator", e.operator.as_ref());
                        if !e.values.is_empty() {
                            o.insert("values".into(), json!(e.values));
                        }
                        Value::Object(o)
                    })
                    .collect();
                spec.insert("scopeSelector".into(), json!({"matchExpressions": exprs}));
            }
        }
        m.insert("spec".into(), Value::Object(spec));
        let mut status = Map::new();
        if let Some(s) = &self.status {
            if !s.hard.is_empty() {
                status.insert("hard".into(), quantities(&s.hard));
            }
            if !s.used.is_empty() {
                status.insert("used".into(), quantities(&s.used));
            }
        }
        m.insert("status".into(), Value::Object(status));
        Value::Object(m)
    }
}
