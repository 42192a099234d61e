//! JSON merge patch (RFC 7386).
use serde_json::Value;

/// Apply a JSON merge patch to `target` in place.
pub fn apply_merge_patch(target: &mut Value, patch: &Value) {
    json_patch::merge(target, patch)
}
