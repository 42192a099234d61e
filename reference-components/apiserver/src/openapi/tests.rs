use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::*;

#[test]
fn the_index_lists_every_group_version_with_a_hash() {
    let registry = Registry::builtin();
    let index = index_document(&registry);
    let core = index["paths"]["api/v1"]["serverRelativeURL"].as_str().unwrap();
    assert!(core.starts_with("/openapi/v3/api/v1?hash="), "{core}");
    assert!(index["paths"]["apis/apps/v1"].is_object());
    assert!(index["paths"]["apis/autoscaling/v1"].is_object());
    // The hash is the document's: stable while the document is.
    assert_eq!(index, index_document(&registry));
}

#[test]
fn kinds_carry_their_group_version_kind_and_refs_resolve() {
    let registry = Registry::builtin();
    let doc = document_json(&registry, "api/v1").unwrap();
    let schemas = &doc["components"]["schemas"];
    let pod = &schemas["io.k8s.api.core.v1.Pod"];
    assert_eq!(
        pod["x-kubernetes-group-version-kind"],
        json!([{"group": "", "version": "v1", "kind": "Pod"}])
    );
    // A described reference is an allOf, as in kube-apiserver's documents.
    assert_eq!(
        pod["properties"]["spec"]["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.api.core.v1.PodSpec"
    );
    let containers = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
    assert_eq!(containers["type"], "array");
    assert_eq!(
        containers["items"]["$ref"],
        "#/components/schemas/io.k8s.api.core.v1.Container"
    );
    // Every reference points at a component of the same document.
    let text = doc.to_string();
    for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = &piece[..piece.find('"').unwrap()];
        assert!(schemas.get(name).is_some(), "dangling reference to {name}");
    }
}

#[test]
fn patch_operations_offer_field_validation_but_not_strategic_merge() {
    let registry = Registry::builtin();
    let doc = document_json(&registry, "apis/apps/v1").unwrap();
    let patch = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
    assert_eq!(
        patch["x-kubernetes-group-version-kind"],
        json!({"group": "apps", "version": "v1", "kind": "Deployment"})
    );
    let params: Vec<&str> = patch["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(params.contains(&"fieldValidation"), "{params:?}");
    let content = patch["requestBody"]["content"].as_object().unwrap();
    assert!(content.contains_key("application/merge-patch+json"));
    assert!(!content.contains_key("application/strategic-merge-patch+json"));
    // Cluster-scoped resources have no namespace segment.
    let core = document_json(&registry, "api/v1").unwrap();
    assert!(core["paths"]["/api/v1/namespaces/{name}"]["get"].is_object());
    assert!(document_json(&registry, "apis/nope/v1").is_none());
}

#[test]
fn custom_resources_get_their_crd_schema() {
    let crd: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition =
        serde_json::from_value(json!({
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
                "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {"spec": {"type": "object", "description": "the widget", "properties": {"size": {"type": "integer"}}}},
                }}}],
            },
        }))
        .unwrap();
    let mut registry = Registry::builtin();
    registry.set_custom(
        "widgets.example.com",
        crate::registry::crd::defs(&crd, &CancellationToken::new()),
    );
    let index = index_document(&registry);
    assert!(index["paths"]["apis/example.com/v1"].is_object());
    let doc = document_json(&registry, "apis/example.com/v1").unwrap();
    let widget = &doc["components"]["schemas"]["com.example.v1.Widget"];
    assert_eq!(
        widget["x-kubernetes-group-version-kind"],
        json!([{"group": "example.com", "version": "v1", "kind": "Widget"}])
    );
    assert_eq!(
        widget["properties"]["spec"]["properties"]["size"]["type"],
        "integer"
    );
    assert_eq!(
        widget["properties"]["metadata"]["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    );
    assert!(doc["components"]["schemas"]["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"].is_object());
    assert!(doc["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"].is_object());
}
