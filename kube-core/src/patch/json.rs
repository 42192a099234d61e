//! JSON patch (RFC 6902).
use super::PatchError;
use serde_json::Value;

/// Apply a JSON patch to `target`. On error `target` is left unchanged.
pub fn apply_json_patch(target: &mut Value, patch: &json_patch::Patch) -> Result<(), PatchError> {
    json_patch::patch(target, patch).map_err(|e| PatchError::Invalid(e.to_string()))
}
