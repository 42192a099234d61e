//! The `paths` of a group-version document: the operations of each resource, tagged with
//! `x-kubernetes-group-version-kind` and `x-kubernetes-action` as kube-apiserver tags them.
//!
//! kubectl reads two things here. Its field-validation check (`QueryParamVerifierV3`) looks for
//! a PATCH operation of the kind with a `fieldValidation` parameter: when there is one, `kubectl
//! apply`/`create` leave validation to the server (`fieldValidation=Strict`) instead of
//! validating against the schema themselves. And client-side `kubectl apply` computes
//! strategic merge patches from this document only when the PATCH operation accepts
//! `application/strategic-merge-patch+json`; k8s-openapi's schemas carry no
//! `x-kubernetes-patch-merge-key`, so the operations leave that media type out and kubectl uses
//! the patch strategies compiled into it, the same ones a real cluster's document describes.

use serde_json::{Map, Value, json};

use crate::registry::ResourceDef;

fn query(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": {"type": "string", "uniqueItems": true}})
}

fn path_param(name: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": format!("{name} of the resource"), "schema": {"type": "string", "uniqueItems": true}})
}

fn write_params() -> Vec<Value> {
    vec![
        query(
            "dryRun",
            "When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed",
        ),
        query(
            "fieldManager",
            "fieldManager is a name associated with the actor or entity that is making these changes.",
        ),
        query(
            "fieldValidation",
            "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields. Valid values are: - Ignore - Warn - Strict",
        ),
    ]
}

fn reference(component: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{component}")})
}

fn operation(
    def: &ResourceDef,
    action: &str,
    id: String,
    component: &str,
    mut parameters: Vec<Value>,
) -> Value {
    let gvk = json!({"group": def.group, "version": def.version, "kind": def.kind});
    let mut op = json!({
        "operationId": id,
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": reference(component)}}}},
    });
    if matches!(action, "post" | "put" | "patch") {
        let types: &[&str] = if action == "patch" {
            &[
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/apply-patch+yaml",
            ]
        } else {
            &["application/json"]
        };
        let content: Map<String, Value> = types
            .iter()
            .map(|t| (t.to_string(), json!({"schema": reference(component)})))
            .collect();
        op["requestBody"] = json!({"content": content, "required": true});
        parameters.extend(write_params());
    }
    if !parameters.is_empty() {
        op["parameters"] = Value::Array(parameters);
    }
    op
}

/// Add the operations of `def` (whose kind's schema is the component `component`) to `paths`.
pub fn add(paths: &mut Map<String, Value>, def: &ResourceDef, component: &str) {
    let prefix = if def.group.is_empty() {
        format!("/api/{}", def.version)
    } else {
        format!("/apis/{}/{}", def.group, def.version)
    };
    let scope = if def.namespaced {
        format!("{prefix}/namespaces/{{namespace}}/{}", def.plural)
    } else {
        format!("{prefix}/{}", def.plural)
    };
    let scope_params = || {
        if def.namespaced {
            vec![path_param("namespace")]
        } else {
            Vec::new()
        }
    };
    let id = |verb: &str| {
        format!(
            "{verb}{}{}",
            def.kind,
            if def.namespaced { "Namespaced" } else { "" }
        )
    };
    let mut collection = Map::new();
    if def.allows("list") {
        collection.insert(
            "get".into(),
            operation(def, "list", id("list"), component, scope_params()),
        );
    }
    if def.allows("create") {
        collection.insert(
            "post".into(),
            operation(def, "post", id("create"), component, scope_params()),
        );
    }
    if def.allows("deletecollection") {
        collection.insert(
            "delete".into(),
            operation(
                def,
                "deletecollection",
                id("deleteCollection"),
                component,
                scope_params(),
            ),
        );
    }
    paths.insert(scope.clone(), Value::Object(collection));

    let item_params = || {
        let mut p = scope_params();
        p.push(path_param("name"));
        p
    };
    let mut item = Map::new();
    for (method, action, verb) in [
        ("get", "get", "read"),
        ("put", "put", "replace"),
        ("patch", "patch", "patch"),
        ("delete", "delete", "delete"),
    ] {
        let allowed = match action {
            "put" => def.allows("update"),
            other => def.allows(other),
        };
        if allowed {
            item.insert(
                method.into(),
                operation(def, action, id(verb), component, item_params()),
            );
        }
    }
    paths.insert(format!("{scope}/{{name}}"), Value::Object(item));

    if def.namespaced && def.allows("list") {
        let mut all = Map::new();
        all.insert(
            "get".into(),
            operation(
                def,
                "list",
                format!("list{}ForAllNamespaces", def.kind),
                component,
                Vec::new(),
            ),
        );
        paths.insert(format!("{prefix}/{}", def.plural), Value::Object(all));
    }
}
