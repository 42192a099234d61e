//! The key a store files an object under: namespace and name.

use std::fmt;

use kube_core::Resource;

/// Where an object lives: its namespace (none for cluster-scoped objects) and name.
///
/// Displays as client-go's `MetaNamespaceKeyFunc` key, `namespace/name` or `name`, and parses
/// back from it, so keys can travel through queues and logs as text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    /// The namespace; `None` for cluster-scoped objects.
    pub namespace: Option<String>,
    /// The name.
    pub name: String,
}

impl ObjectKey {
    /// The key of a namespaced object.
    pub fn namespaced(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: Some(namespace.into()),
            name: name.into(),
        }
    }

    /// The key of a cluster-scoped object.
    pub fn cluster(name: impl Into<String>) -> Self {
        Self {
            namespace: None,
            name: name.into(),
        }
    }

    /// The key of an object; `None` when it has no name.
    pub fn from_obj<K: Resource>(obj: &K) -> Option<Self> {
        let meta = obj.meta();
        Some(Self {
            namespace: meta.namespace.clone().filter(|ns| !ns.is_empty()),
            name: meta.name.clone().filter(|n| !n.is_empty())?,
        })
    }

    /// Parse `namespace/name` or `name`.
    pub fn parse(key: &str) -> Option<Self> {
        match key.split_once('/') {
            Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
                Some(Self::namespaced(ns, name))
            }
            None if !key.is_empty() => Some(Self::cluster(key)),
            _ => None,
        }
    }

    /// The namespace, if any.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{ns}/{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text() {
        for key in [
            ObjectKey::namespaced("default", "web"),
            ObjectKey::cluster("node-1"),
        ] {
            assert_eq!(ObjectKey::parse(&key.to_string()), Some(key));
        }
        assert_eq!(ObjectKey::namespaced("a", "b").to_string(), "a/b");
        assert_eq!(ObjectKey::parse(""), None);
        assert_eq!(ObjectKey::parse("a/b/c"), None);
        assert_eq!(ObjectKey::parse("/b"), None);
    }
}
