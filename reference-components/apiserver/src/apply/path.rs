//! Path elements: one step from a value to a field, a list item or a set member.
//!
//! A field path is a list of [`PathElement`]s. They have two written forms, both as
//! structured-merge-diff (the library behind kube-apiserver's server-side apply) writes them:
//!
//! | element | in `fieldsV1` | in messages |
//! |---|---|---|
//! | field `spec` | `f:spec` | `.spec` |
//! | list item with keys | `k:{"containerPort":80,"protocol":"TCP"}` | `[containerPort=80,protocol="TCP"]` |
//! | set member | `v:"example.com/finalizer"` | `[="example.com/finalizer"]` |
//! | list index | `i:3` | `[3]` |
//!
//! Elements are totally ordered (fields, then keys, then values, then indices), numbers compare
//! by value, and values of different JSON types in the order numbers, strings, booleans, lists,
//! objects, `null`.

use std::cmp::Ordering;
use std::fmt;

use serde_json::{Map, Value};

/// One step of a field path.
#[derive(Debug, Clone)]
pub enum PathElement {
    /// A field of an object (or a key of a map).
    Field(String),
    /// An item of an associative list, named by its key fields (sorted by field name).
    Key(Vec<(String, Value)>),
    /// A member of a set (a list of scalars).
    Value(Value),
    /// An item of a list by position (lists without keys; rare in Kubernetes schemas).
    Index(usize),
}

/// A field path.
pub type Path = Vec<PathElement>;

impl PathElement {
    /// The `fieldsV1` key of this element (`f:spec`, `k:{"name":"a"}`, ...).
    pub fn serialize(&self) -> String {
        match self {
            PathElement::Field(name) => field_key(name),
            // Written with serde_json's writer, not `fmt`: several times cheaper, same text.
            PathElement::Key(fields) => {
                let mut out = Vec::with_capacity(32);
                out.extend_from_slice(b"k:{");
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    serde_json::to_writer(&mut out, name).expect("strings serialise");
                    out.push(b':');
                    serde_json::to_writer(&mut out, value).expect("JSON values serialise");
                }
                out.push(b'}');
                String::from_utf8(out).expect("serde_json writes UTF-8")
            }
            PathElement::Value(value) => {
                let mut out = b"v:".to_vec();
                serde_json::to_writer(&mut out, value).expect("JSON values serialise");
                String::from_utf8(out).expect("serde_json writes UTF-8")
            }
            PathElement::Index(index) => format!("i:{index}"),
        }
    }

    /// Parse a `fieldsV1` key.
    pub fn parse(key: &str) -> Result<Self, String> {
        let (kind, body) = key
            .split_once(':')
            .ok_or_else(|| format!("missing colon: {key}"))?;
        match kind {
            "f" => Ok(PathElement::Field(body.to_string())),
            "k" => match serde_json::from_str::<Value>(body) {
                Ok(Value::Object(fields)) => Ok(PathElement::key(fields)),
                _ => Err(format!("invalid key in {key}")),
            },
            "v" => serde_json::from_str(body)
                .map(PathElement::Value)
                .map_err(|e| format!("invalid value in {key}: {e}")),
            "i" => body
                .parse()
                .map(PathElement::Index)
                .map_err(|e| format!("invalid index in {key}: {e}")),
            _ => Err(format!("unknown path element type in {key}")),
        }
    }

    /// A key element from key fields in any order.
    pub fn key(fields: Map<String, Value>) -> Self {
        let mut fields: Vec<(String, Value)> = fields.into_iter().collect();
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        PathElement::Key(fields)
    }

    fn rank(&self) -> u8 {
        match self {
            PathElement::Field(_) => 0,
            PathElement::Key(_) => 1,
            PathElement::Value(_) => 2,
            PathElement::Index(_) => 3,
        }
    }
}

impl fmt::Display for PathElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(fields) => {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|(name, value)| format!("{name}={}", display_value(value)))
                    .collect();
                write!(f, "[{}]", parts.join(","))
            }
            PathElement::Value(value) => write!(f, "[={}]", display_value(value)),
            PathElement::Index(index) => write!(f, "[{index}]"),
        }
    }
}

/// A path as kube-apiserver prints it in conflict messages: `.spec.containers[name="web"].image`.
pub fn display(path: &[PathElement]) -> String {
    path.iter().map(ToString::to_string).collect()
}

/// A value as structured-merge-diff prints it: strings quoted, everything else as JSON.
fn display_value(value: &Value) -> String {
    match value {
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(display_value).collect::<Vec<_>>().join(",")
        ),
        Value::Object(fields) => fields
            .iter()
            .map(|(k, v)| format!("{k}={}", display_value(v)))
            .collect(),
        other => other.to_string(),
    }
}

