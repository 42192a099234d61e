//! Leader-election failover on the in-process reference apiserver (loopback only).
//!
//! `cargo bench -p kube-leaderelection --bench failover` measures, for the default timing
//! (15s / 10s / 2s) and a fast one (4s / 3s / 1s), the time from a leader's crash (its `run`
//! future aborted: nothing is released) or graceful stop (shutdown token cancelled with
//! `release_on_cancel`) to another candidate's `on_started_leading`, checks that leadership
//! intervals never overlap, and counts the requests per second a leader and a follower send.
//!
//! Without `--bench` (`cargo test --benches`) it runs one graceful failover with a tiny timing
//! (2s / 1.5s / 0.5s) as a smoke test.
#![allow(missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::join_all;
use k8s_openapi::api::coordination::v1::Lease;
use kube_client::{Api, Client, Config};
use kube_leaderelection::locks::Result as LockResult;
use kube_leaderelection::{
    LeaderElectionConfig, LeaderElectionRecord, LeaderElector, LeaseLock, ResourceLock,
};
use reference_apiserver::testing::TestServer;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const NS: &str = "default";
const CANDIDATES: usize = 3;

#[derive(Clone, Copy, Debug)]
struct Timing {
    lease: Duration,
    renew: Duration,
    retry: Duration,
}

impl Timing {
    const fn ms(lease: u64, renew: u64, retry: u64) -> Self {
        Self {
            lease: Duration::from_millis(lease),
            renew: Duration::from_millis(renew),
            retry: Duration::from_millis(retry),
        }
    }

    fn label(&self) -> String {
        format!(
            "{}s/{}s/{}s",
            self.lease.as_secs_f64(),
            self.renew.as_secs_f64(),
            self.retry.as_secs_f64()
        )
    }

    /// Worst case from the crash / cancel to the takeover.
    fn bound(&self, kind: Kind) -> Duration {
        match kind {
            Kind::Crash => self.lease + self.retry.mul_f64(2.0 * 2.2),
            Kind::Graceful => self.retry.mul_f64(2.2),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Crash,
    Graceful,
}

/// Counts the requests a candidate sends through its lock, and the releases it writes.
struct Counting {
    inner: LeaseLock,
    requests: AtomicU64,
    releases: AtomicU64,
}

#[async_trait::async_trait]
impl ResourceLock for Counting {
    async fn get(&self) -> LockResult<(LeaderElectionRecord, Vec<u8>)> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.inner.get().await
    }
    async fn create(&self, record: &LeaderElectionRecord) -> LockResult<()> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.inner.create(record).await
    }
    async fn update(&self, record: &LeaderElectionRecord) -> LockResult<()> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if !record.is_held() {
            self.releases.fetch_add(1, Ordering::Relaxed);
        }
        self.inner.update(record).await
    }
    fn identity(&self) -> &str {
        self.inner.identity()
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}

/// One leadership interval of one candidate: (candidate, start, end).
type Interval = (usize, Instant, Option<Instant>);

#[derive(Default)]
struct Shared {
    intervals: Mutex<Vec<Interval>>,
    changed: Notify,
}

impl Shared {
    fn start(&self, who: usize) -> usize {
        let mut g = self.intervals.lock().unwrap();
        g.push((who, Instant::now(), None));
        self.changed.notify_waiters();
        g.len() - 1
    }
    fn end(&self, slot: usize) {
        self.intervals.lock().unwrap()[slot].2 = Some(Instant::now());
        self.changed.notify_waiters();
    }
    /// The candidate whose interval is open, with its start, if exactly one is.
    fn single_leader(&self) -> Option<(usize, Instant)> {
        let g = self.intervals.lock().unwrap();
        let open: Vec<_> = g.iter().filter(|i| i.2.is_none()).collect();
        (open.len() == 1).then(|| (open[0].0, open[0].1))
    }
    /// The first interval started by someone other than `old` at or after `since`.
    fn takeover(&self, old: usize, since: Instant) -> Option<Instant> {
        let g = self.intervals.lock().unwrap();
        g.iter().filter(|i| i.0 != old && i.1 >= since).map(|i| i.1).min()
    }
    /// Whether no two leadership intervals overlap (open intervals count as never ending).
    fn no_overlap(&self) -> bool {
        let mut v = self.intervals.lock().unwrap().clone();
        v.sort_by_key(|i| i.1);
        let mut max_end: Option<Option<Instant>> = None;
        for (_, start, end) in v {
            if let Some(prev) = max_end {
                match prev {
                    None => return false,
                    Some(e) if e > start => return false,
                    _ => {}
                }
            }
            max_end = Some(match (max_end, end) {
                (Some(Some(a)), Some(b)) => Some(a.max(b)),
                (None, e) => e,
                _ => None,
            });
        }
        true
    }
}

