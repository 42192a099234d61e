//! Automatic compaction: how much history a store keeps.
//!
//! History is what lets a watcher resume after a disconnect (or an apiserver restart) without a
//! relist, and what lets a paged list stay consistent; it costs memory (every event holds its
//! value) and, for the embedded store, disk. The policy keeps **at least the last
//! [`keep_revisions`] revisions and at least the last [`keep_for`] of history**, whichever is
//! more, **but never more than [`max_revisions`]**. With the defaults (10,000 revisions, 5
//! minutes, 100,000 revisions at most, checked every 10 s) a quiet cluster keeps 5 minutes or
//! more (as kube-apiserver's default `--etcd-compaction-interval=5m` does with etcd), a busy one
//! keeps at least 10,000 writes, and a write storm cannot hold more than 100,000 events (about
//! 200 MB of 2 KB objects) for longer than one interval.
//!
//! The compactor works on any [`Storage`] through its trait (it samples `revision()` with a
//! timestamp every interval and calls `compact`), so the etcd backend can use it too.
//!
//! [`keep_revisions`]: CompactionPolicy::keep_revisions
//! [`keep_for`]: CompactionPolicy::keep_for
//! [`max_revisions`]: CompactionPolicy::max_revisions

use std::collections::VecDeque;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{Error, Revision, Storage};

/// How much history to keep. See the [module documentation](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactionPolicy {
    /// Keep at least this many of the latest revisions.
    pub keep_revisions: u64,
    /// Keep at least the revisions written this recently.
    pub keep_for: Duration,
    /// Never keep more than this many revisions, however recent.
    pub max_revisions: u64,
    /// How often to check.
    pub interval: Duration,
}

impl Default for CompactionPolicy {
    fn default() -> Self {
        CompactionPolicy {
            keep_revisions: 10_000,
            keep_for: Duration::from_secs(5 * 60),
            max_revisions: 100_000,
            interval: Duration::from_secs(10),
        }
    }
}

/// The compaction point chosen from timed samples of the store revision.
#[derive(Debug, Clone, Default)]
pub struct Compactor {
    policy: CompactionPolicy,
    /// `(when, store revision then)`, oldest first.
    samples: VecDeque<(Instant, Revision)>,
}

impl Compactor {
    /// A compactor with `policy` and no samples yet.
    pub fn new(policy: CompactionPolicy) -> Self {
        Compactor {
            policy,
            samples: VecDeque::new(),
        }
    }

    /// Records that the store was at `revision` at `now`, and returns the revision to compact
    /// at (0: nothing to compact yet).
    pub fn observe(&mut self, now: Instant, revision: Revision) -> Revision {
        self.samples.push_back((now, revision));
        // Everything at or below a revision sampled `keep_for` ago is at least that old.
        let old_enough = now.checked_sub(self.policy.keep_for);
        let by_age = old_enough.map_or(0, |cutoff| {
            self.samples
                .iter()
                .take_while(|(at, _)| *at <= cutoff)
                .last()
                .map_or(0, |(_, r)| *r)
        });
        let by_count = revision.saturating_sub(self.policy.keep_revisions);
        let cap = revision.saturating_sub(self.policy.max_revisions);
        let point = by_age.min(by_count).max(cap);
        // Samples older than the newest one that is old enough are never needed again.
        if let Some(cutoff) = old_enough {
            while self.samples.len() > 1 && self.samples[1].0 <= cutoff {
                self.samples.pop_front();
            }
        }
        point
    }
}

/// Runs `policy` against `storage` until the storage is dropped. Needs a tokio runtime.
pub fn spawn_compactor(storage: Weak<dyn Storage>, policy: CompactionPolicy) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(policy.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut compactor = Compactor::new(policy);
        let mut compacted = 0;
        loop {
            ticks.tick().await;
            let Some(storage) = storage.upgrade() else {
                return;
            };
            if let Err(error) = compact_once(&storage, &mut compactor, &mut compacted).await {
                tracing::warn!(%error, "automatic compaction failed");
            }
        }
    })
}

async fn compact_once(
    storage: &Arc<dyn Storage>,
    compactor: &mut Compactor,
    compacted: &mut Revision,
) -> Result<(), Error> {
    let revision = storage.revision().await?;
    let point = compactor.observe(Instant::now(), revision);
    if point <= *compacted {
        return Ok(());
    }
    match storage.compact(point).await {
        // Someone compacted further already (another apiserver sharing an etcd).
        Ok(()) | Err(Error::Expired { .. }) => {
            tracing::debug!(revision = point, "compacted storage history");
            *compacted = point;
            Ok(())
        }
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStorage;

    fn policy() -> CompactionPolicy {
        CompactionPolicy {
            keep_revisions: 100,
            keep_for: Duration::from_secs(60),
            max_revisions: 1000,
            interval: Duration::from_secs(10),
        }
    }

    #[test]
    fn keeps_the_larger_of_count_and_age_under_the_cap() {
        let start = Instant::now();
        let at = |s| start + Duration::from_secs(s);
        let mut c = Compactor::new(policy());
        assert_eq!(c.observe(at(0), 50), 0, "fewer revisions than keep_revisions");
        assert_eq!(c.observe(at(30), 500), 0, "nothing is a minute old yet");
        // Revision 50 is now a minute old; 500 would keep only 100 revisions: age keeps more.
        assert_eq!(c.observe(at(85), 600), 50);
        assert_eq!(
            c.observe(at(95), 700),
            500,
            "the sample from 30s is now old enough"
        );
        // A write storm: the cap wins over age.
        assert_eq!(c.observe(at(100), 5000), 4000);
        // A quiet store: everything is old, the count keeps the last 100.
        assert_eq!(c.observe(at(1000), 5010), 4910);
    }

    #[tokio::test(start_paused = true)]
    async fn compacts_on_schedule_until_the_store_is_dropped() {
        let store: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        let task = spawn_compactor(Arc::downgrade(&store), policy());
        for i in 0..300 {
            store.create(&format!("/k/{i}"), "v".into()).await.unwrap();
        }
        tokio::time::sleep(Duration::from_secs(75)).await;
        store.create("/k/last", "v".into()).await.unwrap();
        tokio::time::sleep(Duration::from_secs(10)).await;
        // At t=80 revision 301 (sampled at t=0) is over a minute old, and the count keeps the
        // last 100 of 302 revisions.
        assert!(matches!(
            store.watch("/k/", 201).await,
            Err(Error::Expired { compacted: 202, .. })
        ));
        assert!(store.watch("/k/", 202).await.is_ok());
        assert_eq!(
            store.list("/k/", &Default::default()).await.unwrap().items.len(),
            301
        );
        drop(store);
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(task.is_finished());
    }
}