impl PartialEq for PathElement {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for PathElement {}

impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PathElement {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PathElement::Field(a), PathElement::Field(b)) => a.cmp(b),
            (PathElement::Key(a), PathElement::Key(b)) => {
                for ((an, av), (bn, bv)) in a.iter().zip(b) {
                    let order = an.cmp(bn).then_with(|| compare_values(av, bv));
                    if order != Ordering::Equal {
                        return order;
                    }
                }
                a.len().cmp(&b.len())
            }
            (PathElement::Value(a), PathElement::Value(b)) => compare_values(a, b),
            (PathElement::Index(a), PathElement::Index(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

/// A total order on JSON values: numbers (by value), strings, booleans, lists, objects, `null`.
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Number(_) => 0,
            Value::String(_) => 1,
            Value::Bool(_) => 2,
            Value::Array(_) => 3,
            Value::Object(_) => 4,
            Value::Null => 5,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => {
                let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
                x.partial_cmp(&y).unwrap_or(Ordering::Equal)
            }
        },
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (x, y) in x.iter().zip(y) {
                let order = compare_values(x, y);
                if order != Ordering::Equal {
                    return order;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            let mut xs: Vec<_> = x.iter().collect();
            let mut ys: Vec<_> = y.iter().collect();
            xs.sort_by(|a, b| a.0.cmp(b.0));
            ys.sort_by(|a, b| a.0.cmp(b.0));
            for ((xk, xv), (yk, yv)) in xs.iter().zip(&ys) {
                let order = xk.cmp(yk).then_with(|| compare_values(xv, yv));
                if order != Ordering::Equal {
                    return order;
                }
            }
            xs.len().cmp(&ys.len())
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

/// The `fieldsV1` key of the field `name` (`f:name`).
pub fn field_key(name: &str) -> String {
    let mut out = String::with_capacity(2 + name.len());
    out.push_str("f:");
    out.push_str(name);
    out
}

/// Whether two JSON values are equal, numbers by value (`80` equals `80.0`).
pub fn values_equal(a: &Value, b: &Value) -> bool {
    compare_values(a, b) == Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(v: Value) -> PathElement {
        match v {
            Value::Object(m) => PathElement::key(m),
            _ => unreachable!(),
        }
    }

    #[test]
    fn serialized_forms_round_trip() {
        let cases = [
            (PathElement::Field("spec".into()), "f:spec"),
            (
                key(json!({"protocol": "TCP", "containerPort": 80})),
                r#"k:{"containerPort":80,"protocol":"TCP"}"#,
            ),
            (PathElement::Value(json!("a/b")), r#"v:"a/b""#),
            (PathElement::Value(json!(3)), "v:3"),
            (PathElement::Index(2), "i:2"),
        ];
        for (pe, text) in cases {
            assert_eq!(pe.serialize(), text);
            assert_eq!(PathElement::parse(text).unwrap(), pe);
        }
        assert_eq!(
            PathElement::parse(r#"f:metadata.annotations:x"#).unwrap(),
            PathElement::Field("metadata.annotations:x".into())
        );
        for bad in ["spec", "x:1", "k:[1]", "v:{", "i:a"] {
            assert!(PathElement::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn displayed_as_kube_apiserver_prints_paths() {
        let path = vec![
            PathElement::Field("spec".into()),
            PathElement::Field("ports".into()),
            key(json!({"port": 80, "protocol": "TCP"})),
            PathElement::Field("targetPort".into()),
        ];
        assert_eq!(
            display(&path),
            r#".spec.ports[port=80,protocol="TCP"].targetPort"#
        );
        let finalizer = [
            PathElement::Field("metadata".into()),
            PathElement::Field("finalizers".into()),
            PathElement::Value(json!("a")),
        ];
        assert_eq!(display(&finalizer), r#".metadata.finalizers[="a"]"#);
    }

    #[test]
    fn ordering_is_total_and_numeric() {
        let mut elements = [
            PathElement::Index(0),
            PathElement::Value(json!("b")),
            key(json!({"port": 443})),
            key(json!({"port": 80})),
            PathElement::Value(json!(10)),
            PathElement::Field("b".into()),
            PathElement::Field("a".into()),
        ];
        elements.sort();
        let written: Vec<String> = elements.iter().map(PathElement::serialize).collect();
        assert_eq!(
            written,
            [
                "f:a",
                "f:b",
                r#"k:{"port":80}"#,
                r#"k:{"port":443}"#,
                "v:10",
                r#"v:"b""#,
                "i:0"
            ]
        );
        assert!(values_equal(&json!(80), &json!(80.0)));
        assert!(!values_equal(&json!(80), &json!("80")));
        assert_eq!(compare_values(&json!(null), &json!({})), Ordering::Greater);
    }
}
