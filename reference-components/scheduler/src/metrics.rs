//! The scheduler's own metrics, in the Prometheus text format, named as kube-scheduler's:
//! `scheduler_schedule_attempts_total{result, profile}` and
//! `scheduler_pending_pods{queue="unschedulable"}`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// How a scheduling attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The pod was bound.
    Scheduled,
    /// No node fits.
    Unschedulable,
    /// Something failed (the binding).
    Error,
}

impl Outcome {
    const ALL: [Outcome; 3] = [Outcome::Scheduled, Outcome::Unschedulable, Outcome::Error];

    fn label(self) -> &'static str {
        match self {
            Outcome::Scheduled => "scheduled",
            Outcome::Unschedulable => "unschedulable",
            Outcome::Error => "error",
        }
    }
}

/// Counters kept across leadership terms.
#[derive(Debug, Default)]
pub struct SchedulerMetrics {
    attempts: BTreeMap<String, [AtomicU64; 3]>,
    unschedulable: AtomicI64,
}

impl SchedulerMetrics {
    /// Metrics for these profiles.
    pub fn new<'a>(profiles: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            attempts: profiles
                .into_iter()
                .map(|p| (p.to_owned(), Default::default()))
                .collect(),
            unschedulable: AtomicI64::new(0),
        }
    }

    /// Counts one attempt of `profile`.
    pub fn attempt(&self, profile: &str, outcome: Outcome) {
        if let Some(counters) = self.attempts.get(profile) {
            counters[outcome as usize].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How many attempts of `profile` ended with `outcome`.
    pub fn attempts(&self, profile: &str, outcome: Outcome) -> u64 {
        self.attempts
            .get(profile)
            .map_or(0, |c| c[outcome as usize].load(Ordering::Relaxed))
    }

    /// Sets how many pods wait as unschedulable.
    pub fn set_unschedulable(&self, n: usize) {
        self.unschedulable.store(n as i64, Ordering::Relaxed);
    }

    /// The metrics in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP scheduler_schedule_attempts_total Number of attempts to schedule pods, by the result.\n",
        );
        out.push_str("# TYPE scheduler_schedule_attempts_total counter\n");
        for (profile, counters) in &self.attempts {
            for outcome in Outcome::ALL {
                let n = counters[outcome as usize].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "scheduler_schedule_attempts_total{{profile=\"{profile}\",result=\"{}\"}} {n}",
                    outcome.label()
                );
            }
        }
        out.push_str("# HELP scheduler_pending_pods Number of pending pods, by the queue type.\n");
        out.push_str("# TYPE scheduler_pending_pods gauge\n");
        let _ = writeln!(
            out,
            "scheduler_pending_pods{{queue=\"unschedulable\"}} {}",
            self.unschedulable.load(Ordering::Relaxed)
        );
        out
    }
}
