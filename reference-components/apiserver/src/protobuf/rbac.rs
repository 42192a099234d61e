//! rbac.authorization.k8s.io/v1 kinds kubectl's typed create commands send (field numbers from
//! `k8s.io/api/rbac/v1/generated.proto`): `create role`, `create clusterrole`, `create
//! rolebinding`, `create clusterrolebinding`.

use serde_json::{Map, Value, json};

use super::meta::{LABEL_SELECTOR, LabelSelector, OBJECT_META, ObjectMeta, put};
use super::wire::Shape;

const API_VERSION: &str = "rbac.authorization.k8s.io/v1";

fn object(kind: &str, metadata: Option<&ObjectMeta>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("kind".into(), json!(kind));
    m.insert("apiVersion".into(), json!(API_VERSION));
    m.insert(
        "metadata".into(),
        metadata.map_or_else(|| json!({}), ObjectMeta::to_json),
    );
    m
}

/// `PolicyRule`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PolicyRule {
    /// Verbs.
    #[prost(string, repeated, tag = "1")]
    pub verbs: Vec<String>,
    /// API groups.
    #[prost(string, repeated, tag = "2")]
    pub api_groups: Vec<String>,
    /// Resources.
    #[prost(string, repeated, tag = "3")]
    pub resources: Vec<String>,
    /// Resource names.
    #[prost(string, repeated, tag = "4")]
    pub resource_names: Vec<String>,
    /// Non-resource URLs.
    #[prost(string, repeated, tag = "5")]
    pub non_resource_urls: Vec<String>,
}

static POLICY_RULE: Shape = Shape {
    name: "PolicyRule",
    fields: &[(1, None), (2, None), (3, None), (4, None), (5, None)],
};

impl PolicyRule {
    fn to_json(&self) -> Value {
        // `verbs` is required (no omitempty); `apiGroups` keeps the core group's "".
        let mut m = Map::new();
        m.insert("verbs".into(), json!(self.verbs));
        for (key, list) in [
            ("apiGroups", &self.api_groups),
            ("resources", &self.resources),
            ("resourceNames", &self.resource_names),
            ("nonResourceURLs", &self.non_resource_urls),
        ] {
            if !list.is_empty() {
                m.insert(key.into(), json!(list));
            }
        }
        Value::Object(m)
    }
}

fn rules(rules: &[PolicyRule]) -> Value {
    Value::Array(rules.iter().map(PolicyRule::to_json).collect())
}

/// `Role`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Role {
    /// Metadata.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// Rules.
    #[prost(message, repeated, tag = "2")]
    pub rules: Vec<PolicyRule>,
}

/// The shape of [`Role`].
pub static ROLE: Shape = Shape {
    name: "Role",
    fields: &[(1, Some(&OBJECT_META)), (2, Some(&POLICY_RULE))],
};

impl Role {
    /// The JSON form.
    pub fn to_json(&self) -> Value {
        let mut m = object("Role", self.metadata.as_ref());
        m.insert("rules".into(), rules(&self.rules));
        Value::Object(m)
    }
}

/// `AggregationRule`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AggregationRule {
    /// Selectors of the ClusterRoles whose rules are aggregated.
    #[prost(message, repeated, tag = "1")]
    pub cluster_role_selectors: Vec<LabelSelector>,
}

static AGGREGATION_RULE: Shape = Shape {
    name: "AggregationRule",
    fields: &[(1, Some(&LABEL_SELECTOR))],
};

/// `ClusterRole`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ClusterRole {
    /// Metadata.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// Rules.
    #[prost(message, repeated, tag = "2")]
    pub rules: Vec<PolicyRule>,
    /// Aggregation.
    #[prost(message, optional, tag = "3")]
    pub aggregation_rule: Option<AggregationRule>,
}

