//! The [`Resource`] trait: where a type lives in the Kubernetes API, and its metadata.

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, ObjectMeta, OwnerReference, Time};

pub use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope, SubResourceScope};

/// The scope of a type whose scope is only known at run time ([`DynamicObject`](crate::DynamicObject)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DynamicResourceScope;
impl k8s_openapi::ResourceScope for DynamicResourceScope {}

/// Compile-time scope markers that know whether they are namespaced.
pub trait ScopeKind {
    /// `Some(true)` for namespaced resources, `Some(false)` for cluster-scoped ones, `None` when
    /// only the [`Resource::DynamicType`] knows.
    const NAMESPACED: Option<bool>;
}
impl ScopeKind for NamespaceResourceScope {
    const NAMESPACED: Option<bool> = Some(true);
}
impl ScopeKind for ClusterResourceScope {
    const NAMESPACED: Option<bool> = Some(false);
}
impl ScopeKind for SubResourceScope {
    const NAMESPACED: Option<bool> = Some(true);
}
impl ScopeKind for DynamicResourceScope {
    const NAMESPACED: Option<bool> = None;
}

/// A type that is a Kubernetes resource: it knows its group, version, kind and plural, and it
/// has an `ObjectMeta`.
///
/// Static types (every k8s-openapi type, [`CustomObject`](crate::CustomObject)) use `()` as
/// their [`DynamicType`](Resource::DynamicType); [`DynamicObject`](crate::DynamicObject) carries
/// an [`ApiResource`](crate::ApiResource) at run time instead.
pub trait Resource {
    /// Run-time information needed to name the type: `()` for static types.
    type DynamicType: Send + Sync + 'static;
    /// The scope marker: [`NamespaceResourceScope`], [`ClusterResourceScope`] or
    /// [`DynamicResourceScope`].
    type Scope;

    /// The kind, e.g. `Deployment`.
    fn kind(dt: &Self::DynamicType) -> Cow<'_, str>;
    /// The API group, e.g. `apps`; empty for the core group.
    fn group(dt: &Self::DynamicType) -> Cow<'_, str>;
    /// The version, e.g. `v1`.
    fn version(dt: &Self::DynamicType) -> Cow<'_, str>;
    /// The plural resource name used in URLs, e.g. `deployments`.
    fn plural(dt: &Self::DynamicType) -> Cow<'_, str>;
    /// Whether objects of this type live in a namespace.
    fn is_namespaced(dt: &Self::DynamicType) -> bool;

    /// `group/version`, or just `version` for the core group.
    fn api_version(dt: &Self::DynamicType) -> Cow<'_, str> {
        api_version_from_group_version(Self::group(dt), Self::version(dt))
    }

    /// The collection URL: `/api/v1/namespaces/{ns}/pods`, `/apis/apps/v1/deployments`, ...
    ///
    /// `namespace` is ignored for cluster-scoped types.
    fn url_path(dt: &Self::DynamicType, namespace: Option<&str>) -> String {
        let group = Self::group(dt);
        let mut path = if group.is_empty() {
            format!("/api/{}", Self::version(dt))
        } else {
            format!("/apis/{}/{}", group, Self::version(dt))
        };
        if let Some(ns) = namespace.filter(|_| Self::is_namespaced(dt)) {
            path.push_str("/namespaces/");
            path.push_str(ns);
        }
        path.push('/');
        path.push_str(&Self::plural(dt));
        path
    }

    /// The object's metadata.
    fn meta(&self) -> &ObjectMeta;
    /// The object's metadata, mutably.
    fn meta_mut(&mut self) -> &mut ObjectMeta;

    /// An `ObjectReference` pointing at this object (for events and bindings).
    fn object_ref(&self, dt: &Self::DynamicType) -> ObjectReference {
        let meta = self.meta();
        ObjectReference {
            api_version: Some(Self::api_version(dt).into_owned()),
            kind: Some(Self::kind(dt).into_owned()),
            name: meta.name.clone(),
            namespace: meta.namespace.clone(),
            uid: meta.uid.clone(),
            resource_version: meta.resource_version.clone(),
            field_path: None,
        }
    }

    /// An `OwnerReference` naming this object as the controller of another. `None` when the
    /// object has no name or uid yet (it has not been stored).
    fn controller_owner_ref(&self, dt: &Self::DynamicType) -> Option<OwnerReference> {
        Some(OwnerReference {
            controller: Some(true),
            block_owner_deletion: Some(true),
            ..self.owner_ref(dt)?
        })
    }

    /// A plain (non-controller) `OwnerReference` to this object.
    fn owner_ref(&self, dt: &Self::DynamicType) -> Option<OwnerReference> {
        let meta = self.meta();
        Some(OwnerReference {
            api_version: Self::api_version(dt).into_owned(),
            kind: Self::kind(dt).into_owned(),
            name: meta.name.clone()?,
            uid: meta.uid.clone()?,
            block_owner_deletion: None,
            controller: None,
        })
    }
}

