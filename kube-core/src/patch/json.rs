//! JSON patch (RFC 6902).
//!
//! A JSON patch is a list of operations (`add`, `remove`, `replace`, `move`, `copy`, `test`),
//! each addressing the document with a JSON pointer (RFC 6901). The operations apply in order;
//! if one fails the whole patch fails and the document is left as it was.
use super::PatchError;
use json_patch::PatchOperation;
use serde_json::{Number, Value};

/// Apply a JSON patch to `target`. On error `target` is left unchanged.
///
/// The error names the failing operation by its index and name, and says why it failed: a
/// `test` that finds a different value gives [`PatchError::TestFailed`], every other failure
/// (a missing path, an index out of bounds, a `move` into its own child...) gives
/// [`PatchError::JsonPatchOperation`].
///
/// ```
/// # use kube_core::patch::apply_json_patch;
/// # use serde_json::json;
/// let mut doc = json!({"spec": {"replicas": 1}});
/// let patch = serde_json::from_value(json!([
///     {"op": "test", "path": "/spec/replicas", "value": 1},
///     {"op": "replace", "path": "/spec/replicas", "value": 3},
/// ]))
/// .unwrap();
/// apply_json_patch(&mut doc, &patch).unwrap();
/// assert_eq!(doc, json!({"spec": {"replicas": 3}}));
/// ```
pub fn apply_json_patch(target: &mut Value, patch: &json_patch::Patch) -> Result<(), PatchError> {
    // Work on a copy so that a failing operation leaves `target` untouched.
    let mut doc = target.clone();
    for (index, operation) in patch.iter().enumerate() {
        apply_operation(&mut doc, operation).map_err(|failure| match failure {
            Failure::TestFailed => PatchError::TestFailed {
                index,
                path: operation.path().to_string(),
            },
            Failure::Other(reason) => PatchError::JsonPatchOperation {
                index,
                op: op_name(operation).to_owned(),
                reason,
            },
        })?;
    }
    *target = doc;
    Ok(())
}

/// JSON equality as RFC 6902 `test` defines it: numbers compare by value (`1` equals `1.0`),
/// objects regardless of member order, arrays element by element.
pub(crate) fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => numbers_equal(x, y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_equal(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(key, x)| y.get(key).is_some_and(|y| json_equal(x, y)))
        }
        _ => a == b,
    }
}

fn numbers_equal(x: &Number, y: &Number) -> bool {
    if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
        return x == y;
    }
    if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
        return x == y;
    }
    matches!((x.as_f64(), y.as_f64()), (Some(x), Some(y)) if x == y)
}

/// Why one operation failed.
enum Failure {
    /// A `test` found a different value.
    TestFailed,
    /// Anything else, with a reason for the error message.
    Other(String),
}

impl From<String> for Failure {
    fn from(reason: String) -> Self {
        Failure::Other(reason)
    }
}

fn op_name(operation: &PatchOperation) -> &'static str {
    match operation {
        PatchOperation::Add(_) => "add",
        PatchOperation::Remove(_) => "remove",
        PatchOperation::Replace(_) => "replace",
        PatchOperation::Move(_) => "move",
        PatchOperation::Copy(_) => "copy",
        PatchOperation::Test(_) => "test",
    }
}

fn apply_operation(doc: &mut Value, operation: &PatchOperation) -> Result<(), Failure> {
    match operation {
        PatchOperation::Add(op) => add(doc, op.path.as_str(), op.value.clone())?,
        PatchOperation::Remove(op) => {
            remove(doc, op.path.as_str())?;
        }
        PatchOperation::Replace(op) => {
            let path = op.path.as_str();
            *resolve_mut(doc, &parse_pointer(path)?, path)? = op.value.clone();
        }
        PatchOperation::Move(op) => {
            let (from, path) = (op.from.as_str(), op.path.as_str());
            let (from_tokens, path_tokens) = (parse_pointer(from)?, parse_pointer(path)?);
            if path_tokens.len() > from_tokens.len() && path_tokens.starts_with(&from_tokens) {
                return Err(format!("cannot move {from:?} into its own child {path:?}").into());
            }
            if from_tokens == path_tokens {
                resolve_mut(doc, &from_tokens, from).map_err(|e| format!("\"from\" {e}"))?;
                return Ok(());
            }
            let value = remove(doc, from).map_err(|e| format!("\"from\" {e}"))?;
            add(doc, path, value)?;
        }
        PatchOperation::Copy(op) => {
            let from = op.from.as_str();
            let value = resolve_mut(doc, &parse_pointer(from)?, from)
                .map_err(|e| format!("\"from\" {e}"))?
                .clone();
            add(doc, op.path.as_str(), value)?;
        }
        PatchOperation::Test(op) => {
            let path = op.path.as_str();
            let found = test_target(doc, &parse_pointer(path)?, path)?;
            if !json_equal(found.unwrap_or(&Value::Null), &op.value) {
                return Err(Failure::TestFailed);
            }
        }
    }
    Ok(())
}

