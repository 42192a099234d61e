//! The registry: one entry per served resource, saying everything the generic handlers need.
//!
//! Adding a built-in resource is one line in [`builtin`]: the names, scope and kind come from the
//! k8s-openapi type; the entry adds short names, categories, subresources and the few strategy
//! switches in which resources differ (generation tracking, create-on-update, field selectors).
//! Custom resources are registered at run time, one entry per served version of a
//! CustomResourceDefinition ([`crd`]); the server reads the registry through a
//! [`SharedRegistry`], whose snapshots stay valid while it changes.

pub mod builtin;
pub mod conversion;
pub mod crd;

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::RwLock;
use serde_json::Value;

pub use conversion::Conversion;
pub use crd::CustomInfo;

/// A name in the registry: borrowed for built-in resources, owned for custom ones.
pub type Name = Cow<'static, str>;

/// A subresource the generic handlers know how to serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subresource {
    /// `status`: reads the object, writes only its status.
    Status,
    /// `scale`: an `autoscaling/v1` `Scale` view of `spec.replicas`.
    Scale,
    /// `pods/binding`: sets `spec.nodeName` once.
    Binding,
    /// `pods/eviction`: deletes the pod (disruption budgets come later).
    Eviction,
    /// `namespaces/finalize`: replaces `spec.finalizers`.
    Finalize,
}

impl Subresource {
    /// The URL segment.
    pub fn name(self) -> &'static str {
        match self {
            Subresource::Status => "status",
            Subresource::Scale => "scale",
            Subresource::Binding => "binding",
            Subresource::Eviction => "eviction",
            Subresource::Finalize => "finalize",
        }
    }

    /// The verbs discovery advertises for it.
    pub fn verbs(self) -> &'static [&'static str] {
        match self {
            Subresource::Status | Subresource::Scale => &["get", "patch", "update"],
            Subresource::Binding | Subresource::Eviction => &["create"],
            Subresource::Finalize => &["update"],
        }
    }
}

/// A body decoded into a built-in type: its canonical JSON and the paths of its unknown fields.
pub type DecodedBody = (Value, Vec<crate::unknown_fields::FieldPath>);

/// A built-in resource's typed form: decoding into it checks the types of every known field and
/// drops unknown ones, as kube-apiserver's decoding does.
#[derive(Debug, Clone, Copy)]
pub struct Codec {
    /// Decode a JSON object into the typed form and encode it back.
    pub roundtrip: fn(&Value) -> Result<Value, serde_json::Error>,
    /// Decode a request body straight into the typed form and encode it: the canonical object
    /// and the paths of the fields the decoding skipped (see [`crate::unknown_fields`]).
    pub from_body: fn(&[u8]) -> Result<DecodedBody, serde_json::Error>,
}

/// Everything the handlers need to know about one resource.
#[derive(Debug, Clone)]
pub struct ResourceDef {
    /// API group; empty for core.
    pub group: Name,
    /// Served version.
    pub version: Name,
    /// Kind, e.g. `Pod`.
    pub kind: Name,
    /// Plural, e.g. `pods`.
    pub plural: Name,
    /// Singular, e.g. `pod`.
    pub singular: Name,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Short names for kubectl.
    pub short_names: Vec<Name>,
    /// Categories (`all`).
    pub categories: Vec<Name>,
    /// Subresources served.
    pub subresources: Vec<Subresource>,
    /// The storage segment of keys: `/registry/{storage}/...` (`{group}/{plural}` for custom
    /// resources).
    pub storage: Name,
    /// Whether `metadata.generation` is set on create and bumped on spec changes.
    pub tracks_generation: bool,
    /// Whether a PUT of a missing object creates it.
    pub allow_create_on_update: bool,
    /// Field selectors beyond `metadata.name` and `metadata.namespace`, with the value a
    /// missing field reads as.
    pub field_selectors: Vec<(Name, Name)>,
    /// Typed round trip for built-in types; `None` for custom resources (see `custom`).
    pub codec: Option<Codec>,
    /// How this built-in version converts to and from the stored one, when they differ.
    pub conversion: Option<&'static Conversion>,
    /// The verbs served on the main resource.
    pub verbs: &'static [&'static str],
    /// What a custom resource adds: its schema, storage version, scale paths, printer columns.
    pub custom: Option<Arc<CustomInfo>>,
    /// The `Warning` every request to this resource gets, as kube-apiserver warns about
    /// deprecated APIs (core/v1 Endpoints since 1.33, deprecated CRD versions).
    pub deprecation: Option<Cow<'static, str>>,
}

