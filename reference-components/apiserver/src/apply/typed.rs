//! The four walks of server-side apply over JSON values of a known [`Ty`]:
//!
//! - [`to_field_set`]: the fields a value sets (an applier owns exactly those);
//! - [`merge`]: an applied configuration merged into the live object;
//! - [`compare`]: what a write added, modified and removed (updaters own what they changed,
//!   and appliers conflict with it);
//! - [`prune`]: the fields an applier stopped applying, removed.
//!
//! They follow structured-merge-diff's rules: scalars, atomic lists and atomic objects are
//! leaves; list items are owned as a whole besides field by field; a map key (unlike a declared
//! struct field) is owned itself, and so is any field set to `null` or `{}`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::path::{Path, PathElement, display, values_equal};
use super::schema::{ListType, Ty};
use super::set::FieldSet;

/// A value that does not fit its type (a list item without its key, duplicate items): the
/// message, prefixed with the field path.
pub type Invalid = String;

/// The path element of `item` in a list of type `list` (whose own type is `ty`).
pub(super) fn item_element(
    list: &ListType<'_>,
    ty: &Ty<'_>,
    item: &Value,
    index: usize,
) -> Result<PathElement, String> {
    match list {
        ListType::Atomic => Ok(PathElement::Index(index)),
        ListType::Set => match item {
            Value::Object(_) | Value::Array(_) => Err(format!(
                "element {index}: only scalar values are allowed in a set, found {item}"
            )),
            scalar => Ok(PathElement::Value(scalar.clone())),
        },
        ListType::Map(keys) => {
            let Value::Object(fields) = item else {
                return Err(format!(
                    "element {index}: the items of an associative list must be objects, found {item}"
                ));
            };
            let mut key = Map::new();
            for name in keys {
                let value = fields
                    .get(*name)
                    .filter(|v| !v.is_null())
                    .cloned()
                    .or_else(|| ty.key_default(name))
                    .ok_or_else(|| {
                        format!(
                            "element {index}: associative list with keys has an element that omits key field \"{name}\" (and doesn't have default value)"
                        )
                    })?;
                key.insert((*name).to_string(), value);
            }
            Ok(PathElement::key(key))
        }
    }
}

fn at(path: &Path, message: String) -> Invalid {
    if path.is_empty() {
        message
    } else {
        format!("{}: {message}", display(path))
    }
}

pub(super) fn is_empty_container(value: &Value) -> bool {
    match value {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Null => true,
        _ => false,
    }
}

/// The fields `value` sets. With `strict`, duplicate list items are an error (an applied
/// configuration must not have any); live objects may have them.
pub fn to_field_set(value: &Value, ty: Ty<'_>, strict: bool) -> Result<FieldSet, Invalid> {
    let mut set = FieldSet::new();
    walk_set(value, ty, strict, &mut Vec::new(), &mut set)?;
    Ok(set)
}

fn walk_set(
    value: &Value,
    ty: Ty<'_>,
    strict: bool,
    path: &mut Path,
    set: &mut FieldSet,
) -> Result<(), Invalid> {
    match value {
        Value::Object(fields) => {
            if ty.atomic_object() {
                set.insert(path);
                return Ok(());
            }
            for (name, child) in fields {
                let (child_ty, declared) = ty.field(name);
                path.push(PathElement::Field(name.clone()));
                walk_set(child, child_ty, strict, path, set)?;
                if !declared || child.is_null() || child.as_object().is_some_and(Map::is_empty) {
                    set.insert(path);
                }
                path.pop();
            }
        }
        Value::Array(items) => {
            let list = ty.list_type();
            if list == ListType::Atomic {
                set.insert(path);
                return Ok(());
            }
            let item_ty = ty.item();
            let mut seen = BTreeSet::new();
            for (index, item) in items.iter().enumerate() {
                let pe = item_element(&list, &ty, item, index).map_err(|e| at(path, e))?;
                if !seen.insert(pe.clone()) && strict {
                    return Err(at(path, format!("duplicate entries for key {pe}")));
                }
                path.push(pe);
                walk_set(item, item_ty, strict, path, set)?;
                set.insert(path);
                path.pop();
            }
        }
        _ => set.insert(path),
    }
    Ok(())
}

