//! Indexers: secondary keys computed from each object, so that "all pods on node X" or "all
//! objects owned by Y" is a lookup instead of a scan.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::ObjectKey;

/// The built-in index: objects by namespace (cluster-scoped objects are not in it).
pub const NAMESPACE_INDEX: &str = "namespace";

/// An index function: the values an object is filed under (none, one or several).
#[doc(alias = "IndexFunc")]
pub type IndexFn<K> = Arc<dyn Fn(&K) -> Vec<String> + Send + Sync>;

/// The indices of a store: the namespace index plus any number of custom ones.
pub(crate) struct Indices<K> {
    /// Custom index names, in the order of `funcs` and `maps[1..]`.
    names: Vec<String>,
    funcs: Vec<IndexFn<K>>,
    /// `maps[0]` is the namespace index; `maps[i + 1]` belongs to `funcs[i]`.
    maps: Vec<HashMap<String, HashSet<ObjectKey>>>,
}

impl<K> Indices<K> {
    pub(crate) fn new() -> Self {
        Self {
            names: Vec::new(),
            funcs: Vec::new(),
            maps: vec![HashMap::new()],
        }
    }

    /// Whether an index of this name exists.
    pub(crate) fn contains(&self, name: &str) -> bool {
        name == NAMESPACE_INDEX || self.names.iter().any(|n| n == name)
    }

    fn position(&self, name: &str) -> Option<usize> {
        if name == NAMESPACE_INDEX {
            return Some(0);
        }
        self.names.iter().position(|n| n == name).map(|i| i + 1)
    }

    /// Add a custom index. The caller fills it for the objects already present.
    pub(crate) fn add(&mut self, name: String, func: IndexFn<K>) {
        self.names.push(name);
        self.funcs.push(func);
        self.maps.push(HashMap::new());
    }

    /// How many custom indices there are.
    pub(crate) fn custom_len(&self) -> usize {
        self.funcs.len()
    }

    /// Whether there are custom indices (which need the decoded object).
    pub(crate) fn has_custom(&self) -> bool {
        !self.funcs.is_empty()
    }

    /// The custom index values of an object.
    pub(crate) fn values_of(&self, obj: &K) -> Vec<Vec<String>> {
        self.funcs.iter().map(|f| dedup(f(obj))).collect()
    }

    /// The values of one custom index (by position among the custom ones) for an object.
    pub(crate) fn values_for(&self, custom: usize, obj: &K) -> Vec<String> {
        dedup((self.funcs[custom])(obj))
    }

    /// File `key` under its values.
    pub(crate) fn insert(&mut self, key: &ObjectKey, values: &[Vec<String>]) {
        if let Some(ns) = &key.namespace {
            self.maps[0].entry(ns.clone()).or_default().insert(key.clone());
        }
        for (map, values) in self.maps[1..].iter_mut().zip(values) {
            for v in values {
                map.entry(v.clone()).or_default().insert(key.clone());
            }
        }
    }

    /// File `key` under the values of one custom index only.
    pub(crate) fn insert_custom(&mut self, custom: usize, key: &ObjectKey, values: &[String]) {
        let map = &mut self.maps[custom + 1];
        for v in values {
            map.entry(v.clone()).or_default().insert(key.clone());
        }
    }

    /// Unfile `key` from its values.
    pub(crate) fn remove(&mut self, key: &ObjectKey, values: &[Vec<String>]) {
        if let Some(ns) = &key.namespace {
            unfile(&mut self.maps[0], ns, key);
        }
        for (map, values) in self.maps[1..].iter_mut().zip(values) {
            for v in values {
                unfile(map, v, key);
            }
        }
    }

    /// Move `key` from its old values to its new ones (the namespace never changes).
    pub(crate) fn update(&mut self, key: &ObjectKey, old: &[Vec<String>], new: &[Vec<String>]) {
        for ((map, old), new) in self.maps[1..].iter_mut().zip(old).zip(new) {
            if old == new {
                continue;
            }
            for v in old.iter().filter(|v| !new.contains(v)) {
                unfile(map, v, key);
            }
            for v in new.iter().filter(|v| !old.contains(v)) {
                map.entry(v.clone()).or_default().insert(key.clone());
            }
        }
    }

    /// The keys filed under `value` in index `name`; `None` if there is no such index.
    pub(crate) fn keys(&self, name: &str, value: &str) -> Option<Vec<ObjectKey>> {
        let map = &self.maps[self.position(name)?];
        Some(
            map.get(value)
                .map(|keys| keys.iter().cloned().collect())
                .unwrap_or_default(),
        )
    }

    /// The values that have objects in index `name`.
    pub(crate) fn values(&self, name: &str) -> Option<Vec<String>> {
        Some(self.maps[self.position(name)?].keys().cloned().collect())
    }

    /// Forget every filed key (the index functions stay).
    pub(crate) fn clear(&mut self) {
        for map in &mut self.maps {
            map.clear();
        }
    }
}

fn unfile(map: &mut HashMap<String, HashSet<ObjectKey>>, value: &str, key: &ObjectKey) {
    if let Some(keys) = map.get_mut(value) {
        keys.remove(key);
        if keys.is_empty() {
            map.remove(value);
        }
    }
}

fn dedup(mut values: Vec<String>) -> Vec<String> {
    if values.len() > 1 {
        values.sort_unstable();
        values.dedup();
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_moves_and_unfiles() {
        let mut ix: Indices<Vec<String>> = Indices::new();
        ix.add("tags".into(), Arc::new(|tags: &Vec<String>| tags.clone()));
        let key = ObjectKey::namespaced("ns", "a");
        let v1 = ix.values_of(&vec!["x".into(), "y".into(), "x".into()]);
        assert_eq!(v1, [vec!["x".to_string(), "y".into()]]);
        ix.insert(&key, &v1);
        assert_eq!(ix.keys("tags", "x").unwrap(), std::slice::from_ref(&key));
        assert_eq!(
            ix.keys(NAMESPACE_INDEX, "ns").unwrap(),
            std::slice::from_ref(&key)
        );
        let v2 = ix.values_of(&vec!["y".into(), "z".into()]);
        ix.update(&key, &v1, &v2);
        assert!(ix.keys("tags", "x").unwrap().is_empty());
        assert_eq!(ix.keys("tags", "z").unwrap(), std::slice::from_ref(&key));
        let mut values = ix.values("tags").unwrap();
        values.sort();
        assert_eq!(values, ["y", "z"]);
        ix.remove(&key, &v2);
        assert!(ix.values("tags").unwrap().is_empty());
        assert!(ix.values(NAMESPACE_INDEX).unwrap().is_empty());
        assert!(ix.keys("nope", "x").is_none());
    }
}
