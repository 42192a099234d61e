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
}

/// The `fieldsV1` of what turning `old` into `new` (both without `metadata.managedFields`)
/// added or modified, without the unowned metadata. `None` if a value does not fit its type.
pub fn fields_v1(old: &Value, new: &Value, ty: Ty<'_>) -> Option<Map<String, Value>> {
    walk(old, new, ty).map(Fields::into_map)
}

/// [`fields_v1`] as JSON text (`{}` when empty), written as the walk goes: no tree of members
/// is built. Object members come in key order because `serde_json::Map` iterates in key order
/// (and `f:` keys sort as their names do); list items are sorted by their keys; `.` goes first
/// (it sorts before every other key). So the text is the serialised [`fields_v1`] map, byte for
/// byte.
pub fn fields_v1_json(old: &Value, new: &Value, ty: Ty<'_>) -> Option<String> {
    let mut out = Vec::with_capacity(2048);
    out.push(b'{');
    let pair = Pair::of(Some(old), Some(new));
    if walks(&pair, ty) {
        write_children(&pair, ty, Level::Root, &mut out, &mut 0)?;
    }
    out.push(b'}');
    Some(String::from_utf8(out).expect("keys and values are UTF-8"))
}

/// Where the writer is: at the root (no `apiVersion`, `kind`; `metadata` without `.`), in the
/// root's `metadata` (the unowned fields without `.`), or anywhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Root,
    Meta,
    Other,
}

/// A member's key: a field name (`f:` + name) or a list item's serialised key.
#[derive(Clone, Copy)]
enum Key<'a> {
    Field(&'a str),
    Item(&'a str),
}

/// Whether [`children`] walks into the pair.
fn walks(pair: &Pair<'_>, ty: Ty<'_>) -> bool {
    !pair.both_empty
        && ((pair.objects && !ty.atomic_object()) || (pair.arrays && ty.list_type() != ListType::Atomic))
}

/// Writes the members for what changed under a walked pair, comma-separated after the
/// `count` members already written at this level.
fn write_children(
    pair: &Pair<'_>,
    ty: Ty<'_>,
    level: Level,
    out: &mut Vec<u8>,
    count: &mut usize,
) -> Option<()> {
    if pair.objects {
        let field = |name: &str, l: Option<&Value>, r: &Value, out: &mut Vec<u8>, count: &mut usize| {
            let (unowned, below) = match (level, name) {
                (Level::Root, "apiVersion" | "kind") => return Some(()),
                (Level::Root, "metadata") => (true, Level::Meta),
                (Level::Meta, _) if UNOWNED_META.iter().any(|u| &u[2..] == name) => (true, Level::Other),
                _ => (false, Level::Other),
            };
            let member_ty = ty.field(name).0;
            write_element(
                Key::Field(name),
                l,
                Some(r),
                member_ty,
                unowned,
                below,
                out,
                count,
            )
        };
        let rm = pair.rv.and_then(Value::as_object);
        match pair.lv.and_then(Value::as_object) {
            // All new (most of a create): the new side's fields, without looking each one up.
            None => {
                for (name, r) in rm.into_iter().flatten() {
                    field(name, None, r, out, count)?;
                }
            }
            // Both sides: the new side's fields in key order, each with the old side's value.
            Some(lm) => {
                let mut old = lm.iter().peekable();
                for (name, r) in rm.into_iter().flatten() {
                    while old.next_if(|(k, _)| k.as_str() < name.as_str()).is_some() {}
                    let l = old.next_if(|(k, _)| *k == name).map(|(_, v)| v);
                    field(name, l, r, out, count)?;
                }
            }
        }
        return Some(());
    }
    // A list: its items' members, sorted by key (each key once: the first of duplicates).
    let list = ty.list_type();
    let item_ty = ty.item();
    let (la, ra) = pair.items();
    let mut items: Vec<(String, Vec<u8>)> = Vec::new();
    let mut item = |key: String, l: Option<&Value>, r: &Value| -> Option<()> {
        if items.iter().any(|(k, _)| *k == key) {
            return Some(());
        }
        let mut text = Vec::new();
        let mut written = 0;
        write_element(
            Key::Item(&key),
            l,
            Some(r),
            item_ty,
            false,
            Level::Other,
            &mut text,
            &mut written,
        )?;
        if written > 0 {
            items.push((key, text));
        }
        Some(())
    };
    if la.is_empty() {
        // All new (a create): without indexing.
        for (index, r) in ra.iter().enumerate() {
            item(item_element(&list, &ty, r, index).ok()?.serialize(), None, r)?;
        }
    } else {
        let no_path = Path::new();
        let (_, lhs) = index_items(la, &list, &ty, &no_path).ok()?;
        let (rhs_pes, rhs) = index_items(ra, &list, &ty, &no_path).ok()?;
        for pe in &rhs_pes {
            if let Some(r) = rhs.get(pe).copied() {
                item(pe.serialize(), lhs.get(pe).copied(), r)?;
            }
        }
    }
    items.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for (_, text) in items {
        if *count > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&text);
        *count += 1;
    }
    Some(())
}

