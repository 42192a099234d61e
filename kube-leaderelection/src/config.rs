//! Configuration of a [`LeaderElector`](crate::LeaderElector) and its validation.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::locks::ResourceLock;

/// client-go's `JitterFactor`: acquire retries wait `retry_period × (1 + rand[0, 1.2))`, and the
/// renew deadline must exceed `1.2 × retry_period`.
pub const JITTER_FACTOR: f64 = 1.2;

/// How a candidate competes for a lock. Defaults (client-go's): 15s / 10s / 2s.
///
/// # Safety margin
///
/// A leader that cannot renew cancels its work at most `retry_period + renew_deadline` after the
/// start of its last successful renewal. Another candidate can take over no earlier than
/// `lease_duration` after it observed that renewal, which is after the renewal started. The
/// margin `lease_duration - renew_deadline - retry_period` must therefore cover:
/// - the time the guarded work needs to stop once its cancellation token fires;
/// - the difference between the clock *rates* of the machines over one lease duration (clocks
///   need not agree on the time of day: record timestamps are never compared with local clocks).
///
/// With the defaults the margin is 3s.
#[derive(Clone)]
pub struct LeaderElectionConfig {
    /// The lock to compete for.
    pub lock: Arc<dyn ResourceLock>,
    /// How long non-leaders wait, after observing a change of the record, before they may take
    /// over. Written into the record as `leaseDurationSeconds` (whole seconds).
    pub lease_duration: Duration,
    /// How long the leader keeps retrying to renew before it gives up leadership.
    pub renew_deadline: Duration,
    /// How long to wait between attempts to acquire or renew.
    pub retry_period: Duration,
    /// On cancellation, write an empty holder (with `leaseDurationSeconds: 1`) so that another
    /// candidate can take over at once. Only safe if the guarded work has stopped by the time
    /// `run` returns, which the elector ensures for the token it hands out.
    pub release_on_cancel: bool,
    /// The name used in logs and metrics (`leader_election_master_status{name}`).
    pub name: String,
}

impl fmt::Debug for LeaderElectionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeaderElectionConfig")
            .field("lock", &self.lock.describe())
            .field("lease_duration", &self.lease_duration)
            .field("renew_deadline", &self.renew_deadline)
            .field("retry_period", &self.retry_period)
            .field("release_on_cancel", &self.release_on_cancel)
            .field("name", &self.name)
            .finish()
    }
}

impl LeaderElectionConfig {
    /// A configuration with client-go's defaults (15s / 10s / 2s, no release on cancel) and the
    /// lock's description as name.
    pub fn new(lock: impl ResourceLock + 'static) -> Self {
        let lock: Arc<dyn ResourceLock> = Arc::new(lock);
        Self {
            name: lock.describe(),
            lock,
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
            release_on_cancel: false,
        }
    }

    /// Check the durations as client-go's `NewLeaderElector` does.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.lease_duration <= self.renew_deadline {
            return Err(ConfigError::LeaseNotAboveRenew {
                lease_duration: self.lease_duration,
                renew_deadline: self.renew_deadline,
            });
        }
        if self.renew_deadline.as_secs_f64() <= JITTER_FACTOR * self.retry_period.as_secs_f64() {
            return Err(ConfigError::RenewNotAboveRetry {
                renew_deadline: self.renew_deadline,
                retry_period: self.retry_period,
            });
        }
        for (field, value) in [
            ("lease_duration", self.lease_duration),
            ("renew_deadline", self.renew_deadline),
            ("retry_period", self.retry_period),
        ] {
            if value.is_zero() {
                return Err(ConfigError::NotPositive(field));
            }
        }
        if self.lease_duration < Duration::from_secs(1) {
            return Err(ConfigError::LeaseBelowOneSecond(self.lease_duration));
        }
        if self.lock.identity().is_empty() {
            return Err(ConfigError::EmptyIdentity);
        }
        Ok(())
    }
}

/// Why a [`LeaderElectionConfig`] is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `lease_duration` must be greater than `renew_deadline`.
    #[error("lease_duration ({lease_duration:?}) must be greater than renew_deadline ({renew_deadline:?})")]
    LeaseNotAboveRenew {
        /// The configured lease duration.
        lease_duration: Duration,
        /// The configured renew deadline.
        renew_deadline: Duration,
    },
    /// `renew_deadline` must be greater than `1.2 × retry_period`.
    #[error("renew_deadline ({renew_deadline:?}) must be greater than 1.2 × retry_period ({retry_period:?})")]
    RenewNotAboveRetry {
        /// The configured renew deadline.
        renew_deadline: Duration,
        /// The configured retry period.
        retry_period: Duration,
    },
    /// A duration is zero.
    #[error("{0} must be greater than zero")]
    NotPositive(&'static str),
    /// The record stores whole seconds, so a lease shorter than a second would be written as 0.
    #[error("lease_duration ({0:?}) must be at least one second")]
    LeaseBelowOneSecond(Duration),
    /// The lock has no identity.
    #[error("the lock's identity must not be empty")]
    EmptyIdentity,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::locks::{Error, Result};
    use crate::record::LeaderElectionRecord;

    struct NoLock(&'static str);

    #[async_trait::async_trait]
    impl ResourceLock for NoLock {
        async fn get(&self) -> Result<(LeaderElectionRecord, Vec<u8>)> {
            Err(Error::Other("unused".into()))
        }
        async fn create(&self, _: &LeaderElectionRecord) -> Result<()> {
            Err(Error::Other("unused".into()))
        }
        async fn update(&self, _: &LeaderElectionRecord) -> Result<()> {
            Err(Error::Other("unused".into()))
        }
        fn identity(&self) -> &str {
            self.0
        }
        fn describe(&self) -> String {
            "ns/name".into()
        }
    }

    fn config(lease: u64, renew: u64, retry: u64) -> LeaderElectionConfig {
        let mut c = LeaderElectionConfig::new(NoLock("me"));
        c.lease_duration = Duration::from_millis(lease);
        c.renew_deadline = Duration::from_millis(renew);
        c.retry_period = Duration::from_millis(retry);
        c
    }

    #[test]
    fn defaults_are_valid() {
        let c = LeaderElectionConfig::new(NoLock("me"));
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(
            (
                c.lease_duration.as_secs(),
                c.renew_deadline.as_secs(),
                c.retry_period.as_secs()
            ),
            (15, 10, 2)
        );
        assert_eq!(c.name, "ns/name");
    }

    #[test]
    fn rejects_what_client_go_rejects() {
        assert!(matches!(
            config(10_000, 10_000, 2_000).validate(),
            Err(ConfigError::LeaseNotAboveRenew { .. })
        ));
        assert!(matches!(
            config(15_000, 2_400, 2_000).validate(),
            Err(ConfigError::RenewNotAboveRetry { .. })
        ));
        assert_eq!(config(15_000, 2_401, 2_000).validate(), Ok(()));
        assert_eq!(
            config(15_000, 10_000, 0).validate(),
            Err(ConfigError::NotPositive("retry_period"))
        );
        assert_eq!(
            config(900, 500, 100).validate(),
            Err(ConfigError::LeaseBelowOneSecond(Duration::from_millis(900)))
        );
        let mut c = config(15_000, 10_000, 2_000);
        c.lock = Arc::new(NoLock(""));
        assert_eq!(c.validate(), Err(ConfigError::EmptyIdentity));
    }

    #[test]
    fn elector_refuses_an_invalid_config() {
        let err = crate::LeaderElector::new(config(1_000, 2_000, 500)).unwrap_err();
        assert!(
            err.to_string().contains("must be greater than renew_deadline"),
            "{err}"
        );
    }
}
