//! Server-side apply and managed fields.
//!
//! Every write records who owns which fields in `metadata.managedFields`, as kube-apiserver
//! does: a server-side apply (`PATCH` with `application/apply-patch+yaml`) as an `Apply` entry
//! owning exactly the fields of its configuration, any other create, update or patch as an
//! `Update` entry owning what it changed. An apply that would change a field someone else owns
//! is refused with 409 Conflict naming them, unless `force=true` moves the field to the
//! applier; a field an applier stops applying is removed unless another manager owns it.
//!
//! The parts, from the bottom:
//!
//! - [`path`]: field path elements (`f:`, `k:`, `v:`, `i:`) and their order;
//! - [`set`]: sets of paths, and their `fieldsV1` encoding;
//! - [`schema`]: which lists are atomic, sets or associative (by which keys), for built-in
//!   kinds (kube-core's strategic merge tables) and custom resources (their structural schema);
//! - [`typed`]: field sets of values, merge, compare and prune;
//! - [`managed`]: the entries and the ownership rules of updates and applies;
//! - [`created`]: the same for a write nobody else owns fields of (a create), in one walk;
//! - [`request`]: the request side: field manager names, apply options and bodies, the hook
//!   every write calls ([`record_update`]), and [`apply`] itself.
//!
//! ```
//! use reference_apiserver::apply::{ManagedFields, Ty, Writer};
//! use serde_json::json;
//!
//! let ty = Ty::builtin("v1", "ConfigMap");
//! let writer = |name: &str| Writer { manager: name.into(), api_version: "v1".into(), subresource: String::new() };
//! let live = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}});
//! let mut managed = ManagedFields::default();
//! managed.update(&json!({}), &live, ty, &writer("kubectl-create"), "2024-01-01T00:00:00Z").unwrap();
//!
//! // Another manager applying a different value for `data.a` conflicts...
//! let config = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "2"}});
//! let err = managed.clone().apply(&live, &config, ty, &writer("ops"), false, "2024-01-01T00:00:01Z");
//! assert!(err.is_err());
//! // ...unless forced, which moves the field to it.
//! let applied = managed.apply(&live, &config, ty, &writer("ops"), true, "2024-01-01T00:00:01Z").unwrap();
//! assert_eq!(applied["data"]["a"], "2");
//! assert_eq!(managed.encode()[0]["fieldsV1"], json!({"f:data": {"f:a": {}}}));
//! ```

pub mod created;
pub mod managed;
pub mod path;
pub mod request;
pub mod schema;
pub mod set;
pub mod typed;

#[cfg(test)]
mod tests;

pub use managed::{BEFORE_FIRST_APPLY, Conflict, Entry, ManagedFields, Operation, Writer};
pub use path::{Path, PathElement};
pub use request::{
    LAST_APPLIED, apply, check_patch_options, conflict_status, is_apply, manager, parse_config,
    record_create, record_update, type_of,
};
pub use schema::{ListType, Ty};
pub use set::FieldSet;
