//! Custom resources against their structural schema, as kube-apiserver's apiextensions part
//! treats them on every write:
//!
//! 1. [`Schema::prune`]: fields the schema does not specify are dropped (unless under
//!    `x-kubernetes-preserve-unknown-fields`), and so are `null`s of fields that are neither
//!    `nullable` nor defaulted; `apiVersion`, `kind` and `metadata` of the object (and of
//!    `x-kubernetes-embedded-resource` objects) are always kept;
//! 2. [`Schema::default`]: `default`s fill missing fields, wherever their parent exists;
//! 3. [`Schema::validate`]: type, `nullable`, `enum`, bounds, lengths, `pattern`, `format`,
//!    `required`, item and property counts, list types, `allOf`/`anyOf`/`oneOf`/`not`,
//!    `x-kubernetes-int-or-string` and embedded resources, each problem a [`FieldError`] with
//!    the field path and kube-openapi's message (`spec.replicas in body should be less than or
//!    equal to 10`).
//!
//! ```
//! use reference_apiserver::validation::schema::Schema;
//! use serde_json::json;
//!
//! let schema = Schema::new(serde_json::from_value(json!({
//!     "type": "object",
//!     "properties": {"spec": {"type": "object", "properties": {
//!         "replicas": {"type": "integer", "maximum": 10, "default": 1},
//!     }}},
//! })).unwrap());
//! let mut obj = json!({"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"colour": "red"}});
//! schema.prune(&mut obj);
//! schema.default(&mut obj);
//! assert_eq!(obj["spec"], json!({"replicas": 1}));
//! obj["spec"]["replicas"] = json!(20);
//! let errors = schema.validate(&obj);
//! assert_eq!(errors[0].to_string(), "spec.replicas: Invalid value: 20: spec.replicas in body should be less than or equal to 10");
//! ```

mod default;
mod format;
mod prune;
#[cfg(test)]
mod tests;
mod validate;

use std::collections::HashMap;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use regex::Regex;
use serde_json::Value;

use super::{FieldError, Path};

/// A version's structural schema (`openAPIV3Schema`), with its patterns compiled once.
#[derive(Debug)]
pub struct Schema {
    root: JSONSchemaProps,
    patterns: HashMap<String, Regex>,
}

impl Schema {
    /// Wrap `root`. Patterns that do not compile are left out (CRD validation refuses them).
    pub fn new(root: JSONSchemaProps) -> Self {
        let mut patterns = HashMap::new();
        each_node(&root, &mut |s| {
            if let Some(p) = &s.pattern
                && !patterns.contains_key(p)
                && let Ok(re) = Regex::new(p)
            {
                patterns.insert(p.clone(), re);
            }
        });
        Self { root, patterns }
    }

    /// The schema.
    pub fn root(&self) -> &JSONSchemaProps {
        &self.root
    }

    /// Drop what the schema does not specify (see the [module documentation](self)).
    pub fn prune(&self, obj: &mut Value) {
        prune::prune_object(&self.root, obj, true);
    }

    /// Fill in defaults.
    pub fn default(&self, obj: &mut Value) {
        default::default_object(&self.root, obj, true);
    }

    /// Every problem of `obj` (an object of the resource, defaults applied).
    pub fn validate(&self, obj: &Value) -> Vec<FieldError> {
        validate::Validator::new(&self.patterns).resource(&self.root, obj)
    }
}

/// Problems of a schema's `default` value: it must be valid against the schema it sits in
/// (`schema`), and pruning must not change it. `path` is the default's field path in the CRD.
pub fn check_default(schema: &JSONSchemaProps, default: &Value, path: &Path) -> Vec<FieldError> {
    let mut pruned = default.clone();
    prune::prune_value(schema, &mut pruned);
    if pruned != *default {
        return vec![FieldError::invalid(
            path,
            default.clone(),
            "must not have unknown fields",
        )];
    }
    let mut patterns = HashMap::new();
    each_node(schema, &mut |s| {
        if let Some(p) = &s.pattern
            && let Ok(re) = Regex::new(p)
        {
            patterns.insert(p.clone(), re);
        }
    });
    let mut errs = Vec::new();
    validate::Validator::new(&patterns).value(schema, default, path, &mut errs);
    errs
}

/// Visit `s` and every schema below it (properties, items, additional properties, junctors).
pub fn each_node<'a>(s: &'a JSONSchemaProps, f: &mut impl FnMut(&'a JSONSchemaProps)) {
    f(s);
    for p in s.properties.iter().flat_map(|p| p.values()) {
        each_node(p, f);
    }
    if let Some(i) = items(s) {
        each_node(i, f);
    }
    if let Some(a) = additional(s) {
        each_node(a, f);
    }
    for branch in [&s.all_of, &s.any_of, &s.one_of].into_iter().flatten().flatten() {
        each_node(branch, f);
    }
    if let Some(n) = &s.not {
        each_node(n, f);
    }
}

/// The `items` schema (structural schemas have no item lists).
fn items(s: &JSONSchemaProps) -> Option<&JSONSchemaProps> {
    match &s.items {
        Some(JSONSchemaPropsOrArray::Schema(i)) => Some(i),
        _ => None,
    }
}

/// The `additionalProperties` schema.
fn additional(s: &JSONSchemaProps) -> Option<&JSONSchemaProps> {
    match &s.additional_properties {
        Some(JSONSchemaPropsOrBool::Schema(a)) => Some(a),
        _ => None,
    }
}

/// The schema of the field `key` of an object of schema `s`.
fn field<'a>(s: &'a JSONSchemaProps, key: &str) -> Option<&'a JSONSchemaProps> {
    s.properties
        .as_ref()
        .and_then(|p| p.get(key))
        .or_else(|| additional(s))
}

fn preserves(s: &JSONSchemaProps) -> bool {
    s.x_kubernetes_preserve_unknown_fields == Some(true)
}

fn embedded(s: &JSONSchemaProps) -> bool {
    s.x_kubernetes_embedded_resource == Some(true)
}

fn nullable(s: &JSONSchemaProps) -> bool {
    s.nullable == Some(true)
}

/// The fields every object of a resource (and every embedded resource) has, whatever the schema.
fn is_resource_field(key: &str) -> bool {
    matches!(key, "apiVersion" | "kind" | "metadata")
}
