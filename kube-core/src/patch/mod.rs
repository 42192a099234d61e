//! The four kinds of patch, and the functions that apply them.
//!
//! [`Patch`] is what a client sends; its [`content_type`](Patch::content_type) tells the server
//! how to read it. The `apply_*` functions are what a server (or an in-memory fake) does with it,
//! so that every part of the project shares one implementation:
//!
//! - [`merge::apply_merge_patch`]: JSON merge patch (RFC 7386).
//! - [`json::apply_json_patch`]: JSON patch (RFC 6902), every operation including `test`.
//! - [`strategic::apply_strategic_merge_patch`]: Kubernetes strategic merge patch, merging lists
//!   of built-in types by their patch merge key and honouring `$patch` and
//!   `$deleteFromPrimitiveList` directives.

pub mod json;
pub mod merge;
pub mod strategic;

use serde::Serialize;

pub use json::apply_json_patch;
pub use merge::apply_merge_patch;
pub use strategic::{apply_strategic_merge_patch, supports_strategic_merge};

/// Content type of a JSON merge patch (RFC 7386).
pub const MERGE_PATCH: &str = "application/merge-patch+json";
/// Content type of a JSON patch (RFC 6902).
pub const JSON_PATCH: &str = "application/json-patch+json";
/// Content type of a strategic merge patch.
pub const STRATEGIC_MERGE_PATCH: &str = "application/strategic-merge-patch+json";
/// Content type of a server-side apply patch.
pub const APPLY_PATCH: &str = "application/apply-patch+yaml";

/// A patch to send to the apiserver.
///
/// `T` is the body: usually a (partial) object or a `serde_json::Value`.
#[derive(Debug, Clone, PartialEq)]
pub enum Patch<T: Serialize> {
    /// Server-side apply: the full intent of one field manager. Needs
    /// [`PatchParams::apply`](crate::params::PatchParams::apply).
    Apply(T),
    /// JSON patch (RFC 6902): a list of operations.
    Json(json_patch::Patch),
    /// JSON merge patch (RFC 7386): `null` deletes, objects merge, everything else replaces.
    Merge(T),
    /// Strategic merge patch: like a merge patch, but lists of built-in types merge by key.
    Strategic(T),
}

impl<T: Serialize> Patch<T> {
    /// The `Content-Type` header the apiserver expects for this patch.
    pub fn content_type(&self) -> &'static str {
        match self {
            Patch::Apply(_) => APPLY_PATCH,
            Patch::Json(_) => JSON_PATCH,
            Patch::Merge(_) => MERGE_PATCH,
            Patch::Strategic(_) => STRATEGIC_MERGE_PATCH,
        }
    }

    /// Whether this is a server-side apply patch.
    pub fn is_apply(&self) -> bool {
        matches!(self, Patch::Apply(_))
    }

    /// Serialise the body. Apply patches are sent as JSON, which is valid YAML.
    pub fn serialize(&self) -> Result<Vec<u8>, serde_json::Error> {
        match self {
            Patch::Apply(t) | Patch::Merge(t) | Patch::Strategic(t) => serde_json::to_vec(t),
            Patch::Json(p) => serde_json::to_vec(p),
        }
    }
}

/// Why a patch could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// The patch document is not of the shape its kind requires.
    #[error("invalid patch: {0}")]
    Invalid(String),
    /// A JSON patch operation failed (a missing path, a failed `test`, ...).
    #[error("json patch operation {index} ({op}) failed: {reason}")]
    JsonPatchOperation {
        /// Index of the failing operation in the patch.
        index: usize,
        /// The operation's name (`add`, `remove`, `test`, ...).
        op: String,
        /// What went wrong.
        reason: String,
    },
    /// A `test` operation found a different value.
    #[error("json patch operation {index} (test) at {path} failed: value differs")]
    TestFailed {
        /// Index of the failing `test` operation in the patch.
        index: usize,
        /// The JSON pointer that was tested.
        path: String,
    },
}
