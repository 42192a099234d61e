//! The patch strategies of the built-in types, for code that merges or owns fields as the
//! strategic merge patch would, without applying a patch.
//!
//! Server-side apply is that code: Kubernetes derives the list types of fields without an
//! `x-kubernetes-list-type` from the same `patchStrategy`/`patchMergeKey` tags the strategic
//! merge patch reads (a merge key makes an associative list, `merge` alone a set, anything else
//! is atomic). [`FieldStrategy`] walks the tables in `schema.rs` field by field.
use super::schema::{self, Field};

/// How a list merges under a strategic merge patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListStrategy {
    /// `patchStrategy:"merge"` with `patchMergeKey`: items merge on that field.
    MergeOnKey(&'static str),
    /// `patchStrategy:"merge"` on a list of primitives: a set.
    Set,
    /// No strategy: the list is replaced whole.
    Replace,
}

/// The patch strategy of one field of a built-in kind (or of the kind's object itself).
///
/// Start from [`FieldStrategy::of_kind`], then walk down with [`field`](Self::field) for object
/// fields and [`item`](Self::item) for list items. Fields the tables do not describe merge as
/// in a JSON merge patch: objects key by key, lists replaced.
///
/// ```
/// use kube_core::patch::strategic::{FieldStrategy, ListStrategy};
/// let deployment = FieldStrategy::of_kind("apps/v1", "Deployment").unwrap();
/// let containers = deployment.field("spec").field("template").field("spec").field("containers");
/// assert_eq!(containers.list(), ListStrategy::MergeOnKey("name"));
/// assert_eq!(containers.item().field("ports").list(), ListStrategy::MergeOnKey("containerPort"));
/// assert_eq!(containers.item().field("args").list(), ListStrategy::Replace);
/// assert_eq!(deployment.field("metadata").field("finalizers").list(), ListStrategy::Set);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct FieldStrategy(Field);

impl FieldStrategy {
    /// The object of `kind` in `api_version`, if it is a built-in kind with a strategic merge
    /// schema (see [`supports_strategic_merge`](super::supports_strategic_merge)).
    pub fn of_kind(api_version: &str, kind: &str) -> Option<Self> {
        schema::for_kind(api_version, kind).map(|schema| Self(Field::Object(schema)))
    }

    /// The field `name` of this object.
    pub fn field(self, name: &str) -> Self {
        Self(self.0.schema().field(name))
    }

    /// The items of this list.
    pub fn item(self) -> Self {
        match self.0 {
            Field::MergeList { item, .. } => Self(Field::Object(item)),
            Field::Object(_) | Field::PrimitiveSet | Field::Plain => Self(Field::Plain),
        }
    }

    /// How this field merges when it holds a list.
    pub fn list(self) -> ListStrategy {
        match self.0 {
            Field::MergeList { key, .. } => ListStrategy::MergeOnKey(key),
            Field::PrimitiveSet => ListStrategy::Set,
            Field::Object(_) | Field::Plain => ListStrategy::Replace,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_to_merge_keys_and_sets() {
        assert!(FieldStrategy::of_kind("example.com/v1", "Widget").is_none());
        let pod = FieldStrategy::of_kind("v1", "Pod").unwrap();
        let spec = pod.field("spec");
        assert_eq!(spec.field("volumes").list(), ListStrategy::MergeOnKey("name"));
        assert_eq!(spec.field("tolerations").list(), ListStrategy::Replace);
        let env = spec.field("containers").item().field("env");
        assert_eq!(env.list(), ListStrategy::MergeOnKey("name"));
        // Inside an item without a table, everything is plain.
        assert_eq!(
            env.item().field("valueFrom").field("x").list(),
            ListStrategy::Replace
        );
        assert_eq!(
            pod.field("metadata").field("ownerReferences").list(),
            ListStrategy::MergeOnKey("uid")
        );
        let node = FieldStrategy::of_kind("v1", "Node").unwrap();
        assert_eq!(node.field("spec").field("podCIDRs").list(), ListStrategy::Set);
        assert_eq!(
            node.field("spec").field("podCIDRs").item().list(),
            ListStrategy::Replace
        );
        let svc = FieldStrategy::of_kind("v1", "Service").unwrap();
        assert_eq!(
            svc.field("spec").field("ports").list(),
            ListStrategy::MergeOnKey("port")
        );
        // A scalar or unknown field is plain.
        assert_eq!(svc.field("spec").field("type").list(), ListStrategy::Replace);
    }
}
