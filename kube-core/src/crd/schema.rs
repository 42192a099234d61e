//! Structural OpenAPI v3 schemas from [`JsonSchema`] types.
//!
//! schemars writes JSON Schema; Kubernetes wants a *structural* OpenAPI v3 subset. The rewrite
//! happens on plain JSON:
//!
//! 1. generate with every subschema inlined, then resolve the `$ref`s schemars still leaves for
//!    recursive types (a recursion is cut with `x-kubernetes-preserve-unknown-fields`);
//! 2. rewrite each node bottom-up: `type: [X, "null"]` becomes `nullable: true`, `const`
//!    becomes `enum`, junctors are reduced (see the `junctors` module), maps of anything and
//!    `serde_json::Value` become `x-kubernetes-preserve-unknown-fields`, tuples get one `items`
//!    schema, sets become `x-kubernetes-list-type: set`, and every node gets a `type`;
//! 3. keep only the keywords `JSONSchemaProps` knows, with the value shapes it accepts.

use std::collections::BTreeSet;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use super::junctors::{combine_branches, flatten_junctors};

const DEFS_PREFIX: &str = "#/$defs/";
pub(super) const PRESERVE: &str = "x-kubernetes-preserve-unknown-fields";
pub(super) const INT_OR_STRING: &str = "x-kubernetes-int-or-string";

/// The structural schema of `T`, ready for a CRD's `openAPIV3Schema` (or a property of it).
///
/// Every `$ref` is inlined, `Option` fields are `nullable`, enums become `enum` lists or hoisted
/// properties, `serde_json::Value` becomes `x-kubernetes-preserve-unknown-fields: true`, and
/// k8s-openapi's `IntOrString`/`Quantity` keep `x-kubernetes-int-or-string: true`. The result
/// passes [`check_structural`](super::check_structural).
///
/// ```
/// # use kube_core::crd::structural_schema;
/// let schema = structural_schema::<Option<Vec<String>>>();
/// assert_eq!(schema.type_.as_deref(), Some("array"));
/// assert_eq!(schema.nullable, Some(true));
/// ```
pub fn structural_schema<T: JsonSchema>() -> JSONSchemaProps {
    let value = structural_schema_value::<T>();
    serde_json::from_value(value).expect("a sanitised structural schema always converts to JSONSchemaProps")
}

/// [`structural_schema`] as plain JSON.
pub(crate) fn structural_schema_value<T: JsonSchema>() -> Value {
    let mut generator = SchemaSettings::draft2020_12()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
            s.definitions_path = "/$defs".into();
        })
        .into_generator();
    let schema = generator.subschema_for::<T>().to_value();
    let mut inliner = Inliner {
        defs: generator.definitions().clone(),
        stack: Vec::new(),
    };
    rewrite(inliner.inline(schema))
}

/// Resolves `$ref`s against the generator's definitions, cutting recursion.
struct Inliner {
    defs: Map<String, Value>,
    stack: Vec<String>,
}

impl Inliner {
    fn inline(&mut self, value: Value) -> Value {
        let Value::Object(mut map) = value else {
            return value;
        };
        if let Some(Value::String(reference)) = map.remove("$ref") {
            let Value::Object(mut target) = self.resolve(&reference) else {
                return preserve_unknown();
            };
            // Keywords beside the `$ref` (a field's description) win over the definition's.
            for (key, sub) in map {
                let sub = if is_data_keyword(&key) {
                    sub
                } else {
                    self.inline_children(&key, sub)
                };
                target.insert(key, sub);
            }
            return Value::Object(target);
        }
        for (key, sub) in map.iter_mut() {
            if !is_data_keyword(key) {
                *sub = self.inline_children(key, std::mem::take(sub));
            }
        }
        Value::Object(map)
    }

    fn inline_children(&mut self, key: &str, value: Value) -> Value {
        match (key, value) {
            (
                "properties" | "patternProperties" | "$defs" | "definitions" | "dependentSchemas",
                Value::Object(m),
            ) => Value::Object(m.into_iter().map(|(k, v)| (k, self.inline(v))).collect()),
            (_, Value::Array(items)) => Value::Array(items.into_iter().map(|v| self.inline(v)).collect()),
            (_, value @ Value::Object(_)) => self.inline(value),
            (_, value) => value,
        }
    }

    fn resolve(&mut self, reference: &str) -> Value {
        let name = reference
            .strip_prefix(DEFS_PREFIX)
            .map(decode_ref_name)
            .unwrap_or_default();
        let Some(def) = self.defs.get(&name).cloned() else {
            return preserve_unknown();
        };
        if self.stack.contains(&name) {
            // A recursive type: stop here and let the API server keep whatever is below.
            let mut cut = Map::new();
            if let Some(Value::String(ty)) = def.get("type") {
                cut.insert("type".into(), ty.as_str().into());
            }
            if let Some(description) = def.get("description") {
                cut.insert("description".into(), description.clone());
            }
            cut.insert(PRESERVE.into(), true.into());
            return Value::Object(cut);
        }
        self.stack.push(name);
        let inlined = self.inline(def);
        self.stack.pop();
        inlined
    }
}