/// The value a `test` compares, as Kubernetes' JSON patch library (evanphx/json-patch) finds it:
/// the parent must exist, but a missing member of an existing object reads as `null` (`None`),
/// so that `{"op": "test", "path": "/metadata/labels/x", "value": null}` passes when `x` is
/// absent. A missing parent or an array index out of bounds is an error, as there.
fn test_target<'a>(doc: &'a mut Value, tokens: &[String], path: &str) -> Result<Option<&'a Value>, String> {
    let Some((last, parent)) = tokens.split_last() else {
        return Ok(Some(doc));
    };
    match resolve_mut(doc, parent, path)? {
        Value::Object(map) => Ok(map.get(last.as_str())),
        other => resolve_mut(other, std::slice::from_ref(last), path).map(|v| Some(&*v)),
    }
}

/// `add`: set an object member, insert into an array (`-` appends), or replace the root.
fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let tokens = parse_pointer(path)?;
    let Some((last, parent)) = tokens.split_last() else {
        *doc = value;
        return Ok(());
    };
    match resolve_mut(doc, parent, path)? {
        Value::Object(map) => {
            map.insert(last.clone(), value);
        }
        Value::Array(items) => match array_index(last, items.len(), true)? {
            Some(index) => items.insert(index, value),
            None => items.push(value),
        },
        _ => {
            return Err(format!(
                "cannot add {path:?}: its parent is not an object or array"
            ));
        }
    }
    Ok(())
}

/// `remove`: take a value out of its parent object or array and return it.
fn remove(doc: &mut Value, path: &str) -> Result<Value, String> {
    let tokens = parse_pointer(path)?;
    let Some((last, parent)) = tokens.split_last() else {
        return Err("cannot remove the whole document".to_owned());
    };
    match resolve_mut(doc, parent, path)? {
        Value::Object(map) => map
            .remove(last)
            .ok_or_else(|| format!("path {path:?} does not exist")),
        Value::Array(items) => {
            let index = array_index(last, items.len(), false)?
                .ok_or_else(|| format!("path {path:?}: \"-\" names no element"))?;
            Ok(items.remove(index))
        }
        _ => Err(format!("path {path:?} does not exist")),
    }
}

/// The value at `tokens`; `path` is only used in the error message.
fn resolve_mut<'a>(doc: &'a mut Value, tokens: &[String], path: &str) -> Result<&'a mut Value, String> {
    let mut current = doc;
    for token in tokens {
        current = match current {
            Value::Object(map) => map.get_mut(token),
            Value::Array(items) => match array_index(token, items.len(), false)? {
                Some(index) => items.get_mut(index),
                None => None,
            },
            _ => None,
        }
        .ok_or_else(|| format!("path {path:?} does not exist"))?;
    }
    Ok(current)
}

/// Parse an array index token. `-` (the position after the last element) is `None`.
/// With `insert`, an index equal to the length is valid (it appends).
fn array_index(token: &str, len: usize, insert: bool) -> Result<Option<usize>, String> {
    if token == "-" {
        return Ok(None);
    }
    let well_formed = !token.is_empty()
        && token.bytes().all(|b| b.is_ascii_digit())
        && (token == "0" || !token.starts_with('0'));
    let index: usize = well_formed
        .then(|| token.parse().ok())
        .flatten()
        .ok_or_else(|| format!("{token:?} is not an array index"))?;
    let in_bounds = if insert { index <= len } else { index < len };
    if !in_bounds {
        return Err(format!(
            "array index {index} is out of bounds (the array has {len} elements)"
        ));
    }
    Ok(Some(index))
}