struct Candidate {
    lock: Arc<Counting>,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

fn client(url: &str) -> Client {
    let mut config = Config::new(url.parse().expect("valid url"));
    config.qps = None;
    Client::new(config).expect("client")
}

fn spawn(
    client: &Client,
    lock_name: &str,
    who: usize,
    t: Timing,
    release: bool,
    shared: &Arc<Shared>,
) -> Candidate {
    let lock = Arc::new(Counting {
        inner: LeaseLock::new(client.clone(), NS, lock_name, &format!("{lock_name}-{who}")),
        requests: AtomicU64::new(0),
        releases: AtomicU64::new(0),
    });
    let mut config = LeaderElectionConfig::new(lock.clone());
    config.lease_duration = t.lease;
    config.renew_deadline = t.renew;
    config.retry_period = t.retry;
    config.release_on_cancel = release;
    let sh = shared.clone();
    let elector = LeaderElector::new(config)
        .expect("valid config")
        .on_started_leading(move |token| {
            let sh = sh.clone();
            async move {
                let slot = sh.start(who);
                token.cancelled().await;
                sh.end(slot);
            }
        });
    let shutdown = CancellationToken::new();
    let task = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { elector.run(shutdown).await }
    });
    Candidate { lock, shutdown, task }
}

async fn wait_for<T>(
    shared: &Shared,
    timeout: Duration,
    mut f: impl FnMut(&Shared) -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        let notified = shared.changed.notified();
        if let Some(v) = f(shared) {
            return Some(v);
        }
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep_until(deadline) => return f(shared),
        }
    }
}

struct Trial {
    took: Duration,
    no_overlap: bool,
}

/// Start the candidates, let a leader settle, crash or stop it, and time the takeover.
async fn trial(client: Client, lock_name: String, t: Timing, kind: Kind, settle: Duration) -> Trial {
    let shared = Arc::new(Shared::default());
    let release = kind == Kind::Graceful;
    let cands: Vec<_> = (0..CANDIDATES)
        .map(|i| spawn(&client, &lock_name, i, t, release, &shared))
        .collect();
    let (leader, _) = wait_for(&shared, t.lease * 4, Shared::single_leader)
        .await
        .unwrap_or_else(|| panic!("{lock_name}: no leader"));
    // Let the followers observe the leader's renewals.
    tokio::time::sleep(settle).await;
    assert_eq!(
        shared.single_leader().map(|l| l.0),
        Some(leader),
        "{lock_name}: leadership changed while the leader renewed"
    );
    let c = &cands[leader];
    let t0 = Instant::now();
    match kind {
        Kind::Crash => {
            c.task.abort();
            let lease = Api::<Lease>::namespaced(client.clone(), NS)
                .get(&lock_name)
                .await
                .expect("read the lease");
            let holder = lease.spec.and_then(|s| s.holder_identity).unwrap_or_default();
            assert_eq!(
                holder,
                format!("{lock_name}-{leader}"),
                "{lock_name}: the crashed leader's lease was released"
            );
        }
        Kind::Graceful => c.shutdown.cancel(),
    }
    let limit = t.bound(kind) * 3 + Duration::from_secs(2);
    let at = wait_for(&shared, limit, |s| s.takeover(leader, t0))
        .await
        .unwrap_or_else(|| panic!("{lock_name}: no takeover within {limit:?}"));
    let took = at - t0;
    if kind == Kind::Crash {
        assert_eq!(
            cands[leader].lock.releases.load(Ordering::Relaxed),
            0,
            "{lock_name}: the crashed leader released"
        );
    }
    for c in &cands {
        c.shutdown.cancel();
    }
    for c in cands {
        let _ = c.task.await;
    }
    Trial {
        took,
        no_overlap: shared.no_overlap(),
    }
}

async fn group(client: &Client, t: Timing, kind: Kind, n: usize, tag: &str) -> (Vec<Duration>, bool) {
    let runs = (0..n).map(|i| {
        // Spread the crash points over a retry period so the followers' phases differ.
        let settle = t.retry * 2 + t.retry.mul_f64(i as f64 / n as f64);
        trial(
            client.clone(),
            format!("{tag}-{kind:?}-{i}").to_lowercase(),
            t,
            kind,
            settle,
        )
    });
    let results = join_all(runs).await;
    let ok = results.iter().all(|r| r.no_overlap);
    let mut took: Vec<_> = results.into_iter().map(|r| r.took).collect();
    took.sort();
    (took, ok)
}