/// Undo schemars' JSON-pointer (`~0`, `~1`) and percent encoding of definition names.
fn decode_ref_name(encoded: &str) -> String {
    let mut bytes = Vec::with_capacity(encoded.len());
    let raw = encoded.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%'
            && let Some(byte) = encoded
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            bytes.push(byte);
            i += 3;
            continue;
        }
        bytes.push(raw[i]);
        i += 1;
    }
    String::from_utf8_lossy(&bytes)
        .replace("~1", "/")
        .replace("~0", "~")
}

/// Keywords whose values are data, not schemas.
fn is_data_keyword(key: &str) -> bool {
    matches!(
        key,
        "enum" | "const" | "default" | "example" | "examples" | "required"
    )
}

pub(super) fn preserve_unknown() -> Value {
    json!({ PRESERVE: true })
}

pub(super) fn is_true(map: &Map<String, Value>, key: &str) -> bool {
    map.get(key) == Some(&Value::Bool(true))
}

/// Rewrite one (already `$ref`-free) schema into its structural form.
pub(crate) fn rewrite(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(rewrite_node(map)),
        // `true` (serde_json::Value) and anything odd: accept whatever comes.
        _ => preserve_unknown(),
    }
}

fn rewrite_node(mut node: Map<String, Value>) -> Map<String, Value> {
    let mut nullable = flatten_junctors(&mut node);

    // `type`: a single non-null type; `null` moves to `nullable`.
    let mut only_null = false;
    match node.remove("type") {
        Some(Value::String(ty)) if ty == "null" => only_null = true,
        Some(Value::String(ty)) => {
            node.insert("type".into(), ty.into());
        }
        Some(Value::Array(types)) => {
            let mut types: BTreeSet<String> = types
                .iter()
                .filter_map(|t| t.as_str().map(String::from))
                .collect();
            nullable |= types.remove("null");
            let types: Vec<String> = types.into_iter().collect();
            match types.as_slice() {
                [] => only_null = true,
                [ty] => {
                    node.insert("type".into(), ty.as_str().into());
                }
                [a, b] if a == "integer" && b == "string" => {
                    node.insert(INT_OR_STRING.into(), true.into());
                }
                _ => {
                    node.insert(PRESERVE.into(), true.into());
                }
            }
        }
        _ => {}
    }
    nullable |= only_null;
    if let Some(constant) = node.remove("const") {
        node.entry("enum").or_insert_with(|| Value::Array(vec![constant]));
    }
    if let Some(Value::Array(values)) = node.get("enum") {
        nullable |= values.contains(&Value::Null);
    }
    if let Some(Value::Array(examples)) = node.remove("examples")
        && let Some(first) = examples.into_iter().next()
    {
        node.entry("example").or_insert(first);
    }
    tuples_to_items(&mut node);
    numeric_exclusive_bounds(&mut node);
    if node.get("default") == Some(&Value::Null) {
        node.remove("default");
    }

    // Children first, so that branches and merges below only ever see structural schemas.
    if let Some(Value::Object(properties)) = node.remove("properties") {
        let properties: Map<String, Value> = properties
            .into_iter()
            .filter(|(_, schema)| schema != &Value::Bool(false))
            .map(|(name, schema)| (name, rewrite(schema)))
            .collect();
        node.insert("properties".into(), Value::Object(properties));
    }
    if let Some(items) = node.remove("items") {
        node.insert("items".into(), rewrite(items));
    }
    match node.remove("additionalProperties") {
        Some(Value::Object(schema)) => {
            node.insert("additionalProperties".into(), Value::Object(rewrite_node(schema)));
        }
        Some(Value::Bool(true)) => {
            node.insert(PRESERVE.into(), true.into());
        }
        _ => {}
    }
    if node.remove("patternProperties").is_some() && !node.contains_key("additionalProperties") {
        node.insert(PRESERVE.into(), true.into());
    }
    for junctor in ["oneOf", "anyOf"] {
        if let Some(Value::Array(branches)) = node.remove(junctor) {
            let branches: Vec<Map<String, Value>> =
                branches.into_iter().map(|b| as_map(rewrite(b))).collect();
            combine_branches(&mut node, junctor, branches);
        }
    }
    node.remove("not");

    finish_node(&mut node, nullable, only_null);
    node
}

pub(super) fn as_map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        Value::Bool(false) => Map::new(),
        _ => as_map(preserve_unknown()),
    }
}

