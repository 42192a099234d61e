//! The JSONPath subset of CRD printer columns (`.spec.replicas`,
//! `.status.conditions[?(@.type=="Ready")].status`, `.spec.ports[0].port`, `.items[*].name`,
//! `.metadata.labels['app.kubernetes.io/name']`), with kubectl's optional `{...}` braces.

use serde_json::Value;

/// One step of a path.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// `.name` or `['name']`.
    Field(String),
    /// `[n]` (negative counts from the end).
    Index(i64),
    /// `[*]` or `.*`.
    Wildcard,
    /// `[?(@.path == literal)]`, `[?(@.path != literal)]` or `[?(@.path)]`.
    Filter {
        path: Vec<Step>,
        test: Option<(bool, Value)>,
    },
}

/// A parsed path.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath(Vec<Step>);

/// Why a path does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSONPath {path:?}: {reason}")]
pub struct ParseError {
    path: String,
    reason: &'static str,
}

fn parse_steps(s: &str, original: &str) -> Result<Vec<Step>, ParseError> {
    let err = |reason| ParseError {
        path: original.to_string(),
        reason,
    };
    let bytes = s.as_bytes();
    let mut steps = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'.' => {
                i += 1;
                let start = i;
                while i < bytes.len() && bytes[i] != b'.' && bytes[i] != b'[' {
                    i += 1;
                }
                let name = &s[start..i];
                match name {
                    "" => return Err(err("empty field name")),
                    "*" => steps.push(Step::Wildcard),
                    n => steps.push(Step::Field(n.to_string())),
                }
            }
            b'[' => {
                let close = find_close(s, i).ok_or_else(|| err("unclosed ["))?;
                let inner = s[i + 1..close].trim();
                i = close + 1;
                if inner == "*" {
                    steps.push(Step::Wildcard);
                } else if let Some(quoted) = unquote(inner) {
                    steps.push(Step::Field(quoted.to_string()));
                } else if let Some(filter) = inner.strip_prefix("?(").and_then(|f| f.strip_suffix(')')) {
                    steps.push(parse_filter(filter.trim(), original)?);
                } else {
                    let n: i64 = inner.parse().map_err(|_| err("unsupported subscript"))?;
                    steps.push(Step::Index(n));
                }
            }
            _ => return Err(err("expected . or [")),
        }
    }
    Ok(steps)
}

fn find_close(s: &str, open: usize) -> Option<usize> {
    let mut quote = None;
    for (i, c) in s[open..].char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, ']') => return Some(open + i),
            _ => {}
        }
    }
    None
}

fn unquote(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    if b.len() >= 2 && (b[0] == b'\'' || b[0] == b'"') && b[b.len() - 1] == b[0] {
        Some(&s[1..s.len() - 1])
    } else {
        None
    }
}

fn parse_filter(filter: &str, original: &str) -> Result<Step, ParseError> {
    let err = |reason| ParseError {
        path: original.to_string(),
        reason,
    };
    let (lhs, test) = if let Some((l, r)) = filter.split_once("==") {
        (l, Some((true, r)))
    } else if let Some((l, r)) = filter.split_once("!=") {
        (l, Some((false, r)))
    } else {
        (filter, None)
    };
    let lhs = lhs
        .trim()
        .strip_prefix('@')
        .ok_or_else(|| err("a filter starts with @"))?;
    let path = parse_steps(lhs, original)?;
    let test = match test {
        None => None,
        Some((eq, r)) => {
            let r = r.trim();
            let literal = match unquote(r) {
                Some(s) => Value::String(s.to_string()),
                None => serde_json::from_str(r).map_err(|_| err("unsupported filter literal"))?,
            };
            Some((eq, literal))
        }
    };
    Ok(Step::Filter { path, test })
}

