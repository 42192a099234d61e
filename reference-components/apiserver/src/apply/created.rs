//! The managed fields of a write that nobody else owns anything of, written straight to
//! `fieldsV1`.
//!
//! A create (and an update of an object without managed fields) gives its manager exactly the
//! paths that [`compare`](super::typed::compare) finds added or modified, less the metadata nobody owns. The
//! general route builds those as [`FieldSet`](super::FieldSet) tries, merges them, subtracts
//! the metadata and encodes the result: a third of the CPU of a pod create. This walk makes
//! the same comparison and writes the `fieldsV1` JSON as it goes. Any value the walk finds
//! invalid (a list item without its key, ...) makes it give up, and the general route reports
//! the error with its path.

use serde_json::{Map, Value};

use super::path::{Path, field_key, values_equal};
use super::schema::{ListType, Ty};
use super::typed::{Pair, index_items, item_element};

/// The metadata fields no manager owns (as `managed::strip_meta`).
const UNOWNED_META: [&str; 9] = [
    "f:name",
    "f:namespace",
    "f:creationTimestamp",
    "f:selfLink",
    "f:uid",
    "f:clusterName",
    "f:generation",
    "f:managedFields",
    "f:resourceVersion",
];

/// A `fieldsV1` object as the walk builds it: its members, unordered until rendered (each key
/// once). Plain vectors: building and dropping them costs a fraction of `serde_json::Map`s.
type Members = Vec<(String, Fields)>;

/// One `fieldsV1` object.
#[derive(Debug, Default)]
struct Fields(Members);

impl Fields {
    fn get_mut(&mut self, key: &str) -> Option<&mut Fields> {
        self.0.iter_mut().find(|(k, _)| k == key).map(|(_, f)| f)
    }

    fn remove(&mut self, key: &str) {
        self.0.retain(|(k, _)| k != key);
    }

    fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    /// As a JSON object (members in key order, as `serde_json::Map` keeps them).
    fn into_map(self) -> Map<String, Value> {
        self.0
            .into_iter()
            .map(|(k, f)| (k, Value::Object(f.into_map())))
            .collect()
    }

    /// Appends the JSON text, members in key order: the same text `into_map` serialises to.
    fn write(mut self, out: &mut Vec<u8>) {
        self.0.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        out.push(b'{');
        for (i, (key, fields)) in self.0.into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            if key.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
                // Nothing to escape (all but item keys): as serde_json would write it.
                out.push(b'"');
                out.extend_from_slice(key.as_bytes());
                out.push(b'"');
            } else {
                serde_json::to_writer(&mut *out, &key).expect("strings serialise");
            }
            out.push(b':');
            fields.write(out);
        }
        out.push(b'}');
    }
}

/// The `fieldsV1` of what turning `old` into `new` (both without `metadata.managedFields`)
/// added or modified, without the unowned metadata. `None` if a value does not fit its type.
pub fn fields_v1(old: &Value, new: &Value, ty: Ty<'_>) -> Option<Map<String, Value>> {
    walk(old, new, ty).map(Fields::into_map)
}

/// [`fields_v1`] as JSON text (`{}` when empty), never built as a `serde_json::Value`.
pub fn fields_v1_json(old: &Value, new: &Value, ty: Ty<'_>) -> Option<String> {
    let fields = walk(old, new, ty)?;
    let mut out = Vec::with_capacity(4096);
    fields.write(&mut out);
    Some(String::from_utf8(out).expect("serde_json writes UTF-8"))
}

fn walk(old: &Value, new: &Value, ty: Ty<'_>) -> Option<Fields> {
    let mut root = Fields::default();
    children(Some(old), Some(new), ty, &mut root)?;
    root.remove("f:apiVersion");
    root.remove("f:kind");
    if let Some(meta) = root.get_mut("f:metadata") {
        meta.remove(".");
        for name in UNOWNED_META {
            // A stripped member keeps what is owned below it (never the case for these).
            match meta.get_mut(name) {
                Some(inner) if inner.0.iter().any(|(k, _)| k != ".") => inner.remove("."),
                Some(_) => meta.remove(name),
                None => {}
            }
        }
        if meta.0.is_empty() {
            root.remove("f:metadata");
        }
    }
    Some(root)
}

/// Whether `compare` walks into the pair rather than comparing it as a leaf; fills `out` with
/// the changed paths under it if so.
fn children(l: Option<&Value>, r: Option<&Value>, ty: Ty<'_>, out: &mut Fields) -> Option<bool> {
    let pair = Pair::of(l, r);
    if pair.objects && !ty.atomic_object() && !pair.both_empty {
        if pair.lv.is_none() {
            // All new (most of a create): the new side's fields, without looking each one up.
            for (name, r) in pair.rv.and_then(Value::as_object).into_iter().flatten() {
                element(field_key(name), None, Some(r), ty.field(name).0, out)?;
            }
            return Some(true);
        }
        for (name, l, r) in pair.fields() {
            if r.is_some() {
                element(field_key(name), l, r, ty.field(name).0, out)?;
            }
        }
        Some(true)
    } else if pair.arrays && !pair.both_empty && ty.list_type() != ListType::Atomic {
        let list = ty.list_type();
        let item_ty = ty.item();
        let (la, ra) = pair.items();
        let no_path = Path::new();
        if la.is_empty() {
            // All new (a create): each item once, the first of duplicates, without indexing.
            for (index, item) in ra.iter().enumerate() {
                let key = item_element(&list, &ty, item, index).ok()?.serialize();
                if !out.has(&key) {
                    element(key, None, Some(item), item_ty, out)?;
                }
            }
            return Some(true);
        }
        let (_, lhs) = index_items(la, &list, &ty, &no_path).ok()?;
        let (rhs_pes, rhs) = index_items(ra, &list, &ty, &no_path).ok()?;
        for pe in &rhs_pes {
            // Each item once (the first of duplicates, as `compare` does).
            if let Some(item) = rhs.get(pe).copied() {
                let key = pe.serialize();
                if !out.has(&key) {
                    element(key, lhs.get(pe).copied(), Some(item), item_ty, out)?;
                }
            }
        }
        Some(true)
    } else {
        Some(false)
    }
}

