//! Workqueue metrics with client-go's names, exported through `prometheus-client`.
//!
//! Every queue records, labelled by its name (`name="..."`):
//!
//! | metric | type | meaning |
//! |---|---|---|
//! | `workqueue_depth` | gauge | items waiting to be handed out (including items re-added while being processed) |
//! | `workqueue_adds_total` | counter | adds that were not collapsed into a waiting item |
//! | `workqueue_queue_duration_seconds` | histogram | time from add to [`get`](super::WorkQueue::get) |
//! | `workqueue_work_duration_seconds` | histogram | time from [`get`](super::WorkQueue::get) to [`done`](super::WorkQueue::done) |
//! | `workqueue_unfinished_work_seconds` | gauge | summed age of the items being processed |
//! | `workqueue_longest_running_processor_seconds` | gauge | age of the oldest item being processed |
//! | `workqueue_retries_total` | counter | calls to [`add_after`](super::WorkQueue::add_after) and [`add_rate_limited`](super::WorkQueue::add_rate_limited) |
//!
//! Recording happens under the queue's own lock, which every add, get and done takes anyway:
//! a few integer increments and no extra synchronisation. Reading takes that lock once per
//! snapshot; the two "unfinished" gauges are computed then from the start times the queue keeps.
//! To export, create one [`MetricsCollector`], register it in your [`Registry`] and pass it to
//! each queue's [`QueueConfig::collector`](super::QueueConfig::collector).

use std::fmt;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use tokio::time::Instant;

/// Number of finite histogram buckets: 10ns, 100ns, ..., 10s (client-go's
/// `ExponentialBuckets(10e-9, 10, 10)`).
const BUCKETS: usize = 10;

/// Upper bounds of the finite buckets, in nanoseconds.
const BUCKET_BOUNDS_NANOS: [u64; BUCKETS] = {
    let mut bounds = [0; BUCKETS];
    let mut i = 0;
    let mut b = 10;
    while i < BUCKETS {
        bounds[i] = b;
        b *= 10;
        i += 1;
    }
    bounds
};

/// Upper bound of bucket `i` in seconds; `+Inf` past the finite ones.
fn bucket_bound_seconds(i: usize) -> f64 {
    BUCKET_BOUNDS_NANOS
        .get(i)
        .map_or(f64::INFINITY, |&n| n as f64 / 1e9)
}

/// A latency histogram with client-go's workqueue buckets.
#[derive(Clone, Debug, Default)]
struct Histogram {
    /// Per-bucket (not cumulative) counts; the last one is `+Inf`.
    buckets: [u64; BUCKETS + 1],
    count: u64,
    sum_nanos: u64,
}

impl Histogram {
    fn observe(&mut self, d: Duration) {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BUCKET_BOUNDS_NANOS
            .iter()
            .position(|&b| nanos <= b)
            .unwrap_or(BUCKETS);
        self.buckets[bucket] += 1;
        self.count += 1;
        self.sum_nanos = self.sum_nanos.saturating_add(nanos);
    }

    fn snapshot(&self) -> HistogramSnapshot {
        let mut cumulative = 0;
        let buckets = self
            .buckets
            .iter()
            .enumerate()
            .map(|(i, c)| {
                cumulative += c;
                (bucket_bound_seconds(i), cumulative)
            })
            .collect();
        HistogramSnapshot {
            count: self.count,
            sum: Duration::from_nanos(self.sum_nanos),
            buckets,
        }
    }
}

/// A point-in-time copy of a latency histogram.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HistogramSnapshot {
    /// Number of observations.
    pub count: u64,
    /// Sum of all observations.
    pub sum: Duration,
    /// `(upper bound in seconds, cumulative count)` per bucket; the last bound is `+Inf`.
    pub buckets: Vec<(f64, u64)>,
}

impl HistogramSnapshot {
    /// Number of observations no longer than `le_seconds` (the bucket with that upper bound).
    /// `None` if no bucket has that bound.
    pub fn count_le(&self, le_seconds: f64) -> Option<u64> {
        self.buckets
            .iter()
            .find(|(le, _)| *le == le_seconds)
            .map(|(_, c)| *c)
    }

    /// `(upper bound, count)` per bucket, not cumulative, as `prometheus-client` encodes them.
    fn per_bucket(&self) -> Vec<(f64, u64)> {
        let mut previous = 0;
        self.buckets
            .iter()
            .map(|&(le, cumulative)| {
                let count = cumulative - previous;
                previous = cumulative;
                (le, count)
            })
            .collect()
    }
}

