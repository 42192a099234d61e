//! The `LeaderElector`: client-go's acquire / renew / release loop.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::{Instant, sleep, sleep_until};
use tokio_util::sync::CancellationToken;

use crate::config::{ConfigError, JITTER_FACTOR, LeaderElectionConfig};
use crate::locks::{self, ResourceLock};
use crate::metrics::Metrics;
use crate::record::LeaderElectionRecord;

type StartedFn = Box<dyn Fn(CancellationToken) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;
type StoppedFn = Box<dyn Fn() + Send + Sync>;
type NewLeaderFn = Box<dyn Fn(&str) + Send + Sync>;

/// Where this candidate stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Trying to acquire the lock.
    Candidate,
    /// Holding the lock; the work started by `on_started_leading` runs.
    Leader,
    /// `run` has returned.
    Stopped,
}

/// What the elector last saw in the lock.
#[derive(Debug)]
struct Observed {
    record: LeaderElectionRecord,
    raw: Vec<u8>,
    /// Local time at which `record` was last seen to change (never a time from the record).
    time: Option<Instant>,
    reported_leader: String,
    phase: Phase,
}

/// What to do with a freshly read record (the pure part of `tryAcquireOrRenew`).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Somebody else holds an unexpired lock: do nothing.
    Wait,
    /// Write this record.
    Write(LeaderElectionRecord),
}

/// Decide, from the record just read, whether and what to write.
///
/// `desired` is our record with fresh times; `lease_valid` says whether less than the record's
/// lease duration has passed since we observed it change.
pub(crate) fn plan(
    current: &LeaderElectionRecord,
    identity: &str,
    lease_valid: bool,
    mut desired: LeaderElectionRecord,
) -> Plan {
    let we_hold = current.holder_identity == identity;
    if current.is_held() && lease_valid && !we_hold {
        return Plan::Wait;
    }
    if we_hold {
        desired.acquire_time = current.acquire_time;
        desired.leader_transitions = current.leader_transitions;
    } else {
        desired.leader_transitions = current.leader_transitions + 1;
    }
    Plan::Write(desired)
}