impl ResourceDef {
    /// `group/version`, or `version` for core.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `plural` or `plural.group`, as Kubernetes names resources in messages.
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// The kind of lists, e.g. `PodList`.
    pub fn list_kind(&self) -> String {
        match &self.custom {
            Some(c) => c.list_kind.clone(),
            None => format!("{}List", self.kind),
        }
    }

    /// The stored group (the served one unless converted).
    pub fn storage_group(&self) -> &str {
        self.conversion.map_or(&self.group, |c| c.storage_group)
    }

    /// The stored kind.
    pub fn storage_kind(&self) -> &str {
        self.conversion.map_or(&self.kind, |c| c.storage_kind)
    }

    /// A stored object in this version's form.
    pub fn served(&self, v: Value) -> Value {
        match (self.conversion, &self.custom) {
            (Some(c), _) => (c.from_storage)(v),
            (None, Some(_)) => crd::with_api_version(v, self.api_version()),
            (None, None) => v,
        }
    }

    /// An object of this version in the stored form.
    pub fn stored(&self, v: Value) -> Value {
        match (self.conversion, &self.custom) {
            (Some(c), _) => (c.to_storage)(v),
            (None, Some(c)) => crd::with_api_version(v, format!("{}/{}", self.group, c.storage_version)),
            (None, None) => v,
        }
    }

    /// Whether stored objects may need converting to be served in this version: built-in
    /// versions stored as another, and custom resources of CRDs with several versions (objects
    /// written before the storage version changed keep their old `apiVersion` in storage).
    pub fn converts(&self) -> bool {
        self.conversion.is_some() || self.custom.as_ref().is_some_and(|c| c.multi_version)
    }

    /// Stored JSON bytes in this version's form (a copy of the handle when no conversion).
    pub fn served_bytes(&self, b: &Bytes) -> Bytes {
        if !self.converts() {
            return b.clone();
        }
        match serde_json::from_slice(b) {
            Ok(v) => Bytes::from(serde_json::to_vec(&self.served(v)).expect("JSON values serialise")),
            Err(_) => b.clone(),
        }
    }

    /// Whether the resource serves `sub`.
    pub fn has(&self, sub: Subresource) -> bool {
        self.subresources.contains(&sub)
    }

    /// Whether the status is written only through the `status` subresource.
    pub fn has_status(&self) -> bool {
        self.has(Subresource::Status)
    }

    /// The key prefix of every object of this resource.
    pub fn key_prefix(&self) -> String {
        format!("/registry/{}/", self.storage)
    }

    /// The prefix of the objects in `namespace` (or all, when `None`).
    pub fn list_prefix(&self, namespace: Option<&str>) -> String {
        match namespace.filter(|_| self.namespaced) {
            Some(ns) => format!("/registry/{}/{ns}/", self.storage),
            None => self.key_prefix(),
        }
    }

    /// The key of one object.
    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        match namespace.filter(|_| self.namespaced) {
            Some(ns) => format!("/registry/{}/{ns}/{name}", self.storage),
            None => format!("/registry/{}/{name}", self.storage),
        }
    }

    /// Whether `field` may be used in a field selector, and what a missing value reads as.
    pub fn field_default(&self, field: &str) -> Option<&str> {
        match field {
            "metadata.name" | "metadata.namespace" => Some(""),
            _ => self
                .field_selectors
                .iter()
                .find(|(f, _)| f == field)
                .map(|(_, d)| d.as_ref()),
        }
    }

    /// The verbs of the main resource.
    pub fn verbs(&self) -> &'static [&'static str] {
        self.verbs
    }

    /// Whether the main resource serves `verb`.
    pub fn allows(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }

    /// Whether this is a custom resource.
    pub fn is_custom(&self) -> bool {
        self.custom.is_some()
    }

    /// Whether this is the built-in `group`/`kind` (served in any version).
    pub fn is(&self, group: &str, kind: &str) -> bool {
        self.custom.is_none() && self.group == group && self.kind == kind
    }
}

