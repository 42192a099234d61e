//! The naming and establishing conditions (apiextensions' `NamingConditionController` and
//! `EstablishingController`): which of the names a CRD asks for it may have, and whether it is
//! served.
//!
//! Names are claimed first come, first served within a group: a requested plural, singular or
//! short name that another CRD of the group has accepted as any of its resource names, or a
//! kind or list kind another has accepted, is refused (`NamesAccepted: False` with
//! `PluralConflict`, `SingularConflict`, `ShortNamesConflict`, `KindConflict` or
//! `ListKindConflict`), and the CRD keeps the names it had accepted before. Once all names are
//! accepted the CRD is `Established` and served; it stays established afterwards.

use std::collections::BTreeSet;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, CustomResourceDefinitionNames,
};

/// A condition to set: type, status, reason, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Condition {
    /// `NamesAccepted`, `Established`, `Terminating`.
    pub type_: &'static str,
    /// `True`, `False` or `Unknown`.
    pub status: &'static str,
    /// One CamelCase word.
    pub reason: &'static str,
    /// For humans.
    pub message: String,
}

/// The result of naming a CRD.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Naming {
    /// `status.acceptedNames`.
    pub accepted: CustomResourceDefinitionNames,
    /// The `NamesAccepted` condition.
    pub names_accepted: Condition,
    /// The `Established` condition.
    pub established: Condition,
}

fn accepted_of(crd: &CustomResourceDefinition) -> CustomResourceDefinitionNames {
    crd.status
        .as_ref()
        .and_then(|s| s.accepted_names.clone())
        .unwrap_or_default()
}

fn condition_status<'a>(crd: &'a CustomResourceDefinition, type_: &str) -> Option<&'a str> {
    crd.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status.as_str())
}

/// `requested` may be taken: it is what this CRD accepted already, or nobody uses it.
fn fresh(requested: &str, accepted: &str, used: &BTreeSet<String>) -> Result<(), String> {
    if requested == accepted || !used.contains(requested) {
        Ok(())
    } else {
        Err(format!("{requested:?} is already in use"))
    }
}