/// Split a JSON pointer (RFC 6901) into its unescaped reference tokens.
fn parse_pointer(pointer: &str) -> Result<Vec<String>, String> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(format!("JSON pointer {pointer:?} must start with \"/\""));
    };
    rest.split('/')
        .map(|token| {
            let mut unescaped = String::with_capacity(token.len());
            let mut chars = token.chars();
            while let Some(c) = chars.next() {
                if c != '~' {
                    unescaped.push(c);
                    continue;
                }
                match chars.next() {
                    Some('0') => unescaped.push('~'),
                    Some('1') => unescaped.push('/'),
                    _ => return Err(format!("JSON pointer {pointer:?} has an invalid \"~\" escape")),
                }
            }
            Ok(unescaped)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patch(ops: Value) -> json_patch::Patch {
        serde_json::from_value(ops).expect("valid JSON patch")
    }

    fn apply(doc: Value, ops: Value) -> Result<Value, PatchError> {
        let mut doc = doc;
        apply_json_patch(&mut doc, &patch(ops)).map(|()| doc)
    }

    fn reason(err: PatchError) -> (usize, String, String) {
        match err {
            PatchError::JsonPatchOperation { index, op, reason } => (index, op, reason),
            other => panic!("expected a JsonPatchOperation error, got {other:?}"),
        }
    }

    // RFC 6902 Appendix A, in order.

    #[test]
    fn a1_adding_an_object_member() {
        let doc = apply(
            json!({"foo": "bar"}),
            json!([{"op": "add", "path": "/baz", "value": "qux"}]),
        );
        assert_eq!(doc.unwrap(), json!({"baz": "qux", "foo": "bar"}));
    }

    #[test]
    fn a2_adding_an_array_element() {
        let doc = apply(
            json!({"foo": ["bar", "baz"]}),
            json!([{"op": "add", "path": "/foo/1", "value": "qux"}]),
        );
        assert_eq!(doc.unwrap(), json!({"foo": ["bar", "qux", "baz"]}));
    }

    #[test]
    fn a3_removing_an_object_member() {
        let doc = apply(
            json!({"baz": "qux", "foo": "bar"}),
            json!([{"op": "remove", "path": "/baz"}]),
        );
        assert_eq!(doc.unwrap(), json!({"foo": "bar"}));
    }

    #[test]
    fn a4_removing_an_array_element() {
        let doc = apply(
            json!({"foo": ["bar", "qux", "baz"]}),
            json!([{"op": "remove", "path": "/foo/1"}]),
        );
        assert_eq!(doc.unwrap(), json!({"foo": ["bar", "baz"]}));
    }

    #[test]
    fn a5_replacing_a_value() {
        let doc = apply(
            json!({"baz": "qux", "foo": "bar"}),
            json!([{"op": "replace", "path": "/baz", "value": "boo"}]),
        );
        assert_eq!(doc.unwrap(), json!({"baz": "boo", "foo": "bar"}));
    }

    #[test]
    fn a6_moving_a_value() {
        let doc = apply(
            json!({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}}),
            json!([{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}]),
        );
        assert_eq!(
            doc.unwrap(),
            json!({"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}})
        );
    }

    #[test]
    fn a7_moving_an_array_element() {
        let doc = apply(
            json!({"foo": ["all", "grass", "cows", "eat"]}),
            json!([{"op": "move", "from": "/foo/1", "path": "/foo/3"}]),
        );
        assert_eq!(doc.unwrap(), json!({"foo": ["all", "cows", "eat", "grass"]}));
    }

    #[test]
    fn a8_testing_a_value_success() {
        let original = json!({"baz": "qux", "foo": ["a", 2, "c"]});
        let doc = apply(
            original.clone(),
            json!([
                {"op": "test", "path": "/baz", "value": "qux"},
                {"op": "test", "path": "/foo/1", "value": 2}
            ]),
        );
        assert_eq!(doc.unwrap(), original);
    }

    #[test]
    fn a9_testing_a_value_error() {
        let err = apply(
            json!({"baz": "qux"}),
            json!([{"op": "test", "path": "/baz", "value": "bar"}]),
        );
        assert!(matches!(err, Err(PatchError::TestFailed { path, .. }) if path == "/baz"));
    }

    #[test]
    fn a10_adding_a_nested_member_object() {
        let doc = apply(
            json!({"foo": "bar"}),
            json!([{"op": "add", "path": "/child", "value": {"grandchild": {}}}]),
        );
        assert_eq!(doc.unwrap(), json!({"foo": "bar", "child": {"grandchild": {}}}));
    }

    #[test]
    fn a11_ignoring_unrecognized_elements() {
        let doc = apply(
            json!({"foo": "bar"}),
            json!([{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}]),
        );
        assert_eq!(doc.unwrap(), json!({"foo": "bar", "baz": "qux"}));
    }

    #[test]
    fn a12_adding_to_a_nonexistent_target() {
        let err = apply(
            json!({"foo": "bar"}),
            json!([{"op": "add", "path": "/baz/bat", "value": "qux"}]),
        );
        let (index, op, reason) = reason(err.unwrap_err());
        assert_eq!((index, op.as_str()), (0, "add"));
        assert!(reason.contains("/baz/bat"), "{reason}");
    }

    #[test]
    fn a13_invalid_json_patch_document() {
        // A JSON object with the same member twice is not a valid operation.
        let parsed: Result<json_patch::Patch, _> =
            serde_json::from_str(r#"[{"op": "add", "path": "/baz", "value": "qux", "op": "remove"}]"#);
        assert!(parsed.is_err());
    }

    #[test]
    fn a14_tilde_escape_ordering() {
        let original = json!({"/": 9, "~1": 10});
        let doc = apply(
            original.clone(),
            json!([{"op": "test", "path": "/~01", "value": 10}]),
        );
        assert_eq!(doc.unwrap(), original);
    }

    #[test]
    fn a15_comparing_strings_and_numbers() {
        let err = apply(
            json!({"/": 9, "~1": 10}),
            json!([{"op": "test", "path": "/~01", "value": "10"}]),
        );
        assert!(matches!(err, Err(PatchError::TestFailed { path, .. }) if path == "/~01"));
    }

    #[test]
    fn a16_adding_an_array_value() {
        let doc = apply(
            json!({"foo": ["bar"]}),
            json!([{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}]),
        );
        assert_eq!(doc.unwrap(), json!({"foo": ["bar", ["abc", "def"]]}));
    }

    // Beyond the appendix.

    #[test]
    fn dash_appends_and_is_rejected_elsewhere() {
        let doc = apply(
            json!({"items": [1]}),
            json!([
                {"op": "add", "path": "/items/-", "value": 2},
                {"op": "add", "path": "/items/2", "value": 3}
            ]),
        );
        assert_eq!(doc.unwrap(), json!({"items": [1, 2, 3]}));
        let err = apply(
            json!({"items": [1]}),
            json!([{"op": "remove", "path": "/items/-"}]),
        );
        assert_eq!(reason(err.unwrap_err()).1, "remove");
    }

    #[test]
    fn escaped_pointers_address_keys_with_slash_and_tilde() {
        let doc = apply(
            json!({"metadata": {"annotations": {"example.com/a": "x", "b~c": "y"}}}),
            json!([
                {"op": "replace", "path": "/metadata/annotations/example.com~1a", "value": "z"},
                {"op": "remove", "path": "/metadata/annotations/b~0c"},
                {"op": "add", "path": "/metadata/annotations/d~1e~0f", "value": "w"}
            ]),
        );
        assert_eq!(
            doc.unwrap(),
            json!({"metadata": {"annotations": {"example.com/a": "z", "d/e~f": "w"}}})
        );
    }

    #[test]
    fn failure_leaves_target_unchanged_and_names_the_operation() {
        let original = json!({"a": 1, "list": [1, 2]});
        let mut doc = original.clone();
        let ops = patch(json!([
            {"op": "add", "path": "/b", "value": 2},
            {"op": "remove", "path": "/list/0"},
            {"op": "replace", "path": "/missing", "value": 3}
        ]));
        let err = apply_json_patch(&mut doc, &ops).unwrap_err();
        assert_eq!(doc, original);
        let (index, op, reason) = reason(err);
        assert_eq!((index, op.as_str()), (2, "replace"));
        assert!(reason.contains("/missing"), "{reason}");
        let message = apply(original.clone(), json!([{"op": "remove", "path": "/nope"}]))
            .unwrap_err()
            .to_string();
        assert!(message.contains("operation 0 (remove)"), "{message}");
    }

    #[test]
    fn copy_move_and_replace_root() {
        let doc = apply(
            json!({"a": {"b": 1}}),
            json!([
                {"op": "copy", "from": "/a", "path": "/c"},
                {"op": "move", "from": "/a/b", "path": "/d"},
                {"op": "move", "from": "/d", "path": "/d"}
            ]),
        );
        assert_eq!(doc.unwrap(), json!({"a": {}, "c": {"b": 1}, "d": 1}));
        let doc = apply(
            json!({"a": 1}),
            json!([{"op": "replace", "path": "", "value": [1]}]),
        );
        assert_eq!(doc.unwrap(), json!([1]));
    }

    #[test]
    fn invalid_operations_are_rejected() {
        let cases = [
            (
                json!({"op": "move", "from": "/a", "path": "/a/b"}),
                "move",
                "own child",
            ),
            (json!({"op": "remove", "path": ""}), "remove", "whole document"),
            (
                json!({"op": "add", "path": "/l/01", "value": 0}),
                "add",
                "not an array index",
            ),
            (
                json!({"op": "add", "path": "/l/3", "value": 0}),
                "add",
                "out of bounds",
            ),
            (
                json!({"op": "copy", "from": "/x", "path": "/y"}),
                "copy",
                "\"from\"",
            ),
            (
                json!({"op": "test", "path": "/x/y", "value": 1}),
                "test",
                "does not exist",
            ),
            (
                json!({"op": "test", "path": "/l/1", "value": null}),
                "test",
                "out of bounds",
            ),
        ];
        for (op, name, needle) in cases {
            let err = apply(json!({"a": {}, "l": [1]}), json!([op])).unwrap_err();
            let (_, op, reason) = reason(err);
            assert_eq!(op, name);
            assert!(reason.contains(needle), "{reason}");
        }
    }

    #[test]
    fn test_reads_a_missing_member_as_null_like_evanphx_json_patch() {
        let doc = json!({"metadata": {"labels": {"a": "1"}, "n": null}});
        let ok = |ops: Value| apply(doc.clone(), ops);
        // A missing member of an existing object is null: `test` against null passes...
        assert_eq!(
            ok(json!([{"op": "test", "path": "/metadata/labels/b", "value": null}])).unwrap(),
            doc
        );
        assert!(ok(json!([{"op": "test", "path": "/metadata/annotations", "value": null}])).is_ok());
        assert!(ok(json!([{"op": "test", "path": "/metadata/n", "value": null}])).is_ok());
        // ...and against anything else fails as a test (not as a missing path).
        let err = ok(json!([{"op": "test", "path": "/metadata/labels/b", "value": "1"}])).unwrap_err();
        assert!(matches!(err, PatchError::TestFailed { index: 0, .. }), "{err:?}");
        // A present value is not null.
        let err = ok(json!([{"op": "test", "path": "/metadata/labels/a", "value": null}])).unwrap_err();
        assert!(matches!(err, PatchError::TestFailed { .. }), "{err:?}");
        // The parent must exist.
        let err = ok(json!([{"op": "test", "path": "/spec/x", "value": null}])).unwrap_err();
        assert_eq!(reason(err).1, "test");
    }

    #[test]
    fn test_compares_numbers_by_value() {
        assert!(
            apply(
                json!({"n": 1}),
                json!([{"op": "test", "path": "/n", "value": 1.0}])
            )
            .is_ok()
        );
        assert!(json_equal(
            &json!({"a": [1, {"b": 2}]}),
            &json!({"a": [1.0, {"b": 2}]})
        ));
        assert!(!json_equal(&json!([1, 2]), &json!([2, 1])));
    }
}
