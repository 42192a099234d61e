//! What the watch cache indexes of an object, in compact form: labels and selectable-field
//! values are kept for every cached object, so they take one allocation for the list (and one
//! per string) rather than a tree node per map, and field names are shared by the resource.

use std::sync::Arc;

/// The selectable fields of a resource and the value a missing one reads as, in a fixed order.
pub type Fields = Arc<Vec<(String, String)>>;

/// An object's labels, sorted by key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels(Box<[(Box<str>, Box<str>)]>);

impl Labels {
    /// The value of `key`, if the object has that label.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(k, _)| (**k).cmp(key))
            .ok()
            .map(|i| &*self.0[i].1)
    }

    /// The labels, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (&**k, &**v))
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<K: Into<Box<str>>, V: Into<Box<str>>> FromIterator<(K, V)> for Labels {
    /// Sorted by key; the last of duplicate keys wins, as in a map.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut pairs: Vec<(Box<str>, Box<str>)> =
            iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        // Stable, so that duplicates keep their order and the last can be kept.
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(Box<str>, Box<str>)> = Vec::with_capacity(pairs.len());
        for pair in pairs {
            match out.last_mut() {
                Some(last) if last.0 == pair.0 => *last = pair,
                _ => out.push(pair),
            }
        }
        Labels(out.into_boxed_slice())
    }
}

/// The values of an object's selectable fields, in the order of its resource's [`Fields`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldValues {
    names: Fields,
    values: Box<[Box<str>]>,
}

impl FieldValues {
    /// `values[i]` is the value of `names[i]`.
    pub fn new(names: Fields, values: impl IntoIterator<Item = String>) -> Self {
        let values: Box<[Box<str>]> = values.into_iter().map(String::into_boxed_str).collect();
        debug_assert_eq!(names.len(), values.len());
        FieldValues { names, values }
    }

    /// The value of `field`, if it is one of the resource's selectable fields.
    pub fn get(&self, field: &str) -> Option<&str> {
        let i = self.names.iter().position(|(name, _)| name == field)?;
        self.values.get(i).map(|v| &**v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_look_up_like_a_map() {
        let labels: Labels = [("tier", "web"), ("app", "a"), ("b/c", "d"), ("app", "last")]
            .into_iter()
            .collect();
        assert_eq!(labels.get("app"), Some("last"));
        assert_eq!(labels.get("tier"), Some("web"));
        assert_eq!(labels.get("b/c"), Some("d"));
        assert_eq!(labels.get("missing"), None);
        let keys: Vec<&str> = labels.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["app", "b/c", "tier"]);
        assert!(Labels::default().is_empty());
    }

    #[test]
    fn field_values_follow_the_resource_fields() {
        let names: Fields = Arc::new(vec![
            ("metadata.name".into(), String::new()),
            ("spec.nodeName".into(), String::new()),
        ]);
        let values = FieldValues::new(names, ["p".to_string(), "n1".to_string()]);
        assert_eq!(values.get("metadata.name"), Some("p"));
        assert_eq!(values.get("spec.nodeName"), Some("n1"));
        assert_eq!(values.get("status.phase"), None);
    }
}
