//! Objects whose type is known only at run time.

use std::borrow::Cow;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use crate::gvk::{GroupVersionKind, GroupVersionResource};
use crate::object::TypeMeta;
use crate::resource::{DynamicResourceScope, Resource};

/// Whether a resource's objects live in a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scope {
    /// Objects live in a namespace (pods, services, ...).
    Namespaced,
    /// Objects are cluster-wide (nodes, namespaces, ...).
    Cluster,
}

/// Everything needed to address one kind of resource at run time: group, version, kind, plural
/// and scope. What discovery returns, and what [`DynamicObject`] uses as its dynamic type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiResource {
    /// The group; empty for the core group.
    pub group: String,
    /// The version.
    pub version: String,
    /// `group/version`, or `version` for the core group.
    pub api_version: String,
    /// The kind, e.g. `Deployment`.
    pub kind: String,
    /// The plural name used in URLs, e.g. `deployments`.
    pub plural: String,
    /// Namespaced or cluster-wide.
    pub scope: Scope,
}

impl ApiResource {
    /// The `ApiResource` of a static type.
    pub fn erase<K: Resource>(dt: &K::DynamicType) -> Self {
        Self {
            group: K::group(dt).into_owned(),
            version: K::version(dt).into_owned(),
            api_version: K::api_version(dt).into_owned(),
            kind: K::kind(dt).into_owned(),
            plural: K::plural(dt).into_owned(),
            scope: if K::is_namespaced(dt) {
                Scope::Namespaced
            } else {
                Scope::Cluster
            },
        }
    }

    /// From a kind with a known plural and scope.
    pub fn from_gvk_with_plural(gvk: &GroupVersionKind, plural: &str, scope: Scope) -> Self {
        Self {
            group: gvk.group.clone(),
            version: gvk.version.clone(),
            api_version: gvk.api_version(),
            kind: gvk.kind.clone(),
            plural: plural.to_string(),
            scope,
        }
    }

    /// From a kind alone, guessing the plural the way Kubernetes' `UnsafeGuessKindToResource`
    /// does and assuming namespaced scope. Prefer discovery, which knows.
    pub fn from_gvk(gvk: &GroupVersionKind) -> Self {
        Self::from_gvk_with_plural(gvk, &guess_plural(&gvk.kind), Scope::Namespaced)
    }

    /// The group, version and plural.
    pub fn gvr(&self) -> GroupVersionResource {
        GroupVersionResource::gvr(&self.group, &self.version, &self.plural)
    }

    /// The group, version and kind.
    pub fn gvk(&self) -> GroupVersionKind {
        GroupVersionKind::gvk(&self.group, &self.version, &self.kind)
    }
}

/// Guess a plural from a kind: lower-case, then `s`/`es`/`ies` as English does for most kinds
/// (`Ingress` → `ingresses`, `NetworkPolicy` → `networkpolicies`, `Endpoints` → `endpoints`).
pub fn guess_plural(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    if lower.is_empty() {
        return lower;
    }
    if lower.ends_with("endpoints") {
        return lower;
    }
    if lower.ends_with('s')
        || lower.ends_with("ch")
        || lower.ends_with("sh")
        || lower.ends_with('x')
        || lower.ends_with('z')
    {
        return format!("{lower}es");
    }
    if let Some(stem) = lower
        .strip_suffix('y')
        .filter(|s| !s.ends_with(['a', 'e', 'i', 'o', 'u']))
    {
        return format!("{stem}ies");
    }
    format!("{lower}s")
}

/// An object of any kind: metadata plus the rest of its JSON.
///
/// ```
/// use kube_core::{ApiResource, DynamicObject, GroupVersionKind, Resource};
///
/// let ar = ApiResource::from_gvk(&GroupVersionKind::gvk("example.com", "v1", "Widget"));
/// let obj = DynamicObject::new("w1", &ar).within("default").data(serde_json::json!({"spec": {"size": 3}}));
/// assert_eq!(DynamicObject::url_path(&ar, Some("default")), "/apis/example.com/v1/namespaces/default/widgets");
/// assert_eq!(obj.data["spec"]["size"], 3);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DynamicObject {
    /// `apiVersion` and `kind`.
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub types: Option<TypeMeta>,
    /// Standard metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Every other top-level field (`spec`, `status`, `data`, ...).
    #[serde(flatten)]
    pub data: serde_json::Value,
}