/// Competes for a [`ResourceLock`] and runs the leader's work while it holds it.
///
/// ```no_run
/// # use kube_leaderelection::{LeaderElector, LeaderElectionConfig, LeaseLock};
/// # use tokio_util::sync::CancellationToken;
/// # async fn demo(client: kube_client::Client) -> Result<(), Box<dyn std::error::Error>> {
/// let lock = LeaseLock::new(client, "kube-system", "my-controller", "pod-a");
/// let elector = LeaderElector::new(LeaderElectionConfig::new(lock))?
///     .on_started_leading(|leading: CancellationToken| async move {
///         // Do the work until `leading` fires.
///         leading.cancelled().await;
///     })
///     .on_new_leader(|id| println!("new leader: {id}"));
/// elector.run(CancellationToken::new()).await;
/// # Ok(()) }
/// ```
#[doc(alias = "leaderelection")]
pub struct LeaderElector {
    config: LeaderElectionConfig,
    started: Option<StartedFn>,
    stopped: Option<StoppedFn>,
    new_leader: Option<NewLeaderFn>,
    observed: Mutex<Observed>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for LeaderElector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderElector")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Why the health check fails.
#[derive(Debug, thiserror::Error)]
#[error("leader election {name}: leading but the lock was not renewed for {since:?}")]
pub struct HealthError {
    /// The elector's name.
    pub name: String,
    /// Time since the last successful renewal.
    pub since: Duration,
}

impl LeaderElector {
    /// An elector for `config`, or the reason the configuration is invalid.
    pub fn new(config: LeaderElectionConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            metrics: Arc::new(Metrics::new(&config.name)),
            config,
            started: None,
            stopped: None,
            new_leader: None,
            observed: Mutex::new(Observed {
                record: LeaderElectionRecord::default(),
                raw: Vec::new(),
                time: None,
                reported_leader: String::new(),
                phase: Phase::Candidate,
            }),
        })
    }

    /// Work to run while leading. It is spawned when leadership is acquired and receives a token
    /// that fires when leadership is lost or `run` is cancelled; it must stop promptly then (see
    /// the safety margin on [`LeaderElectionConfig`]). `run` waits for it to finish before it
    /// releases the lock and returns.
    pub fn on_started_leading<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(CancellationToken) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.started = Some(Box::new(move |token| Box::pin(f(token))));
        self
    }

    /// Called once the work has stopped after leadership ended (not if we never led).
    pub fn on_stopped_leading(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.stopped = Some(Box::new(f));
        self
    }

    /// Called with the holder's identity (ours included) each time a different, non-empty holder
    /// is observed.
    pub fn on_new_leader(mut self, f: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.new_leader = Some(Box::new(f));
        self
    }

    /// The configuration.
    pub fn config(&self) -> &LeaderElectionConfig {
        &self.config
    }

    /// The elector's metrics.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Where this candidate stands.
    pub fn phase(&self) -> Phase {
        self.state().phase
    }

    /// The holder last observed in the lock (empty if none).
    pub fn leader(&self) -> String {
        self.state().record.holder_identity.clone()
    }

    /// Whether the last observed record names us as holder.
    pub fn is_leader(&self) -> bool {
        self.state().record.holder_identity == self.config.lock.identity()
    }

    /// Health check (client-go's `HealthzAdaptor`): fails while leading but not having renewed for
    /// longer than the lease duration plus `tolerance`.
    pub fn check(&self, tolerance: Duration) -> Result<(), HealthError> {
        let st = self.state();
        if st.phase != Phase::Leader {
            return Ok(());
        }
        let since = st.time.map(|t| t.elapsed()).unwrap_or_default();
        if since > self.config.lease_duration + tolerance {
            return Err(HealthError {
                name: self.config.name.clone(),
                since,
            });
        }
        Ok(())
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Observed> {
        self.observed.lock().expect("elector state poisoned")
    }

    fn lock(&self) -> &dyn ResourceLock {
        &*self.config.lock
    }

    /// Bound one lock call by `renew_deadline / 2`, as client-go's lock clients are.
    async fn call<T>(&self, fut: impl Future<Output = locks::Result<T>>) -> locks::Result<T> {
        tokio::time::timeout(self.config.renew_deadline / 2, fut)
            .await
            .unwrap_or_else(|_| Err(locks::Error::Timeout(self.lock().describe())))
    }

    fn set_observed(&self, record: LeaderElectionRecord) {
        let mut st = self.state();
        st.record = record;
        st.time = Some(Instant::now());
    }

    fn lease_valid(&self, st: &Observed, now: Instant) -> bool {
        let secs = st.record.lease_duration_seconds.max(0) as u64;
        st.time.is_some_and(|t| t + Duration::from_secs(secs) > now)
    }

    /// One attempt to acquire or renew the lock (client-go's `tryAcquireOrRenew`).
    pub async fn try_acquire_or_renew(&self) -> bool {
        let now = Instant::now();
        let wall = jiff::Timestamp::now();
        let identity = self.lock().identity().to_string();
        let mut desired = LeaderElectionRecord {
            holder_identity: identity.clone(),
            lease_duration_seconds: self.config.lease_duration.as_secs() as i64,
            acquire_time: Some(wall),
            renew_time: Some(wall),
            leader_transitions: 0,
        };

        // 1. Fast path: the leader updates the object it last saw.
        let fast = {
            let st = self.state();
            (st.record.holder_identity == identity && self.lease_valid(&st, now)).then(|| st.record.clone())
        };
        if let Some(old) = fast {
            desired.acquire_time = old.acquire_time;
            desired.leader_transitions = old.leader_transitions;
            match self.call(self.lock().update(&desired)).await {
                Ok(()) => {
                    self.set_observed(desired);
                    return true;
                }
                Err(e) => {
                    tracing::debug!(lock = %self.lock().describe(), error = %e, "optimistic renew failed, falling back to the slow path")
                }
            }
        }

        // 2. Read the record, or create the object.
        let (current, raw) = match self.call(self.lock().get()).await {
            Ok(got) => got,
            Err(e) if e.is_not_found() => {
                return match self.call(self.lock().create(&desired)).await {
                    Ok(()) => {
                        self.set_observed(desired);
                        true
                    }
                    Err(e) => {
                        tracing::warn!(lock = %self.lock().describe(), error = %e, "creating the lock failed");
                        false
                    }
                };
            }
            Err(e) => {
                tracing::warn!(lock = %self.lock().describe(), error = %e, "reading the lock failed");
                return false;
            }
        };

        // 3. Restart the expiry clock whenever the raw record changes.
        let (we_hold, lease_valid) = {
            let mut st = self.state();
            if st.raw != raw {
                st.record = current.clone();
                st.raw = raw;
                st.time = Some(Instant::now());
            }
            (st.record.holder_identity == identity, self.lease_valid(&st, now))
        };

        // 4. Write if free, expired, or ours.
        match plan(&current, &identity, lease_valid, desired) {
            Plan::Wait => {
                tracing::debug!(lock = %self.lock().describe(), holder = %current.holder_identity, "lock is held and has not expired");
                false
            }
            Plan::Write(record) => {
                if we_hold {
                    self.metrics.slowpath_exercised();
                }
                match self.call(self.lock().update(&record)).await {
                    Ok(()) => {
                        self.set_observed(record);
                        true
                    }
                    Err(e) => {
                        tracing::debug!(lock = %self.lock().describe(), error = %e, "updating the lock failed");
                        false
                    }
                }
            }
        }
    }

    fn maybe_report_transition(&self) {
        let holder = {
            let mut st = self.state();
            if st.record.holder_identity == st.reported_leader || !st.record.is_held() {
                return;
            }
            st.reported_leader = st.record.holder_identity.clone();
            st.reported_leader.clone()
        };
        if let Some(f) = &self.new_leader {
            f(&holder);
        }
    }

    /// Acquire; returns the start of the successful attempt, or `None` if cancelled.
    async fn acquire(&self, shutdown: &CancellationToken) -> Option<Instant> {
        tracing::info!(lock = %self.lock().describe(), identity = %self.lock().identity(), "attempting to acquire leader lease");
        loop {
            let start = Instant::now();
            let ok = tokio::select! {
                _ = shutdown.cancelled() => return None,
                ok = self.try_acquire_or_renew() => ok,
            };
            self.maybe_report_transition();
            if ok {
                return Some(start);
            }
            let wait = self
                .config
                .retry_period
                .mul_f64(1.0 + rand::random::<f64>() * JITTER_FACTOR);
            tokio::select! {
                _ = shutdown.cancelled() => return None,
                _ = sleep(wait) => {}
            }
        }
    }

    /// Renew until leadership is lost or `shutdown` fires. `last_ok` is the start of the last
    /// successful write: the work is cancelled at `last_ok + retry_period + renew_deadline` at
    /// the latest.
    async fn renew(&self, shutdown: &CancellationToken, mut last_ok: Instant) {
        let mut next_attempt = Instant::now() + self.config.retry_period;
        loop {
            let deadline = last_ok + self.config.retry_period + self.config.renew_deadline;
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = sleep_until(next_attempt.min(deadline)) => {}
            }
            if Instant::now() >= deadline {
                break;
            }
            let start = Instant::now();
            let ok = tokio::select! {
                biased;
                _ = sleep_until(deadline) => break,
                _ = shutdown.cancelled() => return,
                ok = self.try_acquire_or_renew() => ok,
            };
            self.maybe_report_transition();
            if ok {
                last_ok = start;
            }
            next_attempt = Instant::now() + self.config.retry_period;
        }
        tracing::warn!(lock = %self.lock().describe(), identity = %self.lock().identity(), "failed to renew the lease in time, stepping down");
    }

    /// Write an empty holder with `leaseDurationSeconds: 1`, if we are the holder.
    async fn release(&self) {
        if !self.is_leader() {
            return;
        }
        let record = {
            let wall = jiff::Timestamp::now();
            LeaderElectionRecord {
                holder_identity: String::new(),
                lease_duration_seconds: 1,
                acquire_time: Some(wall),
                renew_time: Some(wall),
                leader_transitions: self.state().record.leader_transitions,
            }
        };
        let attempt = async {
            match self.lock().update(&record).await {
                // Our cached object may be stale (a renewal that timed out but landed): re-read.
                Err(e) if e.is_conflict() || matches!(e, locks::Error::NotInitialized(_)) => {
                    let (current, _) = self.lock().get().await?;
                    if current.holder_identity != self.lock().identity() {
                        return Ok(false);
                    }
                    self.lock().update(&record).await.map(|()| true)
                }
                other => other.map(|()| true),
            }
        };
        match tokio::time::timeout(self.config.renew_deadline, attempt).await {
            Ok(Ok(true)) => {
                tracing::info!(lock = %self.lock().describe(), "released the lock");
                self.set_observed(record);
            }
            Ok(Ok(false)) => {}
            Ok(Err(e)) => {
                tracing::warn!(lock = %self.lock().describe(), error = %e, "releasing the lock failed")
            }
            Err(_) => tracing::warn!(lock = %self.lock().describe(), "releasing the lock timed out"),
        }
    }

    /// Compete for the lock; while holding it run the `on_started_leading` work. Returns when
    /// leadership is lost (after the work has stopped) or when `shutdown` fires (then, with
    /// `release_on_cancel`, after releasing the lock). Returns at once if cancelled before
    /// acquiring.
    pub async fn run(&self, shutdown: CancellationToken) {
        self.state().phase = Phase::Candidate;
        let Some(acquired_at) = self.acquire(&shutdown).await else {
            self.state().phase = Phase::Stopped;
            return;
        };
        let leading = shutdown.child_token();
        // If this future is dropped while leading, the work is still told to stop.
        let _guard = LeadingGuard {
            elector: self,
            token: leading.clone(),
        };
        self.state().phase = Phase::Leader;
        self.lock().record_event("became leader");
        self.metrics.leader_on();
        let work = self.started.as_ref().map(|f| tokio::spawn(f(leading.clone())));

        self.renew(&shutdown, acquired_at).await;

        leading.cancel();
        self.metrics.leader_off();
        self.lock().record_event("stopped leading");
        if let Some(work) = work
            && let Err(e) = work.await
            && e.is_panic()
        {
            tracing::error!(lock = %self.lock().describe(), "the leader's work panicked");
        }
        self.state().phase = Phase::Stopped;
        if let Some(f) = &self.stopped {
            f();
        }
        if self.config.release_on_cancel {
            self.release().await;
        }
    }
}

