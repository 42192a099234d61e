//! Type metadata and lists of objects.

use serde::{Deserialize, Serialize};

pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;

/// The `apiVersion` and `kind` fields every object and list carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeMeta {
    /// `group/version`, or `version` for the core group.
    pub api_version: String,
    /// The kind, e.g. `Pod` or `PodList`.
    pub kind: String,
}

impl TypeMeta {
    /// Type metadata for `K`'s own kind.
    pub fn resource<K: crate::Resource<DynamicType = ()>>() -> Self {
        Self {
            api_version: K::api_version(&()).into_owned(),
            kind: K::kind(&()).into_owned(),
        }
    }

    /// Type metadata for a list of `K` (`PodList`).
    pub fn list<K: crate::Resource<DynamicType = ()>>() -> Self {
        Self {
            api_version: K::api_version(&()).into_owned(),
            kind: format!("{}List", K::kind(&())),
        }
    }
}

/// A page of objects as returned by a list call:
/// `{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":..,"continue":..},"items":[..]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectList<K> {
    /// `group/version` of the items; absent in some responses. (Fields rather than a flattened
    /// [`TypeMeta`], so that decoding streams the items without buffering them.)
    #[serde(default, rename = "apiVersion")]
    pub api_version: String,
    /// The list kind, e.g. `PodList`.
    #[serde(default)]
    pub kind: String,
    /// `resourceVersion` the list was read at, the `continue` token and `remainingItemCount`.
    #[serde(default)]
    pub metadata: ListMeta,
    /// The objects. `null` decodes as empty.
    #[serde(
        default = "Vec::new",
        deserialize_with = "null_as_empty",
        bound(deserialize = "K: Deserialize<'de>")
    )]
    pub items: Vec<K>,
}

fn null_as_empty<'de, D, K>(d: D) -> Result<Vec<K>, D::Error>
where
    D: serde::Deserializer<'de>,
    K: Deserialize<'de>,
{
    Ok(Option::<Vec<K>>::deserialize(d)?.unwrap_or_default())
}

impl<K> ObjectList<K> {
    /// The `continue` token for the next page, if there is one.
    pub fn continue_token(&self) -> Option<&str> {
        self.metadata.continue_.as_deref().filter(|c| !c.is_empty())
    }

    /// The storage revision this list was read at.
    pub fn resource_version(&self) -> Option<&str> {
        self.metadata.resource_version.as_deref()
    }

    /// Iterate over the items.
    pub fn iter(&self) -> std::slice::Iter<'_, K> {
        self.items.iter()
    }
}

impl<K> IntoIterator for ObjectList<K> {
    type Item = K;
    type IntoIter = std::vec::IntoIter<K>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl<'a, K> IntoIterator for &'a ObjectList<K> {
    type Item = &'a K;
    type IntoIter = std::slice::Iter<'a, K>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;

    #[test]
    fn decodes_a_real_pod_list_and_encodes_it_back() {
        let raw = r#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"1234","continue":"abc","remainingItemCount":3},"items":[{"metadata":{"name":"p1","namespace":"default"},"spec":{"containers":[{"name":"c","image":"nginx"}]}}]}"#;
        let list: ObjectList<Pod> = serde_json::from_str(raw).unwrap();
        assert_eq!(list.kind, "PodList");
        assert_eq!(list.resource_version(), Some("1234"));
        assert_eq!(list.continue_token(), Some("abc"));
        assert_eq!(list.metadata.remaining_item_count, Some(3));
        assert_eq!(list.items[0].metadata.name.as_deref(), Some("p1"));
        let back = serde_json::to_value(&list).unwrap();
        assert_eq!(back["metadata"]["continue"], "abc");
        assert_eq!(back["kind"], "PodList");

        let empty: ObjectList<Pod> = serde_json::from_str(
            r#"{"kind":"PodList","apiVersion":"v1","metadata":{"continue":""},"items":null}"#,
        )
        .unwrap();
        assert!(empty.items.is_empty());
        assert_eq!(empty.continue_token(), None);
        assert_eq!(TypeMeta::list::<Pod>().kind, "PodList");
    }
}
