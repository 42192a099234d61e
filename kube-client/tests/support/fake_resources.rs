//! The resources the fake apiserver serves, and its discovery documents (`/api`, `/api/v1`,
//! `/apis`, `/apis/{group}/{version}`) shaped as kube-apiserver 1.35 writes them.

use serde_json::{Value, json};

/// Every verb of a namespaced built-in resource, in the order kube-apiserver lists them.
const ALL_VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// One resource the fake serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceDef {
    /// API group; empty for the core group.
    pub group: String,
    /// Version.
    pub version: String,
    /// Kind, e.g. `Pod`.
    pub kind: String,
    /// Plural, used in URLs.
    pub plural: String,
    /// Singular name.
    pub singular: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Short names, e.g. `po`.
    pub short_names: Vec<String>,
    /// Categories, e.g. `all`.
    pub categories: Vec<String>,
    /// Verbs listed in discovery (and allowed).
    pub verbs: Vec<String>,
    /// Whether it has a `status` subresource (writes to the main resource keep the old status).
    pub status: bool,
    /// Whether a delete answers with the deleted object rather than a `Status` (pods do:
    /// `ReturnDeletedObject` in their registry).
    pub returns_deleted_object: bool,
}

impl ResourceDef {
    /// A namespaced resource with every verb and no subresource.
    pub fn namespaced(group: &str, version: &str, kind: &str, plural: &str) -> Self {
        Self {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            plural: plural.into(),
            singular: kind.to_ascii_lowercase(),
            namespaced: true,
            short_names: vec![],
            categories: vec![],
            verbs: ALL_VERBS.iter().map(|v| v.to_string()).collect(),
            status: false,
            returns_deleted_object: false,
        }
    }

    /// A cluster-scoped resource with every verb and no subresource.
    pub fn cluster(group: &str, version: &str, kind: &str, plural: &str) -> Self {
        Self {
            namespaced: false,
            ..Self::namespaced(group, version, kind, plural)
        }
    }

    /// Add short names.
    pub fn short_names(mut self, names: &[&str]) -> Self {
        self.short_names = names.iter().map(|n| n.to_string()).collect();
        self
    }

    /// Add the `all` category.
    pub fn in_all(mut self) -> Self {
        self.categories = vec!["all".into()];
        self
    }

    /// Give it a `status` subresource.
    pub fn with_status(mut self) -> Self {
        self.status = true;
        self
    }

    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The group-qualified resource as Kubernetes names it in messages: `pods`,
    /// `deployments.apps`.
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// Whether `verb` is allowed.
    pub fn allows(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }
}

/// What a fresh fake serves: pods, configmaps and namespaces in the core group, deployments in
/// `apps`.
pub fn builtin() -> Vec<ResourceDef> {
    let mut pods = ResourceDef::namespaced("", "v1", "Pod", "pods")
        .short_names(&["po"])
        .in_all()
        .with_status();
    pods.returns_deleted_object = true;
    let mut namespaces = ResourceDef::cluster("", "v1", "Namespace", "namespaces")
        .short_names(&["ns"])
        .with_status();
    namespaces.verbs.retain(|v| v != "deletecollection");
    vec![
        pods,
        ResourceDef::namespaced("", "v1", "ConfigMap", "configmaps").short_names(&["cm"]),
        namespaces,
        ResourceDef::namespaced("apps", "v1", "Deployment", "deployments")
            .short_names(&["deploy"])
            .in_all()
            .with_status(),
    ]
}

/// `GET /api`.
pub fn api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

/// The versions of `group`, in registration order (the first is preferred).
fn versions_of<'a>(defs: &'a [ResourceDef], group: &str) -> Vec<&'a str> {
    let mut versions: Vec<&str> = Vec::new();
    for d in defs.iter().filter(|d| d.group == group) {
        if !versions.contains(&d.version.as_str()) {
            versions.push(&d.version);
        }
    }
    versions
}

/// `GET /apis`.
pub fn api_group_list(defs: &[ResourceDef]) -> Value {
    let mut names: Vec<&str> = Vec::new();
    for d in defs.iter().filter(|d| !d.group.is_empty()) {
        if !names.contains(&d.group.as_str()) {
            names.push(&d.group);
        }
    }
    let groups: Vec<Value> = names
        .iter()
        .map(|g| {
            let versions: Vec<Value> = versions_of(defs, g)
                .iter()
                .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                .collect();
            json!({"name": g, "versions": versions, "preferredVersion": versions[0]})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /api/v1` or `/apis/{group}/{version}`; `None` when the group version is not served.
pub fn api_resource_list(defs: &[ResourceDef], group: &str, version: &str) -> Option<Value> {
    let served: Vec<&ResourceDef> = defs
        .iter()
        .filter(|d| d.group == group && d.version == version)
        .collect();
    if served.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for d in served {
        let mut r = json!({
            "name": d.plural,
            "singularName": d.singular,
            "namespaced": d.namespaced,
            "kind": d.kind,
            "verbs": d.verbs,
            "storageVersionHash": "fake0000000=",
        });
        if !d.short_names.is_empty() {
            r["shortNames"] = json!(d.short_names);
        }
        if !d.categories.is_empty() {
            r["categories"] = json!(d.categories);
        }
        resources.push(r);
        if d.status {
            resources.push(json!({
                "name": format!("{}/status", d.plural),
                "singularName": "",
                "namespaced": d.namespaced,
                "kind": d.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}),
    )
}

/// `GET /version`.
pub fn version_info() -> Value {
    json!({
        "major": "1",
        "minor": "35",
        "emulationMajor": "1",
        "emulationMinor": "35",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "34",
        "gitVersion": "v1.35.0-fake",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-12-17T00:00:00Z",
        "goVersion": "go1.25.5",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}
