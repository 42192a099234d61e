//! One scheduling decision, without I/O: filter every node, score the feasible ones, pick the
//! best (a random one among equals), or explain why none fits.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use rand::Rng;

use crate::framework::{NodeInfo, PodInfo, Snapshot};
use crate::profile::Profile;

/// Why a pod fits no node: the `FitError` whose text becomes the `FailedScheduling` event and
/// the `PodScheduled=False` condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FitError {
    /// How many nodes were considered.
    pub num_nodes: usize,
    /// How many nodes failed for each reason.
    pub reasons: BTreeMap<String, usize>,
}

impl fmt::Display for FitError {
    /// `0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu.`: the
    /// `"<count> <reason>"` entries sorted as strings, as kube-scheduler sorts them; `no nodes
    /// available to schedule pods` when there are no nodes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.num_nodes == 0 {
            return f.write_str("no nodes available to schedule pods");
        }
        let mut entries: Vec<String> = self.reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
        entries.sort();
        write!(
            f,
            "0/{} nodes are available: {}.",
            self.num_nodes,
            entries.join(", ")
        )
    }
}

impl std::error::Error for FitError {}

/// The node chosen for a pod, and how many nodes were feasible.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The node's name.
    pub node: String,
    /// How many nodes passed every filter.
    pub feasible: usize,
}

/// Filters and scores `nodes` for `pod` with `profile`'s plugins.
///
/// Filtering starts at `*next_start` (modulo the node count) and stops once
/// [`num_feasible_nodes_to_find`] nodes passed; `*next_start` then moves past the nodes
/// examined, so that successive pods start where the previous one stopped, as
/// kube-scheduler's `nextStartNodeIndex` does.
pub fn schedule(
    profile: &Profile,
    pod: &PodInfo,
    cluster: &Snapshot,
    next_start: &mut usize,
    rng: &mut impl Rng,
) -> Result<Placement, FitError> {
    let nodes = &cluster.nodes[..];
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let to_find = if profile.scores.is_empty() {
        1
    } else {
        num_feasible_nodes_to_find(profile.percentage_of_nodes_to_score, nodes.len())
    };
    let start = if nodes.is_empty() {
        0
    } else {
        *next_start % nodes.len()
    };
    let mut feasible: Vec<&Arc<NodeInfo>> = Vec::with_capacity(to_find.min(nodes.len()));
    let mut examined = 0;
    for node in nodes[start..].iter().chain(&nodes[..start]) {
        if feasible.len() >= to_find {
            break;
        }
        examined += 1;
        let unfit = profile
            .filters
            .iter()
            .find_map(|(_, f)| f.filter(pod, node).err());
        match unfit {
            None => feasible.push(node),
            Some(unfit) => {
                for r in unfit.reasons {
                    *reasons.entry(r).or_default() += 1;
                }
            }
        }
    }
    *next_start = start + examined;
    match feasible.len() {
        0 => {
            return Err(FitError {
                num_nodes: nodes.len(),
                reasons,
            });
        }
        1 => {
            return Ok(Placement {
                node: feasible[0].name().to_owned(),
                feasible: 1,
            });
        }
        _ => {}
    }
    let mut totals = vec![0i64; feasible.len()];
    let mut scores = vec![0i64; feasible.len()];
    for (_, plugin, weight) in &profile.scores {
        for (score, node) in scores.iter_mut().zip(&feasible) {
            *score = plugin.score(pod, node, cluster);
        }
        plugin.normalize(&mut scores);
        for (total, score) in totals.iter_mut().zip(&scores) {
            *total += score * weight;
        }
    }
    Ok(Placement {
        node: feasible[select_host(&totals, rng)].name().to_owned(),
        feasible: feasible.len(),
    })
}

/// kube-scheduler's `minFeasibleNodesToFind`: below this many nodes, every node is filtered.
pub const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;

/// kube-scheduler's `minFeasibleNodesPercentageToFind`: the adaptive percentage never goes lower.
pub const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: usize = 5;