/// Writes one element (as [`element`] decides it) after the `count` members already written:
/// `"key":{}` for a member without changes below it, `"key":{".":{},...}` for one with, or
/// `"key":{...}` for changes below a non-member; nothing if neither. `unowned`: never a
/// member itself (what the general route strips).
#[allow(clippy::too_many_arguments)]
fn write_element(
    key: Key<'_>,
    l: Option<&Value>,
    r: Option<&Value>,
    ty: Ty<'_>,
    unowned: bool,
    below: Level,
    out: &mut Vec<u8>,
    count: &mut usize,
) -> Option<()> {
    let pair = Pair::of(l, r);
    let walked = walks(&pair, ty);
    let member = !unowned
        && match (l, r) {
            (None, Some(_)) => true,
            (Some(a), Some(b)) if !walked => !values_equal(a, b),
            _ => false,
        };
    let start = out.len();
    if *count > 0 {
        out.push(b',');
    }
    write_key(key, out);
    out.extend_from_slice(b":{");
    let dot = out.len();
    let mut inner = 0;
    if member {
        out.extend_from_slice(br#"".":{}"#);
        inner = 1;
    }
    if walked {
        write_children(&pair, ty, below, out, &mut inner)?;
    }
    if member && inner == 1 {
        // Nothing changed below it: `{}`, not `{".":{}}`.
        out.truncate(dot);
    }
    if member || inner > 0 {
        out.push(b'}');
        *count += 1;
    } else {
        out.truncate(start);
    }
    Some(())
}

/// A key as a JSON string, as serde_json writes it.
fn write_key(key: Key<'_>, out: &mut Vec<u8>) {
    let (prefix, text) = match key {
        Key::Field(name) => ("f:", name),
        Key::Item(key) => ("", key),
    };
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        // Nothing to escape (field names, mostly): as serde_json would write it.
        out.push(b'"');
        out.extend_from_slice(prefix.as_bytes());
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        serde_json::to_writer(&mut *out, &format!("{prefix}{text}")).expect("strings serialise");
    }
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

    /// The walk's map is the general route's, and its text is that map serialised.
    fn check(old: &Value, new: &Value, ty: Ty<'_>) -> Value {
        let fast = Value::Object(fields_v1(old, new, ty).unwrap());
        assert_eq!(fast, general(old, new, ty));
        assert_eq!(
            fields_v1_json(old, new, ty).unwrap(),
            serde_json::to_string(&fast).unwrap()
        );
        fast
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
        let fast = check(&zero, &pod, ty);
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
        check(&zero, &deployment, ty);

        // An update of an object that had no managed fields: only what changed.
        let cm_old = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "1"}},
                            "data": {"k": "v", "gone": "x"}});
        let cm_new = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "2"}},
                            "data": {"k": "v", "new": "y"}, "binaryData": {}});
        let ty = Ty::builtin("v1", "ConfigMap");
        check(&cm_old, &cm_new, ty);
        // Nothing changed: nothing owned.
        assert!(fields_v1(&cm_old, &cm_old, ty).unwrap().is_empty());
        assert_eq!(fields_v1_json(&cm_old, &cm_old, ty).unwrap(), "{}");
        // Keys that need escaping, and the unowned metadata with something below it.
        let odd = json!({"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": "c", "annotations": {"q\"uote": "1", "back\\slash": "2", "tab\t": "3"},
                                      "generation": 3, "uid": "u"},
                         "data": {"k": "v"}});
        check(&json!({}), &odd, ty);
        check(&cm_old, &odd, ty);

        // An update of a pod without managed fields: lists on both sides (indexed by key),
        // an item changed, one added, one removed; a duplicate key in the new side.
        let mut changed = pod.clone();
        changed["spec"]["containers"][0]["image"] = json!("i2");
        changed["spec"]["containers"][1]["name"] = json!("c");
        changed["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "q\"x", "image": "k"}));
        changed["spec"]["tolerations"] = json!([{"key": "k", "operator": "Exists"}, {"key": "z"}]);
        let ty = Ty::builtin("v1", "Pod");
        check(&pod, &changed, ty);
        check(&changed, &pod, ty);

        // A custom resource without a schema compares from an empty object.
        let custom = json!({"apiVersion": "x.io/v1", "kind": "W", "metadata": {"name": "w"},
                            "spec": {"list": [{"a": 1}, {"a": 1}], "n": null}});
        let ty = Ty::custom(None);
        check(&json!({}), &custom, ty);
    }

    #[test]
    fn values_that_do_not_fit_their_type_give_up() {
        // A container without its key field `name`.
        let pod = json!({"spec": {"containers": [{"image": "i"}]}});
        assert!(fields_v1(&json!({}), &pod, Ty::builtin("v1", "Pod")).is_none());
    }
}
