//! OpenAPI v3: `/openapi/v3` (an index of group-versions, each with a content hash) and
//! `/openapi/v3/api/v1`, `/openapi/v3/apis/{group}/{version}` (one document per group-version).
//!
//! Built-in kinds' schemas come from k8s-openapi's `schemars::JsonSchema` impls, with
//! Kubernetes' component names (`io.k8s.api.core.v1.Pod`) and `$ref`s to
//! `#/components/schemas/...` (a `$ref` with a description becomes `allOf: [{$ref}]`, as in
//! kube-apiserver's documents). Each kind's schema carries `x-kubernetes-group-version-kind`,
//! which `kubectl explain` uses to find it; custom resources get their CRD version's schema
//! plus `apiVersion`, `kind` and `metadata`. The `paths` make kubectl leave validation of
//! `apply` and `create` to the server. `/openapi/v2` is not served: kubectl asks it only when
//! v3 is missing, and only in protobuf.
//!
//! Documents of built-in group-versions are built once per process; those with custom
//! resources are built on each request (they change as CRDs do, and so does their hash).

mod builtin;
mod paths;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use parking_lot::Mutex;
use schemars::SchemaGenerator;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use crate::registry::{Registry, ResourceDef};

/// A serialised document and its content hash.
#[derive(Debug, Clone)]
struct Document {
    bytes: Bytes,
    hash: String,
}

/// The document path of a group-version: `api/v1`, `apis/apps/v1`.
pub fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// FNV-1a, 64 bits: a stable content hash (clients only compare it).
fn content_hash(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016X}")
}

fn generator() -> SchemaGenerator {
    SchemaGenerator::new(SchemaSettings::openapi3())
}

fn gvk_extension(def: &ResourceDef) -> Value {
    json!([{"group": def.group, "version": def.version, "kind": def.kind}])
}

/// The components and paths of the built-in kinds of `defs`.
fn builtin_parts(defs: &[&ResourceDef]) -> (Map<String, Value>, Map<String, Value>) {
    let mut generator = generator();
    let mut named = Vec::new();
    for def in defs {
        if let Some(name) = builtin::add(&mut generator, &def.group, &def.version, &def.kind) {
            named.push((*def, name));
        }
    }
    // The Scale of `scale` subresources is a kind of autoscaling/v1.
    if defs.iter().any(|d| d.group == "autoscaling" && d.version == "v1") {
        builtin::add(&mut generator, "autoscaling", "v1", "Scale");
    }
    let mut schemas = generator.take_definitions(true);
    let mut paths = Map::new();
    for (def, name) in &named {
        if let Some(schema) = schemas.get_mut(name).and_then(Value::as_object_mut) {
            schema.insert("x-kubernetes-group-version-kind".into(), gvk_extension(def));
        }
        paths::add(&mut paths, def, name);
    }
    if let Some(scale) = schemas
        .get_mut("io.k8s.api.autoscaling.v1.Scale")
        .and_then(Value::as_object_mut)
    {
        scale.insert(
            "x-kubernetes-group-version-kind".into(),
            json!([{"group": "autoscaling", "version": "v1", "kind": "Scale"}]),
        );
    }
    (schemas, paths)
}

/// `ObjectMeta` and the definitions it references.
fn object_meta() -> &'static (String, Map<String, Value>) {
    static META: OnceLock<(String, Map<String, Value>)> = OnceLock::new();
    META.get_or_init(|| {
        let mut generator = generator();
        let name = builtin::add_object_meta(&mut generator);
        (name, generator.take_definitions(true))
    })
}

/// The component name kube-apiserver gives a custom kind: the group reversed, then version and
/// kind (`com.example.v1.Widget`).
fn custom_component(def: &ResourceDef) -> String {
    let group: Vec<&str> = def.group.split('.').rev().collect();
    format!("{}.{}.{}", group.join("."), def.version, def.kind)
}

fn custom_schema(def: &ResourceDef, meta_name: &str) -> Value {
    let mut schema = def
        .custom
        .as_ref()
        .and_then(|c| c.schema.as_ref())
        .and_then(|s| serde_json::to_value(s.root()).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}));
    let root = schema.as_object_mut().expect("an object schema");
    let properties = root
        .entry("properties")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .map(std::mem::take)
        .unwrap_or_default();
    let mut properties = properties;
    properties.insert(
        "apiVersion".into(),
        json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"}),
    );
    properties.insert(
        "kind".into(),
        json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"}),
    );
    properties.insert(
        "metadata".into(),
        json!({"allOf": [{"$ref": format!("#/components/schemas/{meta_name}")}], "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"}),
    );
    root.insert("properties".into(), Value::Object(properties));
    root.insert("type".into(), json!("object"));
    root.insert("x-kubernetes-group-version-kind".into(), gvk_extension(def));
    schema
}

