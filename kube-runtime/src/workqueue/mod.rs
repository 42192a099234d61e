//! Rate-limited work queues for controllers: client-go's `util/workqueue` in Rust.
//!
//! Start here: a [`WorkQueue`] hands keys to workers. Event handlers [`add`](WorkQueue::add)
//! keys, workers loop on [`get`](WorkQueue::get), reconcile, then call
//! [`done`](WorkQueue::done). On failure a worker [`add_rate_limited`](WorkQueue::add_rate_limited)
//! the key (per-item exponential backoff by default); on success it calls
//! [`forget`](WorkQueue::forget) to reset the backoff.
//!
//! The guarantees are client-go's: a key waiting in the queue is stored once however often it is
//! added, and a key is never handed to two workers at once (adding a key that is being processed
//! queues it again when it is done). See [`WorkQueue`] for the details, [`rate_limiter`] for the
//! limiters and [`metrics`] for the exported metrics.
//!
//! ```
//! use kube_runtime::workqueue::{QueueConfig, WorkQueue};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let queue: WorkQueue<String> = WorkQueue::new(QueueConfig::default().name("deployments"));
//!
//! let worker = tokio::spawn({
//!     let queue = queue.clone();
//!     async move {
//!         let mut reconciled = Vec::new();
//!         while let Some(key) = queue.get().await {
//!             let ok = !(key == "default/flaky" && queue.num_requeues(&key) == 0);
//!             if ok {
//!                 queue.forget(&key);
//!                 reconciled.push(key.clone());
//!             } else {
//!                 queue.add_rate_limited(key.clone()); // retried after 5ms
//!             }
//!             queue.done(&key);
//!             if reconciled.len() == 2 {
//!                 queue.shut_down();
//!             }
//!         }
//!         reconciled
//!     }
//! });
//!
//! queue.add("default/flaky".to_string());
//! queue.add("default/web".to_string());
//! queue.add("default/web".to_string()); // collapses with the waiting one
//!
//! let reconciled = worker.await.unwrap();
//! assert_eq!(reconciled, ["default/web", "default/flaky"]);
//! assert_eq!(queue.metrics().adds_total(), 3);
//! assert_eq!(queue.metrics().retries_total(), 1);
//! # }
//! ```

mod delaying;
pub mod metrics;
mod queue;
pub mod rate_limiter;

pub use metrics::{HistogramSnapshot, MetricsCollector, MetricsSnapshot, QueueMetrics};
pub use queue::{QueueConfig, WorkQueue};
pub use rate_limiter::{
    BucketRateLimiter, ItemExponentialRateLimiter, ItemFastSlowRateLimiter, MaxOfRateLimiter, RateLimiter,
    default_controller_rate_limiter,
};
