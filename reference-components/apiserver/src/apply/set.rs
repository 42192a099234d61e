//! Sets of field paths, and their `fieldsV1` encoding.
//!
//! A [`FieldSet`] is a trie: at each level, the elements that are themselves in the set
//! (*members*) and the elements under which deeper paths are (*children*). An element can be
//! both: a list item owned as a whole and field by field.
//!
//! `fieldsV1` writes the trie as nested JSON objects keyed by [`PathElement::serialize`]: a
//! member without children is `{}`, and a member with children carries `".": {}` among them:
//!
//! ```json
//! {"f:metadata": {"f:labels": {"f:app": {}}},
//!  "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}}}}
//! ```

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::path::{Path, PathElement};

/// A set of field paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    members: BTreeSet<PathElement>,
    children: BTreeMap<PathElement, FieldSet>,
}

impl FieldSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the set has no path.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.is_empty()
    }

    /// Add `path` (the empty path is ignored).
    pub fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                if !self.members.contains(last) {
                    self.members.insert(last.clone());
                }
            }
            [first, rest @ ..] => match self.children.get_mut(first) {
                Some(child) => child.insert(rest),
                None => self.children.entry(first.clone()).or_default().insert(rest),
            },
        }
    }

    /// Whether `path` is in the set.
    pub fn has(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self.children.get(first).is_some_and(|c| c.has(rest)),
        }
    }

    /// Whether `element` is a member at this level.
    pub fn has_member(&self, element: &PathElement) -> bool {
        self.members.contains(element)
    }

    /// The paths under `element` (`None` when there are none).
    pub fn child(&self, element: &PathElement) -> Option<&FieldSet> {
        self.children.get(element)
    }

    /// The elements that have paths under them.
    pub fn children(&self) -> impl Iterator<Item = (&PathElement, &FieldSet)> {
        self.children.iter()
    }

    /// Every path of `self` or `other`.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.extend(other);
        out
    }

    /// Add every path of `other` (cloning only what `self` lacks).
    pub fn extend(&mut self, other: &FieldSet) {
        for member in &other.members {
            if !self.members.contains(member) {
                self.members.insert(member.clone());
            }
        }
        for (pe, child) in &other.children {
            match self.children.get_mut(pe) {
                Some(mine) => mine.extend(child),
                None => {
                    self.children.insert(pe.clone(), child.clone());
                }
            }
        }
    }

    /// Add every path of `other`, moving its elements.
    pub fn absorb(&mut self, other: FieldSet) {
        if self.is_empty() {
            *self = other;
            return;
        }
        self.members.extend(other.members);
        for (pe, child) in other.children {
            match self.children.get_mut(&pe) {
                Some(mine) => mine.absorb(child),
                None => {
                    self.children.insert(pe, child);
                }
            }
        }
    }

    /// The paths of `self` that are not in `other` (path by path: a member of `other` does not
    /// remove the paths below it).
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.remove_all(other);
        out
    }

    /// Remove the paths of `other`, in place (see [`FieldSet::difference`]).
    pub fn remove_all(&mut self, other: &FieldSet) {
        if other.is_empty() {
            return;
        }
        if !other.members.is_empty() {
            self.members.retain(|m| !other.members.contains(m));
        }
        if !other.children.is_empty() {
            self.children.retain(|pe, child| match other.children.get(pe) {
                Some(theirs) => {
                    child.remove_all(theirs);
                    !child.is_empty()
                }
                None => true,
            });
        }
    }

    /// The paths in both sets.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.intersection(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .filter_map(|(pe, child)| {
                let common = child.intersection(other.children.get(pe)?);
                (!common.is_empty()).then(|| (pe.clone(), common))
            })
            .collect();
        FieldSet { members, children }
    }

    /// Every path, in structured-merge-diff's order: the members of a level, then the paths
    /// under each child.
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Path, out: &mut Vec<Path>) {
        for member in &self.members {
            let mut path = prefix.clone();
            path.push(member.clone());
            out.push(path);
        }
        for (pe, child) in &self.children {
            prefix.push(pe.clone());
            child.collect_paths(prefix, out);
            prefix.pop();
        }
    }

    /// The set under `path`, created (empty) when absent; the whole set for the empty path.
    pub(super) fn node_mut(&mut self, path: &[PathElement]) -> &mut FieldSet {
        match path {
            [] => self,
            [first, rest @ ..] => {
                if !self.children.contains_key(first) {
                    self.children.insert(first.clone(), FieldSet::new());
                }
                self.children.get_mut(first).expect("just ensured").node_mut(rest)
            }
        }
    }

    /// Add `element` as a member of this level.
    pub(super) fn insert_member(&mut self, element: PathElement) {
        self.members.insert(element);
    }

    /// The paths under `element`, created empty when absent.
    pub(super) fn child_mut(&mut self, element: PathElement) -> &mut FieldSet {
        self.children.entry(element).or_default()
    }

    /// The `fieldsV1` JSON of the set.
    pub fn to_fields_v1(&self) -> Value {
        let mut out = Map::new();
        for member in &self.members {
            if !self.children.contains_key(member) {
                out.insert(member.serialize(), Value::Object(Map::new()));
            }
        }
        for (pe, child) in &self.children {
            let mut inner = match child.to_fields_v1() {
                Value::Object(inner) => inner,
                _ => unreachable!("to_fields_v1 writes objects"),
            };
            if self.members.contains(pe) {
                inner.insert(".".into(), Value::Object(Map::new()));
            }
            out.insert(pe.serialize(), Value::Object(inner));
        }
        Value::Object(out)
    }

    /// Read `fieldsV1` JSON.
    pub fn from_fields_v1(value: &Value) -> Result<FieldSet, String> {
        let Value::Object(entries) = value else {
            return Err(format!("fieldsV1 must be an object, found {value}"));
        };
        let mut set = FieldSet::new();
        for (key, inner) in entries {
            if key == "." {
                continue;
            }
            let pe = PathElement::parse(key)?;
            let Value::Object(inner_map) = inner else {
                return Err(format!("the value of {key} must be an object"));
            };
            if inner_map.is_empty() || inner_map.contains_key(".") {
                set.members.insert(pe.clone());
            }
            let child = FieldSet::from_fields_v1(inner)?;
            if !child.is_empty() {
                set.children.insert(pe, child);
            }
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(name: &str) -> PathElement {
        PathElement::Field(name.into())
    }

    fn set_of(paths: &[&[&str]]) -> FieldSet {
        let mut set = FieldSet::new();
        for path in paths {
            let path: Path = path.iter().map(|s| PathElement::parse(s).unwrap()).collect();
            set.insert(&path);
        }
        set
    }

    #[test]
    fn fields_v1_round_trip_with_dot_for_members_that_have_children() {
        let set = set_of(&[
            &["f:metadata", "f:labels", "f:app"],
            &["f:spec", "f:containers", r#"k:{"name":"web"}"#],
            &["f:spec", "f:containers", r#"k:{"name":"web"}"#, "f:image"],
            &["f:spec", "f:replicas"],
        ]);
        let v1 = set.to_fields_v1();
        assert_eq!(
            v1,
            json!({
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:containers": {r#"k:{"name":"web"}"#: {".": {}, "f:image": {}}},
                    "f:replicas": {}
                }
            })
        );
        assert_eq!(FieldSet::from_fields_v1(&v1).unwrap(), set);
        assert!(FieldSet::from_fields_v1(&json!({"f:a": 1})).is_err());
        assert!(FieldSet::from_fields_v1(&json!({"bad": {}})).is_err());
    }

    #[test]
    fn set_algebra_works_path_by_path() {
        let a = set_of(&[&["f:spec", "f:a"], &["f:spec", "f:b"], &["f:x"]]);
        let b = set_of(&[&["f:spec", "f:b"], &["f:spec"], &["f:y"]]);
        assert_eq!(a.union(&b).paths().len(), 5);
        assert_eq!(a.intersection(&b), set_of(&[&["f:spec", "f:b"]]));
        assert_eq!(a.difference(&b), set_of(&[&["f:spec", "f:a"], &["f:x"]]));
        // A member of the other set does not remove the paths below it.
        assert!(a.difference(&b).has(&[f("spec"), f("a")]));
        assert!(a.difference(&a).is_empty());
        assert!(!a.has(&[f("spec")]));
        assert_eq!(
            a.paths(),
            vec![vec![f("x")], vec![f("spec"), f("a")], vec![f("spec"), f("b")]]
        );
    }
}
