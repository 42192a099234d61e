//! `NodeResourcesFit`: a pod runs only where its requests fit beside what is already there
//! (filter), and nodes are ranked by how much would be left (`LeastAllocated`, the default) or
//! how full they would be (`MostAllocated`) (score).

use serde::Deserialize;

use crate::framework::{FilterPlugin, MAX_NODE_SCORE, NodeInfo, PodInfo, ScorePlugin, Snapshot, Unfit};

/// How scoring ranks nodes (`scoringStrategy.type`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum ScoringStrategy {
    /// Prefer the emptiest nodes: spreads pods (the default).
    #[default]
    LeastAllocated,
    /// Prefer the fullest nodes: packs pods, leaving whole nodes free.
    MostAllocated,
}

/// A resource and its weight in the score (`scoringStrategy.resources`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceWeight {
    /// `cpu`, `memory`, or an extended resource.
    pub name: String,
    /// Its weight (absent or 0: 1).
    #[serde(default)]
    pub weight: i64,
}

/// The defaults kube-scheduler's `SetDefaults_*Args` apply: no resources means cpu and memory,
/// a weight of 0 means 1.
fn default_resources(mut resources: Vec<ResourceWeight>) -> Vec<ResourceWeight> {
    if resources.is_empty() {
        resources = ["cpu", "memory"]
            .map(|name| ResourceWeight {
                name: name.into(),
                weight: 1,
            })
            .into();
    }
    for r in &mut resources {
        if r.weight == 0 {
            r.weight = 1;
        }
    }
    resources
}

/// The plugin's arguments (`NodeResourcesFitArgs`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeResourcesFitArgs {
    /// How nodes are scored.
    #[serde(default)]
    pub scoring_strategy: ScoringStrategyArgs,
    /// Extended resources the filter does not check (managed elsewhere).
    #[serde(default)]
    pub ignored_resources: Vec<String>,
    /// Groups of extended resources (`example.com` for `example.com/gpu`) the filter does not
    /// check.
    #[serde(default)]
    pub ignored_resource_groups: Vec<String>,
}

/// `scoringStrategy`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ScoringStrategyArgs {
    /// `LeastAllocated` or `MostAllocated`.
    #[serde(rename = "type")]
    pub type_: ScoringStrategy,
    /// The resources scored, with weights (default cpu 1, memory 1).
    pub resources: Vec<ResourceWeight>,
}

impl Default for ScoringStrategyArgs {
    fn default() -> Self {
        Self {
            type_: ScoringStrategy::LeastAllocated,
            resources: ["cpu", "memory"]
                .map(|name| ResourceWeight {
                    name: name.into(),
                    weight: 1,
                })
                .into(),
        }
    }
}

/// The plugin (filter and score).
#[derive(Clone, Debug, Default)]
pub struct NodeResourcesFit {
    args: ScoringStrategyArgs,
    ignored: Vec<String>,
    ignored_groups: Vec<String>,
}

impl NodeResourcesFit {
    /// The plugin with these arguments (defaults applied).
    pub fn new(args: NodeResourcesFitArgs) -> Self {
        let mut strategy = args.scoring_strategy;
        strategy.resources = default_resources(strategy.resources);
        Self {
            args: strategy,
            ignored: args.ignored_resources,
            ignored_groups: args.ignored_resource_groups,
        }
    }

    fn is_ignored(&self, name: &str) -> bool {
        self.ignored.iter().any(|r| r == name)
            || name
                .split_once('/')
                .is_some_and(|(group, _)| self.ignored_groups.iter().any(|g| g == group))
    }
}

impl FilterPlugin for NodeResourcesFit {
    fn name(&self) -> &'static str {
        "NodeResourcesFit"
    }

    fn filter(&self, pod: &PodInfo, node: &NodeInfo) -> Result<(), Unfit> {
        let mut reasons = Vec::new();
        if node.pods.len() as i64 + 1 > node.allowed_pods {
            reasons.push("Too many pods".to_owned());
        }
        let (want, have, used) = (&pod.requests, &node.allocatable, &node.requested);
        let short = |w: i64, h: i64, u: i64| w > 0 && h < w + u;
        if short(want.milli_cpu, have.milli_cpu, used.milli_cpu) {
            reasons.push("Insufficient cpu".into());
        }
        if short(want.memory, have.memory, used.memory) {
            reasons.push("Insufficient memory".into());
        }
        if short(
            want.ephemeral_storage,
            have.ephemeral_storage,
            used.ephemeral_storage,
        ) {
            reasons.push("Insufficient ephemeral-storage".into());
        }
        for (name, w) in want.scalar.iter().filter(|(name, _)| !self.is_ignored(name)) {
            let h = have.scalar.get(name).copied().unwrap_or(0);
            let u = used.scalar.get(name).copied().unwrap_or(0);
            if short(*w, h, u) {
                reasons.push(format!("Insufficient {name}"));
            }
        }
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(Unfit { reasons })
        }
    }
}