/// All metrics of one queue, read at once (consistent with each other).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricsSnapshot {
    /// `workqueue_depth`: items waiting to be handed out, counting items re-added while being
    /// processed (they are handed out again after [`done`](super::WorkQueue::done)).
    pub depth: i64,
    /// `workqueue_adds_total`: adds that were not collapsed into an already waiting item.
    pub adds_total: u64,
    /// `workqueue_retries_total`: calls to `add_after` and `add_rate_limited` before shut down.
    pub retries_total: u64,
    /// `workqueue_queue_duration_seconds`: how long items waited between add and get.
    pub queue_duration: HistogramSnapshot,
    /// `workqueue_work_duration_seconds`: how long items took between get and done.
    pub work_duration: HistogramSnapshot,
    /// `workqueue_unfinished_work_seconds`: summed age of the items being processed.
    pub unfinished_work: Duration,
    /// `workqueue_longest_running_processor_seconds`: age of the oldest item being processed.
    pub longest_running_processor: Duration,
}

/// The counters a queue updates under its lock.
#[derive(Debug)]
pub(crate) struct Recorder {
    enabled: bool,
    depth: i64,
    adds: u64,
    retries: u64,
    queue_duration: Histogram,
    work_duration: Histogram,
}

impl Recorder {
    pub(crate) fn new(enabled: bool) -> Self {
        Self {
            enabled,
            depth: 0,
            adds: 0,
            retries: 0,
            queue_duration: Histogram::default(),
            work_duration: Histogram::default(),
        }
    }

    /// An item entered the dirty set (it will be handed out).
    pub(crate) fn added(&mut self) {
        if self.enabled {
            self.adds += 1;
            self.depth += 1;
        }
    }

    /// An item was handed out after waiting `waited` (`None` when metrics are off).
    pub(crate) fn got(&mut self, waited: Option<Duration>) {
        if self.enabled {
            self.depth -= 1;
        }
        if let Some(w) = waited {
            self.queue_duration.observe(w);
        }
    }

    /// An item was done after `worked`.
    pub(crate) fn done(&mut self, worked: Duration) {
        self.work_duration.observe(worked);
    }

    pub(crate) fn retried(&mut self) {
        if self.enabled {
            self.retries += 1;
        }
    }

    /// The values, with the ages of the items being processed.
    pub(crate) fn snapshot(&self, unfinished: Duration, longest: Duration) -> MetricsSnapshot {
        MetricsSnapshot {
            depth: self.depth,
            adds_total: self.adds,
            retries_total: self.retries,
            queue_duration: self.queue_duration.snapshot(),
            work_duration: self.work_duration.snapshot(),
            unfinished_work: unfinished,
            longest_running_processor: longest,
        }
    }
}

/// Where [`QueueMetrics`] reads from; implemented by the queue.
pub(crate) trait Source: Send + Sync {
    /// The queue's metrics at `now`.
    fn snapshot(&self, now: Instant) -> MetricsSnapshot;
}

struct Core {
    name: String,
    source: OnceLock<Weak<dyn Source>>,
}

/// One queue's metrics; cheap to clone. Obtained from [`WorkQueue::metrics`](super::WorkQueue::metrics).
///
/// The accessors read the current values (taking the queue's lock once), so tests can assert on
/// them without a registry. If the queue was built with
/// [`QueueConfig::metrics`](super::QueueConfig::metrics) off, or is gone, every value is zero.
#[derive(Clone)]
pub struct QueueMetrics {
    core: Arc<Core>,
}

impl fmt::Debug for QueueMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueMetrics")
            .field("name", &self.core.name)
            .finish_non_exhaustive()
    }
}

impl QueueMetrics {
    pub(crate) fn new(name: String) -> Self {
        Self {
            core: Arc::new(Core {
                name,
                source: OnceLock::new(),
            }),
        }
    }

    pub(crate) fn set_source(&self, source: Weak<dyn Source>) {
        let _ = self.core.source.set(source);
    }

    /// The queue's name, the `name` label of its series.
    pub fn name(&self) -> &str {
        &self.core.name
    }

    /// All values at once.
    pub fn snapshot(&self) -> MetricsSnapshot {
        self.core
            .source
            .get()
            .and_then(Weak::upgrade)
            .map(|q| q.snapshot(Instant::now()))
            .unwrap_or_default()
    }

    /// See [`MetricsSnapshot::depth`].
    pub fn depth(&self) -> i64 {
        self.snapshot().depth
    }

