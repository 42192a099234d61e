//! The unknown fields of a request body, found while decoding it.
//!
//! kube-apiserver tells a client which fields of its body the typed decoding does not know: as
//! warnings, or with `fieldValidation=Strict` as a 400. [`decode`] decodes a body straight from
//! its bytes into a k8s-openapi type and notes, on the way, every field the type's `Deserialize`
//! skips, so that no second pass over the object is needed to find them. It wraps the JSON
//! deserializer in an adapter that knows the path to the value being decoded: a field the type
//! skips is decoded through `deserialize_ignored_any`, and the adapter notes its path there.
//!
//! Paths are printed as kube-apiserver prints them (`spec.containers[0].foo`) and ordered as a
//! walk over the decoded object meets them (keys in byte order, then array indexes); a field
//! whose value is `null` is not reported, as the handlers' check of a decoded object does not
//! report it (the typed encoding drops known `null`s too, so the two cannot be told apart there).

use std::cell::RefCell;
use std::fmt;

use serde::de::{
    self, Deserialize, DeserializeSeed, Deserializer, EnumAccess, IgnoredAny, MapAccess, SeqAccess, Visitor,
};

/// One step of a path: an object's key or an array's index. Ordered as a walk over a decoded
/// object visits them (`serde_json::Map` keeps keys in byte order).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Segment {
    /// A key of an object.
    Key(String),
    /// An index of an array.
    Index(usize),
}

/// The path of a field from the object's root.
pub type FieldPath = Vec<Segment>;

/// A path as kube-apiserver prints it: keys joined with `.`, indexes as `[i]`.
pub fn render(path: &[Segment]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Segment::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
        }
    }
    out
}

/// Decodes `body` as a `T` (the whole body: trailing data is an error, as with
/// `serde_json::from_slice`) and returns it with the paths of the fields `T` does not know.
pub fn decode<'de, T: Deserialize<'de>>(body: &'de [u8]) -> Result<(T, Vec<FieldPath>), serde_json::Error> {
    let found = RefCell::new(Vec::new());
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = T::deserialize(Tracked {
        inner: &mut de,
        path: &Path::Root,
        found: &found,
    })?;
    de.end()?;
    let mut found = found.into_inner();
    found.sort();
    found.dedup();
    Ok((value, found))
}

/// The path to the value being decoded, on the stack of the nested decoding calls.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    fn segments(&self) -> FieldPath {
        let mut out = Vec::new();
        let mut at = *self;
        loop {
            match at {
                Path::Root => break,
                Path::Key(parent, key) => {
                    out.push(Segment::Key(key.to_string()));
                    at = *parent;
                }
                Path::Index(parent, i) => {
                    out.push(Segment::Index(i));
                    at = *parent;
                }
            }
        }
        out.reverse();
        out
    }
}

type Found = RefCell<Vec<FieldPath>>;

/// Forwards the `deserialize_*` methods of a deserializer adapter to the inner deserializer,
/// with the visitor wrapped by the adapter's `split`.
macro_rules! forward_deserialize {
    ($($method:ident $(($($arg:ident: $ty:ty),*))?;)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($($arg: $ty,)*)? visitor: V) -> Result<V::Value, Self::Error> {
                let (inner, visitor) = self.split(visitor);
                inner.$method($($($arg,)*)? visitor)
            }
        )*
    };
}

/// Forwards scalar `visit_*` methods to the wrapped visitor.
macro_rules! forward_visit {
    ($($method:ident($ty:ty);)*) => {
        $(
            fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
                self.visitor.$method(v)
            }
        )*
    };
}