/// Merge the applied configuration `config` into `live`: objects merge field by field,
/// associative lists and sets item by item (live order first, new items where the
/// configuration puts them), everything else is replaced.
pub fn merge(live: &Value, config: &Value, ty: Ty<'_>) -> Result<Value, Invalid> {
    Ok(merge_value(Some(live), Some(config), ty, &mut Vec::new())?.unwrap_or(Value::Object(Map::new())))
}

fn merge_value(
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    ty: Ty<'_>,
    path: &mut Path,
) -> Result<Option<Value>, Invalid> {
    let (l, r) = match (lhs, rhs) {
        (None, None) => return Ok(None),
        (Some(l), None) => return Ok(Some(l.clone())),
        (None, Some(r)) => return Ok(Some(r.clone())),
        (Some(l), Some(r)) => (l, r),
    };
    match (l, r) {
        (Value::Object(lm), Value::Object(rm))
            if !ty.atomic_object() && (!lm.is_empty() || !rm.is_empty()) =>
        {
            let mut out = lm.clone();
            for (name, rv) in rm {
                path.push(PathElement::Field(name.clone()));
                let merged = merge_value(lm.get(name), Some(rv), ty.field(name).0, path)?;
                path.pop();
                match merged {
                    Some(v) => out.insert(name.clone(), v),
                    None => out.remove(name),
                };
            }
            Ok(Some(Value::Object(out)))
        }
        // A `null` for a granular object or list merges nothing into it.
        (Value::Object(lm), Value::Null) if !ty.atomic_object() && !lm.is_empty() => Ok(Some(l.clone())),
        (Value::Array(la), Value::Null) if ty.list_type() != ListType::Atomic && !la.is_empty() => {
            Ok(Some(l.clone()))
        }
        (Value::Array(la), Value::Array(ra)) if !(la.is_empty() && ra.is_empty()) => {
            let list = ty.list_type();
            if list == ListType::Atomic {
                return Ok(Some(r.clone()));
            }
            let merged = merge_lists(la, ra, &list, ty, path)?;
            Ok((!merged.is_empty()).then_some(Value::Array(merged)))
        }
        _ => Ok(Some(r.clone())),
    }
}

/// The items of a list by path element, the first of duplicates winning.
pub(super) fn index_items<'v>(
    items: &'v [Value],
    list: &ListType<'_>,
    ty: &Ty<'_>,
    path: &Path,
) -> Result<(Vec<PathElement>, BTreeMap<PathElement, &'v Value>), Invalid> {
    let mut order = Vec::with_capacity(items.len());
    let mut by_pe = BTreeMap::new();
    for (index, item) in items.iter().enumerate() {
        let pe = item_element(list, ty, item, index).map_err(|e| at(path, e))?;
        by_pe.entry(pe.clone()).or_insert(item);
        order.push(pe);
    }
    Ok((order, by_pe))
}

