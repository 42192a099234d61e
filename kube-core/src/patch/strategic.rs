//! Kubernetes strategic merge patch.
use super::PatchError;
use serde_json::Value;

/// Apply a strategic merge patch to `target`, an object of kind `kind` in `api_version`.
pub fn apply_strategic_merge_patch(
    target: &mut Value,
    patch: &Value,
    api_version: &str,
    kind: &str,
) -> Result<(), PatchError> {
    let _ = (api_version, kind);
    super::merge::apply_merge_patch(target, patch);
    Ok(())
}