/// How many feasible nodes a cycle looks for before it stops filtering (`numFeasibleNodesToFind`):
/// every node in clusters under 100 nodes; else `percentage` of them (`None` or `0`: adaptive,
/// `50 - nodes/125` percent, at least 5), never fewer than 100.
pub fn num_feasible_nodes_to_find(percentage: Option<i32>, num_nodes: usize) -> usize {
    if num_nodes < MIN_FEASIBLE_NODES_TO_FIND {
        return num_nodes;
    }
    let percentage = match percentage.filter(|p| *p > 0) {
        Some(p) if p >= 100 => return num_nodes,
        Some(p) => p as usize,
        None => 50usize
            .saturating_sub(num_nodes / 125)
            .max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND),
    };
    (num_nodes * percentage / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// The index of a highest total, uniformly at random among equal ones (reservoir sampling, as
/// kube-scheduler's `selectHost`).
pub fn select_host(totals: &[i64], rng: &mut impl Rng) -> usize {
    let mut best = 0;
    let mut ties = 0u32;
    for (i, total) in totals.iter().enumerate() {
        if *total > totals[best] {
            best = i;
            ties = 1;
        } else if *total == totals[best] {
            ties += 1;
            if rng.random_range(0..ties) == 0 {
                best = i;
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn fit_error_text_matches_kube_scheduler() {
        let e = FitError {
            num_nodes: 12,
            reasons: [("Insufficient cpu", 10), ("node(s) were unschedulable", 2)]
                .map(|(r, n)| (r.to_owned(), n))
                .into(),
        };
        // Sorted as strings: "10 ..." before "2 ...".
        assert_eq!(
            e.to_string(),
            "0/12 nodes are available: 10 Insufficient cpu, 2 node(s) were unschedulable."
        );
        let none = FitError {
            num_nodes: 0,
            reasons: BTreeMap::new(),
        };
        assert_eq!(none.to_string(), "no nodes available to schedule pods");
    }

    #[test]
    fn the_share_of_nodes_filtered_adapts_to_the_cluster_size() {
        let f = num_feasible_nodes_to_find;
        assert_eq!(f(None, 50), 50);
        assert_eq!(f(None, 200), 100); // 48 % of 200 is 96: at least 100
        assert_eq!(f(None, 1000), 420); // 42 %
        assert_eq!(f(None, 5000), 500); // 10 %
        assert_eq!(f(None, 10000), 500); // 50 - 80 < 5: 5 %
        assert_eq!(f(Some(0), 5000), 500);
        assert_eq!(f(Some(30), 5000), 1500);
        assert_eq!(f(Some(1), 5000), 100);
        assert_eq!(f(Some(100), 5000), 5000);
    }

    #[test]
    fn filtering_stops_early_and_the_next_pod_starts_where_it_stopped() {
        use crate::config::KubeSchedulerConfiguration;
        use k8s_openapi::api::core::v1::{Node, Pod};
        use serde_json::json;

        let nodes: Vec<Arc<NodeInfo>> = (0..300)
            .map(|i| {
                let node: Node = serde_json::from_value(json!({
                    "metadata": {"name": format!("n{i:03}")},
                    "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}},
                }))
                .unwrap();
                let mut info = NodeInfo::default();
                info.set_node(Arc::new(node));
                Arc::new(info)
            })
            .collect();
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": {"containers": [{"name": "c", "image": "i"}]}})).unwrap();
        let pod = PodInfo::new(Arc::new(pod));
        let cluster = Snapshot::of(nodes);
        let profile = KubeSchedulerConfiguration::default()
            .profiles()
            .unwrap()
            .remove(0);
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut next = 0;
        // 300 nodes: 48 % (144) are enough.
        let p = schedule(&profile, &pod, &cluster, &mut next, &mut rng).unwrap();
        assert_eq!((p.feasible, next), (144, 144));
        assert!(p.node.as_str() < "n144", "{}", p.node);
        let p = schedule(&profile, &pod, &cluster, &mut next, &mut rng).unwrap();
        assert_eq!((p.feasible, next), (144, 288));
        assert!(
            p.node.as_str() >= "n144" && p.node.as_str() < "n288",
            "{}",
            p.node
        );
        // The third wraps around.
        schedule(&profile, &pod, &cluster, &mut next, &mut rng).unwrap();
        assert_eq!(next % 300, 132);
    }

    #[test]
    fn ties_are_broken_at_random_and_evenly() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        assert_eq!(select_host(&[1, 5, 3], &mut rng), 1);
        let mut counts = [0; 4];
        for _ in 0..4000 {
            counts[select_host(&[9, 2, 9, 9], &mut rng)] += 1;
        }
        assert_eq!(counts[1], 0);
        for i in [0, 2, 3] {
            assert!((1100..1570).contains(&counts[i]), "{counts:?}");
        }
    }
}