/// The verbs of most resources.
pub const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// Kubernetes' order of API versions (`version.CompareKubeAwareVersionStrings`): versions
/// shaped `v<major>[alpha|beta<minor>]` first, GA before beta before alpha, higher numbers
/// first; any other version after them, alphabetically.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    fn parse(v: &str) -> Option<(u64, u8, u64)> {
        let rest = v.strip_prefix('v')?;
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let major: u64 = rest[..digits].parse().ok()?;
        if major == 0 {
            return None;
        }
        let tail = &rest[digits..];
        let (stage, minor) = if tail.is_empty() {
            (2, 0)
        } else if let Some(n) = tail.strip_prefix("beta") {
            (1, n.parse().ok()?)
        } else if let Some(n) = tail.strip_prefix("alpha") {
            (0, n.parse().ok()?)
        } else {
            return None;
        };
        Some((major, stage, minor))
    }
    match (parse(a), parse(b)) {
        (Some((ma, sa, na)), Some((mb, sb, nb))) => sb.cmp(&sa).then(mb.cmp(&ma)).then(nb.cmp(&na)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

/// All served resources, by group, version and plural.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    by_gvr: HashMap<(String, String, String), Arc<ResourceDef>>,
    ordered: Vec<Arc<ResourceDef>>,
}

impl Registry {
    /// The built-in resources.
    pub fn builtin() -> Self {
        let mut r = Registry::default();
        for def in builtin::resources() {
            r.register(def);
        }
        r
    }

    /// Add (or replace) a resource.
    pub fn register(&mut self, def: ResourceDef) {
        let def = Arc::new(def);
        let key = (
            def.group.to_string(),
            def.version.to_string(),
            def.plural.to_string(),
        );
        if let Some(old) = self.by_gvr.insert(key, def.clone()) {
            self.ordered.retain(|d| !Arc::ptr_eq(d, &old));
        }
        self.ordered.push(def);
    }

    /// Serve `defs` for the CustomResourceDefinition `crd_name`, replacing what it served
    /// before. An entry whose group, version and plural a built-in resource serves is skipped:
    /// built-in resources win, as in kube-apiserver.
    pub fn set_custom(&mut self, crd_name: &str, defs: Vec<ResourceDef>) {
        self.remove_custom(crd_name);
        for def in defs {
            let builtin = self
                .get(&def.group, &def.version, &def.plural)
                .is_some_and(|d| !d.is_custom());
            if !builtin {
                self.register(def);
            }
        }
    }

    /// Stop serving what the CustomResourceDefinition `crd_name` served.
    pub fn remove_custom(&mut self, crd_name: &str) {
        let of_crd = |d: &Arc<ResourceDef>| d.custom.as_ref().is_some_and(|c| c.crd_name == crd_name);
        self.by_gvr.retain(|_, d| !of_crd(d));
        self.ordered.retain(|d| !of_crd(d));
    }

    /// Look a resource up.
    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<&Arc<ResourceDef>> {
        self.by_gvr
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
    }

    /// Every resource, in registration order.
    pub fn all(&self) -> &[Arc<ResourceDef>] {
        &self.ordered
    }

    /// Groups (core first, then in registration order) and their versions, most preferred
    /// first (see [`compare_versions`]).
    pub fn groups(&self) -> Vec<(&str, Vec<&str>)> {
        let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
        for d in &self.ordered {
            match out.iter_mut().find(|(g, _)| *g == d.group) {
                Some((_, versions)) if !versions.contains(&d.version.as_ref()) => versions.push(&d.version),
                Some(_) => {}
                None => out.push((&d.group, vec![&d.version])),
            }
        }
        for (_, versions) in &mut out {
            versions.sort_by(|a, b| compare_versions(a, b));
        }
        out
    }

    /// Every distinct storage prefix (`/registry/pods/`, ...).
    pub fn storage_prefixes(&self) -> Vec<String> {
        let mut v: Vec<String> = self.ordered.iter().map(|d| d.key_prefix()).collect();
        v.sort();
        v.dedup();
        v
    }
}

/// The registry as the server shares it: readers take a snapshot ([`load`](Self::load)) that
/// stays valid and unchanged while custom resources come and go.
#[derive(Debug, Default)]
pub struct SharedRegistry {
    current: RwLock<Arc<Registry>>,
}

impl SharedRegistry {
    /// Share `registry`.
    pub fn new(registry: Registry) -> Self {
        Self {
            current: RwLock::new(Arc::new(registry)),
        }
    }

    /// The current registry.
    pub fn load(&self) -> Arc<Registry> {
        self.current.read().clone()
    }

    /// Change the registry: `f` edits a copy, which then replaces the current one.
    pub fn update(&self, f: impl FnOnce(&mut Registry)) {
        let mut current = self.current.write();
        let mut next = Registry::clone(&current);
        f(&mut next);
        *current = Arc::new(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_like_kubernetes() {
        let mut v = vec![
            "v1alpha1",
            "foo",
            "v2",
            "v1beta2",
            "v1",
            "v11alpha2",
            "v1beta1",
            "v12",
            "bar",
        ];
        v.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(
            v,
            [
                "v12",
                "v2",
                "v1",
                "v1beta2",
                "v1beta1",
                "v11alpha2",
                "v1alpha1",
                "bar",
                "foo"
            ]
        );
    }
}
