//! Reconcile metrics, under controller-runtime's names.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ResultLabels {
    controller: String,
    result: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ControllerLabel {
    controller: String,
}

/// The metrics of one controller:
/// - `controller_runtime_reconcile_total{controller, result}` with `result` one of `success`,
///   `requeue_after`, `error`;
/// - `controller_runtime_reconcile_errors_total{controller}`;
/// - `controller_runtime_reconcile_time_seconds{controller}` (histogram);
/// - `controller_runtime_active_workers{controller}` and `controller_runtime_max_concurrent_reconciles{controller}`.
#[derive(Debug, Clone)]
pub struct ControllerMetrics {
    name: String,
    total: Family<ResultLabels, Counter>,
    errors: Family<ControllerLabel, Counter>,
    time: Family<ControllerLabel, Histogram>,
    active: Family<ControllerLabel, Gauge>,
    max: Family<ControllerLabel, Gauge>,
}

impl ControllerMetrics {
    pub(crate) fn new(name: &str, workers: usize) -> Self {
        let this = Self {
            name: name.to_string(),
            total: Family::default(),
            errors: Family::default(),
            time: Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.001, 2.0, 18))),
            active: Family::default(),
            max: Family::default(),
        };
        this.max
            .get_or_create(&this.label())
            .set(i64::try_from(workers).unwrap_or(i64::MAX));
        this
    }

    fn label(&self) -> ControllerLabel {
        ControllerLabel {
            controller: self.name.clone(),
        }
    }

    /// Register the metrics (they stay shared with the controller).
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("controller_runtime");
        r.register("reconcile", "Reconciles by result", self.total.clone());
        r.register("reconcile_errors", "Reconciles that failed", self.errors.clone());
        r.register("reconcile_time_seconds", "Time per reconcile", self.time.clone());
        r.register("active_workers", "Workers reconciling now", self.active.clone());
        r.register(
            "max_concurrent_reconciles",
            "Configured number of workers",
            self.max.clone(),
        );
    }

    pub(crate) fn started(&self) {
        self.active.get_or_create(&self.label()).inc();
    }

    pub(crate) fn finished(&self, result: &'static str, took: Duration) {
        self.active.get_or_create(&self.label()).dec();
        self.total
            .get_or_create(&ResultLabels {
                controller: self.name.clone(),
                result,
            })
            .inc();
        if result == "error" {
            self.errors.get_or_create(&self.label()).inc();
        }
        self.time.get_or_create(&self.label()).observe(took.as_secs_f64());
    }

    /// Reconciles that ended with `result` (`success`, `requeue_after` or `error`).
    pub fn reconciles(&self, result: &'static str) -> u64 {
        self.total
            .get_or_create(&ResultLabels {
                controller: self.name.clone(),
                result,
            })
            .get()
    }

    /// Reconciles that failed.
    pub fn errors(&self) -> u64 {
        self.errors.get_or_create(&self.label()).get()
    }

    /// Workers reconciling right now.
    pub fn active_workers(&self) -> i64 {
        self.active.get_or_create(&self.label()).get()
    }
}
