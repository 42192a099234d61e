//! Checking that a schema is *structural*, the way kube-apiserver does before it accepts a CRD.
//!
//! The rules (Kubernetes "Specifying a structural schema", plus the CRD validation that goes
//! with it):
//!
//! - every specified node (the root, each property, `additionalProperties`, `items`) has a
//!   non-empty `type`, unless it sets `x-kubernetes-int-or-string` or
//!   `x-kubernetes-preserve-unknown-fields`; the root is an `object`, and not nullable;
//! - inside `allOf`/`anyOf`/`oneOf`/`not` only value validations appear: no `type`,
//!   `description`, `title`, `default`, `nullable`, `additionalProperties` or `x-kubernetes-*`,
//!   and every property or `items` named there is also specified outside;
//! - `$ref`, `$schema`, `definitions`, `id`, `patternProperties`, `dependencies`,
//!   `additionalItems`, `uniqueItems: true`, `type: null` and array-valued `items` are not
//!   supported; `properties` and `additionalProperties` exclude each other;
//! - `x-kubernetes-int-or-string` nodes have no `type`, list/map types sit on arrays/objects;
//! - at the root, `metadata` may only restrict `name` and `generateName`.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};

const TYPES: [&str; 6] = ["array", "boolean", "integer", "number", "object", "string"];

