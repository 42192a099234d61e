//! `TaintToleration`: a pod runs only where it tolerates every `NoSchedule` and `NoExecute`
//! taint (filter), and prefers nodes with fewer untolerated `PreferNoSchedule` taints (score).

use k8s_openapi::api::core::v1::{Taint, Toleration};

use crate::framework::{
    FilterPlugin, MAX_NODE_SCORE, NodeInfo, PodInfo, ScorePlugin, Snapshot, Unfit, default_normalize,
};

/// Whether `toleration` tolerates `taint` (`Toleration.ToleratesTaint`): the effect matches (or
/// the toleration names none), and either the operator is `Exists` with the same key (or no key:
/// every taint), or the operator is `Equal` (the default) with the same key and value.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or_default();
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or_default();
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        // An empty operator is `Equal`, as validation and `ToleratesTaint` read it.
        "Equal" | "" => {
            !key.is_empty()
                && toleration.value.as_deref().unwrap_or_default()
                    == taint.value.as_deref().unwrap_or_default()
        }
        _ => false,
    }
}

fn tolerations(pod: &PodInfo) -> &[Toleration] {
    pod.pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or_default()
}

fn taints(node: &NodeInfo) -> &[Taint] {
    node.node
        .as_ref()
        .and_then(|n| n.spec.as_ref())
        .and_then(|s| s.taints.as_deref())
        .unwrap_or_default()
}

/// The plugin (filter and score).
pub struct TaintToleration;

impl FilterPlugin for TaintToleration {
    fn name(&self) -> &'static str {
        "TaintToleration"
    }

    fn filter(&self, pod: &PodInfo, node: &NodeInfo) -> Result<(), Unfit> {
        let tolerations = tolerations(pod);
        let untolerated = taints(node)
            .iter()
            .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
            .find(|taint| !tolerations.iter().any(|t| tolerates(t, taint)));
        match untolerated {
            None => Ok(()),
            Some(taint) => Err(Unfit::new(format!(
                "node(s) had untolerated taint {{{}: {}}}",
                taint.key,
                taint.value.as_deref().unwrap_or_default()
            ))),
        }
    }
}

impl ScorePlugin for TaintToleration {
    fn name(&self) -> &'static str {
        "TaintToleration"
    }

    fn score(&self, pod: &PodInfo, node: &NodeInfo, _cluster: &Snapshot) -> i64 {
        // Only tolerations that could apply to PreferNoSchedule taints count.
        let tolerations: Vec<&Toleration> = tolerations(pod)
            .iter()
            .filter(|t| matches!(t.effect.as_deref(), None | Some("") | Some("PreferNoSchedule")))
            .collect();
        taints(node)
            .iter()
            .filter(|t| t.effect == "PreferNoSchedule")
            .filter(|taint| !tolerations.iter().any(|t| tolerates(t, taint)))
            .count() as i64
    }

    fn normalize(&self, scores: &mut [i64]) {
        default_normalize(MAX_NODE_SCORE, true, scores);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str, value: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: Some(value.into()).filter(|v: &String| !v.is_empty()),
            effect: effect.into(),
            ..Taint::default()
        }
    }

    fn toleration(key: &str, op: &str, value: &str, effect: &str) -> Toleration {
        let some = |s: &str| Some(s.to_owned()).filter(|s| !s.is_empty());
        Toleration {
            key: some(key),
            operator: some(op),
            value: some(value),
            effect: some(effect),
            ..Toleration::default()
        }
    }

    #[test]
    fn toleration_matching_follows_client_go() {
        let t = taint("gpu", "true", "NoSchedule");
        assert!(tolerates(&toleration("gpu", "Equal", "true", "NoSchedule"), &t));
        assert!(
            tolerates(&toleration("gpu", "", "true", ""), &t),
            "Equal is the default, no effect matches all"
        );
        assert!(!tolerates(&toleration("gpu", "Equal", "false", "NoSchedule"), &t));
        assert!(!tolerates(&toleration("gpu", "Equal", "true", "NoExecute"), &t));
        assert!(tolerates(&toleration("gpu", "Exists", "", ""), &t));
        assert!(
            tolerates(&toleration("", "Exists", "", ""), &t),
            "an empty key with Exists tolerates everything"
        );
        assert!(
            !tolerates(&toleration("", "Equal", "", ""), &t),
            "an empty key needs Exists"
        );
        assert!(!tolerates(&toleration("other", "Exists", "", ""), &t));
        let empty_operator = Toleration {
            key: Some("gpu".into()),
            operator: Some(String::new()),
            value: Some("true".into()),
            ..Toleration::default()
        };
        assert!(tolerates(&empty_operator, &t), "an empty operator means Equal");
    }
}
