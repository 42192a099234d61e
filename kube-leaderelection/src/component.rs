//! Leader election for a component binary, the way kube-scheduler and kube-controller-manager
//! set it up: the `leaderElection` settings of a component configuration, the `--leader-elect*`
//! flags (feature `clap`), and [`ComponentElection::run`], which runs the component's main loop
//! only while it leads and tells the caller to exit when leadership is lost.
//!
//! ```no_run
//! # use kube_leaderelection::component::{ComponentElection, LeaderElectionConfiguration};
//! # use kube_leaderelection::CancellationToken;
//! # async fn demo(client: kube_client::Client) -> Result<(), Box<dyn std::error::Error>> {
//! // The `leaderElection` stanza of a KubeSchedulerConfiguration, say.
//! let config: LeaderElectionConfiguration = serde_json::from_str(
//!     r#"{"leaderElect": true, "resourceName": "my-scheduler", "leaseDuration": "15s"}"#,
//! )?;
//! let shutdown = CancellationToken::new(); // fired on SIGTERM
//! ComponentElection::new(config, client, "my-scheduler")
//!     .run(shutdown, |leading: CancellationToken| async move {
//!         // The main loop; it must return once `leading` fires.
//!         leading.cancelled().await;
//!     })
//!     .await?; // Err(LeadershipLost): exit non-zero, as client-go components do
//! # Ok(()) }
//! ```

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use kube_client::Client;
use serde::{Deserialize, Serialize};

use crate::locks::{LockEvents, LockKind};
use crate::{CancellationToken, ConfigError, HealthError, LeaderElectionConfig, LeaderElector, Metrics};

/// component-base's `LeaderElectionConfiguration`: the `leaderElection` stanza of
/// KubeSchedulerConfiguration and KubeControllerManagerConfiguration, in the same JSON/YAML
/// shape (camelCase, durations as Go writes them: `15s`, `1m30s`).
///
/// Fields left out take the defaults kube-scheduler and kube-controller-manager use:
/// `leaderElect: true`, 15s / 10s / 2s, `resourceLock: leases`, `resourceNamespace:
/// kube-system`. `resourceName` has no default here (each component names its own lock):
/// [`ComponentElection::new`] fills an empty one with the component's name, as kube-scheduler's
/// and kube-controller-manager's defaulting does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LeaderElectionConfiguration {
    /// Gain leadership before running the main loop. Enable for replicated components.
    pub leader_elect: bool,
    /// How long non-leaders wait after observing a renewal before they may take over: the
    /// longest time a stopped leader keeps its slot.
    #[serde(with = "kube_core::duration::text")]
    pub lease_duration: Duration,
    /// How long the leader keeps retrying to renew before it stops leading.
    #[serde(with = "kube_core::duration::text")]
    pub renew_deadline: Duration,
    /// The wait between attempts to acquire or renew.
    #[serde(with = "kube_core::duration::text")]
    pub retry_period: Duration,
    /// The kind of lock object: `leases`, `configmaps`, `endpoints`, `configmapsleases`,
    /// `endpointsleases`.
    pub resource_lock: LockKind,
    /// The name of the lock object.
    pub resource_name: String,
    /// The namespace of the lock object.
    pub resource_namespace: String,
}

impl Default for LeaderElectionConfiguration {
    fn default() -> Self {
        Self {
            leader_elect: true,
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
            resource_lock: LockKind::Leases,
            resource_name: String::new(),
            resource_namespace: "kube-system".into(),
        }
    }
}

impl LeaderElectionConfiguration {
    /// The defaults, with the lock named after `component` (kube-scheduler's lock is the Lease
    /// `kube-system/kube-scheduler`).
    pub fn for_component(component: &str) -> Self {
        Self {
            resource_name: component.into(),
            ..Self::default()
        }
    }
}

/// The `--leader-elect*` flags of kube-scheduler and kube-controller-manager (component-base's
/// `BindLeaderElectionFlags`), for a `clap` parser: `#[command(flatten)]` them into the
/// component's arguments and turn them into a configuration with
/// [`configuration`](Self::configuration).
///
/// As with Go's flags, `--leader-elect` alone means true and `--leader-elect=false` turns
/// election off.
#[cfg(feature = "clap")]
#[derive(clap::Args, Clone, Debug, PartialEq, Eq)]
pub struct LeaderElectionFlags {
    /// Start a leader election client and gain leadership before executing the main loop.
    /// Enable this when running replicated components for high availability.
    #[arg(
        long = "leader-elect",
        default_value_t = true,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub leader_elect: bool,
    /// The duration that non-leader candidates wait after observing a leadership renewal before
    /// they try to acquire leadership of a led but unrenewed slot: effectively the longest a
    /// leader can be stopped before another candidate replaces it.
    #[arg(long = "leader-elect-lease-duration", default_value = "15s", value_parser = kube_core::duration::parse)]
    pub lease_duration: Duration,
    /// The interval between attempts by the acting leader to renew its slot before it stops
    /// leading. Must be less than the lease duration.
    #[arg(long = "leader-elect-renew-deadline", default_value = "10s", value_parser = kube_core::duration::parse)]
    pub renew_deadline: Duration,
    /// The duration clients wait between attempts to acquire and renew leadership.
    #[arg(long = "leader-elect-retry-period", default_value = "2s", value_parser = kube_core::duration::parse)]
    pub retry_period: Duration,
    /// The kind of object used for locking: leases, configmaps, endpoints, configmapsleases or
    /// endpointsleases.
    #[arg(long = "leader-elect-resource-lock", default_value = "leases")]
    pub resource_lock: LockKind,
    /// The name of the lock object (default: the component's name).
    #[arg(long = "leader-elect-resource-name")]
    pub resource_name: Option<String>,
    /// The namespace of the lock object.
    #[arg(long = "leader-elect-resource-namespace", default_value = "kube-system")]
    pub resource_namespace: String,
}

