//! `allOf`, `anyOf` and `oneOf`: how enums and `Option`s reach a structural schema.
//!
//! schemars describes `Option<T>` as `anyOf: [T, null]` (when `T` has subschemas), unit enums
//! with documented variants as `oneOf` over `const`s, tagged and untagged enums with struct
//! variants as `oneOf`/`anyOf` over object schemas, and some merges as `allOf`. Kubernetes only
//! accepts junctors that add *value validations* to fields specified outside of them, so:
//!
//! - `allOf` and a single non-null `anyOf`/`oneOf` branch are merged into the parent;
//! - branches that are all objects have their properties hoisted into the parent, keeping only
//!   `required` and discriminating `enum`s (the tag of internally tagged enums) per branch;
//! - any other set of branches is folded into one schema accepting what each branch accepts
//!   (string enums stay enums; strings with objects become `x-kubernetes-preserve-unknown-fields`).

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::schema::{INT_OR_STRING, PRESERVE, as_map, is_true};

/// Merge `allOf` into the node, and strip `null` branches off `anyOf`/`oneOf`, merging a single
/// remaining branch (that is how schemars writes `Option<T>`). Returns whether `null` was allowed.
pub(super) fn flatten_junctors(node: &mut Map<String, Value>) -> bool {
    let mut nullable = false;
    loop {
        let mut changed = false;
        if let Some(Value::Array(all)) = node.remove("allOf") {
            for branch in all {
                merge_raw(node, as_map(branch));
            }
            changed = true;
        }
        for junctor in ["anyOf", "oneOf"] {
            let Some(Value::Array(branches)) = node.remove(junctor) else {
                continue;
            };
            let (nulls, rest): (Vec<Value>, Vec<Value>) = branches.into_iter().partition(is_null_schema);
            nullable |= !nulls.is_empty();
            match rest.len() {
                0 => {
                    node.insert("type".into(), "null".into());
                    changed = true;
                }
                1 => {
                    let branch = rest.into_iter().next().map(as_map).unwrap_or_default();
                    merge_raw(node, branch);
                    changed = true;
                }
                _ => {
                    node.insert(junctor.into(), Value::Array(rest));
                }
            }
        }
        if !changed {
            return nullable;
        }
    }
}

fn is_null_schema(schema: &Value) -> bool {
    let Value::Object(map) = schema else { return false };
    match map.get("type") {
        Some(Value::String(ty)) => ty == "null",
        Some(Value::Array(types)) => types.iter().all(|t| t == "null"),
        _ => map.get("const") == Some(&Value::Null) || map.get("enum") == Some(&json!([null])),
    }
}

/// Fold a (raw) branch into its parent: the parent's keywords win, properties and `required`
/// are unions.
fn merge_raw(node: &mut Map<String, Value>, branch: Map<String, Value>) {
    for (key, value) in branch {
        match (key.as_str(), node.get_mut(&key), value) {
            ("properties", Some(Value::Object(mine)), Value::Object(theirs)) => {
                for (name, schema) in theirs {
                    mine.entry(name).or_insert(schema);
                }
            }
            ("required", Some(Value::Array(mine)), Value::Array(theirs)) => {
                for name in theirs {
                    if !mine.contains(&name) {
                        mine.push(name);
                    }
                }
            }
            (_, Some(_), _) => {}
            (_, None, value) => {
                node.insert(key, value);
            }
        }
    }
}