/// Check that `schema` (a CRD version's `openAPIV3Schema`) is structural.
///
/// Returns every violation as `"<path>: <problem>"`, with paths such as
/// `properties[spec].properties[ports].items.type`; the root itself is `(root)`.
///
/// ```
/// use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
/// use kube_core::crd::check_structural;
///
/// let good = JSONSchemaProps { type_: Some("object".into()), ..Default::default() };
/// assert!(check_structural(&good).is_ok());
///
/// let bad = JSONSchemaProps { ref_path: Some("#/definitions/Foo".into()), ..Default::default() };
/// let problems = check_structural(&bad).unwrap_err();
/// assert!(problems.iter().any(|p| p == "(root).$ref: $ref is not supported"));
/// ```
pub fn check_structural(schema: &JSONSchemaProps) -> Result<(), Vec<String>> {
    let mut checker = Checker { problems: Vec::new() };
    checker.node(schema, "", Position::Root);
    if let Some(metadata) = schema.properties.as_ref().and_then(|p| p.get("metadata")) {
        checker.metadata(metadata, "properties[metadata]");
    }
    if checker.problems.is_empty() {
        Ok(())
    } else {
        Err(checker.problems)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Position {
    Root,
    Field,
    Item,
}

struct Checker {
    problems: Vec<String>,
}

fn join(path: &str, child: &str) -> String {
    if path.is_empty() {
        child.to_string()
    } else {
        format!("{path}.{child}")
    }
}

fn shown(path: &str) -> &str {
    if path.is_empty() { "(root)" } else { path }
}

impl Checker {
    fn report(&mut self, path: &str, field: &str, problem: &str) {
        let at = if field.is_empty() {
            shown(path).to_string()
        } else {
            format!("{}.{field}", shown(path))
        };
        self.problems.push(format!("{at}: {problem}"));
    }

    /// A node that specifies a value: the root, a property, `additionalProperties` or `items`.
    fn node(&mut self, s: &JSONSchemaProps, path: &str, position: Position) {
        self.unsupported_keywords(s, path);
        let ty = s.type_.as_deref().unwrap_or("");
        let int_or_string = s.x_kubernetes_int_or_string == Some(true);
        let preserve = s.x_kubernetes_preserve_unknown_fields == Some(true);
        if ty.is_empty() && !int_or_string && !preserve {
            let problem = match position {
                Position::Root => "must not be empty at the root",
                Position::Field => "must not be empty for specified object fields",
                Position::Item => "must not be empty for specified array items",
            };
            self.report(path, "type", problem);
        }
        if position == Position::Root {
            if !ty.is_empty() && ty != "object" {
                self.report(path, "type", "must be object at the root");
            }
            if s.nullable == Some(true) {
                self.report(path, "nullable", "must be false at the root");
            }
            if int_or_string {
                self.report(path, "x-kubernetes-int-or-string", "must be false at the root");
            }
        }
        if int_or_string && !ty.is_empty() {
            self.report(
                path,
                "type",
                "must be empty if x-kubernetes-int-or-string is true",
            );
        }
        if s.x_kubernetes_embedded_resource == Some(true) && ty != "object" {
            self.report(
                path,
                "type",
                "must be object if x-kubernetes-embedded-resource is true",
            );
        }
        if s.x_kubernetes_list_type.is_some() && ty != "array" {
            self.report(
                path,
                "type",
                "must be array if x-kubernetes-list-type is specified",
            );
        }
        if s.x_kubernetes_map_type.is_some() && ty != "object" {
            self.report(
                path,
                "type",
                "must be object if x-kubernetes-map-type is specified",
            );
        }
        if ty == "array" && s.items.is_none() {
            self.report(path, "items", "must be specified");
        }

        let has_properties = s.properties.as_ref().is_some_and(|p| !p.is_empty());
        match &s.additional_properties {
            Some(JSONSchemaPropsOrBool::Schema(schema)) => {
                if has_properties {
                    self.report(
                        path,
                        "additionalProperties",
                        "additionalProperties and properties are mutual exclusive",
                    );
                }
                self.node(schema, &join(path, "additionalProperties"), Position::Field);
            }
            Some(JSONSchemaPropsOrBool::Bool(allows)) => {
                let problem = if *allows {
                    "must be a schema; use x-kubernetes-preserve-unknown-fields: true to keep unknown fields"
                } else {
                    "must not be false; unknown fields are pruned anyway"
                };
                self.report(path, "additionalProperties", problem);
            }
            None => {}
        }
        for (name, property) in s.properties.iter().flatten() {
            self.node(
                property,
                &join(path, &format!("properties[{name}]")),
                Position::Field,
            );
        }
        match &s.items {
            Some(JSONSchemaPropsOrArray::Schema(items)) => {
                self.node(items, &join(path, "items"), Position::Item)
            }
            Some(JSONSchemaPropsOrArray::Schemas(_)) => {
                self.report(path, "items", "items must be a schema object and not an array");
            }
            None => {}
        }
        self.junctors(s, s, path);
    }

    /// The `allOf`/`anyOf`/`oneOf`/`not` of `junctor_holder`, checked against `outer`, the
    /// structural node they apply to.
    fn junctors(&mut self, junctor_holder: &JSONSchemaProps, outer: &JSONSchemaProps, path: &str) {
        let lists = [
            ("allOf", &junctor_holder.all_of),
            ("anyOf", &junctor_holder.any_of),
            ("oneOf", &junctor_holder.one_of),
        ];
        for (name, list) in lists {
            for (i, branch) in list.iter().flatten().enumerate() {
                let int_or_string_exception = name == "anyOf"
                    && outer.x_kubernetes_int_or_string == Some(true)
                    && matches!(branch.type_.as_deref(), Some("integer" | "string"));
                self.value_validation(
                    branch,
                    outer,
                    &join(path, &format!("{name}[{i}]")),
                    int_or_string_exception,
                );
            }
        }
        if let Some(not) = &junctor_holder.not {
            self.value_validation(not, outer, &join(path, "not"), false);
        }
    }

    /// A schema inside a logical junctor: value validations only, on fields specified outside.
    fn value_validation(
        &mut self,
        v: &JSONSchemaProps,
        outer: &JSONSchemaProps,
        path: &str,
        type_allowed: bool,
    ) {
        self.unsupported_keywords(v, path);
        let forbidden = [
            ("type", v.type_.is_some() && !type_allowed),
            ("description", v.description.is_some()),
            ("title", v.title.is_some()),
            ("default", v.default.is_some()),
            ("nullable", v.nullable.is_some()),
            ("additionalProperties", v.additional_properties.is_some()),
            (
                "x-kubernetes-preserve-unknown-fields",
                v.x_kubernetes_preserve_unknown_fields.is_some(),
            ),
            (
                "x-kubernetes-int-or-string",
                v.x_kubernetes_int_or_string.is_some(),
            ),
            (
                "x-kubernetes-embedded-resource",
                v.x_kubernetes_embedded_resource.is_some(),
            ),
            ("x-kubernetes-list-type", v.x_kubernetes_list_type.is_some()),
            (
                "x-kubernetes-list-map-keys",
                v.x_kubernetes_list_map_keys.is_some(),
            ),
            ("x-kubernetes-map-type", v.x_kubernetes_map_type.is_some()),
            ("x-kubernetes-validations", v.x_kubernetes_validations.is_some()),
        ];
        for (field, set) in forbidden {
            if set {
                self.report(
                    path,
                    field,
                    "must not be used inside of allOf, anyOf, oneOf or not",
                );
            }
        }
        for (name, property) in v.properties.iter().flatten() {
            let child = join(path, &format!("properties[{name}]"));
            match outer.properties.as_ref().and_then(|p| p.get(name)) {
                Some(outer_property) => self.value_validation(property, outer_property, &child, false),
                None => self.report(
                    &child,
                    "",
                    "must be specified outside of allOf, anyOf, oneOf and not as well",
                ),
            }
        }
        match (&v.items, &outer.items) {
            (
                Some(JSONSchemaPropsOrArray::Schema(items)),
                Some(JSONSchemaPropsOrArray::Schema(outer_items)),
            ) => {
                self.value_validation(items, outer_items, &join(path, "items"), false);
            }
            (Some(_), _) => self.report(
                path,
                "items",
                "must be specified outside of allOf, anyOf, oneOf and not as well",
            ),
            (None, _) => {}
        }
        self.junctors(v, outer, path);
    }

    /// Keywords Kubernetes does not support anywhere in a CRD schema.
    fn unsupported_keywords(&mut self, s: &JSONSchemaProps, path: &str) {
        let checks = [
            ("$ref", s.ref_path.is_some(), "$ref is not supported"),
            ("$schema", s.schema.is_some(), "$schema is not supported"),
            (
                "definitions",
                s.definitions.as_ref().is_some_and(|d| !d.is_empty()),
                "definitions is not supported",
            ),
            (
                "id",
                s.id.as_ref().is_some_and(|id| !id.is_empty()),
                "id is not supported",
            ),
            (
                "additionalItems",
                s.additional_items.is_some(),
                "additionalItems is not supported",
            ),
            (
                "patternProperties",
                s.pattern_properties.as_ref().is_some_and(|p| !p.is_empty()),
                "patternProperties is not supported",
            ),
            (
                "dependencies",
                s.dependencies.is_some(),
                "dependencies is not supported",
            ),
            (
                "uniqueItems",
                s.unique_items == Some(true),
                "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
            ),
            (
                "type",
                s.type_.as_deref() == Some("null"),
                "type cannot be set to null, use nullable as an alternative",
            ),
            (
                "x-kubernetes-preserve-unknown-fields",
                s.x_kubernetes_preserve_unknown_fields == Some(false),
                "must be true or undefined",
            ),
        ];
        for (field, failed, problem) in checks {
            if failed {
                self.report(path, field, problem);
            }
        }
        if let Some(ty) = s.type_.as_deref().filter(|t| *t != "null" && !TYPES.contains(t)) {
            self.report(
                path,
                "type",
                &format!("unsupported type {ty:?}, must be one of {TYPES:?}"),
            );
        }
    }

    /// At the root, `metadata` may only be an object restricting `name` and `generateName`.
    fn metadata(&mut self, m: &JSONSchemaProps, path: &str) {
        let allowed = JSONSchemaProps {
            type_: m.type_.clone(),
            properties: m.properties.clone(),
            description: m.description.clone(),
            ..Default::default()
        };
        if *m != allowed {
            self.report(
                path,
                "",
                "must only specify type, description and properties name/generateName",
            );
        }
        for name in m.properties.iter().flatten().map(|(k, _)| k) {
            if name != "name" && name != "generateName" {
                self.report(
                    path,
                    &format!("properties[{name}]"),
                    "must not be specified, only name and generateName can be restricted",
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props(value: serde_json::Value) -> JSONSchemaProps {
        serde_json::from_value(value).unwrap()
    }

    fn problems(value: serde_json::Value) -> Vec<String> {
        check_structural(&props(value)).err().unwrap_or_default()
    }

    #[test]
    fn accepts_a_typical_structural_schema() {
        let schema = json!({
            "type": "object",
            "required": ["spec"],
            "properties": {
                "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 20}}},
                "spec": {
                    "type": "object",
                    "properties": {
                        "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                        "raw": {"x-kubernetes-preserve-unknown-fields": true},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "kind": {"type": "string"},
                        "url": {"type": "string"},
                        "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"}
                    },
                    "oneOf": [{"required": ["url"], "properties": {"kind": {"enum": ["Git"]}}}, {"required": ["kind"]}]
                }
            }
        });
        assert_eq!(problems(schema), Vec::<String>::new());
    }

    #[test]
    fn reports_missing_types_refs_and_non_structural_junctors() {
        let schema = json!({
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {
                        "a": {"description": "no type"},
                        "b": {"$ref": "#/definitions/B", "type": "object"},
                        "c": {"type": "array"},
                        "d": {"type": "array", "items": {"format": "int32"}, "uniqueItems": true},
                        "e": {"type": "string", "x-kubernetes-int-or-string": true}
                    },
                    "additionalProperties": {"type": "string"},
                    "anyOf": [{"type": "object", "properties": {"z": {"type": "string"}}}]
                }
            }
        });
        let found = problems(schema);
        let expected = [
            "(root).type: must not be empty at the root",
            "properties[spec].additionalProperties: additionalProperties and properties are mutual exclusive",
            "properties[spec].properties[a].type: must not be empty for specified object fields",
            "properties[spec].properties[b].$ref: $ref is not supported",
            "properties[spec].properties[c].items: must be specified",
            "properties[spec].properties[d].uniqueItems: uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
            "properties[spec].properties[d].items.type: must not be empty for specified array items",
            "properties[spec].properties[e].type: must be empty if x-kubernetes-int-or-string is true",
            "properties[spec].anyOf[0].type: must not be used inside of allOf, anyOf, oneOf or not",
            "properties[spec].anyOf[0].properties[z]: must be specified outside of allOf, anyOf, oneOf and not as well",
        ];
        for e in expected {
            assert!(found.iter().any(|f| f == e), "missing {e:?} in {found:#?}");
        }
        assert_eq!(found.len(), expected.len(), "{found:#?}");
    }

    #[test]
    fn reports_root_and_metadata_restrictions() {
        let found = problems(json!({
            "type": "string", "nullable": true,
            "properties": {"metadata": {"type": "object", "properties": {"labels": {"type": "object"}}}}
        }));
        assert!(
            found.contains(&"(root).type: must be object at the root".to_string()),
            "{found:#?}"
        );
        assert!(
            found.contains(&"(root).nullable: must be false at the root".to_string()),
            "{found:#?}"
        );
        assert!(
            found
                .iter()
                .any(|f| f.starts_with("properties[metadata].properties[labels]")),
            "{found:#?}"
        );
        let bools = problems(
            json!({"type": "object", "additionalProperties": false, "x-kubernetes-preserve-unknown-fields": false}),
        );
        assert_eq!(bools.len(), 2, "{bools:#?}");
    }
}