/// The `deserialize_*` methods every adapter forwards unchanged but for the visitor.
macro_rules! forward_all_but_ignored_any {
    () => {
        forward_deserialize! {
            deserialize_any; deserialize_bool; deserialize_i8; deserialize_i16; deserialize_i32;
            deserialize_i64; deserialize_i128; deserialize_u8; deserialize_u16; deserialize_u32;
            deserialize_u64; deserialize_u128; deserialize_f32; deserialize_f64; deserialize_char;
            deserialize_str; deserialize_string; deserialize_bytes; deserialize_byte_buf;
            deserialize_option; deserialize_unit; deserialize_seq; deserialize_map;
            deserialize_identifier;
            deserialize_unit_struct(name: &'static str);
            deserialize_newtype_struct(name: &'static str);
            deserialize_tuple(len: usize);
            deserialize_tuple_struct(name: &'static str, len: usize);
            deserialize_struct(name: &'static str, fields: &'static [&'static str]);
            deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        }
    };
}

/// The scalar `visit_*` methods.
macro_rules! forward_scalar_visits {
    () => {
        forward_visit! {
            visit_bool(bool); visit_i8(i8); visit_i16(i16); visit_i32(i32); visit_i64(i64);
            visit_i128(i128); visit_u8(u8); visit_u16(u16); visit_u32(u32); visit_u64(u64);
            visit_u128(u128); visit_f32(f32); visit_f64(f64); visit_char(char);
            visit_bytes(&[u8]); visit_borrowed_bytes(&'de [u8]); visit_byte_buf(Vec<u8>);
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            self.visitor.visit_none()
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            self.visitor.visit_unit()
        }

        fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
            self.visitor.visit_enum(data)
        }
    };
}

/// A deserializer that knows the path of the value it decodes.
struct Tracked<'a, D> {
    inner: D,
    path: &'a Path<'a>,
    found: &'a Found,
}

impl<'a, D> Tracked<'a, D> {
    fn split<V>(self, visitor: V) -> (D, TrackedVisitor<'a, V>) {
        (
            self.inner,
            TrackedVisitor {
                visitor,
                path: self.path,
                found: self.found,
            },
        )
    }
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Tracked<'_, D> {
    type Error = D::Error;

    forward_all_but_ignored_any!();

    /// A field the type does not know: noted unless it is `null`.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        let null = self.inner.deserialize_any(IsNull)?;
        if !null {
            self.found.borrow_mut().push(self.path.segments());
        }
        visitor.visit_unit()
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// Skips a value, telling whether it was `null`.
struct IsNull;

impl<'de> Visitor<'de> for IsNull {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(true)
    }

    fn visit_none<E: de::Error>(self) -> Result<bool, E> {
        Ok(true)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        IgnoredAny::deserialize(d).map(|_| false)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }
}

/// A visitor whose maps, sequences and options decode their contents with paths.
struct TrackedVisitor<'a, V> {
    visitor: V,
    path: &'a Path<'a>,
    found: &'a Found,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for TrackedVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.visitor.expecting(f)
    }

    forward_scalar_visits!();

    forward_visit! {
        visit_str(&str); visit_borrowed_str(&'de str); visit_string(String);
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.visitor.visit_some(Tracked {
            inner: d,
            path: self.path,
            found: self.found,
        })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.visitor.visit_newtype_struct(Tracked {
            inner: d,
            path: self.path,
            found: self.found,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.visitor.visit_seq(TrackedSeq {
            inner: seq,
            path: self.path,
            found: self.found,
            index: 0,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.visitor.visit_map(TrackedMap {
            inner: map,
            path: self.path,
            found: self.found,
            key: String::new(),
        })
    }
}

/// A sequence whose elements decode with their index in the path.
struct TrackedSeq<'a, A> {
    inner: A,
    path: &'a Path<'a>,
    found: &'a Found,
    index: usize,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for TrackedSeq<'_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, A::Error> {
        let path = Path::Index(self.path, self.index);
        self.index += 1;
        self.inner.next_element_seed(TrackedSeed {
            seed,
            path: &path,
            found: self.found,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

/// A map whose values decode with their key in the path.
struct TrackedMap<'a, A> {
    inner: A,
    path: &'a Path<'a>,
    found: &'a Found,
    /// The key of the entry being decoded.
    key: String,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for TrackedMap<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        self.key.clear();
        self.inner.next_key_seed(KeySeed {
            seed,
            key: &mut self.key,
        })
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        let path = Path::Key(self.path, &self.key);
        self.inner.next_value_seed(TrackedSeed {
            seed,
            path: &path,
            found: self.found,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

/// A seed whose value decodes with a path.
struct TrackedSeed<'a, S> {
    seed: S,
    path: &'a Path<'a>,
    found: &'a Found,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for TrackedSeed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(Tracked {
            inner: d,
            path: self.path,
            found: self.found,
        })
    }
}

/// A seed that copies the map key it decodes into `key`.
struct KeySeed<'k, S> {
    seed: S,
    key: &'k mut String,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for KeySeed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(KeyDeserializer {
            inner: d,
            key: self.key,
        })
    }
}

struct KeyDeserializer<'k, D> {
    inner: D,
    key: &'k mut String,
}

impl<'k, D> KeyDeserializer<'k, D> {
    fn split<V>(self, visitor: V) -> (D, KeyVisitor<'k, V>) {
        (
            self.inner,
            KeyVisitor {
                visitor,
                key: self.key,
            },
        )
    }
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for KeyDeserializer<'_, D> {
    type Error = D::Error;

    forward_all_but_ignored_any!();

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        let (inner, visitor) = self.split(visitor);
        inner.deserialize_ignored_any(visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// Copies a string key on its way to the wrapped visitor.
struct KeyVisitor<'k, V> {
    visitor: V,
    key: &'k mut String,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for KeyVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.visitor.expecting(f)
    }

    forward_scalar_visits!();

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        self.key.push_str(v);
        self.visitor.visit_str(v)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        self.key.push_str(v);
        self.visitor.visit_borrowed_str(v)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        self.key.push_str(&v);
        self.visitor.visit_string(v)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.visitor.visit_some(d)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.visitor.visit_newtype_struct(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.visitor.visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.visitor.visit_map(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::Pod;
    use serde_json::{Value, json};

    fn unknown<T: for<'de> Deserialize<'de>>(body: &Value) -> Vec<String> {
        let bytes = serde_json::to_vec(body).unwrap();
        let (_, found) = decode::<T>(&bytes).unwrap();
        found.iter().map(|p| render(p)).collect()
    }

    #[test]
    fn fields_the_type_skips_are_found_with_their_paths_in_walk_order() {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod", "zz": 1, "aa": {"x": [1]},
            "metadata": {"name": "p", "labels": {"free": "form"}, "bogus": "x"},
            "spec": {"containers": [
                {"name": "a", "image": "i", "ports": [{"containerPort": 80, "nope": true}]},
                {"name": "b", "image": "i", "extra": {"deep": 1}, "env": [{"name": "e", "valueFrom": {"what": 1}}]}
            ], "nodeName": null, "unknownNull": null},
        });
        assert_eq!(
            unknown::<Pod>(&pod),
            [
                "aa",
                "metadata.bogus",
                "spec.containers[0].ports[0].nope",
                "spec.containers[1].env[0].valueFrom.what",
                "spec.containers[1].extra",
                "zz",
            ]
        );
        // Free-form fields (a `Value` inside the type) have no unknown fields.
        let deployment = json!({"metadata": {"managedFields": [{"fieldsV1": {"f:spec": {"x": {}}}}]}});
        assert!(unknown::<Deployment>(&deployment).is_empty());
    }

    #[test]
    fn the_decoded_value_is_the_plain_decoding_and_errors_are_errors() {
        let body = br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"i","x":1}]}}"#;
        let (pod, _) = decode::<Pod>(body).unwrap();
        assert_eq!(pod, serde_json::from_slice::<Pod>(body).unwrap());
        assert!(decode::<Pod>(br#"{"spec":{"containers":"nope"}}"#).is_err());
        assert!(decode::<Pod>(br#"{"kind":"Service"}"#).is_err());
        assert!(decode::<Pod>(br#"{"metadata":{}} trailing"#).is_err());
        assert!(decode::<Pod>(br#"{"metadata":{"#).is_err());
    }

    #[test]
    fn duplicate_unknown_fields_are_reported_once() {
        let body = br#"{"metadata":{"x":1,"x":2}}"#;
        let (_, found) = decode::<Pod>(body).unwrap();
        assert_eq!(
            found,
            [vec![Segment::Key("metadata".into()), Segment::Key("x".into())]]
        );
    }
}
