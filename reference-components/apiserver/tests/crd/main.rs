//! CustomResourceDefinitions end to end: kube-client's `Api<DynamicObject>` over real HTTP
//! against the in-process apiserver (and the real binary for the restart).
//!
//! - `serving`: discovery within a second, CRUD, patches and watches of namespaced and
//!   cluster-scoped custom resources, several versions over one storage version, pruning,
//!   defaults and generation.
//! - `subresources`: `status` and `scale`.
//! - `validation`: objects against the schema, one rule family at a time, and invalid CRDs.
//! - `lifecycle`: names and their conflicts, deleting a CRD, restarts, terminating namespaces.

#[path = "../support/mod.rs"]
mod support;

mod lifecycle;
mod serving;
mod subresources;
mod validation;

use std::time::Duration;

use http::Request;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube_client::{Api, Client};
use kube_core::dynamic::Scope;
use kube_core::params::PostParams;
use kube_core::{ApiResource, DynamicObject, GroupVersionKind, Status};
use reference_apiserver::testing::TestServer;
use serde_json::{Value, json};

pub use support::{Reply, eventually, raw};

/// How soon a new CRD must be served.
pub const ESTABLISH_WITHIN: Duration = Duration::from_secs(1);
/// How long anything else may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A test server and a client for it.
pub struct Env {
    /// The server.
    pub server: TestServer,
    /// A client that does not retry.
    pub client: Client,
}

/// Start an in-process server.
pub async fn env() -> Env {
    let server = TestServer::start().await;
    let client = support::client(&server.url());
    Env { server, client }
}

/// The widget schema: one property per rule family.
pub fn widget_schema() -> Value {
    json!({
        "type": "object",
        "required": ["spec"],
        "properties": {
            "spec": {
                "type": "object",
                "required": ["colour"],
                "properties": {
                    "colour": {"type": "string", "enum": ["red", "green", "blue"]},
                    "replicas": {"type": "integer", "minimum": 0, "maximum": 10, "default": 1},
                    "name": {"type": "string", "minLength": 2, "maxLength": 10, "pattern": "^[a-z]+$"},
                    "ratio": {"type": "number", "minimum": 0, "exclusiveMinimum": true, "maximum": 1},
                    "note": {"type": "string", "nullable": true},
                    "tags": {"type": "array", "minItems": 1, "maxItems": 3, "items": {"type": "string", "maxLength": 5}},
                    "labels": {"type": "object", "additionalProperties": {"type": "string", "pattern": "^v"}},
                    "port": {"x-kubernetes-int-or-string": true},
                    "contact": {"type": "string", "format": "email"},
                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                                 "x-kubernetes-preserve-unknown-fields": true},
                    "mode": {"type": "string", "default": "auto"},
                    "selector": {"type": "string"},
                },
            },
            "status": {
                "type": "object",
                "properties": {
                    "replicas": {"type": "integer"},
                    "ready": {"type": "boolean"},
                    "selector": {"type": "string"},
                },
            },
        },
    })
}

/// A CRD named `{plural}.{group}` with `versions` (objects of `{"name", "storage", ...}`
/// completed with `served: true` and the widget schema unless they say otherwise).
pub fn crd(group: &str, plural: &str, kind: &str, scope: &str, versions: Value) -> Value {
    let versions: Vec<Value> = versions
        .as_array()
        .expect("a list of versions")
        .iter()
        .map(|v| {
            let mut v = v.clone();
            let m = v.as_object_mut().expect("a version object");
            m.entry("served").or_insert(json!(true));
            m.entry("storage").or_insert(json!(false));
            m.entry("schema")
                .or_insert_with(|| json!({"openAPIV3Schema": widget_schema()}));
            v
        })
        .collect();
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{group}")},
        "spec": {
            "group": group,
            "scope": scope,
            "names": {"plural": plural, "singular": kind.to_ascii_lowercase(), "kind": kind,
                      "shortNames": [format!("{}x", &plural[..2])], "categories": ["all"]},
            "versions": versions,
        },
    })
}

/// The standard widgets: namespaced, stored in v1 (with status, scale and printer columns),
/// also served in v1beta1.
pub fn widgets_crd() -> Value {
    crd(
        "example.com",
        "widgets",
        "Widget",
        "Namespaced",
        json!([
            {"name": "v1", "storage": true,
             "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                              "statusReplicasPath": ".status.replicas", "labelSelectorPath": ".status.selector"}},
             "additionalPrinterColumns": [{"name": "Colour", "type": "string", "jsonPath": ".spec.colour"}]},
            {"name": "v1beta1", "subresources": {"status": {}}},
        ]),
    )
}

/// POST a CRD and return what the server answered.
pub async fn create_crd(client: &Client, crd: &Value) -> CustomResourceDefinition {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let typed: CustomResourceDefinition = serde_json::from_value(crd.clone()).expect("a CRD");
    api.create(&PostParams::default(), &typed)
        .await
        .expect("create the CRD")
}

/// GET a path as JSON.
pub async fn get_json(client: &Client, path: &str) -> Result<Value, kube_client::Error> {
    client
        .request::<Value>(Request::get(path).body(Vec::new()).expect("request"))
        .await
}

/// Wait until `/apis/{group}/{version}` lists `plural`, at most [`ESTABLISH_WITHIN`].
pub async fn wait_served(client: &Client, group: &str, version: &str, plural: &str) -> Value {
    let path = format!("/apis/{group}/{version}");
    eventually(ESTABLISH_WITHIN, &format!("{plural} in {path}"), || async {
        let doc = get_json(client, &path).await.ok()?;
        doc["resources"]
            .as_array()?
            .iter()
            .any(|r| r["name"] == plural)
            .then_some(doc)
    })
    .await
}

/// Create the CRD and wait until it is served in `version`.
pub async fn install(client: &Client, crd: &Value, version: &str) {
    create_crd(client, crd).await;
    let spec = &crd["spec"];
    wait_served(
        client,
        spec["group"].as_str().unwrap(),
        version,
        spec["names"]["plural"].as_str().unwrap(),
    )
    .await;
}

/// An `Api<DynamicObject>` for `group/version` `plural` of `kind`, in `namespace` (or all).
pub fn api(
    client: &Client,
    gvk: (&str, &str, &str),
    plural: &str,
    namespace: Option<&str>,
) -> Api<DynamicObject> {
    let (group, version, kind) = gvk;
    let scope = if namespace.is_some() {
        Scope::Namespaced
    } else {
        Scope::Cluster
    };
    let ar = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural, scope);
    match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    }
}

/// Widgets of `version` in `namespace`.
pub fn widgets(client: &Client, version: &str, namespace: &str) -> Api<DynamicObject> {
    api(
        client,
        ("example.com", version, "Widget"),
        "widgets",
        Some(namespace),
    )
}

/// A widget named `name` with `spec`.
pub fn widget(name: &str, spec: Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": name}, "spec": spec,
    }))
    .expect("a widget")
}

/// The `Status` of a failed call (panics on success or a transport error).
pub fn status_of<T: std::fmt::Debug>(result: Result<T, kube_client::Error>) -> Status {
    match result {
        Err(kube_client::Error::Api(s)) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// A condition of a CRD: `(status, reason)`.
pub fn condition(crd: &Value, type_: &str) -> Option<(String, String)> {
    crd["status"]["conditions"].as_array()?.iter().find_map(|c| {
        (c["type"] == type_).then(|| {
            (
                c["status"].as_str().unwrap_or_default().to_string(),
                c["reason"].as_str().unwrap_or_default().to_string(),
            )
        })
    })
}
