//! Merging lists: by merge key, as sets of primitives, or not at all; and their order.
//!
//! Order follows the apiserver (the "preserve order in strategic merge patch" design):
//!
//! - Items named in the patch keep the order the patch gives them, or the order of the
//!   `$setElementOrder/<field>` list when the patch has one.
//! - Items only on the server keep their relative order, and each goes before the first patch
//!   item that comes after it in the live list.
//! - An item new to the list has no place in the live list, so it goes before the server-only
//!   items that are not yet placed: a patch that only adds `c` to `[a, b]` gives `[c, a, b]`.
//!   Clients that want `[a, b, c]` send `$setElementOrder/<field>: [a, b, c]`, as kubectl does.
use super::schema::{Field, Schema};
use super::{Directive, fresh, fresh_object, invalid, merge_object};
use crate::patch::PatchError;
use crate::patch::json::json_equal;
use serde_json::{Map, Value};

/// Merge the `patch` list into the `live` list of a field.
pub(super) fn merge(live: &mut Vec<Value>, patch: &[Value], field: Field) -> Result<(), PatchError> {
    match field {
        Field::MergeList { key, item } => merge_on_key(live, patch, key, item),
        Field::PrimitiveSet => merge_primitives(live, patch),
        Field::Object(_) | Field::Plain => {
            let mut replacement = Vec::with_capacity(patch.len());
            for value in patch {
                replacement.extend(fresh(value, Field::Plain)?);
            }
            *live = replacement;
            Ok(())
        }
    }
}

/// Remove the values listed by `$deleteFromPrimitiveList/<field>` from the live list.
pub(super) fn delete_from_primitive_list(
    live: &mut Map<String, Value>,
    field: &str,
    remove: &Value,
) -> Result<(), PatchError> {
    let Value::Array(remove) = remove else {
        return Err(invalid(format!(
            "`$deleteFromPrimitiveList/{field}` must be a list"
        )));
    };
    if let Some(Value::Array(items)) = live.get_mut(field) {
        items.retain(|item| !remove.iter().any(|r| json_equal(r, item)));
    }
    Ok(())
}