/// structured-merge-diff's list merge: live items keep their order, items shared with the
/// configuration follow the configuration's order among themselves, new items come where the
/// configuration places them relative to shared ones.
fn merge_lists(
    la: &[Value],
    ra: &[Value],
    list: &ListType<'_>,
    ty: Ty<'_>,
    path: &mut Path,
) -> Result<Vec<Value>, Invalid> {
    let item_ty = ty.item();
    let (lhs_pes, observed_lhs) = index_items(la, list, &ty, path)?;
    let (rhs_pes, observed_rhs) = index_items(ra, list, &ty, path)?;
    let mut shared: std::collections::VecDeque<&PathElement> = rhs_pes
        .iter()
        .filter(|pe| observed_lhs.contains_key(*pe))
        .collect();
    let mut next_shared = shared.pop_front();
    let mut merged_rhs: BTreeSet<&PathElement> = BTreeSet::new();
    let mut out = Vec::with_capacity(la.len().max(ra.len()));
    let merge_item =
        |pe: &PathElement, l: Option<&Value>, r: Option<&Value>, out: &mut Vec<Value>, path: &mut Path| {
            path.push(pe.clone());
            let merged = merge_value(l, r, item_ty, path);
            path.pop();
            merged.map(|m| out.extend(m))
        };
    let (mut li, mut ri) = (0, 0);
    while li < lhs_pes.len() || ri < rhs_pes.len() {
        if li < lhs_pes.len() && ri < rhs_pes.len() {
            let pe = &lhs_pes[li];
            if *pe == rhs_pes[ri] {
                merged_rhs.insert(pe);
                merge_item(
                    pe,
                    observed_lhs.get(pe).copied(),
                    observed_rhs.get(pe).copied(),
                    &mut out,
                    path,
                )?;
                li += 1;
                ri += 1;
                next_shared = shared.pop_front();
                continue;
            }
            if observed_rhs.contains_key(pe) && next_shared.is_some_and(|next| next != pe) {
                // A shared item, but not the one due in this round.
                li += 1;
                continue;
            }
        }
        if li < lhs_pes.len() {
            let pe = &lhs_pes[li];
            if !observed_rhs.contains_key(pe) {
                merge_item(pe, Some(&la[li]), None, &mut out, path)?;
                li += 1;
                continue;
            }
            if merged_rhs.contains(pe) {
                li += 1;
                continue;
            }
        }
        if ri < rhs_pes.len() {
            let pe = &rhs_pes[ri];
            merged_rhs.insert(pe);
            merge_item(
                pe,
                observed_lhs.get(pe).copied(),
                observed_rhs.get(pe).copied(),
                &mut out,
                path,
            )?;
            ri += 1;
            if next_shared == Some(pe) {
                next_shared = shared.pop_front();
            }
        }
    }
    Ok(out)
}

/// What changed from one value to another.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Fields (and list items, and objects) that are new.
    pub added: FieldSet,
    /// Leaves whose value changed.
    pub modified: FieldSet,
    /// Fields that are gone.
    pub removed: FieldSet,
}

impl Comparison {
    /// Whether nothing changed.
    pub fn is_same(&self) -> bool {
        self.added.is_empty() && self.modified.is_empty() && self.removed.is_empty()
    }
}

/// How [`compare`] sees two values at one path.
pub(super) struct Pair<'v> {
    /// The old value, `null` as absent.
    pub lv: Option<&'v Value>,
    /// The new value, `null` as absent.
    pub rv: Option<&'v Value>,
    /// Neither side holds anything (absent, `null`, `{}` or `[]`).
    pub both_empty: bool,
    /// Objects (on one side, or both).
    pub objects: bool,
    /// Lists (on one side, or both).
    pub arrays: bool,
}

impl<'v> Pair<'v> {
    pub(super) fn of(l: Option<&'v Value>, r: Option<&'v Value>) -> Self {
        let both_empty = l.is_none_or(is_empty_container) && r.is_none_or(is_empty_container);
        // A `null` takes the shape of the other side (an unset list of a typed object is `null`).
        let (lv, rv) = (l.filter(|v| !v.is_null()), r.filter(|v| !v.is_null()));
        let objects = matches!(
            (lv, rv),
            (Some(Value::Object(_)), Some(Value::Object(_)))
                | (Some(Value::Object(_)), None)
                | (None, Some(Value::Object(_)))
        );
        let arrays = matches!(
            (lv, rv),
            (Some(Value::Array(_)), Some(Value::Array(_)))
                | (Some(Value::Array(_)), None)
                | (None, Some(Value::Array(_)))
        );
        Pair {
            lv,
            rv,
            both_empty,
            objects,
            arrays,
        }
    }

