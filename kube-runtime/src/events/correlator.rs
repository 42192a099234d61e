//! The pure part of the recorder: whether an occurrence is dropped, combined with similar ones,
//! counted into an Event that already exists, or written as a new Event.
//!
//! This is client-go's `EventCorrelator` (`tools/record/events_cache.go`: spam filter, aggregator
//! and event logger) together with the isomorphic-event cache of `tools/events`, without I/O:
//! every decision takes the current [`Instant`] as an argument, so tests drive the clock.

use std::collections::HashSet;
use std::time::Duration;

use k8s_openapi::api::core::v1::ObjectReference;
use tokio::time::Instant;

use super::lru::Lru;
use super::{Event, EventType, RecorderConfig};

/// The prefix client-go puts on the message of an Event that stands for several similar ones.
pub(crate) const COMBINED_PREFIX: &str = "(combined from similar events): ";

/// The identity of an object, without the parts that change as it is updated
/// (`resourceVersion`) or that point inside it (`fieldPath`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ObjectKey {
    api_version: String,
    kind: String,
    namespace: String,
    name: String,
    uid: String,
}

impl ObjectKey {
    pub(crate) fn of(r: &ObjectReference) -> Self {
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        Self {
            api_version: s(&r.api_version),
            kind: s(&r.kind),
            namespace: s(&r.namespace),
            name: s(&r.name),
            uid: s(&r.uid),
        }
    }
}

/// Who reports about which object: the spam filter's key (client-go's `getSpamKey`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct SourceKey {
    controller: String,
    instance: String,
    object: ObjectKey,
}

/// Similar events: the same source, object, type, reason and action, whatever the note
/// (client-go's `EventAggregatorByReasonFunc`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct SimilarKey {
    source: SourceKey,
    type_: EventType,
    reason: String,
    action: String,
}

/// Identical events: similar, with the same note, field path and related object (client-go's
/// `getEventKey`, and `getKey` of `tools/events`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct IdenticalKey {
    similar: SimilarKey,
    field_path: String,
    related: Option<(ObjectKey, String)>,
    note: String,
}

impl IdenticalKey {
    pub(crate) fn new(controller: &str, instance: &str, event: &Event, regarding: &ObjectReference) -> Self {
        Self {
            similar: SimilarKey {
                source: SourceKey {
                    controller: controller.to_owned(),
                    instance: instance.to_owned(),
                    object: ObjectKey::of(regarding),
                },
                type_: event.type_,
                reason: event.reason.clone(),
                action: event.action.clone(),
            },
            field_path: regarding.field_path.clone().unwrap_or_default(),
            related: event
                .secondary
                .as_ref()
                .map(|r| (ObjectKey::of(r), r.field_path.clone().unwrap_or_default())),
            note: event.note.clone().unwrap_or_default(),
        }
    }
}

/// Which Event object an occurrence is counted into: its own (identical occurrences), or the
/// one combining the similar events of its group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum SeriesKey {
    Identical(IdenticalKey),
    Combined(SimilarKey),
}

/// What to do with one occurrence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decision {
    /// The series the occurrence belongs to; hand it back to [`Correlator::created`] or
    /// [`Correlator::forget`].
    pub(crate) key: SeriesKey,
    /// The note to write: the event's own, or the combined one.
    pub(crate) note: Option<String>,
    /// The action.
    pub(crate) step: Step,
}

/// The write an occurrence asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Over the spam limit: write nothing. A repeat is still counted, so the next write carries
    /// the true count.
    Drop,
    /// Write a new Event, then report it with [`Correlator::created`].
    Create,
    /// Count one more occurrence into the existing Event `namespace/name`.
    Repeat {
        namespace: String,
        name: String,
        count: u32,
    },
}

/// A token bucket counted in nanoseconds of credit: each token is worth `refill`.
#[derive(Debug)]
struct TokenBucket {
    credit: Duration,
    last: Instant,
}

impl TokenBucket {
    fn full(burst: u32, refill: Duration, now: Instant) -> Self {
        Self {
            credit: refill.saturating_mul(burst),
            last: now,
        }
    }

    fn try_take(&mut self, burst: u32, refill: Duration, now: Instant) -> bool {
        let max = refill.saturating_mul(burst);
        self.credit = (self.credit + now.saturating_duration_since(self.last)).min(max);
        self.last = now;
        if self.credit >= refill {
            self.credit -= refill;
            true
        } else {
            false
        }
    }
}

/// The distinct notes seen for one group of similar events.
#[derive(Debug)]
struct SimilarRecord {
    notes: HashSet<String>,
    last_seen: Instant,
}

/// An Event that exists on the server, and how many occurrences it stands for.
#[derive(Debug)]
struct SeriesRecord {
    namespace: String,
    name: String,
    count: u32,
    last_seen: Instant,
}

