//! With paused time and a fault-injecting lock (delays, errors, lost responses, conflicts):
//! no two leadership windows ever overlap, over many randomized schedules.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube_leaderelection::locks::{Error, Result};
use kube_leaderelection::{
    CancellationToken, LeaderElectionConfig, LeaderElectionRecord, LeaderElector, ResourceLock,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::{Instant, sleep};

/// The "apiserver": one record with a version, compare-and-swap on update.
#[derive(Default)]
struct Store {
    object: Option<(LeaderElectionRecord, u64)>,
    versions: u64,
}

#[derive(Clone, Copy)]
struct Faults {
    /// Upper bound of the delay before and after the server acts.
    max_delay: Duration,
    /// Probability that a call fails before reaching the server.
    p_error: f64,
    /// Probability that the server acts but the response is lost.
    p_lost: f64,
    /// Probability of a spurious 409.
    p_conflict: f64,
    /// Disable compare-and-swap (a broken store, to show the checker catches overlaps).
    no_cas: bool,
}

struct FaultLock {
    identity: String,
    store: Arc<Mutex<Store>>,
    seen: Mutex<Option<u64>>,
    rng: Mutex<StdRng>,
    faults: Faults,
}

impl FaultLock {
    fn roll(&self, p: f64) -> bool {
        self.rng.lock().unwrap().random_bool(p)
    }
    async fn delay(&self) {
        let d = self
            .rng
            .lock()
            .unwrap()
            .random_range(Duration::ZERO..=self.faults.max_delay);
        sleep(d).await;
    }
    /// Network on the way in: delay, maybe fail.
    async fn request(&self) -> Result<()> {
        self.delay().await;
        if self.roll(self.faults.p_error) {
            return Err(Error::Other("injected: connection refused".into()));
        }
        Ok(())
    }
    /// Network on the way back: delay, maybe lose the response.
    async fn response(&self) -> Result<()> {
        self.delay().await;
        if self.roll(self.faults.p_lost) {
            return Err(Error::Other("injected: response lost".into()));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl ResourceLock for FaultLock {
    async fn get(&self) -> Result<(LeaderElectionRecord, Vec<u8>)> {
        self.request().await?;
        let got = self.store.lock().unwrap().object.clone();
        self.response().await?;
        let (record, version) = got.ok_or_else(|| Error::NotFound("lock".into()))?;
        *self.seen.lock().unwrap() = Some(version);
        let raw = format!("{version}:{}", record.to_annotation()).into_bytes();
        Ok((record, raw))
    }

    async fn create(&self, record: &LeaderElectionRecord) -> Result<()> {
        self.request().await?;
        let version = {
            let mut store = self.store.lock().unwrap();
            if store.object.is_some() {
                return Err(Error::AlreadyExists("lock".into()));
            }
            store.versions += 1;
            let v = store.versions;
            store.object = Some((record.clone(), v));
            v
        };
        self.response().await?;
        *self.seen.lock().unwrap() = Some(version);
        Ok(())
    }

    async fn update(&self, record: &LeaderElectionRecord) -> Result<()> {
        let seen = self
            .seen
            .lock()
            .unwrap()
            .ok_or_else(|| Error::NotInitialized("lock".into()))?;
        self.request().await?;
        if self.roll(self.faults.p_conflict) {
            return Err(Error::Conflict("lock (injected)".into()));
        }
        let version = {
            let mut store = self.store.lock().unwrap();
            match &store.object {
                None => return Err(Error::NotFound("lock".into())),
                Some((_, v)) if *v != seen && !self.faults.no_cas => {
                    return Err(Error::Conflict("lock".into()));
                }
                Some(_) => {}
            }
            store.versions += 1;
            let v = store.versions;
            store.object = Some((record.clone(), v));
            v
        };
        self.response().await?;
        *self.seen.lock().unwrap() = Some(version);
        Ok(())
    }

    fn identity(&self) -> &str {
        &self.identity
    }

    fn describe(&self) -> String {
        "test/lock".into()
    }

    fn record_event(&self, _event: &str) {}
}

/// `(candidate, start, end)` of each stretch of leading work.
type Windows = Arc<Mutex<Vec<(usize, Instant, Instant)>>>;

/// One candidate process, restarted after random crashes and shutdowns until `end`.
async fn candidate(
    idx: usize,
    seed: u64,
    store: Arc<Mutex<Store>>,
    faults: Faults,
    durations: (Duration, Duration, Duration),
    windows: Windows,
    end: Instant,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    while Instant::now() < end {
        let lock = FaultLock {
            identity: format!("candidate-{idx}"),
            store: store.clone(),
            seen: Mutex::new(None),
            rng: Mutex::new(StdRng::seed_from_u64(rng.random())),
            faults,
        };
        let config = LeaderElectionConfig {
            lock: Arc::new(lock),
            lease_duration: durations.0,
            renew_deadline: durations.1,
            retry_period: durations.2,
            release_on_cancel: rng.random_bool(0.5),
            name: "safety".into(),
        };
        let killed = CancellationToken::new();
        let (w, k) = (windows.clone(), killed.clone());
        let elector = Arc::new(
            LeaderElector::new(config)
                .unwrap()
                .on_started_leading(move |token| {
                    let (windows, killed) = (w.clone(), k.clone());
                    async move {
                        let start = Instant::now();
                        tokio::select! {
                            _ = token.cancelled() => {}
                            _ = killed.cancelled() => {}
                        }
                        windows.lock().unwrap().push((idx, start, Instant::now()));
                    }
                }),
        );
        let shutdown = CancellationToken::new();
        let run = tokio::spawn({
            let (elector, shutdown) = (elector.clone(), shutdown.clone());
            async move { elector.run(shutdown).await }
        });
        let lifetime = Duration::from_millis(rng.random_range(0..30_000));
        tokio::select! {
            _ = sleep(lifetime) => {}
            _ = async { while !run.is_finished() { sleep(Duration::from_millis(100)).await } } => {}
        }
        if rng.random_bool(0.5) {
            // Crash: no release, the work dies with the process.
            run.abort();
            killed.cancel();
        } else {
            shutdown.cancel();
        }
        let _ = run.await;
        sleep(Duration::from_millis(rng.random_range(0..3_000))).await;
    }
}

/// Run one randomized schedule; the windows, sorted by start.
async fn schedule(seed: u64, faults: Faults) -> Vec<(usize, Instant, Instant)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let durations = [
        (
            Duration::from_secs(3),
            Duration::from_secs(2),
            Duration::from_millis(500),
        ),
        (
            Duration::from_secs(15),
            Duration::from_secs(10),
            Duration::from_secs(2),
        ),
        (
            Duration::from_secs(2),
            Duration::from_millis(1500),
            Duration::from_millis(400),
        ),
    ][rng.random_range(0..3)];
    let faults = Faults {
        max_delay: durations.1.mul_f64(rng.random_range(0.0..0.8)),
        ..faults
    };
    let store = Arc::new(Mutex::new(Store::default()));
    let windows = Windows::default();
    let end = Instant::now() + Duration::from_secs(180);
    let tasks: Vec<_> = (0..3)
        .map(|i| {
            tokio::spawn(candidate(
                i,
                rng.random(),
                store.clone(),
                faults,
                durations,
                windows.clone(),
                end,
            ))
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let mut w = windows.lock().unwrap().clone();
    w.sort_by_key(|(_, start, _)| *start);
    w
}

/// The first pair of overlapping windows, if any.
fn overlap(windows: &[(usize, Instant, Instant)]) -> Option<String> {
    let mut latest: Option<(usize, Instant)> = None;
    for &(idx, start, end) in windows {
        if let Some((prev, prev_end)) = latest
            && start < prev_end
        {
            return Some(format!(
                "candidate {idx} started leading {:?} before candidate {prev} stopped",
                prev_end - start
            ));
        }
        if latest.is_none_or(|(_, e)| end > e) {
            latest = Some((idx, end));
        }
    }
    None
}

const FAULTS: Faults = Faults {
    max_delay: Duration::ZERO,
    p_error: 0.1,
    p_lost: 0.05,
    p_conflict: 0.05,
    no_cas: false,
};

#[tokio::test(start_paused = true)]
async fn leadership_windows_never_overlap() {
    let mut total = 0;
    for seed in 0..40 {
        let windows = schedule(seed, FAULTS).await;
        if let Some(o) = overlap(&windows) {
            panic!("seed {seed}: {o}");
        }
        total += windows.len();
    }
    assert!(
        total > 200,
        "too little leadership to judge safety: {total} windows"
    );
}

#[tokio::test(start_paused = true)]
async fn the_checker_catches_a_store_without_compare_and_swap() {
    let broken = Faults {
        no_cas: true,
        ..FAULTS
    };
    let mut caught = false;
    for seed in 0..10 {
        caught |= overlap(&schedule(seed, broken).await).is_some();
    }
    assert!(
        caught,
        "a store without compare-and-swap never produced two leaders"
    );
}