    /// Both sides as objects (an absent side as empty), with the names of both, the old
    /// side's first.
    pub(super) fn fields(&self) -> impl Iterator<Item = (&'v String, Option<&'v Value>, Option<&'v Value>)> {
        static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);
        let lm = self.lv.and_then(Value::as_object).unwrap_or(&EMPTY);
        let rm = self.rv.and_then(Value::as_object).unwrap_or(&EMPTY);
        lm.keys()
            .chain(rm.keys().filter(|k| !lm.contains_key(*k)))
            .map(|name| (name, lm.get(name), rm.get(name)))
    }

    /// Both sides as lists (an absent side as empty).
    pub(super) fn items(&self) -> (&'v [Value], &'v [Value]) {
        let items = |v: Option<&'v Value>| v.and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
        (items(self.lv), items(self.rv))
    }
}

/// Compare `old` with `new`.
pub fn compare(old: &Value, new: &Value, ty: Ty<'_>) -> Result<Comparison, Invalid> {
    let mut out = Comparison::default();
    compare_value(Some(old), Some(new), ty, &mut Vec::new(), &mut out)?;
    Ok(out)
}

fn compare_value(
    l: Option<&Value>,
    r: Option<&Value>,
    ty: Ty<'_>,
    path: &mut Path,
    out: &mut Comparison,
) -> Result<(), Invalid> {
    let pair = Pair::of(l, r);
    let Pair {
        rv,
        both_empty,
        objects,
        arrays,
        ..
    } = pair;
    if l.is_none() && (objects || arrays) && !both_empty {
        // All of `r` is new: build its subtree of `added` in place.
        if descends(rv.expect("r is a container"), ty) {
            add_all(rv.expect("r is a container"), ty, path, out.added.node_mut(path))?;
        }
        out.added.insert(path);
        return Ok(());
    }
    if objects && !ty.atomic_object() && !both_empty {
        for (name, l, r) in pair.fields() {
            path.push(PathElement::Field(name.clone()));
            compare_value(l, r, ty.field(name).0, path, out)?;
            path.pop();
        }
    } else if arrays && !both_empty && ty.list_type() != ListType::Atomic {
        let list = ty.list_type();
        let item_ty = ty.item();
        let (la, ra) = pair.items();
        let (lhs_pes, lhs) = index_items(la, &list, &ty, path)?;
        let (rhs_pes, rhs) = index_items(ra, &list, &ty, path)?;
        let mut seen = BTreeSet::new();
        for pe in lhs_pes.iter().chain(&rhs_pes) {
            if seen.insert(pe) {
                path.push(pe.clone());
                compare_value(lhs.get(pe).copied(), rhs.get(pe).copied(), item_ty, path, out)?;
                path.pop();
            }
        }
    } else {
        match (l, r) {
            (None, Some(_)) => out.added.insert(path),
            (Some(_), None) => out.removed.insert(path),
            (Some(a), Some(b)) if !values_equal(a, b) => out.modified.insert(path),
            _ => {}
        }
        return Ok(());
    }
    match (l, r) {
        (None, Some(_)) => out.added.insert(path),
        (Some(_), None) => out.removed.insert(path),
        _ => {}
    }
    Ok(())
}

/// Whether [`compare`] walks into `value` (a non-empty object or list of a type that is not
/// atomic) rather than treating it as a leaf.
fn descends(value: &Value, ty: Ty<'_>) -> bool {
    match value {
        Value::Object(m) => !m.is_empty() && !ty.atomic_object(),
        Value::Array(a) => !a.is_empty() && ty.list_type() != ListType::Atomic,
        _ => false,
    }
}