/// The spam filter, the aggregator and the series log, each in a bounded cache.
#[derive(Debug)]
pub(crate) struct Correlator {
    spam_burst: u32,
    spam_refill: Duration,
    aggregate_max_events: usize,
    aggregate_window: Duration,
    series_idle: Option<Duration>,
    spam: Lru<SourceKey, TokenBucket>,
    similar: Lru<SimilarKey, SimilarRecord>,
    series: Lru<SeriesKey, SeriesRecord>,
}

impl Correlator {
    /// A correlator with the limits of `config`; `series_idle` ends a series that saw no
    /// occurrence for that long (events.k8s.io), `None` keeps it while it is cached (core/v1).
    pub(crate) fn new(config: &RecorderConfig, series_idle: Option<Duration>) -> Self {
        Self {
            spam_burst: config.spam_burst,
            spam_refill: config.spam_refill,
            aggregate_max_events: config.aggregate_max_events,
            aggregate_window: config.aggregate_window,
            series_idle,
            spam: Lru::new(config.cache_size),
            similar: Lru::new(config.cache_size),
            series: Lru::new(config.cache_size),
        }
    }

    /// Decide what to do with one occurrence of `event` about `regarding`, reported by
    /// `controller`/`instance`, at `now`.
    ///
    /// As in client-go, aggregation and counting come first and the spam filter last, so that
    /// dropped repeats still count.
    pub(crate) fn observe(
        &mut self,
        controller: &str,
        instance: &str,
        event: &Event,
        regarding: &ObjectReference,
        now: Instant,
    ) -> Decision {
        let identical = IdenticalKey::new(controller, instance, event, regarding);
        let source = identical.similar.source.clone();
        let (key, note) = if self.is_combined(&identical.similar, &identical.note, now) {
            let note = format!("{COMBINED_PREFIX}{}", identical.note);
            (SeriesKey::Combined(identical.similar), Some(note))
        } else {
            (SeriesKey::Identical(identical), event.note.clone())
        };
        let repeat = self.count_repeat(&key, now);
        let step = if !self.allow(source, now) {
            Step::Drop
        } else {
            repeat.unwrap_or(Step::Create)
        };
        Decision { key, note, step }
    }

    /// Whether an occurrence with `note` is combined into its group's Event: once a group has
    /// seen `aggregate_max_events` distinct notes, each less than `aggregate_window` after the
    /// previous similar occurrence, new notes are combined. The first `aggregate_max_events - 1`
    /// distinct notes keep their own Events (client-go keeps an arbitrary subset instead).
    fn is_combined(&mut self, key: &SimilarKey, note: &str, now: Instant) -> bool {
        let max = self.aggregate_max_events;
        if max == 0 {
            return false;
        }
        let window = self.aggregate_window;
        let record = self.similar.get_or_insert_with(key.clone(), || SimilarRecord {
            notes: HashSet::new(),
            last_seen: now,
        });
        if now.saturating_duration_since(record.last_seen) > window {
            record.notes.clear();
        }
        record.last_seen = now;
        if record.notes.contains(note) {
            return false;
        }
        if record.notes.len() + 1 < max {
            record.notes.insert(note.to_owned());
            return false;
        }
        true
    }

    /// Count a repeat into an existing series: the step to write it, or `None` when the series
    /// is new (or ended).
    fn count_repeat(&mut self, key: &SeriesKey, now: Instant) -> Option<Step> {
        let idle = self.series_idle;
        let record = self.series.get_mut(key)?;
        if idle.is_some_and(|idle| now.saturating_duration_since(record.last_seen) > idle) {
            self.series.remove(key);
            return None;
        }
        record.count = record.count.saturating_add(1);
        record.last_seen = now;
        Some(Step::Repeat {
            namespace: record.namespace.clone(),
            name: record.name.clone(),
            count: record.count,
        })
    }

    /// The spam filter: one token bucket per source and object.
    fn allow(&mut self, key: SourceKey, now: Instant) -> bool {
        let (burst, refill) = (self.spam_burst, self.spam_refill);
        if burst == 0 {
            return true;
        }
        self.spam
            .get_or_insert_with(key, || TokenBucket::full(burst, refill, now))
            .try_take(burst, refill, now)
    }

    /// The Event for `key` was created as `namespace/name`: count later occurrences into it.
    pub(crate) fn created(&mut self, key: SeriesKey, namespace: &str, name: &str, now: Instant) {
        let record = SeriesRecord {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            count: 1,
            last_seen: now,
        };
        self.series.insert(key, record);
    }