#[cfg(feature = "clap")]
impl LeaderElectionFlags {
    /// The configuration these flags describe, the lock named after `component` unless
    /// `--leader-elect-resource-name` names it.
    pub fn configuration(&self, component: &str) -> LeaderElectionConfiguration {
        LeaderElectionConfiguration {
            leader_elect: self.leader_elect,
            lease_duration: self.lease_duration,
            renew_deadline: self.renew_deadline,
            retry_period: self.retry_period,
            resource_lock: self.resource_lock,
            resource_name: self
                .resource_name
                .clone()
                .unwrap_or_else(|| component.to_string()),
            resource_namespace: self.resource_namespace.clone(),
        }
    }

    /// Lays the flags given on the command line over `config` (read from a configuration
    /// file), leaving every other setting as the file has it: what kube-scheduler does with
    /// `--config` and `--leader-elect*` together (`ApplyLeaderElectionTo`). `matches` are those
    /// of the command these flags are flattened into.
    pub fn apply_explicit(&self, matches: &clap::ArgMatches, config: &mut LeaderElectionConfiguration) {
        let given = |id: &str| {
            matches!(
                matches.value_source(id),
                Some(clap::parser::ValueSource::CommandLine | clap::parser::ValueSource::EnvVariable)
            )
        };
        if given("leader_elect") {
            config.leader_elect = self.leader_elect;
        }
        if given("lease_duration") {
            config.lease_duration = self.lease_duration;
        }
        if given("renew_deadline") {
            config.renew_deadline = self.renew_deadline;
        }
        if given("retry_period") {
            config.retry_period = self.retry_period;
        }
        if given("resource_lock") {
            config.resource_lock = self.resource_lock;
        }
        if let Some(name) = self.resource_name.as_ref().filter(|_| given("resource_name")) {
            config.resource_name = name.clone();
        }
        if given("resource_namespace") {
            config.resource_namespace = self.resource_namespace.clone();
        }
    }
}

/// Why [`ComponentElection::run`] returned an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComponentError {
    /// The configuration cannot elect (durations out of order, no lock name, ...).
    #[error("invalid leader election configuration: {0}")]
    Config(#[from] ConfigError),
    /// Neither the configuration nor the component names the lock object.
    #[error("invalid leader election configuration: resourceName must not be empty")]
    NoResourceName,
    /// Leadership was lost while the component was still meant to run. The main loop has
    /// stopped; a client-go component exits now (`leaderelection lost`) and lets its
    /// supervisor restart it as a fresh candidate.
    #[error("leader election lost: {lock}")]
    LeadershipLost {
        /// The lock whose leadership was lost.
        lock: String,
    },
}

/// A component's leader election: runs the main loop only while leading (or at once when the
/// configuration does not elect).
#[derive(Debug)]
pub struct ComponentElection {
    config: LeaderElectionConfiguration,
    client: Client,
    component: String,
    identity: String,
    release_on_cancel: bool,
    monitor: ElectionMonitor,
}

/// What a component serves about its election while [`ComponentElection::run`] runs: the
/// `/healthz` check (client-go's `HealthzAdaptor`) and the elector's metrics. Cheap to clone;
/// take it before `run`.
#[derive(Clone, Debug)]
pub struct ElectionMonitor {
    elector: Arc<OnceLock<Arc<LeaderElector>>>,
    tolerance: Duration,
}

impl ElectionMonitor {
    /// Healthy unless this replica is leading but has not renewed for longer than the lease
    /// duration plus the tolerance (20s unless set with
    /// [`ComponentElection::health_tolerance`], as kube-scheduler and kube-controller-manager
    /// set it): then its main loop is stuck past its token and another replica may already lead.
    /// Healthy without election and before the election starts.
    pub fn check(&self) -> Result<(), HealthError> {
        match self.elector.get() {
            Some(elector) => elector.check(self.tolerance),
            None => Ok(()),
        }
    }

    /// Whether this replica leads now.
    pub fn is_leader(&self) -> bool {
        self.elector
            .get()
            .is_some_and(|e| e.phase() == crate::Phase::Leader)
    }

