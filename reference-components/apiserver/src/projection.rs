//! Decoding only some paths of a JSON object.
//!
//! The watch cache needs an object's name, namespace, labels and a few selectable fields, not
//! the whole object. A [`Projection`] parses the bytes once, building `Value`s only for the
//! wanted paths and skipping everything else without allocating: several times cheaper than
//! decoding a pod into a `serde_json::Value` and then reading five fields of it.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// A set of dotted paths (`metadata.labels`, `spec.nodeName`) to decode.
#[derive(Debug, Default)]
pub struct Projection<'a> {
    /// Fields at this level: each kept whole (no children) or only under its children.
    fields: Vec<(&'a str, Projection<'a>)>,
}

impl<'a> Projection<'a> {
    /// The projection of `paths` (dotted; a path that is a prefix of another keeps the whole
    /// subtree).
    pub fn new<I: IntoIterator<Item = &'a str>>(paths: I) -> Self {
        let mut root = Projection::default();
        for path in paths {
            root.add(path);
        }
        root
    }

    fn add(&mut self, dotted: &'a str) {
        let (first, rest) = match dotted.split_once('.') {
            Some((first, rest)) => (first, Some(rest)),
            None => (dotted, None),
        };
        let i = match self.fields.iter().position(|(name, _)| *name == first) {
            Some(i) => i,
            None => {
                // A new field: whole unless a deeper path follows.
                self.fields.push((first, Projection::default()));
                let i = self.fields.len() - 1;
                if let Some(rest) = rest {
                    self.fields[i].1.add(rest);
                }
                return;
            }
        };
        let child = &mut self.fields[i].1;
        match rest {
            // Already whole: nothing deeper to add.
            Some(_) if child.fields.is_empty() => {}
            Some(rest) => child.add(rest),
            None => child.fields.clear(),
        }
    }

    /// Decode the wanted paths of `bytes` into an object holding just them.
    pub fn decode(&self, bytes: &[u8]) -> Result<Value, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let value = self.deserialize(&mut de)?;
        de.end()?;
        Ok(value)
    }

    fn field(&self, name: &str) -> Option<(&'a str, &Projection<'a>)> {
        self.fields.iter().find(|(n, _)| *n == name).map(|(n, p)| (*n, p))
    }
}

/// A key of an object: the wanted field it names, if any, found without allocating.
struct Key<'p, 'a>(&'p Projection<'a>);

impl<'de, 'p, 'a> DeserializeSeed<'de> for Key<'p, 'a> {
    type Value = Option<(&'a str, &'p Projection<'a>)>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de, 'p, 'a> Visitor<'de> for Key<'p, 'a> {
    type Value = Option<(&'a str, &'p Projection<'a>)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.0.field(v))
    }
}

impl<'de> DeserializeSeed<'de> for &Projection<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        if self.fields.is_empty() {
            return serde::Deserialize::deserialize(deserializer);
        }
        deserializer.deserialize_any(self)
    }
}

/// At a level with wanted children: an object keeps those; anything else is kept as is
/// (scalars) or skipped (arrays, which no projected path walks into).
impl<'de> Visitor<'de> for &Projection<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(wanted) = map.next_key_seed(Key(self))? {
            match wanted {
                Some((name, child)) => {
                    let value = map.next_value_seed(child)?;
                    out.insert(name.to_string(), value);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Value::Array(Vec::new()))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_only_the_wanted_paths() {
        let pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web", "tier": "1"},
                         "annotations": {"a": "b"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i"}],
                     "hostNetwork": true, "priority": 7},
            "status": {"phase": "Running", "conditions": [{"type": "Ready"}]}
        });
        let bytes = serde_json::to_vec(&pod).unwrap();
        let p = Projection::new([
            "metadata.name",
            "metadata.namespace",
            "metadata.labels",
            "spec.nodeName",
            "spec.hostNetwork",
            "spec.priority",
            "status.phase",
            "spec.missing",
        ]);
        assert_eq!(
            p.decode(&bytes).unwrap(),
            json!({
                "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web", "tier": "1"}},
                "spec": {"nodeName": "n1", "hostNetwork": true, "priority": 7},
                "status": {"phase": "Running"}
            })
        );
        // A whole subtree wins over a deeper path, in either order.
        for paths in [["spec", "spec.nodeName"], ["spec.nodeName", "spec"]] {
            assert_eq!(
                Projection::new(paths).decode(&bytes).unwrap()["spec"],
                pod["spec"]
            );
        }
    }

    #[test]
    fn other_shapes_and_bad_input() {
        let p = Projection::new(["metadata.name", "spec.x"]);
        assert_eq!(
            p.decode(br#"{"metadata": null, "spec": [1, {"x": 2}]}"#).unwrap(),
            json!({"metadata": null, "spec": []})
        );
        assert_eq!(p.decode(b"7").unwrap(), json!(7));
        assert!(p.decode(br#"{"metadata": {"name": "a"}"#).is_err());
        assert!(p.decode(br#"{"metadata": {}} x"#).is_err());
        // Skipped parts are still checked.
        assert!(p.decode(br#"{"other": [1, }"#).is_err());
    }
}