    /// The Event for `key` is gone (expired on the server): the next occurrence creates one.
    pub(crate) fn forget(&mut self, key: &SeriesKey) {
        self.series.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> RecorderConfig {
        RecorderConfig::default()
    }

    fn obj(name: &str) -> ObjectReference {
        ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("ConfigMap".into()),
            namespace: Some("ns".into()),
            name: Some(name.into()),
            uid: Some(format!("uid-{name}")),
            resource_version: Some("1".into()),
            field_path: None,
        }
    }

    fn event(note: &str) -> Event {
        Event {
            type_: EventType::Warning,
            reason: "Failed".into(),
            note: Some(note.into()),
            action: "Reconcile".into(),
            secondary: None,
        }
    }

    /// Observe, and report a creation as a successful write would.
    fn record(c: &mut Correlator, e: &Event, r: &ObjectReference, now: Instant) -> Decision {
        let d = c.observe("ctl", "ctl-1", e, r, now);
        if d.step == Step::Create {
            c.created(d.key.clone(), "ns", &format!("e{}", c.series.len()), now);
        }
        d
    }

    #[test]
    fn keys_ignore_resource_version_but_not_identity() {
        let a = obj("a");
        let mut a2 = a.clone();
        a2.resource_version = Some("2".into());
        let e = event("x");
        let key = |r: &ObjectReference, e: &Event| IdenticalKey::new("ctl", "i", e, r);
        assert_eq!(key(&a, &e), key(&a2, &e));
        assert_ne!(key(&a, &e), key(&obj("b"), &e));
        assert_ne!(key(&a, &e), key(&a, &event("y")));
        assert_eq!(key(&a, &e).similar, key(&a, &event("y")).similar);
        let mut with_path = a.clone();
        with_path.field_path = Some("spec.containers{web}".into());
        assert_ne!(key(&a, &e), key(&with_path, &e));
        assert_eq!(key(&a, &e).similar, key(&with_path, &e).similar);
        let related = Event {
            secondary: Some(obj("b")),
            ..event("x")
        };
        assert_ne!(key(&a, &e), key(&a, &related));
        let normal = Event {
            type_: EventType::Normal,
            ..event("x")
        };
        assert_ne!(key(&a, &e).similar, key(&a, &normal).similar);
        assert_ne!(
            IdenticalKey::new("ctl", "i", &e, &a),
            IdenticalKey::new("other", "i", &e, &a)
        );
    }

    #[test]
    fn identical_occurrences_count_into_one_series() {
        let mut c = Correlator::new(&config(), None);
        let now = Instant::now();
        let first = record(&mut c, &event("x"), &obj("a"), now);
        assert_eq!(first.step, Step::Create);
        assert_eq!(first.note.as_deref(), Some("x"));
        for count in 2..=5 {
            let d = record(&mut c, &event("x"), &obj("a"), now);
            assert_eq!(
                d.step,
                Step::Repeat {
                    namespace: "ns".into(),
                    name: "e0".into(),
                    count
                }
            );
            assert_eq!(d.key, first.key);
        }
        // Another object has its own series.
        assert_eq!(record(&mut c, &event("x"), &obj("b"), now).step, Step::Create);
        // A forgotten series starts again.
        c.forget(&first.key);
        assert_eq!(record(&mut c, &event("x"), &obj("a"), now).step, Step::Create);
    }

    #[test]
    fn series_end_after_idle_time_when_asked() {
        let mut c = Correlator::new(&config(), Some(Duration::from_secs(360)));
        let t0 = Instant::now();
        assert_eq!(record(&mut c, &event("x"), &obj("a"), t0).step, Step::Create);
        let t1 = t0 + Duration::from_secs(360);
        assert!(matches!(
            record(&mut c, &event("x"), &obj("a"), t1).step,
            Step::Repeat { count: 2, .. }
        ));
        let t2 = t1 + Duration::from_secs(361);
        assert_eq!(record(&mut c, &event("x"), &obj("a"), t2).step, Step::Create);
    }

    #[test]
    fn the_tenth_distinct_note_is_combined() {
        let mut c = Correlator::new(&config(), None);
        let now = Instant::now();
        for i in 1..=9 {
            let d = record(&mut c, &event(&format!("m{i}")), &obj("a"), now);
            assert_eq!(d.step, Step::Create, "note {i} is its own event");
            assert!(matches!(d.key, SeriesKey::Identical(_)));
        }
        let tenth = record(&mut c, &event("m10"), &obj("a"), now);
        assert_eq!(tenth.step, Step::Create);
        assert!(matches!(tenth.key, SeriesKey::Combined(_)));
        assert_eq!(tenth.note.as_deref(), Some("(combined from similar events): m10"));
        let eleventh = record(&mut c, &event("m11"), &obj("a"), now);
        assert!(matches!(eleventh.step, Step::Repeat { count: 2, .. }));
        assert_eq!(
            eleventh.note.as_deref(),
            Some("(combined from similar events): m11")
        );
        // A note seen before keeps counting into its own Event.
        let again = record(&mut c, &event("m3"), &obj("a"), now);
        assert!(matches!(again.key, SeriesKey::Identical(_)));
        assert!(matches!(again.step, Step::Repeat { count: 2, .. }));
        // Other reasons and other objects are other groups.
        let other = Event {
            reason: "Other".into(),
            ..event("m12")
        };
        assert!(matches!(
            record(&mut c, &other, &obj("a"), now).key,
            SeriesKey::Identical(_)
        ));
        assert!(matches!(
            record(&mut c, &event("m12"), &obj("b"), now).key,
            SeriesKey::Identical(_)
        ));
    }