impl JsonPath {
    /// Parse `path` (`.a.b[0]`, `{.a.b}`, `$.a`).
    pub fn parse(path: &str) -> Result<Self, ParseError> {
        let trimmed = path.trim();
        let inner = trimmed
            .strip_prefix('{')
            .and_then(|p| p.strip_suffix('}'))
            .unwrap_or(trimmed)
            .trim();
        let inner = inner.strip_prefix('$').unwrap_or(inner);
        if inner.is_empty() {
            return Ok(JsonPath(Vec::new()));
        }
        let inner = if inner.starts_with('.') || inner.starts_with('[') {
            inner.to_string()
        } else {
            format!(".{inner}")
        };
        parse_steps(&inner, path).map(JsonPath)
    }

    /// Every value the path selects in `root`, in document order.
    pub fn find<'a>(&self, root: &'a Value) -> Vec<&'a Value> {
        let mut current = vec![root];
        for step in &self.0 {
            current = current.into_iter().flat_map(|v| apply(step, v)).collect();
        }
        current
    }
}

fn apply<'a>(step: &Step, v: &'a Value) -> Vec<&'a Value> {
    match step {
        Step::Field(name) => v.get(name.as_str()).into_iter().collect(),
        Step::Index(n) => {
            let Some(items) = v.as_array() else {
                return Vec::new();
            };
            let len = items.len() as i64;
            let i = if *n < 0 { len + n } else { *n };
            if (0..len).contains(&i) {
                vec![&items[i as usize]]
            } else {
                Vec::new()
            }
        }
        Step::Wildcard => match v {
            Value::Array(items) => items.iter().collect(),
            Value::Object(map) => map.values().collect(),
            _ => Vec::new(),
        },
        Step::Filter { path, test } => {
            let Some(items) = v.as_array() else {
                return Vec::new();
            };
            let sub = JsonPath(path.clone());
            items
                .iter()
                .filter(|item| {
                    let found = sub.find(item);
                    match test {
                        None => !found.is_empty(),
                        Some((eq, literal)) => found.iter().any(|f| (*f == literal) == *eq),
                    }
                })
                .collect()
        }
    }
}

/// How kubectl's JSONPath printer shows one value: strings raw, everything else as JSON.
pub fn to_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn find(path: &str, v: &Value) -> Vec<Value> {
        JsonPath::parse(path)
            .unwrap()
            .find(v)
            .into_iter()
            .cloned()
            .collect()
    }

    #[test]
    fn fields_indexes_wildcards_and_filters() {
        let obj = json!({
            "metadata": {"labels": {"app.kubernetes.io/name": "web"}},
            "spec": {"replicas": 3, "ports": [{"port": 80}, {"port": 443}]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Synced", "status": "False"}]},
        });
        assert_eq!(find(".spec.replicas", &obj), [json!(3)]);
        assert_eq!(find("{.spec.replicas}", &obj), [json!(3)]);
        assert_eq!(find(".spec.ports[1].port", &obj), [json!(443)]);
        assert_eq!(find(".spec.ports[-1].port", &obj), [json!(443)]);
        assert_eq!(find(".spec.ports[*].port", &obj), [json!(80), json!(443)]);
        assert_eq!(
            find(".status.conditions[?(@.type==\"Ready\")].status", &obj),
            [json!("True")]
        );
        assert_eq!(
            find(".status.conditions[?(@.type != 'Ready')].type", &obj),
            [json!("Synced")]
        );
        assert_eq!(
            find(".metadata.labels['app.kubernetes.io/name']", &obj),
            [json!("web")]
        );
        assert!(find(".spec.missing", &obj).is_empty());
        assert!(find(".spec.ports[5]", &obj).is_empty());
        assert!(JsonPath::parse(".spec[").is_err());
        assert!(JsonPath::parse(".spec..x").is_err());
    }

    #[test]
    fn text_is_raw_for_strings_and_json_otherwise() {
        assert_eq!(to_text(&json!("a")), "a");
        assert_eq!(to_text(&json!(3)), "3");
        assert_eq!(to_text(&json!({"a": 1})), "{\"a\":1}");
    }
}