/// The shape of [`ClusterRole`].
pub static CLUSTER_ROLE: Shape = Shape {
    name: "ClusterRole",
    fields: &[
        (1, Some(&OBJECT_META)),
        (2, Some(&POLICY_RULE)),
        (3, Some(&AGGREGATION_RULE)),
    ],
};

impl ClusterRole {
    /// The JSON form.
    pub fn to_json(&self) -> Value {
        let mut m = object("ClusterRole", self.metadata.as_ref());
        m.insert("rules".into(), rules(&self.rules));
        if let Some(a) = &self.aggregation_rule {
            let selectors: Vec<Value> = a
                .cluster_role_selectors
                .iter()
                .map(LabelSelector::to_json)
                .collect();
            m.insert(
                "aggregationRule".into(),
                json!({"clusterRoleSelectors": selectors}),
            );
        }
        Value::Object(m)
    }
}

/// `Subject`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Subject {
    /// `User`, `Group` or `ServiceAccount`.
    #[prost(string, optional, tag = "1")]
    pub kind: Option<String>,
    /// API group.
    #[prost(string, optional, tag = "2")]
    pub api_group: Option<String>,
    /// Name.
    #[prost(string, optional, tag = "3")]
    pub name: Option<String>,
    /// Namespace (service accounts).
    #[prost(string, optional, tag = "4")]
    pub namespace: Option<String>,
}

/// `RoleRef`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RoleRef {
    /// API group.
    #[prost(string, optional, tag = "1")]
    pub api_group: Option<String>,
    /// `Role` or `ClusterRole`.
    #[prost(string, optional, tag = "2")]
    pub kind: Option<String>,
    /// Name.
    #[prost(string, optional, tag = "3")]
    pub name: Option<String>,
}

static SUBJECT: Shape = Shape {
    name: "Subject",
    fields: &[(1, None), (2, None), (3, None), (4, None)],
};
static ROLE_REF: Shape = Shape {
    name: "RoleRef",
    fields: &[(1, None), (2, None), (3, None)],
};

/// `RoleBinding` and `ClusterRoleBinding` (the same fields).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Binding {
    /// Metadata.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// Subjects.
    #[prost(message, repeated, tag = "2")]
    pub subjects: Vec<Subject>,
    /// The role.
    #[prost(message, optional, tag = "3")]
    pub role_ref: Option<RoleRef>,
}

/// The shape of [`Binding`].
pub static BINDING: Shape = Shape {
    name: "RoleBinding",
    fields: &[(1, Some(&OBJECT_META)), (2, Some(&SUBJECT)), (3, Some(&ROLE_REF))],
};

impl Binding {
    /// The JSON form of a binding of `kind`.
    pub fn to_json(&self, kind: &str) -> Value {
        let mut m = object(kind, self.metadata.as_ref());
        if !self.subjects.is_empty() {
            let subjects: Vec<Value> = self
                .subjects
                .iter()
                .map(|s| {
                    let mut o = Map::new();
                    put(&mut o, "kind", s.kind.as_ref());
                    put(&mut o, "apiGroup", s.api_group.as_ref());
                    put(&mut o, "name", s.name.as_ref());
                    put(&mut o, "namespace", s.namespace.as_ref());
                    Value::Object(o)
                })
                .collect();
            m.insert("subjects".into(), Value::Array(subjects));
        }
        let role_ref = self.role_ref.clone().unwrap_or_default();
        m.insert(
            "roleRef".into(),
            json!({
                "apiGroup": role_ref.api_group.unwrap_or_default(),
                "kind": role_ref.kind.unwrap_or_default(),
                "name": role_ref.name.unwrap_or_default(),
            }),
        );
        Value::Object(m)
    }

    /// A RoleBinding's JSON.
    pub fn role_binding(&self) -> Value {
        self.to_json("RoleBinding")
    }

    /// A ClusterRoleBinding's JSON.
    pub fn cluster_role_binding(&self) -> Value {
        self.to_json("ClusterRoleBinding")
    }
}