fn secs(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

/// Requests per second of a leader and a follower over `window`, counted per candidate.
/// Also returns the number of requests the two candidates sent over their whole lifetime.
async fn steady(client: Client, t: Timing, tag: &str, window: Duration) -> (f64, f64, u64) {
    let shared = Arc::new(Shared::default());
    let name = format!("{tag}-steady");
    let cands: Vec<_> = (0..2)
        .map(|i| spawn(&client, &name, i, t, false, &shared))
        .collect();
    let (leader, _) = wait_for(&shared, t.lease * 4, Shared::single_leader)
        .await
        .expect("a leader");
    tokio::time::sleep(t.retry * 3).await;
    let before: Vec<u64> = cands
        .iter()
        .map(|c| c.lock.requests.load(Ordering::Relaxed))
        .collect();
    tokio::time::sleep(window).await;
    let after: Vec<u64> = cands
        .iter()
        .map(|c| c.lock.requests.load(Ordering::Relaxed))
        .collect();
    assert_eq!(
        shared.single_leader().map(|l| l.0),
        Some(leader),
        "leadership changed"
    );
    let rate = |i: usize| (after[i] - before[i]) as f64 / window.as_secs_f64();
    for c in &cands {
        c.shutdown.cancel();
    }
    let mut total = 0;
    for c in cands {
        let _ = c.task.await;
        total += c.lock.requests.load(Ordering::Relaxed);
    }
    (rate(leader), rate(1 - leader), total)
}

/// Sum of the server's `apiserver_request_total` for leases.
fn server_lease_requests(server: &TestServer) -> f64 {
    let text = server.state().metrics.encode();
    String::from_utf8_lossy(&text)
        .lines()
        .filter(|l| l.starts_with("apiserver_request_total{") && l.contains("resource=\"leases"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn smoke() {
    let server = TestServer::start().await;
    let client = client(&server.url());
    let t = Timing::ms(2_000, 1_500, 500);
    let r = trial(client, "smoke".into(), t, Kind::Graceful, t.retry * 2).await;
    let bound = t.bound(Kind::Graceful);
    println!(
        "failover smoke: graceful handover took {} (bound {}), no overlap: {}",
        secs(r.took),
        secs(bound),
        r.no_overlap
    );
    assert!(
        r.took <= bound,
        "graceful handover took {:?} > bound {bound:?}",
        r.took
    );
    assert!(r.no_overlap, "two leaders at once");
}

async fn bench() {
    let started = Instant::now();
    let server = TestServer::start().await;
    let client = client(&server.url());
    let n: usize = std::env::var("FAILOVER_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let settings = [
        ("default", Timing::ms(15_000, 10_000, 2_000)),
        ("fast", Timing::ms(4_000, 3_000, 1_000)),
    ];

    println!("leader-election failover, {CANDIDATES} candidates per run on a LeaseLock, N = {n} per row");
    println!(
        "{:<12} {:<9} {:>3} {:>9} {:>9} {:>9} {:>9} {:>9} {:>5} {:>10}",
        "timing", "kind", "n", "min", "median", "max", "bound", "max/bnd", "goal", "no-overlap"
    );
    let mut all_ok = true;
    for (tag, t) in settings {
        for kind in [Kind::Crash, Kind::Graceful] {
            let (took, ok) = group(&client, t, kind, n, tag).await;
            let median = (took[(took.len() - 1) / 2] + took[took.len() / 2]) / 2;
            let max = *took.last().unwrap();
            let bound = t.bound(kind);
            let goal = max <= bound;
            all_ok &= ok;
            println!(
                "{:<12} {:<9} {:>3} {:>9} {:>9} {:>9} {:>9} {:>9.3} {:>5} {:>10}",
                t.label(),
                format!("{kind:?}").to_lowercase(),
                took.len(),
                secs(took[0]),
                secs(median),
                secs(max),
                secs(bound),
                max.as_secs_f64() / bound.as_secs_f64(),
                if goal { "met" } else { "MISS" },
                if ok { "yes" } else { "NO" },
            );
        }
    }
    println!(
        "zero overlapping leadership across all runs: {}",
        if all_ok { "yes" } else { "NO" }
    );

    let window = Duration::from_secs(30);
    let before = server_lease_requests(&server);
    let rates = join_all(settings.map(|(tag, t)| steady(client.clone(), t, tag, window))).await;
    let after = server_lease_requests(&server);
    println!(
        "steady state over {}s (one leader + one follower per timing, counted per candidate):",
        window.as_secs()
    );
    let counted: u64 = rates.iter().map(|r| r.2).sum();
    for ((_, t), (leader, follower, _)) in settings.iter().zip(&rates) {
        println!(
            "{:<12} leader {:.3} req/s, follower {:.3} req/s (expected ~{:.3} and ~{:.3})",
            t.label(),
            leader,
            follower,
            1.0 / t.retry.as_secs_f64(),
            1.0 / (t.retry.as_secs_f64() * (1.0 + 1.2 / 2.0))
        );
    }
    println!(
        "cross-check, whole steady phase incl. setup: server apiserver_request_total{{resource=leases}} delta {}, candidates counted {counted}",
        after - before
    );
    println!("total bench time: {}", secs(started.elapsed()));
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    if std::env::args().any(|a| a == "--bench") {
        bench().await;
    } else {
        smoke().await;
    }
}