/// Name `crd` given `group` (every CRD of its group, itself included, with their current
/// accepted names).
pub(crate) fn name(crd: &CustomResourceDefinition, group: &[CustomResourceDefinition]) -> Naming {
    let mut resources = BTreeSet::new();
    let mut kinds = BTreeSet::new();
    for other in group.iter().filter(|o| o.spec.group == crd.spec.group) {
        let a = accepted_of(other);
        resources.insert(a.plural.clone());
        resources.extend(a.singular.clone());
        resources.extend(a.short_names.clone().unwrap_or_default());
        kinds.insert(a.kind.clone());
        kinds.extend(a.list_kind.clone());
    }
    let requested = &crd.spec.names;
    let accepted = accepted_of(crd);
    let mut names = accepted.clone();
    let mut conflict: Option<(&'static str, String)> = None;
    let mut note = |reason: &'static str, result: Result<(), String>| -> bool {
        match result {
            Ok(()) => true,
            Err(message) => {
                conflict = Some((reason, message));
                false
            }
        }
    };

    if note(
        "PluralConflict",
        fresh(&requested.plural, &accepted.plural, &resources),
    ) {
        names.plural = requested.plural.clone();
    }
    let singular = requested.singular.clone().unwrap_or_default();
    if note(
        "SingularConflict",
        fresh(
            &singular,
            accepted.singular.as_deref().unwrap_or_default(),
            &resources,
        ),
    ) {
        names.singular = requested.singular.clone();
    }
    if requested.short_names != accepted.short_names {
        let own: BTreeSet<&String> = accepted.short_names.iter().flatten().collect();
        let problems: Vec<String> = requested
            .short_names
            .iter()
            .flatten()
            .filter(|s| !own.contains(s))
            .filter_map(|s| fresh(s, "", &resources).err())
            .collect();
        let result = if problems.is_empty() {
            Ok(())
        } else if problems.len() == 1 {
            Err(problems[0].clone())
        } else {
            Err(format!("[{}]", problems.join(", ")))
        };
        if note("ShortNamesConflict", result) {
            names.short_names = requested.short_names.clone();
        }
    }
    if note("KindConflict", fresh(&requested.kind, &accepted.kind, &kinds)) {
        names.kind = requested.kind.clone();
    }
    let list_kind = requested.list_kind.clone().unwrap_or_default();
    if note(
        "ListKindConflict",
        fresh(
            &list_kind,
            accepted.list_kind.as_deref().unwrap_or_default(),
            &kinds,
        ),
    ) {
        names.list_kind = requested.list_kind.clone();
    }
    names.categories = requested.categories.clone();

    let names_accepted = match conflict {
        Some((reason, message)) => Condition {
            type_: "NamesAccepted",
            status: "False",
            reason,
            message,
        },
        None => Condition {
            type_: "NamesAccepted",
            status: "True",
            reason: "NoConflicts",
            message: "no conflicts found".into(),
        },
    };
    // kube-apiserver goes through `Established: False` (`Installing`) first; the reference
    // apiserver installs the endpoints in the same step. An established CRD stays established.
    let established =
        if condition_status(crd, "Established") == Some("True") || names_accepted.status == "True" {
            Condition {
                type_: "Established",
                status: "True",
                reason: "InitialNamesAccepted",
                message: "the initial names have been accepted".into(),
            }
        } else {
            Condition {
                type_: "Established",
                status: "False",
                reason: "NotAccepted",
                message: "not all names are accepted".into(),
            }
        };
    Naming {
        accepted: names,
        names_accepted,
        established,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn crd(plural: &str, kind: &str, short: &[&str], status: Value) -> CustomResourceDefinition {
        serde_json::from_value(json!({
            "metadata": {"name": format!("{plural}.example.com")},
            "spec": {"group": "example.com", "scope": "Namespaced", "versions": [],
                     "names": {"plural": plural, "singular": plural.trim_end_matches('s'), "kind": kind,
                               "listKind": format!("{kind}List"), "shortNames": short}},
            "status": status,
        }))
        .unwrap()
    }

    fn accepted(c: &CustomResourceDefinition) -> CustomResourceDefinition {
        let mut c = c.clone();
        let n = name(&c, &[]);
        c.status = Some(
            serde_json::from_value(json!({
                "acceptedNames": n.accepted,
                "conditions": [{"type": "Established", "status": "True"}],
            }))
            .unwrap(),
        );
        c
    }

    #[test]
    fn fresh_names_are_accepted_and_established() {
        let w = crd("widgets", "Widget", &["wd"], json!({}));
        let n = name(&w, std::slice::from_ref(&w));
        assert_eq!(n.names_accepted.status, "True");
        assert_eq!(n.established.status, "True");
        assert_eq!(n.accepted.kind, "Widget");
        assert_eq!(n.accepted.short_names, Some(vec!["wd".to_string()]));
    }

    #[test]
    fn conflicts_keep_the_old_names_and_are_not_established() {
        let first = accepted(&crd("widgets", "Widget", &["wd"], json!({})));
        // Same kind in the group.
        let mut second = crd("gadgets", "Widget", &[], json!({}));
        second.spec.names.list_kind = Some("GadgetList".into());
        let n = name(&second, &[first.clone(), second.clone()]);
        assert_eq!(n.names_accepted.status, "False");
        assert_eq!(n.names_accepted.reason, "KindConflict");
        assert_eq!(n.names_accepted.message, "\"Widget\" is already in use");
        assert_eq!(n.established.status, "False");
        assert_eq!(n.accepted.kind, "", "the conflicting kind is not accepted");
        assert_eq!(n.accepted.plural, "gadgets", "names without conflict are");
        // A short name that is another CRD's plural.
        let third = crd("things", "Thing", &["widgets"], json!({}));
        let n = name(&third, &[first.clone(), third.clone()]);
        assert_eq!(n.names_accepted.reason, "ShortNamesConflict");
        assert_eq!(n.accepted.short_names, None);
        // Another group is no conflict.
        let mut elsewhere = crd("widgets", "Widget", &["wd"], json!({}));
        elsewhere.spec.group = "other.io".into();
        assert_eq!(
            name(&elsewhere, &[first, elsewhere.clone()])
                .names_accepted
                .status,
            "True"
        );
    }
}