impl DynamicObject {
    /// A new object of the given resource with a name and no data.
    pub fn new(name: &str, resource: &ApiResource) -> Self {
        Self {
            types: Some(TypeMeta {
                api_version: resource.api_version.clone(),
                kind: resource.kind.clone(),
            }),
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                ..ObjectMeta::default()
            },
            data: serde_json::Value::Object(Default::default()),
        }
    }

    /// Set the namespace.
    #[must_use]
    pub fn within(mut self, namespace: &str) -> Self {
        self.metadata.namespace = Some(namespace.into());
        self
    }

    /// Set the data (every top-level field but `apiVersion`, `kind` and `metadata`).
    #[must_use]
    pub fn data(mut self, data: serde_json::Value) -> Self {
        self.data = data;
        self
    }

    /// The group, version and kind named by `apiVersion` and `kind`, if present and valid.
    pub fn gvk(&self) -> Option<GroupVersionKind> {
        let t = self.types.as_ref()?;
        GroupVersionKind::from_api_version(&t.api_version, &t.kind).ok()
    }

    /// Convert into a static type, e.g. a `Pod`.
    pub fn try_parse<K: serde::de::DeserializeOwned>(self) -> Result<K, serde_json::Error> {
        serde_json::from_value(serde_json::to_value(self)?)
    }
}

impl Resource for DynamicObject {
    type DynamicType = ApiResource;
    type Scope = DynamicResourceScope;

    fn kind(dt: &ApiResource) -> Cow<'_, str> {
        Cow::Borrowed(&dt.kind)
    }
    fn group(dt: &ApiResource) -> Cow<'_, str> {
        Cow::Borrowed(&dt.group)
    }
    fn version(dt: &ApiResource) -> Cow<'_, str> {
        Cow::Borrowed(&dt.version)
    }
    fn api_version(dt: &ApiResource) -> Cow<'_, str> {
        Cow::Borrowed(&dt.api_version)
    }
    fn plural(dt: &ApiResource) -> Cow<'_, str> {
        Cow::Borrowed(&dt.plural)
    }
    fn is_namespaced(dt: &ApiResource) -> bool {
        dt.scope == Scope::Namespaced
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Namespace, Pod};

    #[test]
    fn plurals() {
        for (kind, plural) in [
            ("Pod", "pods"),
            ("Ingress", "ingresses"),
            ("NetworkPolicy", "networkpolicies"),
            ("Endpoints", "endpoints"),
            ("Gateway", "gateways"),
            ("Status", "statuses"),
        ] {
            assert_eq!(guess_plural(kind), plural);
        }
    }

    #[test]
    fn erase_keeps_scope_and_paths() {
        let ns = ApiResource::erase::<Namespace>(&());
        assert_eq!(ns.scope, Scope::Cluster);
        assert_eq!(DynamicObject::url_path(&ns, Some("x")), "/api/v1/namespaces");
        let pod = ApiResource::erase::<Pod>(&());
        assert_eq!(
            DynamicObject::url_path(&pod, Some("x")),
            "/api/v1/namespaces/x/pods"
        );
    }

    #[test]
    fn round_trips_through_json_and_static_types() {
        let raw = serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "d", "labels": {"a": "b"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        });
        let obj: DynamicObject = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(obj.gvk().unwrap(), GroupVersionKind::gvk("", "v1", "Pod"));
        assert_eq!(obj.data["spec"]["containers"][0]["image"], "nginx");
        assert!(obj.data.get("metadata").is_none());
        assert_eq!(serde_json::to_value(&obj).unwrap(), raw);
        let pod: Pod = obj.try_parse().unwrap();
        assert_eq!(pod.spec.unwrap().containers[0].name, "c");
    }
}