fn assemble(paths: Map<String, Value>, schemas: Map<String, Value>) -> Document {
    let doc = json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.35.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    });
    let bytes = serde_json::to_vec(&doc).expect("JSON values serialise");
    let hash = content_hash(&bytes);
    Document {
        bytes: Bytes::from(bytes),
        hash,
    }
}

/// The built-in document of `gv`, built once.
fn builtin_document(gv: &str, defs: &[&ResourceDef]) -> Arc<Document> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Document>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(doc) = cache.lock().get(gv) {
        return doc.clone();
    }
    let (schemas, paths) = builtin_parts(defs);
    let doc = Arc::new(assemble(paths, schemas));
    cache.lock().insert(gv.to_string(), doc.clone());
    doc
}

/// The document of the group-version at `gv` (`api/v1`, `apis/apps/v1`), if served.
fn build(registry: &Registry, gv: &str) -> Option<Arc<Document>> {
    let defs: Vec<&ResourceDef> = registry
        .all()
        .iter()
        .filter(|d| gv_path(&d.group, &d.version) == gv)
        .map(|d| d.as_ref())
        .collect();
    if defs.is_empty() {
        return None;
    }
    let (custom, builtin): (Vec<&ResourceDef>, Vec<&ResourceDef>) =
        defs.into_iter().partition(|d| d.is_custom());
    if custom.is_empty() {
        return Some(builtin_document(gv, &builtin));
    }
    let (mut schemas, mut paths) = if builtin.is_empty() {
        (Map::new(), Map::new())
    } else {
        builtin_parts(&builtin)
    };
    let (meta_name, meta_defs) = object_meta();
    for (name, schema) in meta_defs {
        schemas.entry(name.clone()).or_insert_with(|| schema.clone());
    }
    for def in custom {
        let component = custom_component(def);
        schemas.insert(component.clone(), custom_schema(def, meta_name));
        paths::add(&mut paths, def, &component);
    }
    Some(Arc::new(assemble(paths, schemas)))
}

fn json_response(body: Bytes, cache: &'static str) -> Response {
    let mut resp = crate::handlers::bytes_response(StatusCode::OK, body);
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    resp
}

/// The index document of every served group-version: `{"paths": {"api/v1":
/// {"serverRelativeURL": "/openapi/v3/api/v1?hash=..."}, ...}}`.
pub fn index_document(registry: &Registry) -> Value {
    let mut paths = Map::new();
    for (group, versions) in registry.groups() {
        for version in versions {
            let gv = gv_path(group, version);
            if let Some(doc) = build(registry, &gv) {
                paths.insert(
                    gv.clone(),
                    json!({"serverRelativeURL": format!("/openapi/v3/{gv}?hash={}", doc.hash)}),
                );
            }
        }
    }
    json!({ "paths": paths })
}

/// `/openapi/v3`.
pub fn index(registry: &Registry) -> Response {
    let body = serde_json::to_vec(&index_document(registry)).expect("JSON values serialise");
    json_response(Bytes::from(body), "no-cache, private")
}

/// `/openapi/v3/{gv}`: 404 for a group-version that is not served.
pub fn document(registry: &Registry, gv: &str) -> Response {
    match build(registry, gv.trim_matches('/')) {
        Some(doc) => {
            let mut resp = json_response(doc.bytes.clone(), "no-cache, private");
            if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", doc.hash)) {
                resp.headers_mut().insert(header::ETAG, etag);
            }
            resp
        }
        None => crate::handlers::status_response(&kube_core::Status::failure(
            404,
            kube_core::status::reason::NOT_FOUND,
            format!("the server could not find the requested resource (/openapi/v3/{gv})"),
        )),
    }
}

/// The parsed document of `gv`, for tests and tools.
pub fn document_json(registry: &Registry, gv: &str) -> Option<Value> {
    build(registry, gv).and_then(|d| serde_json::from_slice(&d.bytes).ok())
}

#[cfg(test)]
mod tests;