/// What a node would have requested of `resource` with the pod on it, and what it offers;
/// CPU and memory as scoring counts them. `None` for an extended resource the pod does not ask
/// for, which is not scored.
fn requested_and_allocatable(
    resource: &str,
    pod: &PodInfo,
    node: &NodeInfo,
    non_zero: bool,
) -> Option<(i64, i64)> {
    let (have, used, want) = (&node.allocatable, &node.requested, &pod.requests);
    match resource {
        "cpu" if non_zero => Some((node.non_zero_requested.0 + pod.non_zero.0, have.milli_cpu)),
        "memory" if non_zero => Some((node.non_zero_requested.1 + pod.non_zero.1, have.memory)),
        "cpu" => Some((used.milli_cpu + want.milli_cpu, have.milli_cpu)),
        "memory" => Some((used.memory + want.memory, have.memory)),
        "ephemeral-storage" => Some((
            used.ephemeral_storage + want.ephemeral_storage,
            have.ephemeral_storage,
        )),
        other => {
            let w = want.scalar.get(other).copied().unwrap_or(0);
            (w > 0).then(|| {
                let u = used.scalar.get(other).copied().unwrap_or(0);
                (u + w, have.scalar.get(other).copied().unwrap_or(0))
            })
        }
    }
}

impl ScorePlugin for NodeResourcesFit {
    fn name(&self) -> &'static str {
        "NodeResourcesFit"
    }

    fn score(&self, pod: &PodInfo, node: &NodeInfo, _cluster: &Snapshot) -> i64 {
        let (mut total, mut weights) = (0, 0);
        for r in &self.args.resources {
            let Some((requested, capacity)) = requested_and_allocatable(&r.name, pod, node, true) else {
                continue;
            };
            if capacity == 0 {
                continue;
            }
            let score = match self.args.type_ {
                ScoringStrategy::LeastAllocated if requested > capacity => 0,
                ScoringStrategy::LeastAllocated => (capacity - requested) * MAX_NODE_SCORE / capacity,
                ScoringStrategy::MostAllocated => requested.min(capacity) * MAX_NODE_SCORE / capacity,
            };
            total += score * r.weight;
            weights += r.weight;
        }
        if weights == 0 { 0 } else { total / weights }
    }
}

/// `NodeResourcesBalancedAllocation`: prefers nodes whose resources (CPU and memory unless
/// configured) would be used in similar proportions with the pod on them, so that none runs out
/// while another idles. Pods that request neither CPU nor memory (BestEffort) are not scored.
pub struct BalancedAllocation {
    resources: Vec<String>,
}

/// The arguments of `NodeResourcesBalancedAllocation`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BalancedAllocationArgs {
    /// The resources compared (weights are read, as upstream, but do not matter here).
    #[serde(default)]
    pub resources: Vec<ResourceWeight>,
}

impl BalancedAllocation {
    /// The plugin with these arguments (defaults applied).
    pub fn new(args: BalancedAllocationArgs) -> Self {
        Self {
            resources: default_resources(args.resources)
                .into_iter()
                .map(|r| r.name)
                .collect(),
        }
    }
}