/// One element of an object or list (`key`: its `fieldsV1` key): in `out` as a member (added
/// or modified), or for what changed under it, or not at all. Removals own nothing and are
/// skipped by the callers.
fn element(key: String, l: Option<&Value>, r: Option<&Value>, ty: Ty<'_>, out: &mut Fields) -> Option<()> {
    let mut inner = Fields::default();
    let walked = children(l, r, ty, &mut inner)?;
    let member = match (l, r) {
        (None, Some(_)) => true,
        (Some(a), Some(b)) if !walked => !values_equal(a, b),
        _ => false,
    };
    if member && !inner.0.is_empty() {
        // First: it sorts before every other key, and object members come in order.
        inner.0.insert(0, (".".into(), Fields::default()));
    }
    if member || !inner.0.is_empty() {
        out.0.push((key, inner));
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::{ManagedFields, Writer};
    use serde_json::json;

    /// The general route: compare, record as an update, encode.
    fn general(old: &Value, new: &Value, ty: Ty<'_>) -> Value {
        let mut managed = ManagedFields::default();
        let writer = Writer {
            manager: "m".into(),
            api_version: "v1".into(),
            subresource: String::new(),
        };
        managed.update(old, new, ty, &writer, "t").unwrap();
        managed
            .encode()
            .as_array()
            .and_then(|a| a.first())
            .map(|e| e["fieldsV1"].clone())
            .unwrap_or(json!({}))
    }

    #[test]
    fn same_fields_as_the_general_route() {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "ns", "uid": "u", "generateName": "p-",
                         "labels": {"app": "a", "b/c": "d"}, "annotations": {"x": "y"},
                         "finalizers": ["f1", "f2", "f1"],
                         "ownerReferences": [{"apiVersion": "v1", "kind": "K", "name": "o", "uid": "ou"}]},
            "spec": {
                "containers": [
                    {"name": "a", "image": "i", "args": ["--x", "--x"], "ports": [{"containerPort": 80, "protocol": "TCP"}],
                     "env": [{"name": "E", "value": "1"}, {"name": "F", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                     "resources": {"limits": {"cpu": "1"}}, "securityContext": {}},
                    {"name": "b", "image": "j", "volumeMounts": [{"name": "v", "mountPath": "/v"}]}
                ],
                "initContainers": [],
                "volumes": [{"name": "v", "emptyDir": {}}],
                "nodeSelector": {"k": "v"},
                "tolerations": [{"key": "k", "operator": "Exists"}],
                "terminationGracePeriodSeconds": 30,
                "hostNetwork": false,
                "affinity": null
            },
            "status": {"phase": "Pending", "qosClass": "Burstable"}
        });
        let zero = json!({"spec": {"containers": null}, "status": {}});
        let ty = Ty::builtin("v1", "Pod");
        let fast = Value::Object(fields_v1(&zero, &pod, ty).unwrap());
        assert_eq!(fast, general(&zero, &pod, ty));
        // The text form is the serialised map, byte for byte.
        assert_eq!(
            fields_v1_json(&zero, &pod, ty).unwrap(),
            serde_json::to_string(&fast).unwrap()
        );
        assert!(fast["f:spec"]["f:containers"].get(".").is_none());
        assert_eq!(fast.get("f:apiVersion"), None);
        assert_eq!(fast["f:metadata"].get("f:name"), None);

        let deployment = json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "a"}},
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}},
                     "template": {"metadata": {"labels": {"app": "a"}},
                                  "spec": {"containers": [{"name": "c", "image": "i"}]}}},
            "status": {}
        });
        let zero = json!({"spec": {"strategy": {}, "template": {"metadata": {}, "spec": {"containers": null}}}, "status": {}});
        let ty = Ty::builtin("apps/v1", "Deployment");
        assert_eq!(
            Value::Object(fields_v1(&zero, &deployment, ty).unwrap()),
            general(&zero, &deployment, ty)
        );

        // An update of an object that had no managed fields: only what changed.
        let cm_old = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "1"}},
                            "data": {"k": "v", "gone": "x"}});
        let cm_new = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "2"}},
                            "data": {"k": "v", "new": "y"}, "binaryData": {}});
        let ty = Ty::builtin("v1", "ConfigMap");
        assert_eq!(
            Value::Object(fields_v1(&cm_old, &cm_new, ty).unwrap()),
            general(&cm_old, &cm_new, ty)
        );
        // Nothing changed: nothing owned.
        assert!(fields_v1(&cm_old, &cm_old, ty).unwrap().is_empty());

        // A custom resource without a schema compares from an empty object.
        let custom = json!({"apiVersion": "x.io/v1", "kind": "W", "metadata": {"name": "w"},
                            "spec": {"list": [{"a": 1}, {"a": 1}], "n": null}});
        let ty = Ty::custom(None);
        assert_eq!(
            Value::Object(fields_v1(&json!({}), &custom, ty).unwrap()),
            general(&json!({}), &custom, ty)
        );
    }

    #[test]
    fn values_that_do_not_fit_their_type_give_up() {
        // A container without its key field `name`.
        let pod = json!({"spec": {"containers": [{"image": "i"}]}});
        assert!(fields_v1(&json!({}), &pod, Ty::builtin("v1", "Pod")).is_none());
    }
}