/// Reorder the merged list `name` as its `$setElementOrder/<name>` list says. `live_before` is
/// the list as it was on the server; `patch_list` the list in the patch, if any.
pub(super) fn set_element_order(
    merged: &mut Map<String, Value>,
    name: &str,
    order: &Value,
    live_before: &[Value],
    patch_list: Option<&Value>,
    field: Field,
) -> Result<(), PatchError> {
    let Value::Array(order) = order else {
        return Err(invalid(format!("`$setElementOrder/{name}` must be a list")));
    };
    let key = match field {
        Field::MergeList { key, .. } => Some(key),
        Field::PrimitiveSet => None,
        // A list without a merge strategy was replaced: its order is the patch's.
        Field::Object(_) | Field::Plain => return Ok(()),
    };
    let order_ids = order
        .iter()
        .map(|item| {
            identity(item, key).cloned().ok_or_else(|| {
                invalid(format!(
                    "`$setElementOrder/{name}` item {item} has no merge key {:?}",
                    key.unwrap_or_default()
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(Value::Array(patch_list)) = patch_list {
        check_order(name, patch_list, &order_ids, key)?;
    }
    if let Some(Value::Array(items)) = merged.get_mut(name) {
        let server_ids = identities(live_before, key);
        *items = normalize_order(std::mem::take(items), &order_ids, &server_ids, key);
    }
    Ok(())
}

/// Merge a list of objects item by item on `key`, honouring `$patch: delete` and
/// `$patch: replace` items.
fn merge_on_key(
    live: &mut Vec<Value>,
    patch: &[Value],
    key: &str,
    item: &'static Schema,
) -> Result<(), PatchError> {
    let mut replace = false;
    let mut items = Vec::with_capacity(patch.len());
    for value in patch {
        let Value::Object(patch_item) = value else {
            return Err(invalid(format!(
                "the items of a list merged on {key:?} must be objects, found {value}"
            )));
        };
        let id = patch_item
            .get(key)
            .filter(|id| !id.is_null())
            .ok_or_else(|| invalid(format!("{value} does not contain the merge key {key:?}")));
        match Directive::of(patch_item)? {
            Directive::Delete => {
                let id = id?;
                live.retain(|live_item| !same_identity(live_item, key, id));
            }
            Directive::Replace => replace = true,
            Directive::Merge => {
                id?;
                items.push(patch_item);
            }
        }
    }
    if replace {
        *live = items
            .into_iter()
            .map(|patch_item| fresh_object(patch_item, item).map(Value::Object))
            .collect::<Result<_, _>>()?;
        return Ok(());
    }

    let server_ids = identities(live, Some(key));
    for patch_item in &items {
        let id = &patch_item[key];
        match live
            .iter_mut()
            .find(|live_item| same_identity(live_item, key, id))
        {
            Some(Value::Object(live_item)) => merge_object(live_item, patch_item, item)?,
            _ => live.push(Value::Object(fresh_object(patch_item, item)?)),
        }
    }
    let patch_ids: Vec<Value> = items.iter().map(|patch_item| patch_item[key].clone()).collect();
    *live = normalize_order(std::mem::take(live), &patch_ids, &server_ids, Some(key));
    Ok(())
}

/// Merge a list of primitives as a set (a union without duplicates).
fn merge_primitives(live: &mut Vec<Value>, patch: &[Value]) -> Result<(), PatchError> {
    if let Some(value) = patch.iter().find(|v| v.is_object() || v.is_array()) {
        return Err(invalid(format!(
            "a list merged as a set holds primitive values, found {value}"
        )));
    }
    let server_ids = live.clone();
    let mut union: Vec<Value> = Vec::with_capacity(live.len() + patch.len());
    for value in live.drain(..).chain(patch.iter().cloned()) {
        if !union.iter().any(|v| json_equal(v, &value)) {
            union.push(value);
        }
    }
    *live = normalize_order(union, patch, &server_ids, None);
    Ok(())
}

/// What identifies a list item: its merge key, or the value itself for primitives.
fn identity<'a>(item: &'a Value, key: Option<&str>) -> Option<&'a Value> {
    match key {
        Some(key) => item.as_object()?.get(key),
        None => Some(item),
    }
}

fn identities(items: &[Value], key: Option<&str>) -> Vec<Value> {
    items
        .iter()
        .filter_map(|item| identity(item, key).cloned())
        .collect()
}

fn same_identity(item: &Value, key: &str, id: &Value) -> bool {
    identity(item, Some(key)).is_some_and(|own| json_equal(own, id))
}

fn position(ids: &[Value], item: &Value, key: Option<&str>) -> Option<usize> {
    let id = identity(item, key)?;
    ids.iter().position(|other| json_equal(other, id))
}

/// Order `merged`: items named in `patch_ids` in that order, interleaved with the server-only
/// items in their live order (`server_ids`), as described in the module documentation.
fn normalize_order(
    merged: Vec<Value>,
    patch_ids: &[Value],
    server_ids: &[Value],
    key: Option<&str>,
) -> Vec<Value> {
    let (mut from_patch, mut server_only): (Vec<Value>, Vec<Value>) = merged
        .into_iter()
        .partition(|item| position(patch_ids, item, key).is_some());
    from_patch.sort_by_key(|item| position(patch_ids, item, key));
    server_only.sort_by_key(|item| position(server_ids, item, key).unwrap_or(usize::MAX));

    let mut ordered = Vec::with_capacity(from_patch.len() + server_only.len());
    let mut server_only = server_only.into_iter().peekable();
    let mut from_patch = from_patch.into_iter().peekable();
    while let (Some(server_item), Some(patch_item)) = (server_only.peek(), from_patch.peek()) {
        let server_first = matches!(
            (position(server_ids, server_item, key), position(server_ids, patch_item, key)),
            (Some(s), Some(p)) if s < p
        );
        ordered.extend(if server_first {
            server_only.next()
        } else {
            from_patch.next()
        });
    }
    ordered.extend(server_only);
    ordered.extend(from_patch);
    ordered
}

/// The items of the patch list must appear in `$setElementOrder`, in the same order.
fn check_order(
    name: &str,
    patch_list: &[Value],
    order_ids: &[Value],
    key: Option<&str>,
) -> Result<(), PatchError> {
    let mut next = 0;
    for item in patch_list {
        let is_directive = item.as_object().is_some_and(|o| o.contains_key(super::DIRECTIVE));
        let Some(id) = identity(item, key).filter(|_| !is_directive) else {
            continue;
        };
        match order_ids[next..].iter().position(|other| json_equal(other, id)) {
            Some(offset) => next += offset + 1,
            None => {
                return Err(invalid(format!(
                    "the items of `{name}` are not in the order `$setElementOrder/{name}` gives"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ordered(merged: Value, patch: Value, server: Value) -> Value {
        let as_vec = |v: Value| v.as_array().unwrap().clone();
        Value::Array(normalize_order(
            as_vec(merged),
            &as_vec(patch),
            &as_vec(server),
            None,
        ))
    }

    #[test]
    fn order_of_primitives() {
        // Only new items: they come first.
        assert_eq!(
            ordered(json!(["a", "b", "c"]), json!(["c"]), json!(["a", "b"])),
            json!(["c", "a", "b"])
        );
        // A new item after an existing one in the patch goes after it.
        assert_eq!(
            ordered(
                json!(["a", "b", "c", "d"]),
                json!(["b", "d"]),
                json!(["a", "b", "c"])
            ),
            json!(["a", "b", "d", "c"])
        );
        // The patch order wins over the live order for the items it names.
        assert_eq!(
            ordered(json!(["a", "b", "c"]), json!(["c", "a"]), json!(["a", "b", "c"])),
            json!(["b", "c", "a"])
        );
    }

    #[test]
    fn set_element_order_rejects_items_out_of_order() {
        let order = [json!("a"), json!("b")];
        assert!(check_order("f", &[json!("a"), json!("b")], &order, None).is_ok());
        assert!(check_order("f", &[json!("b"), json!("a")], &order, None).is_err());
        assert!(check_order("f", &[json!("c")], &order, None).is_err());
    }
}
