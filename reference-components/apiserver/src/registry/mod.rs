//! The registry: one entry per served resource, saying everything the generic handlers need.
//!
//! Adding a built-in resource is one line in [`builtin`]: the names, scope and kind come from the
//! k8s-openapi type; the entry adds short names, categories, subresources and the few strategy
//! switches in which resources differ (generation tracking, create-on-update, field selectors).

pub mod builtin;
pub mod conversion;

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

pub use conversion::Conversion;

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

/// Decode a JSON object into the resource's typed form and encode it back: checks the types of
/// every known field and drops unknown ones, as kube-apiserver's decoding does.
pub type Codec = fn(&Value) -> Result<Value, serde_json::Error>;

/// Everything the handlers need to know about one resource.
#[derive(Debug, Clone)]
pub struct ResourceDef {
    /// API group; empty for core.
    pub group: &'static str,
    /// Served version.
    pub version: &'static str,
    /// Kind, e.g. `Pod`.
    pub kind: &'static str,
    /// Plural, e.g. `pods`.
    pub plural: &'static str,
    /// Singular, e.g. `pod`.
    pub singular: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Short names for kubectl.
    pub short_names: &'static [&'static str],
    /// Categories (`all`).
    pub categories: &'static [&'static str],
    /// Subresources served.
    pub subresources: &'static [Subresource],
    /// The storage segment of keys: `/registry/{storage}/...`.
    pub storage: &'static str,
    /// Whether `metadata.generation` is set on create and bumped on spec changes.
    pub tracks_generation: bool,
    /// Whether a PUT of a missing object creates it.
    pub allow_create_on_update: bool,
    /// Field selectors beyond `metadata.name` and `metadata.namespace`, with the value a
    /// missing field reads as.
    pub field_selectors: &'static [(&'static str, &'static str)],
    /// Typed round trip for built-in types; `None` keeps the JSON as sent (custom resources).
    pub codec: Option<Codec>,
    /// How this version converts to and from the stored one, when they differ.
    pub conversion: Option<&'static Conversion>,
    /// The verbs served on the main resource.
    pub verbs: &'static [&'static str],
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

    /// The stored group (the served one unless converted).
    pub fn storage_group(&self) -> &'static str {
        self.conversion.map_or(self.group, |c| c.storage_group)
    }

    /// The stored kind.
    pub fn storage_kind(&self) -> &'static str {
        self.conversion.map_or(self.kind, |c| c.storage_kind)
    }

    /// A stored object in this version's form.
    pub fn served(&self, v: Value) -> Value {
        match self.conversion {
            Some(c) => (c.from_storage)(v),
            None => v,
        }
    }

    /// An object of this version in the stored form.
    pub fn stored(&self, v: Value) -> Value {
        match self.conversion {
            Some(c) => (c.to_storage)(v),
            None => v,
        }
    }

    /// Stored JSON bytes in this version's form (a copy of the handle when no conversion).
    pub fn served_bytes(&self, b: &Bytes) -> Bytes {
        match self.conversion {
            None => b.clone(),
            Some(c) => match serde_json::from_slice(b) {
                Ok(v) => {
                    Bytes::from(serde_json::to_vec(&(c.from_storage)(v)).expect("JSON values serialise"))
                }
                Err(_) => b.clone(),
            },
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
    pub fn field_default(&self, field: &str) -> Option<&'static str> {
        match field {
            "metadata.name" | "metadata.namespace" => Some(""),
            _ => self
                .field_selectors
                .iter()
                .find(|(f, _)| *f == field)
                .map(|(_, d)| *d),
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

    /// Look a resource up.
    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<&Arc<ResourceDef>> {
        self.by_gvr
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
    }

    /// Every resource, in registration order.
    pub fn all(&self) -> &[Arc<ResourceDef>] {
        &self.ordered
    }

    /// Groups and their versions, in registration order (core first).
    pub fn groups(&self) -> Vec<(&'static str, Vec<&'static str>)> {
        let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
        for d in &self.ordered {
            match out.iter_mut().find(|(g, _)| *g == d.group) {
                Some((_, versions)) if !versions.contains(&d.version) => versions.push(d.version),
                Some(_) => {}
                None => out.push((d.group, vec![d.version])),
            }
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