/// Every path under `value` (at `path`, whose set is `node`), as [`compare`] adds them for a
/// value the old object lacks: each field and item is a member, and walked into when
/// [`descends`] says so.
fn add_all(value: &Value, ty: Ty<'_>, path: &mut Path, node: &mut FieldSet) -> Result<(), Invalid> {
    let mut one = |pe: PathElement, v: &Value, ty: Ty<'_>, path: &mut Path| {
        if descends(v, ty) {
            path.push(pe);
            let pe = path.last().expect("just pushed");
            add_all(v, ty, path, node.child_mut(pe.clone()))?;
            let pe = path.pop().expect("just pushed");
            node.insert_member(pe);
        } else {
            node.insert_member(pe);
        }
        Ok::<(), Invalid>(())
    };
    match value {
        Value::Object(fields) => {
            for (name, v) in fields {
                one(PathElement::Field(name.clone()), v, ty.field(name).0, path)?;
            }
        }
        Value::Array(items) => {
            let list = ty.list_type();
            let item_ty = ty.item();
            let (pes, by_pe) = index_items(items, &list, &ty, path)?;
            let mut seen = BTreeSet::new();
            for pe in &pes {
                if seen.insert(pe) {
                    one(pe.clone(), by_pe[pe], item_ty, path)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// Remove from `value` the fields and items that are members of `last` but not of `keep`, with
/// everything under them. Both sets should have their named fields as members
/// ([`ensure_named_fields`]). Objects and lists left empty by a removal go too.
pub fn prune(value: &mut Value, last: &FieldSet, keep: &FieldSet, ty: Ty<'_>) {
    prune_value(value, last, Some(keep), ty);
}

fn prune_value(value: &mut Value, last: &FieldSet, keep: Option<&FieldSet>, ty: Ty<'_>) {
    let removable = |pe: &PathElement| last.has_member(pe) && !keep.is_some_and(|k| k.has_member(pe));
    match value {
        Value::Object(fields) if !ty.atomic_object() => {
            let names: Vec<String> = fields.keys().cloned().collect();
            for name in names {
                let pe = PathElement::Field(name.clone());
                if removable(&pe) {
                    fields.remove(&name);
                    continue;
                }
                if let (Some(sub), Some(child)) = (last.child(&pe), fields.get_mut(&name)) {
                    let was_empty = is_empty_container(child);
                    prune_value(child, sub, keep.and_then(|k| k.child(&pe)), ty.field(&name).0);
                    if !was_empty && is_empty_container(child) {
                        fields.remove(&name);
                    }
                }
            }
        }
        Value::Array(items) => {
            let list = ty.list_type();
            if list == ListType::Atomic {
                return;
            }
            let item_ty = ty.item();
            let mut index = 0;
            items.retain_mut(|item| {
                let Ok(pe) = item_element(&list, &ty, item, index) else {
                    index += 1;
                    return true;
                };
                index += 1;
                if removable(&pe) {
                    return false;
                }
                if let Some(sub) = last.child(&pe) {
                    prune_value(item, sub, keep.and_then(|k| k.child(&pe)), item_ty);
                }
                true
            });
        }
        _ => {}
    }
}

/// `set` with every declared field that has paths under it made a member, as
/// structured-merge-diff's `EnsureNamedFieldsAreMembers`: owning `.spec.replicas` then also
/// counts as owning `.spec` (a declared field) when pruning, but owning a key of a map does not
/// make its other keys owned.
pub fn ensure_named_fields(set: &FieldSet, ty: Ty<'_>) -> FieldSet {
    let mut out = set.clone();
    ensure(&mut out, ty);
    out
}

fn ensure(set: &mut FieldSet, ty: Ty<'_>) {
    let children: Vec<PathElement> = set.children().map(|(pe, _)| pe.clone()).collect();
    for pe in children {
        let child_ty = match &pe {
            PathElement::Field(name) => {
                let (child_ty, declared) = ty.field(name);
                if declared && !ty.atomic_object() {
                    set.insert_member(pe.clone());
                }
                child_ty
            }
            _ => ty.item(),
        };
        ensure(set.child_mut(pe), child_ty);
    }
}
