//! The controller runtime: reconcile each object of a kind whenever it, or something it owns or
//! watches, changes — from shared informers' caches, through a rate-limited workqueue.
//!
//! ```no_run
//! # async fn run(client: kube_client::Client) {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use k8s_openapi::api::apps::v1::Deployment;
//! use k8s_openapi::api::core::v1::ConfigMap;
//! use kube_client::Api;
//! use kube_runtime::controller::{Action, Config, Controller};
//! use kube_runtime::informer::InformerOptions;
//! use tokio_util::sync::CancellationToken;
//!
//! #[derive(Debug, thiserror::Error)]
//! #[error("reconcile failed")]
//! struct Error;
//!
//! async fn reconcile(deploy: Arc<Deployment>, _ctx: Arc<()>) -> Result<Action, Error> {
//!     // Bring the world in line with `deploy`'s spec; return when to look again.
//!     Ok(Action::requeue(Duration::from_secs(300)))
//! }
//!
//! let shutdown = CancellationToken::new();
//! Controller::new(Api::<Deployment>::all(client.clone()), Config::default())
//!     .owns(Api::<ConfigMap>::all(client), InformerOptions::default())
//!     .run(reconcile, Arc::new(()), shutdown)
//!     .await;
//! # }
//! ```
//!
//! How it works, as client-go controllers and controller-runtime do:
//! - a shared informer watches the primary kind; additions and updates put the object's
//!   [`ObjectKey`](crate::reflector::ObjectKey) on a [`WorkQueue`](crate::workqueue::WorkQueue);
//! - [`Controller::owns`] watches another kind and queues the *controller owner* of each changed
//!   object; [`Controller::watches`] does the same through a mapping function of yours;
//! - once every cache has synced, `workers` tasks take keys off the queue and call the reconciler
//!   with the object read from the cache (deleted objects are skipped: use a
//!   [finalizer](crate::finalizer) to act on deletion). The queue guarantees that one key is
//!   never reconciled by two workers at once, and that a burst of changes to one object makes one
//!   reconcile;
//! - the reconciler returns an [`Action`]; an error requeues the key with per-item exponential
//!   backoff (5 ms doubling to 1000 s, together with an overall 10 qps / burst 100 bucket);
//! - the cancellation token stops it gracefully: no new reconciles start, running ones finish.

mod action;
mod builder;
mod metrics;
mod runner;

pub use self::action::Action;
pub use self::builder::{Config, Controller};
pub use self::metrics::ControllerMetrics;
