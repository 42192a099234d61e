//! JSON merge patch (RFC 7386, republished as RFC 7396).
//!
//! The patch is a document shaped like the target: objects merge member by member, `null`
//! deletes a member, and anything else (strings, numbers, arrays) replaces what was there. A
//! patch that is not an object replaces the whole target.
use serde_json::Value;

/// Apply a JSON merge patch to `target` in place.
///
/// This never fails: every JSON value is a valid merge patch.
///
/// ```
/// # use kube_core::patch::apply_merge_patch;
/// # use serde_json::json;
/// let mut cm = json!({"data": {"a": "1", "b": "2"}});
/// apply_merge_patch(&mut cm, &json!({"data": {"a": null, "c": "3"}}));
/// assert_eq!(cm, json!({"data": {"b": "2", "c": "3"}}));
/// ```
pub fn apply_merge_patch(target: &mut Value, patch: &Value) {
    json_patch::merge(target, patch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Every row of the table in RFC 7386 Appendix A: (original, patch, result).
    #[test]
    fn rfc7386_appendix_a() {
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "b"}), json!({"b": "c"}), json!({"a": "b", "b": "c"})),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (json!({"a": "b", "b": "c"}), json!({"a": null}), json!({"b": "c"})),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (json!({"a": [{"b": "c"}]}), json!({"a": [1]}), json!({"a": [1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a": "b"}), json!(["c"]), json!(["c"])),
            (json!({"a": "foo"}), json!(null), json!(null)),
            (json!({"a": "foo"}), json!("bar"), json!("bar")),
            (json!({"e": null}), json!({"a": 1}), json!({"e": null, "a": 1})),
            (json!([1, 2]), json!({"a": "b", "c": null}), json!({"a": "b"})),
            (
                json!({}),
                json!({"a": {"bb": {"ccc": null}}}),
                json!({"a": {"bb": {}}}),
            ),
        ];
        for (original, patch, expected) in cases {
            let mut doc = original.clone();
            apply_merge_patch(&mut doc, &patch);
            assert_eq!(doc, expected, "{original} + {patch}");
        }
    }

    /// The worked example of RFC 7386 section 3.
    #[test]
    fn rfc7386_section_3_example() {
        let mut doc = json!({
            "title": "Goodbye!",
            "author": {"givenName": "John", "familyName": "Doe"},
            "tags": ["example", "sample"],
            "content": "This will be unchanged"
        });
        let patch = json!({
            "title": "Hello!",
            "phoneNumber": "+01-555-555-5555",
            "author": {"familyName": null},
            "tags": ["example"]
        });
        apply_merge_patch(&mut doc, &patch);
        assert_eq!(
            doc,
            json!({
                "title": "Hello!",
                "author": {"givenName": "John"},
                "tags": ["example"],
                "content": "This will be unchanged",
                "phoneNumber": "+01-555-555-5555"
            })
        );
    }

    #[test]
    fn lists_are_replaced_not_merged() {
        let mut pod = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
        apply_merge_patch(&mut pod, &json!({"spec": {"containers": [{"name": "c"}]}}));
        assert_eq!(pod, json!({"spec": {"containers": [{"name": "c"}]}}));
    }
}