    #[test]
    fn aggregation_window_restarts_after_ten_quiet_minutes() {
        let cfg = RecorderConfig {
            spam_burst: 0,
            ..config()
        };
        let mut c = Correlator::new(&cfg, None);
        let mut now = Instant::now();
        for i in 1..=9 {
            record(&mut c, &event(&format!("m{i}")), &obj("a"), now);
            // Each similar occurrence extends the window.
            now += Duration::from_secs(599);
        }
        assert!(matches!(
            record(&mut c, &event("m10"), &obj("a"), now).key,
            SeriesKey::Combined(_)
        ));
        now += Duration::from_secs(601);
        let d = record(&mut c, &event("m11"), &obj("a"), now);
        assert!(matches!(d.key, SeriesKey::Identical(_)), "a fresh window");
        assert_eq!(d.note.as_deref(), Some("m11"));
    }

    #[test]
    fn aggregation_can_be_turned_off() {
        let cfg = RecorderConfig {
            aggregate_max_events: 0,
            ..config()
        };
        let mut c = Correlator::new(&cfg, None);
        let now = Instant::now();
        for i in 0..20 {
            let d = record(&mut c, &event(&format!("m{i}")), &obj("a"), now);
            assert!(matches!(d.key, SeriesKey::Identical(_)));
        }
    }

    #[test]
    fn spam_filter_allows_a_burst_then_one_per_refill_period() {
        let mut c = Correlator::new(&config(), None);
        let t0 = Instant::now();
        for i in 0..25 {
            let d = record(&mut c, &event(&format!("m{}", i % 3)), &obj("a"), t0);
            assert_ne!(d.step, Step::Drop, "occurrence {i} is within the burst");
        }
        let dropped = record(&mut c, &event("m0"), &obj("a"), t0);
        assert_eq!(dropped.step, Step::Drop);
        // Another object, or another reporter about the same object, has its own budget.
        assert_eq!(record(&mut c, &event("m0"), &obj("b"), t0).step, Step::Create);
        let other = c.observe("other", "o-1", &event("m0"), &obj("a"), t0);
        assert_eq!(other.step, Step::Create);
        // One token comes back every five minutes, and only one.
        let t1 = t0 + Duration::from_secs(299);
        assert_eq!(record(&mut c, &event("m0"), &obj("a"), t1).step, Step::Drop);
        let t2 = t0 + Duration::from_secs(300);
        let d = record(&mut c, &event("m0"), &obj("a"), t2);
        // m0 was seen 9 times in the burst, plus two dropped repeats: the write says 12.
        assert!(matches!(d.step, Step::Repeat { count: 12, .. }), "{d:?}");
        assert_eq!(record(&mut c, &event("m0"), &obj("a"), t2).step, Step::Drop);
        // A long quiet period refills at most the burst.
        let t3 = t2 + Duration::from_secs(300 * 100);
        let allowed = (0..40)
            .filter(|_| record(&mut c, &event("m1"), &obj("a"), t3).step != Step::Drop)
            .count();
        assert_eq!(allowed, 25);
    }

    #[test]
    fn spam_filter_can_be_turned_off() {
        let cfg = RecorderConfig {
            spam_burst: 0,
            ..config()
        };
        let mut c = Correlator::new(&cfg, None);
        let now = Instant::now();
        for _ in 0..100 {
            assert_ne!(record(&mut c, &event("x"), &obj("a"), now).step, Step::Drop);
        }
    }

    #[test]
    fn caches_are_bounded() {
        let cfg = RecorderConfig {
            cache_size: 8,
            ..config()
        };
        let mut c = Correlator::new(&cfg, None);
        let now = Instant::now();
        for i in 0..100 {
            record(&mut c, &event("x"), &obj(&format!("o{i}")), now);
        }
        assert_eq!(c.spam.len(), 8);
        assert_eq!(c.similar.len(), 8);
        assert_eq!(c.series.len(), 8);
    }
}