/// Ends leadership when `run` ends, however it ends (including being dropped): the work's token
/// fires and the status gauge drops to 0.
struct LeadingGuard<'a> {
    elector: &'a LeaderElector,
    token: CancellationToken,
}

impl Drop for LeadingGuard<'_> {
    fn drop(&mut self) {
        self.token.cancel();
        self.elector.metrics.leader_off();
        if let Ok(mut st) = self.elector.observed.lock() {
            st.phase = Phase::Stopped;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(holder: &str, transitions: i64) -> LeaderElectionRecord {
        LeaderElectionRecord {
            holder_identity: holder.into(),
            lease_duration_seconds: 15,
            acquire_time: Some("2024-01-01T00:00:00Z".parse().unwrap()),
            renew_time: None,
            leader_transitions: transitions,
        }
    }

    #[test]
    fn held_unexpired_lock_is_left_alone() {
        assert_eq!(plan(&rec("other", 2), "me", true, rec("me", 0)), Plan::Wait);
    }

    #[test]
    fn expired_or_free_lock_is_taken_with_a_transition() {
        let Plan::Write(w) = plan(&rec("other", 2), "me", false, rec("me", 0)) else {
            panic!()
        };
        assert_eq!((w.holder_identity.as_str(), w.leader_transitions), ("me", 3));
        let Plan::Write(w) = plan(&rec("", 2), "me", true, rec("me", 0)) else {
            panic!()
        };
        assert_eq!(w.leader_transitions, 3);
    }

    #[test]
    fn renewal_keeps_acquire_time_and_transitions() {
        let mut desired = rec("me", 0);
        desired.acquire_time = Some("2025-01-01T00:00:00Z".parse().unwrap());
        let Plan::Write(w) = plan(&rec("me", 4), "me", true, desired) else {
            panic!()
        };
        assert_eq!(w.leader_transitions, 4);
        assert_eq!(w.acquire_time, rec("me", 4).acquire_time);
    }

    /// The stored record and version, and the version this client last saw.
    type MemState = (Option<(LeaderElectionRecord, u64)>, Option<u64>);

    /// An in-memory lock that can be switched off.
    struct MemLock {
        store: Mutex<MemState>,
        down: std::sync::atomic::AtomicBool,
    }

    impl MemLock {
        fn check(&self) -> locks::Result<()> {
            if self.down.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(locks::Error::Other("down".into()));
            }
            Ok(())
        }
    }

    #[async_trait::async_trait]
    impl ResourceLock for MemLock {
        async fn get(&self) -> locks::Result<(LeaderElectionRecord, Vec<u8>)> {
            self.check()?;
            let mut s = self.store.lock().unwrap();
            let (r, v) = s.0.clone().ok_or_else(|| locks::Error::NotFound("mem".into()))?;
            s.1 = Some(v);
            Ok((r, v.to_string().into_bytes()))
        }
        async fn create(&self, r: &LeaderElectionRecord) -> locks::Result<()> {
            self.check()?;
            let mut s = self.store.lock().unwrap();
            s.0 = Some((r.clone(), 1));
            s.1 = Some(1);
            Ok(())
        }
        async fn update(&self, r: &LeaderElectionRecord) -> locks::Result<()> {
            self.check()?;
            let mut s = self.store.lock().unwrap();
            let v = s.0.as_ref().map(|(_, v)| *v).unwrap_or_default();
            if s.1 != Some(v) {
                return Err(locks::Error::Conflict("mem".into()));
            }
            s.0 = Some((r.clone(), v + 1));
            s.1 = Some(v + 1);
            Ok(())
        }
        fn identity(&self) -> &str {
            "me"
        }
        fn describe(&self) -> String {
            "mem".into()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn health_check_fails_when_leading_without_renewing() {
        let lock = Arc::new(MemLock {
            store: Mutex::default(),
            down: Default::default(),
        });
        let mut config = LeaderElectionConfig::new(lock.clone());
        config.lease_duration = Duration::from_secs(3);
        config.renew_deadline = Duration::from_secs(2);
        config.retry_period = Duration::from_millis(500);
        // Work that ignores its cancellation token: the elector stays wedged in `Leader`.
        let elector = Arc::new(
            LeaderElector::new(config)
                .unwrap()
                .on_started_leading(|_token| std::future::pending::<()>()),
        );
        tokio::spawn({
            let elector = elector.clone();
            async move { elector.run(CancellationToken::new()).await }
        });
        while !elector.metrics().is_leading() {
            sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(elector.metrics().transitions(), 1);
        sleep(Duration::from_secs(10)).await;
        assert!(
            elector.check(Duration::from_secs(1)).is_ok(),
            "renewing leader is healthy"
        );
        assert!(elector.metrics().is_leading());

        lock.down.store(true, std::sync::atomic::Ordering::Relaxed);
        sleep(Duration::from_secs(3)).await;
        assert!(
            !elector.metrics().is_leading(),
            "stepped down after the renew deadline"
        );
        assert_eq!(elector.phase(), Phase::Leader, "the work has not stopped");
        assert!(
            elector.check(Duration::from_secs(1)).is_ok(),
            "within lease duration + tolerance"
        );
        sleep(Duration::from_secs(2)).await;
        assert!(
            elector.check(Duration::from_secs(1)).is_err(),
            "wedged leader is unhealthy"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_run_stops_the_work() {
        let lock = MemLock {
            store: Mutex::default(),
            down: Default::default(),
        };
        let stopped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stopped.clone();
        let elector = Arc::new(
            LeaderElector::new(LeaderElectionConfig::new(lock))
                .unwrap()
                .on_started_leading(move |token| {
                    let flag = flag.clone();
                    async move {
                        token.cancelled().await;
                        flag.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                }),
        );
        let run = tokio::spawn({
            let elector = elector.clone();
            async move { elector.run(CancellationToken::new()).await }
        });
        while !elector.metrics().is_leading() {
            sleep(Duration::from_millis(10)).await;
        }
        run.abort();
        let _ = run.await;
        sleep(Duration::from_millis(10)).await;
        assert!(
            stopped.load(std::sync::atomic::Ordering::Relaxed),
            "the work was not told to stop"
        );
        assert!(!elector.metrics().is_leading());
        assert_eq!(elector.phase(), Phase::Stopped);
    }
}