/// `group/version`, or `version` alone for the core (empty) group.
pub fn api_version_from_group_version<'a>(group: Cow<'a, str>, version: Cow<'a, str>) -> Cow<'a, str> {
    if group.is_empty() {
        version
    } else {
        Cow::Owned(format!("{group}/{version}"))
    }
}

impl<K, S> Resource for K
where
    K: k8s_openapi::Metadata<Ty = ObjectMeta>,
    K: k8s_openapi::Resource<Scope = S>,
    S: ScopeKind,
{
    type DynamicType = ();
    type Scope = S;

    fn kind(_: &()) -> Cow<'_, str> {
        K::KIND.into()
    }
    fn group(_: &()) -> Cow<'_, str> {
        K::GROUP.into()
    }
    fn version(_: &()) -> Cow<'_, str> {
        K::VERSION.into()
    }
    fn api_version(_: &()) -> Cow<'_, str> {
        K::API_VERSION.into()
    }
    fn plural(_: &()) -> Cow<'_, str> {
        K::URL_PATH_SEGMENT.into()
    }
    fn is_namespaced(_: &()) -> bool {
        S::NAMESPACED.unwrap_or(true)
    }
    fn meta(&self) -> &ObjectMeta {
        self.metadata()
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        self.metadata_mut()
    }
}

/// Convenient access to the metadata every [`Resource`] has.
pub trait ResourceExt: Resource {
    /// The name; panics if unset. Use [`name_any`](Self::name_any) or
    /// [`name_opt`](Self::name_opt) for objects that may not have one yet.
    fn name_unchecked(&self) -> String {
        self.meta().name.clone().expect("metadata.name is unset")
    }
    /// The name, if set.
    fn name_opt(&self) -> Option<&str> {
        self.meta().name.as_deref()
    }
    /// The name, else `generateName`, else the empty string.
    fn name_any(&self) -> String {
        let meta = self.meta();
        meta.name
            .clone()
            .or_else(|| meta.generate_name.clone())
            .unwrap_or_default()
    }
    /// The namespace, if set.
    fn namespace(&self) -> Option<String> {
        self.meta().namespace.clone()
    }
    /// The resource version: the storage revision that last wrote the object.
    fn resource_version(&self) -> Option<String> {
        self.meta().resource_version.clone()
    }
    /// The unique id the apiserver gave the object.
    fn uid(&self) -> Option<String> {
        self.meta().uid.clone()
    }
    /// The generation: bumped by the apiserver on each change of the desired state.
    fn generation(&self) -> Option<i64> {
        self.meta().generation
    }
    /// When the object was created.
    fn creation_timestamp(&self) -> Option<Time> {
        self.meta().creation_timestamp.clone()
    }
    /// When deletion was requested (the object lingers while finalizers remain).
    fn deletion_timestamp(&self) -> Option<Time> {
        self.meta().deletion_timestamp.clone()
    }
    /// The labels (empty when unset).
    fn labels(&self) -> &BTreeMap<String, String> {
        static EMPTY: BTreeMap<String, String> = BTreeMap::new();
        self.meta().labels.as_ref().unwrap_or(&EMPTY)
    }
    /// The labels, created empty when unset.
    fn labels_mut(&mut self) -> &mut BTreeMap<String, String> {
        self.meta_mut().labels.get_or_insert_with(BTreeMap::new)
    }
    /// The annotations (empty when unset).
    fn annotations(&self) -> &BTreeMap<String, String> {
        static EMPTY: BTreeMap<String, String> = BTreeMap::new();
        self.meta().annotations.as_ref().unwrap_or(&EMPTY)
    }
    /// The annotations, created empty when unset.
    fn annotations_mut(&mut self) -> &mut BTreeMap<String, String> {
        self.meta_mut().annotations.get_or_insert_with(BTreeMap::new)
    }
    /// The owner references (empty when unset).
    fn owner_references(&self) -> &[OwnerReference] {
        self.meta().owner_references.as_deref().unwrap_or_default()
    }
    /// The owner references, created empty when unset.
    fn owner_references_mut(&mut self) -> &mut Vec<OwnerReference> {
        self.meta_mut().owner_references.get_or_insert_with(Vec::new)
    }
    /// The owner reference marked `controller: true`, if any.
    fn controller_owner(&self) -> Option<&OwnerReference> {
        self.owner_references()
            .iter()
            .find(|o| o.controller == Some(true))
    }
    /// The finalizers (empty when unset).
    fn finalizers(&self) -> &[String] {
        self.meta().finalizers.as_deref().unwrap_or_default()
    }
    /// The finalizers, created empty when unset.
    fn finalizers_mut(&mut self) -> &mut Vec<String> {
        self.meta_mut().finalizers.get_or_insert_with(Vec::new)
    }
    /// The server-side apply field managers (empty when unset).
    fn managed_fields(&self) -> &[ManagedFieldsEntry] {
        self.meta().managed_fields.as_deref().unwrap_or_default()
    }
}