impl ScorePlugin for BalancedAllocation {
    fn name(&self) -> &'static str {
        "NodeResourcesBalancedAllocation"
    }

    fn score(&self, pod: &PodInfo, node: &NodeInfo, _cluster: &Snapshot) -> i64 {
        if pod.requests.milli_cpu == 0 && pod.requests.memory == 0 {
            return 0;
        }
        let fractions: Vec<f64> = self
            .resources
            .iter()
            .filter_map(|r| requested_and_allocatable(r, pod, node, false))
            .filter(|(_, capacity)| *capacity > 0)
            .map(|(requested, capacity)| (requested as f64 / capacity as f64).min(1.0))
            .collect();
        let std = match fractions.as_slice() {
            [] | [_] => 0.0,
            [a, b] => (a - b).abs() / 2.0,
            many => {
                let mean = many.iter().sum::<f64>() / many.len() as f64;
                (many.iter().map(|f| (f - mean).powi(2)).sum::<f64>() / many.len() as f64).sqrt()
            }
        };
        ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use k8s_openapi::api::core::v1::{Node, Pod};
    use serde_json::json;

    use super::*;

    fn node(cpu: &str, memory: &str, pods: &str) -> NodeInfo {
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": "n"},
            "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": pods, "example.com/gpu": "1"}},
        }))
        .unwrap();
        let mut info = NodeInfo::default();
        info.set_node(Arc::new(node));
        info
    }

    fn pod(name: &str, requests: serde_json::Value) -> Arc<PodInfo> {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"containers": [{"name": "c", "image": "i", "resources": {"requests": requests}}]},
        }))
        .unwrap();
        Arc::new(PodInfo::new(Arc::new(pod)))
    }

    #[test]
    fn filter_names_every_resource_that_is_short() {
        let mut n = node("1", "1Gi", "2");
        let fit = NodeResourcesFit::default();
        assert_eq!(
            fit.filter(&pod("a", json!({"cpu": "600m", "memory": "512Mi"})), &n),
            Ok(())
        );
        n.add_pod(pod("a", json!({"cpu": "600m", "memory": "512Mi"})));
        n.add_pod(pod("b", json!({})));
        let err = fit
            .filter(
                &pod(
                    "c",
                    json!({"cpu": "500m", "memory": "1Gi", "example.com/gpu": "2"}),
                ),
                &n,
            )
            .unwrap_err();
        assert_eq!(
            err.reasons,
            [
                "Too many pods",
                "Insufficient cpu",
                "Insufficient memory",
                "Insufficient example.com/gpu"
            ]
        );
        // A pod that requests nothing is stopped only by the pod count.
        n.remove_pod(&pod("b", json!({})).key);
        assert_eq!(fit.filter(&pod("d", json!({})), &n), Ok(()));
    }

    #[test]
    fn least_and_most_allocated_scores() {
        let n = node("4", "8Gi", "110");
        let p = pod("a", json!({"cpu": "1", "memory": "2Gi"}));
        // (4000-1000)/4000 = 75, (8-2)/8 = 75.
        assert_eq!(
            NodeResourcesFit::default().score(&p, &n, &Snapshot::default()),
            75
        );
        let most = NodeResourcesFit::new(
            serde_json::from_value(json!({"scoringStrategy": {"type": "MostAllocated"}})).unwrap(),
        );
        assert_eq!(most.score(&p, &n, &Snapshot::default()), 25);
        // Without requests scoring counts 100m and 200Mi: (4000-100)*100/4000 = 97, memory 97.
        assert_eq!(
            NodeResourcesFit::default().score(&pod("b", json!({})), &n, &Snapshot::default()),
            97
        );
    }

    #[test]
    fn arguments_take_kube_schedulers_defaults_and_typos_are_errors() {
        let args = |v: serde_json::Value| serde_json::from_value::<NodeResourcesFitArgs>(v);
        // No resources: cpu and memory; weight 0: 1.
        let fit = NodeResourcesFit::new(args(json!({"scoringStrategy": {"resources": []}})).unwrap());
        assert_eq!(
            fit.args
                .resources
                .iter()
                .map(|r| (r.name.as_str(), r.weight))
                .collect::<Vec<_>>(),
            [("cpu", 1), ("memory", 1)]
        );
        let fit = NodeResourcesFit::new(
            args(json!({"scoringStrategy": {"resources": [{"name": "cpu", "weight": 0}]}})).unwrap(),
        );
        assert_eq!(fit.args.resources[0].weight, 1);
        assert!(
            args(json!({"scoringStrategy": {"typ": "MostAllocated"}}))
                .unwrap_err()
                .to_string()
                .contains("unknown field `typ`")
        );
        assert!(args(json!({"scoringStrategy": {"type": "RequestedToCapacityRatio"}})).is_err());
    }

    #[test]
    fn ignored_extended_resources_are_not_checked() {
        let n = node("4", "8Gi", "110");
        let wants_gpus = pod("g", json!({"example.com/gpu": "4", "vendor.io/fpga": "1"}));
        let strict = NodeResourcesFit::default().filter(&wants_gpus, &n).unwrap_err();
        assert_eq!(
            strict.reasons,
            ["Insufficient example.com/gpu", "Insufficient vendor.io/fpga"]
        );
        let lenient = NodeResourcesFit::new(
            serde_json::from_value(
                json!({"ignoredResources": ["example.com/gpu"], "ignoredResourceGroups": ["vendor.io"]}),
            )
            .unwrap(),
        );
        assert_eq!(lenient.filter(&wants_gpus, &n), Ok(()));
    }

    #[test]
    fn balanced_allocation_prefers_even_use() {
        let n = node("4", "8Gi", "110");
        assert_eq!(
            BalancedAllocation::new(Default::default()).score(
                &pod("even", json!({"cpu": "2", "memory": "4Gi"})),
                &n,
                &Snapshot::default()
            ),
            100
        );
        // cpu 1/4 = 0.25, memory 6/8 = 0.75: std 0.25 -> 75.
        assert_eq!(
            BalancedAllocation::new(Default::default()).score(
                &pod("skewed", json!({"cpu": "1", "memory": "6Gi"})),
                &n,
                &Snapshot::default()
            ),
            75
        );
        assert_eq!(
            BalancedAllocation::new(Default::default()).score(
                &pod("besteffort", json!({})),
                &n,
                &Snapshot::default()
            ),
            0
        );
    }
}
