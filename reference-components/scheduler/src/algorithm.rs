//! One scheduling decision, without I/O: filter every node, score the feasible ones, pick the
//! best (a random one among equals), or explain why none fits.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use rand::Rng;

use crate::framework::{NodeInfo, PodInfo};
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
pub fn schedule(
    profile: &Profile,
    pod: &PodInfo,
    nodes: &[Arc<NodeInfo>],
    rng: &mut impl Rng,
) -> Result<Placement, FitError> {
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let feasible: Vec<&Arc<NodeInfo>> = nodes
        .iter()
        .filter(|node| {
            for (_, filter) in &profile.filters {
                if let Err(unfit) = filter.filter(pod, node) {
                    for r in unfit.reasons {
                        *reasons.entry(r).or_default() += 1;
                    }
                    return false;
                }
            }
            true
        })
        .collect();
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
            *score = plugin.score(pod, node);
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