/// `prefixItems` (tuples) and array-valued or boolean `items` become a single `items` schema.
fn tuples_to_items(node: &mut Map<String, Value>) {
    let tuple = match node.remove("prefixItems") {
        Some(Value::Array(items)) => Some(items),
        _ => match node.get("items") {
            Some(Value::Array(items)) => Some(items.clone()),
            _ => None,
        },
    };
    if let Some(items) = tuple {
        let first = items.first().cloned();
        let single = match first {
            Some(first) if items.iter().all(|i| *i == first) => first,
            _ => Value::Bool(true),
        };
        node.insert("items".into(), single);
    } else if let Some(Value::Bool(_)) = node.get("items") {
        node.insert("items".into(), Value::Bool(true));
    }
    node.remove("additionalItems");
}

/// JSON Schema 2019+ writes `exclusiveMinimum: 5`; OpenAPI v3 writes `minimum: 5` plus a flag.
fn numeric_exclusive_bounds(node: &mut Map<String, Value>) {
    for (exclusive, bound) in [("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")] {
        if let Some(limit @ Value::Number(_)) = node.get(exclusive).cloned() {
            node.insert(bound.into(), limit);
            node.insert(exclusive.into(), true.into());
        }
    }
}

/// Last touches on one node: map/struct conflicts, a `type` everywhere, supported keywords only.
fn finish_node(node: &mut Map<String, Value>, nullable: bool, only_null: bool) {
    let has_properties = matches!(node.get("properties"), Some(Value::Object(p)) if !p.is_empty());
    if has_properties && node.remove("additionalProperties").is_some() {
        // `#[serde(flatten)]` of a map into a struct: Kubernetes cannot express both.
        node.insert(PRESERVE.into(), true.into());
    }
    if node.remove("uniqueItems") == Some(Value::Bool(true))
        && !node.contains_key("x-kubernetes-list-type")
        && matches!(
            node.get("items")
                .and_then(|i| i.get("type"))
                .and_then(Value::as_str),
            Some("string" | "integer" | "number" | "boolean")
        )
        && !node
            .get("items")
            .is_some_and(|i| i.get("nullable") == Some(&Value::Bool(true)))
    {
        node.insert("x-kubernetes-list-type".into(), "set".into());
    }

    if is_true(node, INT_OR_STRING) {
        node.remove("type");
    } else if !node.contains_key("type") && !is_true(node, PRESERVE) {
        let inferred = if node.contains_key("properties") || node.contains_key("additionalProperties") {
            Some("object")
        } else if node.contains_key("items") {
            Some("array")
        } else {
            node.get("enum").and_then(enum_type)
        };
        match inferred {
            Some(ty) if !only_null => {
                node.insert("type".into(), ty.into());
            }
            _ => {
                node.insert(PRESERVE.into(), true.into());
            }
        }
    }
    if node.get("type") == Some(&Value::from("array")) && !node.contains_key("items") {
        node.insert("items".into(), preserve_unknown());
    }
    if nullable {
        node.insert("nullable".into(), true.into());
        // The API server checks `enum` even for null values.
        if let Some(Value::Array(values)) = node.get_mut("enum")
            && !values.contains(&Value::Null)
        {
            values.push(Value::Null);
        }
    }
    node.retain(|key, value| keep_keyword(key, value));
}

/// The JSON type all (non-null) enum values share.
fn enum_type(values: &Value) -> Option<&'static str> {
    let kinds: BTreeSet<&'static str> = values
        .as_array()?
        .iter()
        .filter_map(|v| match v {
            Value::String(_) => Some("string"),
            Value::Bool(_) => Some("boolean"),
            Value::Number(n) if n.is_f64() => Some("number"),
            Value::Number(_) => Some("integer"),
            Value::Object(_) => Some("object"),
            Value::Array(_) => Some("array"),
            Value::Null => None,
        })
        .collect();
    match kinds.len() {
        1 => kinds.into_iter().next(),
        2 if kinds.contains("integer") && kinds.contains("number") => Some("number"),
        _ => None,
    }
}

