//! Discovery documents: `/api`, `/api/v1`, `/apis`, `/apis/{group}`, `/apis/{group}/{version}`,
//! and `/version`, built from the registry.
//!
//! `/api` and `/apis` also serve *aggregated* discovery (`apidiscovery.k8s.io/v2`, and
//! `v2beta1`): one `APIGroupDiscoveryList` with every group, version and resource, which is what
//! kubectl asks for first (`Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,...`),
//! so that one request replaces one per group-version. Custom resources appear as soon as the
//! registry serves them.

use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use crate::registry::{Registry, ResourceDef, Subresource};

/// `/version`.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "35",
        "emulationMajor": "1",
        "emulationMinor": "35",
        "gitVersion": concat!("v1.35.0-ref+", env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "rust",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, if cfg!(target_arch = "x86_64") { "amd64" } else { std::env::consts::ARCH }),
    })
}

/// `/api`.
pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn group_entry(name: &str, versions: &[&str]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    json!({"name": name, "versions": vs, "preferredVersion": vs[0].clone()})
}

/// `/apis`.
pub fn group_list(registry: &Registry) -> Value {
    let groups: Vec<Value> = registry
        .groups()
        .iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, vs)| group_entry(g, vs))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/{group}`, if served.
pub fn group(registry: &Registry, name: &str) -> Option<Value> {
    let groups = registry.groups();
    let (g, vs) = groups.iter().find(|(g, _)| *g == name && !g.is_empty())?;
    let mut v = group_entry(g, vs);
    v["kind"] = json!("APIGroup");
    v["apiVersion"] = json!("v1");
    Some(v)
}

fn subresource_kind(def: &ResourceDef, sub: Subresource) -> (&str, Option<(&'static str, &'static str)>) {
    match sub {
        Subresource::Status | Subresource::Finalize => (&def.kind, None),
        Subresource::Scale => ("Scale", Some(("autoscaling", "v1"))),
        Subresource::Binding => ("Binding", None),
        Subresource::Eviction => ("Eviction", Some(("policy", "v1"))),
    }
}

/// `/api/v1` or `/apis/{group}/{version}`, if served.
pub fn resource_list(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let defs: Vec<_> = registry
        .all()
        .iter()
        .filter(|d| d.group == group && d.version == version)
        .collect();
    if defs.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for d in defs {
        let mut r = json!({
            "name": d.plural,
            "singularName": d.singular,
            "namespaced": d.namespaced,
            "kind": d.kind,
            "verbs": d.verbs(),
        });
        if !d.short_names.is_empty() {
            r["shortNames"] = json!(d.short_names);
        }
        if !d.categories.is_empty() {
            r["categories"] = json!(d.categories);
        }
        resources.push(r);
        for sub in &d.subresources {
            let (kind, gv) = subresource_kind(d, *sub);
            let mut s = json!({
                "name": format!("{}/{}", d.plural, sub.name()),
                "singularName": "",
                "namespaced": d.namespaced,
                "kind": kind,
                "verbs": sub.verbs(),
            });
            if let Some((g, v)) = gv {
                s["group"] = json!(g);
                s["version"] = json!(v);
            }
            resources.push(s);
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}))
}

fn response_kind(group: &str, version: &str, kind: &str) -> Value {
    json!({"group": group, "version": version, "kind": kind})
}

fn resource_discovery(d: &ResourceDef) -> Value {
    let mut r = json!({
        "resource": d.plural,
        "responseKind": response_kind(&d.group, &d.version, &d.kind),
        "scope": if d.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": d.singular,
        "verbs": d.verbs(),
    });
    if !d.short_names.is_empty() {
        r["shortNames"] = json!(d.short_names);
    }
    if !d.categories.is_empty() {
        r["categories"] = json!(d.categories);
    }
    let subresources: Vec<Value> = d
        .subresources
        .iter()
        .map(|sub| {
            let (kind, gv) = subresource_kind(d, *sub);
            let (g, v) = gv.unwrap_or((&d.group, &d.version));
            json!({
                "subresource": sub.name(),
                "responseKind": response_kind(g, v, kind),
                "verbs": sub.verbs(),
            })
        })
        .collect();
    if !subresources.is_empty() {
        r["subresources"] = json!(subresources);
    }
    r
}

fn group_discovery(registry: &Registry, group: &str, versions: &[&str]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .map(|v| {
            let mut defs: Vec<&ResourceDef> = registry
                .all()
                .iter()
                .filter(|d| d.group == group && d.version == *v)
                .map(|d| d.as_ref())
                .collect();
            defs.sort_by(|a, b| a.plural.cmp(&b.plural));
            let resources: Vec<Value> = defs.into_iter().map(resource_discovery).collect();
            json!({"version": v, "resources": resources, "freshness": "Current"})
        })
        .collect();
    json!({"metadata": {"name": group, "creationTimestamp": null}, "versions": versions})
}

/// The aggregated discovery document (`APIGroupDiscoveryList` of `apidiscovery.k8s.io/{version}`)
/// of `/api` (`legacy`: the core group only) or `/apis` (every named group), versions in order
/// of preference.
pub fn aggregated(registry: &Registry, legacy: bool, version: &str) -> Value {
    let items: Vec<Value> = registry
        .groups()
        .iter()
        .filter(|(g, _)| g.is_empty() == legacy)
        .map(|(g, vs)| group_discovery(registry, g, vs))
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{version}"),
        "metadata": {},
        "items": items,
    })
}

/// `/api` (`legacy`) or `/apis`, in the form the request's `Accept` header prefers: aggregated
/// discovery (with its media type as `Content-Type`, which is how clients tell the two apart)
/// or the plain `APIVersions` / `APIGroupList`.
pub fn root(registry: &Registry, headers: &HeaderMap, legacy: bool, server_address: &str) -> Response {
    let mut resp = match crate::negotiation::aggregated_discovery(headers) {
        Some(version) => {
            let mut r = crate::handlers::json(StatusCode::OK, &aggregated(registry, legacy, version));
            let media =
                format!("application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList");
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_str(&media).expect("a valid media type"),
            );
            r
        }
        None if legacy => crate::handlers::json(StatusCode::OK, &core_versions(server_address)),
        None => crate::handlers::json(StatusCode::OK, &group_list(registry)),
    };
    resp.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregated_discovery_lists_resources_with_their_subresources() {
        let registry = Registry::builtin();
        let apis = aggregated(&registry, false, "v2");
        assert_eq!(apis["apiVersion"], "apidiscovery.k8s.io/v2");
        let apps = apis["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["metadata"]["name"] == "apps")
            .expect("apps is served");
        let v1 = &apps["versions"][0];
        assert_eq!(v1["version"], "v1");
        let deploy = v1["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == "deployments")
            .unwrap();
        assert_eq!(deploy["scope"], "Namespaced");
        assert_eq!(deploy["singularResource"], "deployment");
        assert_eq!(deploy["shortNames"], json!(["deploy"]));
        assert_eq!(deploy["categories"], json!(["all"]));
        assert_eq!(
            deploy["responseKind"],
            json!({"group": "apps", "version": "v1", "kind": "Deployment"})
        );
        let scale = deploy["subresources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["subresource"] == "scale")
            .unwrap();
        assert_eq!(scale["responseKind"]["group"], "autoscaling");
        // autoscaling prefers v2 over v1.
        let autoscaling = apis["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["metadata"]["name"] == "autoscaling")
            .unwrap();
        assert_eq!(autoscaling["versions"][0]["version"], "v2");

        let api = aggregated(&registry, true, "v2beta1");
        assert_eq!(api["apiVersion"], "apidiscovery.k8s.io/v2beta1");
        assert_eq!(api["items"].as_array().unwrap().len(), 1);
        let core = &api["items"][0];
        assert_eq!(core["metadata"]["name"], "");
        let ns = core["versions"][0]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == "namespaces")
            .unwrap();
        assert_eq!(ns["scope"], "Cluster");
    }
}