/// Reduce `oneOf`/`anyOf` branches (already structural) to something Kubernetes accepts.
pub(super) fn combine_branches(
    node: &mut Map<String, Value>,
    junctor: &str,
    branches: Vec<Map<String, Value>>,
) {
    let all_objects = branches
        .iter()
        .all(|b| b.get("type") == Some(&Value::from("object")));
    let node_type_ok = node.get("type").is_none_or(|t| t == "object");
    if !(all_objects && node_type_ok) {
        // Unit enums with documented variants, mixed unit/struct variants, untagged enums over
        // scalars: one schema that accepts what every branch accepts.
        let merged = branches
            .into_iter()
            .reduce(|a, b| merge_permissive(&a, &b))
            .unwrap_or_default();
        for (key, value) in merged {
            node.entry(key).or_insert(value);
        }
        return;
    }

    node.insert("type".into(), "object".into());
    let mut properties = match node.remove("properties") {
        Some(Value::Object(p)) => p,
        _ => Map::new(),
    };
    let mut reduced = Vec::new();
    let mut unconstrained = false;
    for mut branch in branches {
        let branch_properties = match branch.remove("properties") {
            Some(Value::Object(p)) => p,
            _ => Map::new(),
        };
        let description = branch.remove("description");
        let single = branch_properties.len() == 1;
        let mut discriminators = Map::new();
        for (name, mut schema) in branch_properties {
            if let Some(values) = schema.get("enum") {
                discriminators.insert(name.clone(), json!({ "enum": values }));
            }
            if single && let (Some(description), Value::Object(s)) = (&description, &mut schema) {
                s.entry("description").or_insert_with(|| description.clone());
            }
            let merged = match properties.remove(&name) {
                Some(existing) => Value::Object(merge_permissive(&as_map(existing), &as_map(schema))),
                None => schema,
            };
            properties.insert(name, merged);
        }
        if is_true(&branch, PRESERVE) || branch.contains_key("additionalProperties") {
            node.insert(PRESERVE.into(), true.into());
        }
        let mut kept = Map::new();
        if let Some(Value::Array(required)) = branch.remove("required")
            && !required.is_empty()
        {
            kept.insert("required".into(), Value::Array(required));
        }
        if !discriminators.is_empty() {
            kept.insert("properties".into(), Value::Object(discriminators));
        }
        unconstrained |= kept.is_empty();
        if !reduced.contains(&Value::Object(kept.clone())) {
            reduced.push(Value::Object(kept));
        }
    }
    node.insert("properties".into(), Value::Object(properties));
    // A branch that constrains nothing would make `anyOf` vacuous and `oneOf` ambiguous.
    if !unconstrained && reduced.len() > 1 {
        node.insert(junctor.into(), Value::Array(reduced));
    }
}

/// A structural schema accepting everything `a` or `b` accepts (an over-approximation).
fn merge_permissive(a: &Map<String, Value>, b: &Map<String, Value>) -> Map<String, Value> {
    if a == b {
        return a.clone();
    }
    let nullable = is_true(a, "nullable") || is_true(b, "nullable");
    let anything = |m: &Map<String, Value>| !m.contains_key("type") && !is_true(m, INT_OR_STRING);
    let ty = |m: &Map<String, Value>| -> Option<String> {
        if is_true(m, INT_OR_STRING) {
            Some("int-or-string".into())
        } else {
            m.get("type").and_then(Value::as_str).map(String::from)
        }
    };
    let mut out = Map::new();
    let (ta, tb) = (ty(a), ty(b));
    if anything(a) || anything(b) || ta != tb {
        match (ta.as_deref(), tb.as_deref()) {
            (Some("integer" | "string" | "int-or-string"), Some("integer" | "string" | "int-or-string"))
                if !(anything(a) || anything(b)) =>
            {
                out.insert(INT_OR_STRING.into(), true.into());
            }
            (Some("integer" | "number"), Some("integer" | "number")) => {
                out.insert("type".into(), "number".into());
            }
            _ => {
                out.insert(PRESERVE.into(), true.into());
            }
        }
        if nullable {
            out.insert("nullable".into(), true.into());
        }
        return out;
    }

    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for key in keys {
        let (va, vb) = (a.get(key), b.get(key));
        let merged = match (key.as_str(), va, vb) {
            ("nullable" | PRESERVE, _, _) => {
                (is_true(a, key) || is_true(b, key)).then_some(Value::Bool(true))
            }
            ("enum", Some(Value::Array(x)), Some(Value::Array(y))) => {
                let mut values = x.clone();
                values.extend(y.iter().filter(|v| !x.contains(v)).cloned());
                Some(Value::Array(values))
            }
            ("properties", Some(Value::Object(x)), Some(Value::Object(y))) => {
                let mut props = x.clone();
                for (name, schema) in y {
                    let merged = match props.get(name) {
                        Some(existing) => Value::Object(merge_permissive(
                            &as_map(existing.clone()),
                            &as_map(schema.clone()),
                        )),
                        None => schema.clone(),
                    };
                    props.insert(name.clone(), merged);
                }
                Some(Value::Object(props))
            }
            ("properties", Some(p), None) | ("properties", None, Some(p)) => Some(p.clone()),
            ("required", Some(Value::Array(x)), Some(Value::Array(y))) => {
                let both: Vec<Value> = x.iter().filter(|n| y.contains(n)).cloned().collect();
                (!both.is_empty()).then_some(Value::Array(both))
            }
            ("items" | "additionalProperties", Some(Value::Object(x)), Some(Value::Object(y))) => {
                Some(Value::Object(merge_permissive(x, y)))
            }
            (_, Some(x), Some(y)) if x == y => Some(x.clone()),
            _ => None,
        };
        if let Some(value) = merged {
            out.insert(key.clone(), value);
        }
    }
    if out.contains_key("properties") && out.contains_key("additionalProperties") {
        out.remove("additionalProperties");
        out.insert(PRESERVE.into(), true.into());
    }
    if a.contains_key("additionalProperties") != b.contains_key("additionalProperties") {
        out.insert(PRESERVE.into(), true.into());
    }
    out
}