/// Whether a keyword stays: only what `JSONSchemaProps` models and structural schemas allow,
/// with the value shape it expects.
fn keep_keyword(key: &str, value: &Value) -> bool {
    match key {
        "type"
        | "format"
        | "title"
        | "description"
        | "pattern"
        | "x-kubernetes-list-type"
        | "x-kubernetes-map-type" => value.is_string(),
        "nullable" | "exclusiveMaximum" | "exclusiveMinimum" => value.is_boolean(),
        PRESERVE | INT_OR_STRING | "x-kubernetes-embedded-resource" => value == &Value::Bool(true),
        "maxLength" | "minLength" | "maxItems" | "minItems" | "maxProperties" | "minProperties" => {
            value.is_i64()
        }
        "maximum" | "minimum" | "multipleOf" => value.is_number(),
        "required" | "x-kubernetes-list-map-keys" => value
            .as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string)),
        "enum" => value.as_array().is_some_and(|a| !a.is_empty()),
        "properties" | "externalDocs" | "items" | "additionalProperties" => value.is_object(),
        "oneOf" | "anyOf" => value.is_array(),
        "x-kubernetes-validations" => value
            .as_array()
            .is_some_and(|a| a.iter().all(|r| r.get("rule").is_some_and(Value::is_string))),
        "default" | "example" => true,
        _ => false,
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};
    use std::collections::BTreeMap;

    /// The structural schema of `T`, checked (as a property) and free of `$ref`.
    pub(in crate::crd) fn schema<T: JsonSchema>() -> Value {
        let value = structural_schema_value::<T>();
        // Checked as a property, since the root of a CRD schema must be an object.
        let root = json!({"type": "object", "properties": {"x": value}});
        let props: JSONSchemaProps = serde_json::from_value(root).unwrap();
        if let Err(problems) = super::super::check_structural(&props) {
            panic!("not structural: {problems:#?}\n{value:#}");
        }
        assert!(!value.to_string().contains("$ref"), "{value:#}");
        value
    }

    #[allow(dead_code)]
    #[derive(Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    enum Documented {
        /// The first.
        First,
        /// The second.
        Second,
    }

    #[allow(dead_code)]
    #[derive(Serialize, Deserialize, JsonSchema)]
    struct Tree {
        name: String,
        children: Vec<Tree>,
    }

    #[allow(dead_code)]
    #[derive(Serialize, Deserialize, JsonSchema)]
    struct Flattened {
        name: String,
        #[serde(flatten)]
        rest: BTreeMap<String, String>,
    }

    #[allow(dead_code)]
    #[derive(Serialize, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Odd {
        pair: (String, u16),
        same: (u8, u8),
        tags: std::collections::BTreeSet<String>,
        anything: Vec<serde_json::Value>,
        object: serde_json::Map<String, serde_json::Value>,
        #[serde(default = "seven")]
        seven: u8,
        maybe_mode: Option<Documented>,
    }

    fn seven() -> u8 {
        7
    }

    #[test]
    fn recursion_is_cut_with_preserve_unknown_fields() {
        let s = schema::<Tree>();
        let child = &s["properties"]["children"]["items"];
        assert_eq!(child["properties"]["name"]["type"], "string");
        assert_eq!(
            child["properties"]["children"]["items"],
            json!({"type": "object", PRESERVE: true})
        );
    }

    #[test]
    fn flattened_map_becomes_preserve_unknown_fields() {
        let s = schema::<Flattened>();
        assert_eq!(s["properties"]["name"]["type"], "string");
        assert_eq!(s[PRESERVE], true);
        assert!(s.get("additionalProperties").is_none());
    }

    #[test]
    fn tuples_sets_values_defaults_and_nullable_enums() {
        let s = schema::<Odd>();
        let p = &s["properties"];
        assert_eq!(p["pair"]["type"], "array");
        assert_eq!(p["pair"]["items"], json!({PRESERVE: true}));
        assert_eq!(p["same"]["items"]["type"], "integer");
        assert_eq!(p["tags"]["x-kubernetes-list-type"], "set");
        assert!(p["tags"].get("uniqueItems").is_none());
        assert_eq!(p["anything"]["items"], json!({PRESERVE: true}));
        assert_eq!(p["object"], json!({"type": "object", PRESERVE: true}));
        assert_eq!(p["seven"]["default"], 7);
        assert_eq!(p["maybe_mode"]["nullable"], true);
        assert_eq!(p["maybe_mode"]["type"], "string");
        assert_eq!(p["maybe_mode"]["enum"], json!(["first", "second", null]));
        assert!(
            s.get("additionalProperties").is_none(),
            "deny_unknown_fields is dropped"
        );
    }

    #[test]
    fn json_schema_2020_keywords_are_translated() {
        let raw = json!({
            "type": ["integer", "null"], "exclusiveMinimum": 0, "examples": [3], "readOnly": true,
            "$comment": "x", "default": null
        });
        assert_eq!(
            rewrite(raw),
            json!({"type": "integer", "minimum": 0, "exclusiveMinimum": true, "example": 3, "nullable": true})
        );
        assert_eq!(
            rewrite(json!({"type": ["integer", "string"]})),
            json!({INT_OR_STRING: true})
        );
        assert_eq!(
            rewrite(json!({"allOf": [{"properties": {"a": {"type": "string"}}}, {"required": ["a"]}]})),
            json!({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]})
        );
        assert_eq!(decode_ref_name("Wrapper%3CT%3E~1x~0"), "Wrapper<T>/x~");
    }
}