    /// See [`MetricsSnapshot::adds_total`].
    pub fn adds_total(&self) -> u64 {
        self.snapshot().adds_total
    }

    /// See [`MetricsSnapshot::retries_total`].
    pub fn retries_total(&self) -> u64 {
        self.snapshot().retries_total
    }

    /// See [`MetricsSnapshot::queue_duration`].
    pub fn queue_duration(&self) -> HistogramSnapshot {
        self.snapshot().queue_duration
    }

    /// See [`MetricsSnapshot::work_duration`].
    pub fn work_duration(&self) -> HistogramSnapshot {
        self.snapshot().work_duration
    }

    /// `workqueue_unfinished_work_seconds`: summed age of the items being processed now. A value
    /// growing without [`work_duration`](Self::work_duration) observations hints at stuck workers.
    pub fn unfinished_work_seconds(&self) -> f64 {
        self.snapshot().unfinished_work.as_secs_f64()
    }

    /// `workqueue_longest_running_processor_seconds`: age of the oldest item being processed now.
    pub fn longest_running_processor_seconds(&self) -> f64 {
        self.snapshot().longest_running_processor.as_secs_f64()
    }
}

/// Exports the metrics of any number of queues into a `prometheus-client` [`Registry`], one
/// series per queue labelled `name`, under client-go's metric names.
///
/// Register it once ([`register`](Self::register)) and hand a clone to every queue through
/// [`QueueConfig::collector`](super::QueueConfig::collector). Dropped queues disappear from the
/// output.
///
/// ```
/// use kube_runtime::workqueue::{MetricsCollector, QueueConfig, WorkQueue};
/// use prometheus_client::registry::Registry;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let mut registry = Registry::default();
/// let collector = MetricsCollector::default();
/// collector.register(&mut registry);
///
/// let queue = WorkQueue::new(QueueConfig::default().name("pods").collector(&collector));
/// queue.add("default/nginx".to_string());
///
/// let mut text = String::new();
/// prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
/// assert!(text.contains("workqueue_depth{name=\"pods\"} 1"));
/// assert!(text.contains("workqueue_adds_total{name=\"pods\"} 1"));
/// # }
/// ```
#[doc(alias = "MetricsProvider")]
#[derive(Clone, Default)]
pub struct MetricsCollector {
    queues: Arc<Mutex<Vec<Weak<Core>>>>,
}

impl fmt::Debug for MetricsCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsCollector")
            .field("queues", &self.live().len())
            .finish()
    }
}

impl MetricsCollector {
    /// Registers this collector in `registry`; its output follows the queues added later.
    pub fn register(&self, registry: &mut Registry) {
        registry.register_collector(Box::new(self.clone()));
    }

    /// Includes `metrics` in the output, as long as the queue is alive.
    pub fn add(&self, metrics: &QueueMetrics) {
        let mut queues = self.queues.lock();
        queues.retain(|q| q.strong_count() > 0);
        queues.push(Arc::downgrade(&metrics.core));
    }

    fn live(&self) -> Vec<QueueMetrics> {
        self.queues
            .lock()
            .iter()
            .filter_map(Weak::upgrade)
            .map(|core| QueueMetrics { core })
            .collect()
    }
}