#[cfg(test)]
mod tests {
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};
    use serde_json::json;

    use crate::crd::schema::PRESERVE;
    use crate::crd::schema::tests::schema;

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
    #[serde(tag = "kind")]
    enum Internally {
        /// From git.
        Git {
            url: String,
            revision: Option<String>,
        },
        Image {
            image: String,
        },
        Empty,
    }

    #[allow(dead_code)]
    #[derive(Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    enum External {
        /// Copy files.
        Copy {
            from: String,
            to: String,
        },
        Run(RunStep),
    }

    #[allow(dead_code)]
    #[derive(Serialize, Deserialize, JsonSchema)]
    struct RunStep {
        command: Vec<String>,
    }

    #[allow(dead_code)]
    #[derive(Serialize, Deserialize, JsonSchema)]
    #[serde(untagged)]
    enum Untagged {
        Named { name: String },
        Numbered { number: u32, name: Option<String> },
    }

    #[allow(dead_code)]
    #[derive(Serialize, Deserialize, JsonSchema)]
    enum Mixed {
        Nothing,
        Something { value: i32 },
    }

    #[test]
    fn documented_unit_variants_become_a_string_enum() {
        let s = schema::<Documented>();
        assert_eq!(s, json!({"type": "string", "enum": ["first", "second"]}));
    }

    #[test]
    fn internally_tagged_enum_hoists_properties_and_keeps_discriminators() {
        let s = schema::<Internally>();
        assert_eq!(s["type"], "object");
        assert_eq!(
            s["properties"]["kind"],
            json!({"type": "string", "enum": ["Git", "Image", "Empty"]})
        );
        assert_eq!(s["properties"]["url"]["type"], "string");
        assert_eq!(s["properties"]["revision"]["nullable"], true);
        assert_eq!(s["properties"]["image"]["type"], "string");
        let one_of = s["oneOf"].as_array().unwrap();
        assert_eq!(one_of.len(), 3);
        assert_eq!(
            one_of[0],
            json!({"required": ["kind", "url"], "properties": {"kind": {"enum": ["Git"]}}})
        );
        assert_eq!(
            one_of[2],
            json!({"required": ["kind"], "properties": {"kind": {"enum": ["Empty"]}}})
        );
    }

    #[test]
    fn externally_tagged_struct_variants_hoist_with_their_docs() {
        let s = schema::<External>();
        assert_eq!(s["type"], "object");
        assert_eq!(s["properties"]["copy"]["description"], "Copy files.");
        assert_eq!(s["properties"]["copy"]["required"], json!(["from", "to"]));
        assert_eq!(
            s["properties"]["run"]["properties"]["command"]["items"]["type"],
            "string"
        );
        assert_eq!(s["oneOf"], json!([{"required": ["copy"]}, {"required": ["run"]}]));
        assert!(s.get("additionalProperties").is_none());
    }

    #[test]
    fn untagged_enum_uses_any_of_with_required_only() {
        let s = schema::<Untagged>();
        assert_eq!(s["properties"]["name"]["type"], "string");
        assert_eq!(s["properties"]["number"]["format"], "uint32");
        assert_eq!(
            s["anyOf"],
            json!([{"required": ["name"]}, {"required": ["number"]}])
        );
    }

    #[test]
    fn mixed_unit_and_struct_variants_preserve_unknown_fields() {
        assert_eq!(schema::<Mixed>(), json!({PRESERVE: true}));
    }
}
