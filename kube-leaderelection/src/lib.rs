//! Leader election over Lease, ConfigMap and Endpoints resource locks, wire-compatible with
//! client-go's `tools/leaderelection`.
//!
//! Start here: build a lock ([`LeaseLock`], [`ConfigMapLock`], [`EndpointsLock`] or a
//! [`MultiLock`] for migrations), wrap it in a [`LeaderElectionConfig`] and hand that to a
//! [`LeaderElector`]. [`LeaderElector::run`] competes for the lock and, while it holds it, runs the
//! `on_started_leading` work with a cancellation token that fires before any other candidate
//! could legally take the lock over.
//!
//! A component binary (a scheduler, a controller manager, an operator) can take its settings
//! from a component configuration or the `--leader-elect*` flags and run its main loop through
//! [`component::ComponentElection`].
//!
//! ```no_run
//! # use kube_leaderelection::{LeaderElector, LeaderElectionConfig, LeaseLock};
//! # use tokio_util::sync::CancellationToken;
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let client = kube_client::Client::try_default().await?;
//! let mut config = LeaderElectionConfig::new(LeaseLock::new(client, "default", "demo", "me"));
//! config.release_on_cancel = true;
//! let elector = LeaderElector::new(config)?
//!     .on_started_leading(|token: CancellationToken| async move { token.cancelled().await })
//!     .on_stopped_leading(|| println!("stopped leading"));
//! elector.run(CancellationToken::new()).await;
//! # Ok(()) }
//! ```

pub mod component;
mod config;
mod elector;
pub mod locks;
mod metrics;
mod record;

pub use config::{ConfigError, JITTER_FACTOR, LeaderElectionConfig};
pub use elector::{HealthError, LeaderElector, Phase};
pub use locks::{
    AnnotationLock, ConfigMapLock, EndpointsLock, LeaseLock, LockEvents, LockKind, MultiLock, ResourceLock,
};
pub use metrics::Metrics;
pub use record::{LEADER_ANNOTATION, LeaderElectionRecord, UNKNOWN_LEADER};
/// The token handed to `on_started_leading` (re-exported from `tokio-util`).
pub use tokio_util::sync::CancellationToken;