impl Collector for MetricsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), fmt::Error> {
        let queues: Vec<_> = self.live().into_iter().map(|q| (q.snapshot(), q)).collect();
        if queues.is_empty() {
            return Ok(());
        }
        for metric in Metric::ALL {
            let mut family = encoder.encode_descriptor(metric.name(), metric.help(), None, metric.kind())?;
            for (s, q) in &queues {
                let labels = [("name", q.name())];
                let mut m = family.encode_family(&labels)?;
                let histogram = |h: &HistogramSnapshot| (h.sum.as_secs_f64(), h.count, h.per_bucket());
                match metric {
                    Metric::Depth => m.encode_gauge(&s.depth)?,
                    Metric::Adds => m.encode_counter::<NoLabelSet, _, u64>(&s.adds_total, None)?,
                    Metric::Retries => m.encode_counter::<NoLabelSet, _, u64>(&s.retries_total, None)?,
                    Metric::QueueDuration | Metric::WorkDuration => {
                        let (sum, count, buckets) = if metric == Metric::QueueDuration {
                            histogram(&s.queue_duration)
                        } else {
                            histogram(&s.work_duration)
                        };
                        m.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?
                    }
                    Metric::Unfinished => m.encode_gauge(&s.unfinished_work.as_secs_f64())?,
                    Metric::Longest => m.encode_gauge(&s.longest_running_processor.as_secs_f64())?,
                }
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Metric {
    Depth,
    Adds,
    QueueDuration,
    WorkDuration,
    Unfinished,
    Longest,
    Retries,
}

impl Metric {
    const ALL: [Self; 7] = [
        Self::Depth,
        Self::Adds,
        Self::QueueDuration,
        Self::WorkDuration,
        Self::Unfinished,
        Self::Longest,
        Self::Retries,
    ];

    /// The name without the `_total` suffix the encoder appends to counters.
    fn name(self) -> &'static str {
        match self {
            Self::Depth => "workqueue_depth",
            Self::Adds => "workqueue_adds",
            Self::QueueDuration => "workqueue_queue_duration_seconds",
            Self::WorkDuration => "workqueue_work_duration_seconds",
            Self::Unfinished => "workqueue_unfinished_work_seconds",
            Self::Longest => "workqueue_longest_running_processor_seconds",
            Self::Retries => "workqueue_retries",
        }
    }

    fn help(self) -> &'static str {
        match self {
            Self::Depth => "Current depth of workqueue",
            Self::Adds => "Total number of adds handled by workqueue",
            Self::QueueDuration => "How long in seconds an item stays in workqueue before being requested.",
            Self::WorkDuration => "How long in seconds processing an item from workqueue takes.",
            Self::Unfinished => {
                "How many seconds of work has been done that is in progress and hasn't been \
                 observed by work_duration. Large values indicate stuck threads."
            }
            Self::Longest => "How many seconds has the longest running processor for workqueue been running.",
            Self::Retries => "Total number of retries handled by workqueue",
        }
    }

    fn kind(self) -> MetricType {
        match self {
            Self::Depth | Self::Unfinished | Self::Longest => MetricType::Gauge,
            Self::Adds | Self::Retries => MetricType::Counter,
            Self::QueueDuration | Self::WorkDuration => MetricType::Histogram,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_client_go_exponential() {
        let mut h = Histogram::default();
        h.observe(Duration::from_nanos(5));
        h.observe(Duration::from_micros(3));
        h.observe(Duration::from_millis(50));
        h.observe(Duration::from_secs(100));
        let s = h.snapshot();
        assert_eq!(s.count, 4);
        assert_eq!(
            s.sum,
            Duration::from_nanos(5)
                + Duration::from_micros(3)
                + Duration::from_millis(50)
                + Duration::from_secs(100)
        );
        let bounds: Vec<f64> = s.buckets.iter().map(|(le, _)| *le).collect();
        assert_eq!(
            bounds,
            [
                1e-8,
                1e-7,
                1e-6,
                1e-5,
                1e-4,
                1e-3,
                1e-2,
                1e-1,
                1.0,
                10.0,
                f64::INFINITY
            ]
        );
        assert_eq!(s.count_le(1e-8), Some(1));
        assert_eq!(s.count_le(1e-6), Some(1));
        assert_eq!(s.count_le(1e-5), Some(2));
        assert_eq!(s.count_le(0.1), Some(3));
        assert_eq!(s.count_le(10.0), Some(3));
        assert_eq!(s.count_le(f64::INFINITY), Some(4));
        assert_eq!(s.count_le(0.5), None);
        let per_bucket: Vec<u64> = s.per_bucket().iter().map(|(_, c)| *c).collect();
        assert_eq!(per_bucket, [1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1]);
    }

    #[test]
    fn recorder_counts_only_when_enabled() {
        let mut on = Recorder::new(true);
        on.added();
        on.added();
        on.got(Some(Duration::from_millis(2)));
        on.done(Duration::from_secs(2));
        on.retried();
        let s = on.snapshot(Duration::from_secs(3), Duration::from_secs(2));
        assert_eq!((s.depth, s.adds_total, s.retries_total), (1, 2, 1));
        assert_eq!(s.queue_duration.count_le(0.01), Some(1));
        assert_eq!(s.work_duration.sum, Duration::from_secs(2));
        assert_eq!(s.unfinished_work, Duration::from_secs(3));

        let mut off = Recorder::new(false);
        off.added();
        off.got(None);
        off.retried();
        assert_eq!(
            off.snapshot(Duration::ZERO, Duration::ZERO),
            MetricsSnapshot {
                queue_duration: Histogram::default().snapshot(),
                work_duration: Histogram::default().snapshot(),
                ..MetricsSnapshot::default()
            }
        );
    }
}
