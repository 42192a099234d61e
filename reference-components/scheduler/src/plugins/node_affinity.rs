//! `NodeAffinity`: `spec.nodeSelector` and required node affinity decide where a pod may run
//! (filter); the weights of the preferred terms a node matches rank the rest (score).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm};

use crate::framework::{
    FilterPlugin, MAX_NODE_SCORE, NodeInfo, PodInfo, ScorePlugin, Snapshot, Unfit, default_normalize,
};

/// The message of a node that fails the pod's selector or required affinity.
pub const MISMATCH: &str = "node(s) didn't match Pod's node affinity/selector";

fn requirement_matches(req: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = req.values.as_deref().unwrap_or_default();
    let number = |s: &str| s.parse::<i64>().ok();
    match req.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(have), [want]) = (value.and_then(number), values) else {
                return false;
            };
            let Some(want) = number(want) else { return false };
            if req.operator == "Gt" {
                have > want
            } else {
                have < want
            }
        }
        _ => false,
    }
}

/// Whether a node with these labels and this name matches `term`: every expression and every
/// field requirement (only `metadata.name` exists) holds. A term with neither matches nothing.
pub fn term_matches(term: &NodeSelectorTerm, labels: &BTreeMap<String, String>, name: &str) -> bool {
    let expressions = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if expressions.is_empty() && fields.is_empty() {
        return false;
    }
    expressions
        .iter()
        .all(|r| requirement_matches(r, labels.get(&r.key).map(String::as_str)))
        && fields
            .iter()
            .all(|r| r.key == "metadata.name" && requirement_matches(r, Some(name)))
}

fn node_labels(node: &NodeInfo) -> (&BTreeMap<String, String>, &str) {
    static EMPTY: BTreeMap<String, String> = BTreeMap::new();
    let labels = node
        .node
        .as_ref()
        .and_then(|n| n.metadata.labels.as_ref())
        .unwrap_or(&EMPTY);
    (labels, node.name())
}

/// The plugin (filter and score).
pub struct NodeAffinity;

impl FilterPlugin for NodeAffinity {
    fn name(&self) -> &'static str {
        "NodeAffinity"
    }

    fn filter(&self, pod: &PodInfo, node: &NodeInfo) -> Result<(), Unfit> {
        let Some(spec) = pod.pod.spec.as_ref() else {
            return Ok(());
        };
        let (labels, name) = node_labels(node);
        let selector_ok = spec
            .node_selector
            .iter()
            .flatten()
            .all(|(k, v)| labels.get(k) == Some(v));
        let required = spec
            .affinity
            .as_ref()
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|a| a.required_during_scheduling_ignored_during_execution.as_ref());
        let affinity_ok = required.is_none_or(|r| {
            r.node_selector_terms
                .iter()
                .any(|t| term_matches(t, labels, name))
        });
        if selector_ok && affinity_ok {
            Ok(())
        } else {
            Err(Unfit::new(MISMATCH))
        }
    }
}

impl ScorePlugin for NodeAffinity {
    fn name(&self) -> &'static str {
        "NodeAffinity"
    }

    fn score(&self, pod: &PodInfo, node: &NodeInfo, _cluster: &Snapshot) -> i64 {
        let (labels, name) = node_labels(node);
        pod.pod
            .spec
            .as_ref()
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|a| a.preferred_during_scheduling_ignored_during_execution.as_ref())
            .into_iter()
            .flatten()
            .filter(|t| term_matches(&t.preference, labels, name))
            .map(|t| i64::from(t.weight))
            .sum()
    }

    fn normalize(&self, scores: &mut [i64]) {
        default_normalize(MAX_NODE_SCORE, false, scores);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: Some(values.iter().map(|v| v.to_string()).collect()),
        }
    }

    #[test]
    fn operators_match_as_kubernetes_does() {
        let labels: BTreeMap<String, String> = [("zone", "a"), ("cores", "8")]
            .map(|(k, v)| (k.into(), v.into()))
            .into();
        let term = |reqs: Vec<NodeSelectorRequirement>| NodeSelectorTerm {
            match_expressions: Some(reqs),
            match_fields: None,
        };
        let m = |reqs| term_matches(&term(reqs), &labels, "node-1");
        assert!(m(vec![req("zone", "In", &["a", "b"])]));
        assert!(!m(vec![req("zone", "NotIn", &["a"])]));
        assert!(
            m(vec![req("missing", "NotIn", &["a"])]),
            "NotIn holds for an absent label"
        );
        assert!(m(vec![req("zone", "Exists", &[])]) && m(vec![req("gpu", "DoesNotExist", &[])]));
        assert!(m(vec![req("cores", "Gt", &["4"])]) && !m(vec![req("cores", "Lt", &["4"])]));
        assert!(
            !m(vec![req("zone", "Gt", &["4"])]),
            "a label that is not a number never compares"
        );
        assert!(
            !m(vec![req("zone", "In", &["a"]), req("cores", "In", &["4"])]),
            "expressions are ANDed"
        );
        assert!(
            !term_matches(&NodeSelectorTerm::default(), &labels, "node-1"),
            "an empty term matches nothing"
        );
        let by_name = NodeSelectorTerm {
            match_expressions: None,
            match_fields: Some(vec![req("metadata.name", "In", &["node-1"])]),
        };
        assert!(term_matches(&by_name, &labels, "node-1") && !term_matches(&by_name, &labels, "node-2"));
    }
}
