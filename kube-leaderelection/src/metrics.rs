//! Leader election metrics, rendered in the Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Counters of one elector, as client-go's `leaderMetricsAdapter` exports them.
///
/// - `leader_election_master_status{name}`: 1 while leading, else 0;
/// - `leader_election_transitions_total{name}`: how often this candidate became leader;
/// - `leader_election_slowpath_total{name}`: renewals that had to re-read the lock because the
///   optimistic update failed.
#[derive(Debug, Default)]
pub struct Metrics {
    name: String,
    leading: AtomicBool,
    transitions: AtomicU64,
    slowpath: AtomicU64,
}

impl Metrics {
    /// Metrics labelled `name`.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            ..Self::default()
        }
    }

    /// Whether the elector currently leads (`leader_election_master_status`).
    pub fn is_leading(&self) -> bool {
        self.leading.load(Ordering::Relaxed)
    }

    /// How often this candidate became leader.
    pub fn transitions(&self) -> u64 {
        self.transitions.load(Ordering::Relaxed)
    }

    /// How many renewals took the slow path (GET, then PUT).
    pub fn slowpath_total(&self) -> u64 {
        self.slowpath.load(Ordering::Relaxed)
    }

    pub(crate) fn leader_on(&self) {
        self.leading.store(true, Ordering::Relaxed);
        self.transitions.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn leader_off(&self) {
        self.leading.store(false, Ordering::Relaxed);
    }

    pub(crate) fn slowpath_exercised(&self) {
        self.slowpath.fetch_add(1, Ordering::Relaxed);
    }

    /// The metrics in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let name = self.name.replace('\\', "\\\\").replace('"', "\\\"");
        let mut out = String::new();
        for (metric, kind, help, value) in [
            (
                "leader_election_master_status",
                "gauge",
                "Whether this candidate leads (1) or not (0).",
                u64::from(self.is_leading()),
            ),
            (
                "leader_election_transitions_total",
                "counter",
                "Times this candidate became leader.",
                self.transitions(),
            ),
            (
                "leader_election_slowpath_total",
                "counter",
                "Renewals that took the slow path.",
                self.slowpath_total(),
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {metric} {help}\n# TYPE {metric} {kind}\n{metric}{{name=\"{name}\"}} {value}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_master_status() {
        let m = Metrics::new("kube-scheduler");
        m.leader_on();
        m.slowpath_exercised();
        let text = m.render();
        assert!(
            text.contains("leader_election_master_status{name=\"kube-scheduler\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("leader_election_transitions_total{name=\"kube-scheduler\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("leader_election_slowpath_total{name=\"kube-scheduler\"} 1\n"),
            "{text}"
        );
        m.leader_off();
        assert!(
            m.render()
                .contains("leader_election_master_status{name=\"kube-scheduler\"} 0\n")
        );
    }
}
