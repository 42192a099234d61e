//! Small readers for `serde_json::Value` objects, treating missing, `null` and wrongly typed
//! fields as absent (Kubernetes' zero values), plus a semantic equality that, like
//! `apiequality.Semantic`, does not tell an absent list from an empty one.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// The field `key` of `v` unless it is missing or `null`.
pub(crate) fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|x| !x.is_null())
}

/// The string field `key`, or `""` (Go's zero value) when missing or not a string.
pub(crate) fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The string field `key` when present (possibly empty), for `*string` fields.
pub(crate) fn opt_str<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// The array field `key`, or an empty slice.
pub(crate) fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// The object field `key`, when it is an object.
pub(crate) fn obj<'a>(v: &'a Value, key: &str) -> Option<&'a Map<String, Value>> {
    v.get(key).and_then(Value::as_object)
}

/// The integer field `key`, when it is an integer.
pub(crate) fn int_of(v: &Value, key: &str) -> Option<i64> {
    v.get(key).and_then(Value::as_i64)
}

/// The boolean field `key`, `false` when missing.
pub(crate) fn bool_of(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// A `map[string]string` field (labels, selectors) with non-string values skipped.
pub(crate) fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// The strings of an array field, non-strings skipped.
pub(crate) fn strings(v: &Value, key: &str) -> Vec<String> {
    arr(v, key)
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// A copy without `null`s, empty arrays, empty strings and empty maps, so that two objects
/// that differ only in how they spell "unset" compare equal.
pub(crate) fn normalized(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), normalized(v)))
                .filter(|(_, v)| !is_unset(v))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(normalized).collect()),
        other => other.clone(),
    }
}

fn is_unset(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

/// `apiequality.Semantic.DeepEqual` on JSON: absent, `null`, `""`, `[]` and `{}` are all unset.
pub(crate) fn semantic_eq(a: Option<&Value>, b: Option<&Value>) -> bool {
    let norm = |v: Option<&Value>| v.map(normalized).filter(|v| !is_unset(v));
    norm(a) == norm(b)
}

/// The paths (`spec.nodeName`, `spec.containers[0].ports`) where two JSON values differ, for
/// the explanation that follows "may not change" messages.
pub(crate) fn diff_paths(prefix: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let (va, vb) = (x.get(k).unwrap_or(&Value::Null), y.get(k).unwrap_or(&Value::Null));
                diff_paths(&format!("{prefix}.{k}"), va, vb, out);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                diff_paths(&format!("{prefix}[{i}]"), va, vb, out);
            }
        }
        _ if a != b => out.push(prefix.to_string()),
        _ => {}
    }
}

/// A short, readable description of how `new` differs from `old` (Kubernetes prints a
/// `cmp.Diff` of Go structs here; we list the changed JSON paths).
pub(crate) fn describe_diff(prefix: &str, old: &Value, new: &Value) -> String {
    let mut paths = Vec::new();
    diff_paths(prefix, &normalized(old), &normalized(new), &mut paths);
    paths
        .iter()
        .map(|p| format!("changed: {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}