impl<K: Resource + ?Sized> ResourceExt for K {}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::{Namespace, Pod};
    use k8s_openapi::api::rbac::v1::ClusterRole;

    #[test]
    fn url_paths_for_core_named_groups_and_scopes() {
        assert_eq!(Pod::url_path(&(), Some("ns1")), "/api/v1/namespaces/ns1/pods");
        assert_eq!(Pod::url_path(&(), None), "/api/v1/pods");
        assert_eq!(
            Deployment::url_path(&(), Some("a")),
            "/apis/apps/v1/namespaces/a/deployments"
        );
        assert_eq!(Namespace::url_path(&(), Some("ignored")), "/api/v1/namespaces");
        assert_eq!(
            ClusterRole::url_path(&(), None),
            "/apis/rbac.authorization.k8s.io/v1/clusterroles"
        );
        assert!(Pod::is_namespaced(&()));
        assert!(!Namespace::is_namespaced(&()));
        assert_eq!(Deployment::api_version(&()), "apps/v1");
        assert_eq!(Pod::api_version(&()), "v1");
    }

    #[test]
    fn metadata_accessors_and_owner_references() {
        let mut d = Deployment::default();
        assert!(d.labels().is_empty());
        assert_eq!(d.name_any(), "");
        assert!(d.controller_owner_ref(&()).is_none(), "no uid yet");
        d.meta_mut().generate_name = Some("web-".into());
        assert_eq!(d.name_any(), "web-");
        d.meta_mut().name = Some("web".into());
        d.meta_mut().namespace = Some("prod".into());
        d.meta_mut().uid = Some("u-1".into());
        d.labels_mut().insert("app".into(), "web".into());
        d.annotations_mut().insert("a".into(), "b".into());
        d.finalizers_mut().push("x/y".into());
        assert_eq!(d.labels()["app"], "web");
        assert_eq!(d.annotations()["a"], "b");
        assert_eq!(d.finalizers(), ["x/y".to_string()]);

        let owner = d.controller_owner_ref(&()).unwrap();
        assert_eq!(owner.kind, "Deployment");
        assert_eq!(owner.api_version, "apps/v1");
        assert_eq!(owner.uid, "u-1");
        assert_eq!(owner.controller, Some(true));

        let mut pod = Pod::default();
        pod.owner_references_mut().push(d.owner_ref(&()).unwrap());
        assert!(pod.controller_owner().is_none());
        pod.owner_references_mut().push(owner);
        assert_eq!(pod.controller_owner().unwrap().name, "web");

        let r = d.object_ref(&());
        assert_eq!(r.kind.as_deref(), Some("Deployment"));
        assert_eq!(r.namespace.as_deref(), Some("prod"));
    }
}