    /// The elector's metrics (`leader_election_master_status{name}`, ...), once the election
    /// has started.
    pub fn metrics(&self) -> Option<Arc<Metrics>> {
        self.elector.get().map(|e| e.metrics())
    }
}

impl ComponentElection {
    /// The election `config` describes for `component` (the name in logs, metrics and the
    /// `source.component` of the lock's Events, and of the lock when `resourceName` is empty),
    /// with identity `<hostname>_<uuid>` as client-go components choose theirs and the lock
    /// released on shutdown.
    pub fn new(mut config: LeaderElectionConfiguration, client: Client, component: &str) -> Self {
        if config.resource_name.is_empty() {
            config.resource_name = component.into();
        }
        Self {
            config,
            client,
            component: component.into(),
            identity: default_identity(),
            release_on_cancel: true,
            monitor: ElectionMonitor {
                elector: Arc::default(),
                tolerance: Duration::from_secs(20),
            },
        }
    }

    /// The health check's tolerance past the lease duration (default 20s).
    pub fn health_tolerance(mut self, tolerance: Duration) -> Self {
        self.monitor.tolerance = tolerance;
        self
    }

    /// The health check and metrics of this election, for the component's `/healthz` and
    /// `/metrics`.
    pub fn monitor(&self) -> ElectionMonitor {
        self.monitor.clone()
    }

    /// Use `identity` instead of `<hostname>_<uuid>`.
    pub fn identity(mut self, identity: &str) -> Self {
        self.identity = identity.into();
        self
    }

    /// Whether to write an empty holder on shutdown so that a successor takes over at once
    /// (kube-scheduler does; the default here).
    pub fn release_on_cancel(mut self, release: bool) -> Self {
        self.release_on_cancel = release;
        self
    }

    /// The identity this candidate holds the lock as.
    pub fn holder_identity(&self) -> &str {
        &self.identity
    }

    /// The elector this election runs, without its `on_started_leading` work (for a custom loop
    /// or health checks); `None` when the configuration does not elect.
    pub fn elector(&self) -> Result<Option<LeaderElector>, ComponentError> {
        if !self.config.leader_elect {
            return Ok(None);
        }
        if self.config.resource_name.is_empty() {
            return Err(ComponentError::NoResourceName);
        }
        let c = &self.config;
        let lock = c.resource_lock.build_with_events(
            self.client.clone(),
            &c.resource_namespace,
            &c.resource_name,
            &self.identity,
            Some(LockEvents::new(self.client.clone(), &self.component)),
        );
        let elector = LeaderElector::new(LeaderElectionConfig {
            lock,
            lease_duration: c.lease_duration,
            renew_deadline: c.renew_deadline,
            retry_period: c.retry_period,
            release_on_cancel: self.release_on_cancel,
            name: self.component.clone(),
        })?;
        Ok(Some(elector))
    }

    /// Run `main_loop` while leading, until `shutdown` fires or the loop returns by itself.
    ///
    /// - Without election, `main_loop` runs at once with `shutdown` as its token.
    /// - With election, it runs once this candidate holds the lock, with a token that fires when
    ///   `shutdown` fires or leadership is lost, before another candidate could legally take
    ///   over. It must return once its token fires.
    ///
    /// `Ok` when `shutdown` fired or the loop returned by itself (the lock is then released, if
    /// so configured); [`ComponentError::LeadershipLost`] when leadership ended otherwise, after
    /// the loop has returned.
    pub async fn run<F, Fut>(self, shutdown: CancellationToken, main_loop: F) -> Result<(), ComponentError>
    where
        F: Fn(CancellationToken) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Some(elector) = self.elector()? else {
            main_loop(shutdown).await;
            return Ok(());
        };
        // A loop that returns while still leading ends the election as a shutdown would.
        let stop = shutdown.child_token();
        let finished = Arc::new(AtomicBool::new(false));
        let elector = elector.on_started_leading({
            let (stop, finished) = (stop.clone(), finished.clone());
            move |leading: CancellationToken| {
                let (stop, finished) = (stop.clone(), finished.clone());
                let work = main_loop(leading.clone());
                async move {
                    work.await;
                    if !leading.is_cancelled() {
                        finished.store(true, Ordering::SeqCst);
                        stop.cancel();
                    }
                }
            }
        });
        let lock = elector.config().lock.describe();
        let elector = Arc::new(elector);
        // `run` takes `self`, so the slot is still empty.
        let _ = self.monitor.elector.set(elector.clone());
        tracing::info!(component = %self.component, identity = %self.identity, %lock, "attempting to acquire the leader lease");
        elector.run(stop).await;
        if shutdown.is_cancelled() || finished.load(Ordering::SeqCst) {
            Ok(())
        } else {
            tracing::error!(component = %self.component, %lock, "leader election lost");
            Err(ComponentError::LeadershipLost { lock })
        }
    }
}

/// `<hostname>_<random uuid>`, the identity kube-scheduler and kube-controller-manager use: unique
/// per process, and it says which machine holds the lock.
pub fn default_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "localhost".into());
    format!("{host}_{}", uuid::Uuid::new_v4())
}
