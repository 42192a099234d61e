//! Watches on etcd: the trait's `watch(prefix, from)` as an etcd watch from `from + 1`, and the
//! compaction-point probe behind [`Error::Expired`]'s `compacted` field.
//!
//! etcd accepts a watch from a compacted or a future revision and only reports the former
//! later, in the stream (after its next sync, up to 100 ms on). The trait answers both at once,
//! so a watch first reads the prefix at `from` (a count-only range): etcd answers that read
//! with "compacted" exactly when `from` is below its compaction point, and with "future
//! revision" when `from` is ahead of the store. A compaction between that read and the watch's
//! start ends the stream with `Expired` instead.
//!
//! Every watch asks for progress notifications: when nothing under the prefix changes, etcd
//! still sends the store revision now and then, which the stream drops (the trait has no event
//! for it). The HTTP/2 keepalive of the connection (see [`EtcdConfig::keepalive`]) ends a
//! watch whose etcd has stopped answering.
//!
//! [`EtcdConfig::keepalive`]: super::EtcdConfig::keepalive

use std::collections::VecDeque;
use std::time::Duration;

use etcd_client::{EventType, GetOptions, WatchOptions};
use futures::StreamExt;

use super::{EtcdStorage, Failure};
use crate::storage::{Error, Event, EventKind, Result, Revision, WatchStream};

/// Starts a watch of the keys under `prefix` with revisions above `from`.
pub(super) async fn watch(store: &EtcdStorage, prefix: &str, from: Revision) -> Result<WatchStream> {
    let key = store.etcd_key(prefix);
    // Revision 1 is an empty store: a watch from 0 is a watch from the beginning.
    let check = from.max(1);
    let mut kv = store.kv.clone();
    let read = kv.get(
        key.clone(),
        Some(
            GetOptions::new()
                .with_prefix()
                .with_count_only()
                .with_revision(check as i64),
        ),
    );
    if let Err(failure) = store.call("a watch's start revision check", read).await {
        return Err(match store.at_revision_error(failure, check).await {
            Error::Expired { compacted, .. } => Error::Expired {
                requested: from,
                compacted,
            },
            other => other,
        });
    }

    let options = WatchOptions::new()
        .with_prefix()
        .with_start_revision(from as i64 + 1)
        .with_prev_key()
        .with_progress_notify();
    let mut client = store.watch.clone();
    let mut stream = store
        .call("a watch", client.watch(key, Some(options)))
        .await
        .map_err(Failure::plain)?;
    match store
        .call("a watch's creation", stream.message())
        .await
        .map_err(Failure::plain)?
    {
        Some(resp) if resp.created() && !resp.canceled() => {}
        Some(resp) if resp.compact_revision() > 0 => {
            return Err(Error::Expired {
                requested: from,
                compacted: resp.compact_revision() as Revision,
            });
        }
        Some(resp) => {
            return Err(Error::Backend(format!(
                "etcd refused the watch: {}",
                resp.cancel_reason()
            )));
        }
        None => {
            return Err(Error::Unavailable(
                "etcd closed the watch stream before it started".to_owned(),
            ));
        }
    }

    let state = State {
        stream,
        store: store.clone(),
        ready: VecDeque::new(),
        last: from,
        done: false,
    };
    Ok(futures::stream::unfold(state, State::next).boxed())
}

struct State {
    /// Kept whole: dropping its request half would end the watch.
    stream: etcd_client::WatchStream,
    store: EtcdStorage,
    /// Converted events not yet handed out (one etcd response may carry many).
    ready: VecDeque<Result<Event>>,
    /// The revision of the last event handed out.
    last: Revision,
    /// Nothing more after `ready`.
    done: bool,
}

impl State {
    async fn next(mut self) -> Option<(Result<Event>, State)> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                if let Ok(event) = &item {
                    self.last = event.revision();
                }
                return Some((item, self));
            }
            if self.done {
                return None;
            }
            match self.stream.message().await {
                Ok(Some(resp)) if resp.canceled() => {
                    self.done = true;
                    let error = if resp.compact_revision() > 0 {
                        Error::Expired {
                            requested: self.last,
                            compacted: resp.compact_revision() as Revision,
                        }
                    } else {
                        Error::Unavailable(format!("etcd ended the watch: {}", resp.cancel_reason()))
                    };
                    self.ready.push_back(Err(error));
                }
                // No events: a progress notification, nothing to hand out.
                Ok(Some(resp)) => {
                    for event in resp.events() {
                        let event = convert(&self.store, event);
                        self.done |= event.is_err();
                        self.ready.push_back(event);
                        if self.done {
                            break;
                        }
                    }
                }
                Ok(None) => {
                    self.done = true;
                    self.ready
                        .push_back(Err(Error::Unavailable("the etcd watch stream ended".to_owned())));
                }
                Err(e) => {
                    self.done = true;
                    self.ready.push_back(Err(Failure::from(e).plain()));
                }
            }
        }
    }
}

/// An etcd event as a storage event: a put of a new key is a create (its create and mod
/// revisions are equal), a delete carries the deleted value (from `prev_kv`) at the deleting
/// revision.
fn convert(store: &EtcdStorage, event: &etcd_client::Event) -> Result<Event> {
    let kv = event
        .kv()
        .ok_or_else(|| Error::Backend("etcd: a watch event without a key".to_owned()))?;
    let prev = event.prev_kv().map(|p| store.key_value(p)).transpose()?;
    match event.event_type() {
        EventType::Put => {
            let kv = store.key_value(kv)?;
            let kind = if kv.create_revision == kv.mod_revision {
                EventKind::Create
            } else {
                EventKind::Update
            };
            Ok(Event {
                kind,
                prev: prev.filter(|_| kind == EventKind::Update),
                kv,
            })
        }
        EventType::Delete => {
            let prev = prev.ok_or_else(|| {
                Error::Backend(format!(
                    "etcd: the delete of {:?} at {} came without the deleted value",
                    String::from_utf8_lossy(kv.key()),
                    kv.mod_revision()
                ))
            })?;
            let mut deleted = prev.clone();
            deleted.mod_revision = kv.mod_revision() as Revision;
            Ok(Event {
                kind: EventKind::Delete,
                kv: deleted,
                prev: Some(prev),
            })
        }
    }
}

/// etcd's compaction point: a watch from revision 1 is cancelled with it (on etcd's next watch
/// sync, within about 100 ms). `fallback` if etcd does not say in time.
pub(super) async fn compaction_point(store: &EtcdStorage, fallback: Revision) -> Revision {
    let probe = async {
        let mut client = store.watch.clone();
        let options = WatchOptions::new().with_start_revision(1);
        let key = store.etcd_key("/registry/compaction-probe");
        let mut stream = client.watch(key, Some(options)).await.ok()?;
        while let Ok(Some(resp)) = stream.message().await {
            if resp.compact_revision() > 0 {
                return Some(resp.compact_revision() as Revision);
            }
            if resp.canceled() {
                return None;
            }
        }
        None
    };
    let wait = store.timeout.min(Duration::from_secs(2));
    tokio::time::timeout(wait, probe)
        .await
        .ok()
        .flatten()
        .unwrap_or(fallback)
}
