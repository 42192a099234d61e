//! The watcher as a pure state machine: it says which request to make next and turns each
//! answer into events, without doing any I/O itself. [`super::watcher`] drives it.

use kube_core::{ObjectList, Resource, Status, WatchEvent};

use super::{Error, Event, InitialList};

/// Where the watcher stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum State {
    /// Nothing known: (re)list from scratch.
    Empty,
    /// Part of a paged initial list has been delivered; fetch the next page.
    Listing { continue_token: String },
    /// The state at `resource_version` has been delivered; watch from there.
    Listed { resource_version: String },
    /// A watch is open. `initial` while a streaming list's initial events still arrive.
    Watching { resource_version: String, initial: bool },
}

/// The request the driver should make next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Next {
    /// List a page (`continue_token` for the pages after the first).
    List { continue_token: Option<String> },
    /// Open a watch from `resource_version`; with `initial`, a streaming list
    /// (`sendInitialEvents=true`, from an empty resourceVersion).
    Watch { resource_version: String, initial: bool },
    /// Read the next event of the open watch.
    Poll,
}

/// What an answer means for the driver besides the events: carry on at once, or back off
/// because something failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Carry on with [`Machine::next`].
    Continue,
    /// Something failed: wait the backoff delay before the next request.
    Failed,
    /// The open watch must be dropped (the server ended it or it failed) before the next request.
    WatchEnded,
    /// Both: drop the watch and back off.
    WatchFailed,
}

/// The watcher's state plus its strategy.
#[derive(Debug)]
pub(crate) struct Machine {
    pub(crate) state: State,
    strategy: InitialList,
}

/// Events and an error produced by one step.
pub(crate) struct Step<K> {
    pub events: Vec<Event<K>>,
    pub error: Option<Error>,
    pub outcome: Outcome,
}

impl<K> Step<K> {
    fn ok(events: Vec<Event<K>>) -> Self {
        Self {
            events,
            error: None,
            outcome: Outcome::Continue,
        }
    }
    fn err(error: Error, outcome: Outcome) -> Self {
        Self {
            events: Vec::new(),
            error: Some(error),
            outcome,
        }
    }
}

impl Machine {
    pub(crate) fn new(strategy: InitialList) -> Self {
        Self {
            state: State::Empty,
            strategy,
        }
    }

    /// The request to make now.
    pub(crate) fn next(&self) -> Next {
        match &self.state {
            State::Empty => match self.strategy {
                InitialList::ListWatch => Next::List { continue_token: None },
                InitialList::Streaming => Next::Watch {
                    resource_version: String::new(),
                    initial: true,
                },
            },
            State::Listing { continue_token } => Next::List {
                continue_token: Some(continue_token.clone()),
            },
            State::Listed { resource_version } => Next::Watch {
                resource_version: resource_version.clone(),
                initial: false,
            },
            State::Watching { .. } => Next::Poll,
        }
    }

    /// The answer to a [`Next::List`].
    pub(crate) fn on_list<K: Resource>(
        &mut self,
        page: Result<ObjectList<K>, kube_client::Error>,
    ) -> Step<K> {
        let first = matches!(self.state, State::Empty);
        let page = match page {
            Ok(page) => page,
            Err(e) => {
                if !first && e.is_gone() {
                    // The continue token outlived the history it points into: start over.
                    tracing::debug!("continue token expired; relisting");
                    self.state = State::Empty;
                    return Step::ok(Vec::new());
                }
                return Step::err(Error::InitialListFailed(e), Outcome::Failed);
            }
        };
        let mut events = Vec::with_capacity(page.items.len() + 2);
        if first {
            events.push(Event::Init);
        }
        let next_token = page.metadata.continue_.filter(|t| !t.is_empty());
        let rv = page.metadata.resource_version.unwrap_or_default();
        events.extend(page.items.into_iter().map(Event::InitApply));
        match next_token {
            Some(continue_token) => self.state = State::Listing { continue_token },
            None => {
                events.push(Event::InitDone);
                self.state = State::Listed { resource_version: rv };
            }
        }
        Step::ok(events)
    }

    /// The answer to a [`Next::Watch`]: whether the watch could be opened.
    pub(crate) fn on_watch_started<K>(&mut self, started: Result<(), kube_client::Error>) -> Step<K> {
        let (resource_version, initial) = match &self.state {
            State::Listed { resource_version } => (resource_version.clone(), false),
            State::Empty => (String::new(), true),
            other => unreachable!("a watch is only started from Empty or Listed, not {other:?}"),
        };
        match started {
            Ok(()) => {
                self.state = State::Watching {
                    resource_version,
                    initial,
                };
                Step::ok(if initial { vec![Event::Init] } else { Vec::new() })
            }
            Err(e) if e.is_gone() => {
                tracing::debug!(%resource_version, "resource version too old; relisting");
                self.state = State::Empty;
                Step::ok(Vec::new())
            }
            Err(e) => Step::err(Error::WatchStartFailed(e), Outcome::Failed),
        }
    }

    /// The answer to a [`Next::Poll`]: the next item of the watch, `None` when it ended.
    pub(crate) fn on_watch_event<K: Resource>(
        &mut self,
        event: Option<Result<WatchEvent<K>, kube_client::Error>>,
    ) -> Step<K> {
        let State::Watching {
            resource_version,
            initial,
        } = &mut self.state
        else {
            unreachable!("events only arrive while watching");
        };
        let initial_now = *initial;
        let event = match event {
            Some(Ok(event)) => event,
            ended => {
                let outcome = match ended {
                    Some(Err(e)) => Some(e),
                    _ => None,
                };
                // A streaming list cut short must start over; a plain watch resumes.
                self.state = if initial_now {
                    State::Empty
                } else {
                    State::Listed {
                        resource_version: std::mem::take(resource_version),
                    }
                };
                return match outcome {
                    Some(e) => Step::err(Error::WatchFailed(e), Outcome::WatchFailed),
                    None => Step {
                        events: Vec::new(),
                        error: None,
                        outcome: Outcome::WatchEnded,
                    },
                };
            }
        };
        match event {
            WatchEvent::Added(obj) | WatchEvent::Modified(obj) => {
                remember(resource_version, &obj);
                Step::ok(vec![if initial_now {
                    Event::InitApply(obj)
                } else {
                    Event::Apply(obj)
                }])
            }
            WatchEvent::Deleted(obj) => {
                remember(resource_version, &obj);
                Step::ok(vec![Event::Delete(obj)])
            }
            WatchEvent::Bookmark(bookmark) => {
                *resource_version = bookmark.metadata.resource_version.clone();
                if initial_now && bookmark.is_initial_events_end() {
                    *initial = false;
                    Step::ok(vec![Event::InitDone])
                } else {
                    Step::ok(Vec::new())
                }
            }
            WatchEvent::Error(status) => self.on_watch_error(status),
        }
    }

    fn on_watch_error<K>(&mut self, status: Status) -> Step<K> {
        let State::Watching {
            resource_version,
            initial,
        } = &mut self.state
        else {
            unreachable!("events only arrive while watching");
        };
        if status.is_gone() || *initial {
            if status.is_gone() {
                tracing::debug!(%resource_version, "watch expired; relisting");
            }
            self.state = State::Empty;
            if status.is_gone() {
                return Step {
                    events: Vec::new(),
                    error: None,
                    outcome: Outcome::WatchEnded,
                };
            }
        } else {
            self.state = State::Listed {
                resource_version: std::mem::take(resource_version),
            };
        }
        Step::err(Error::WatchError(Box::new(status)), Outcome::WatchFailed)
    }
}

fn remember<K: Resource>(resource_version: &mut String, obj: &K) {
    if let Some(rv) = obj.meta().resource_version.as_deref() {
        rv.clone_into(resource_version);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta};
    use kube_core::watch::{Bookmark, BookmarkMeta};

    fn cm(name: &str, rv: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                resource_version: Some(rv.into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn page(items: Vec<ConfigMap>, rv: &str, cont: Option<&str>) -> ObjectList<ConfigMap> {
        ObjectList {
            api_version: "v1".into(),
            kind: "ConfigMapList".into(),
            metadata: ListMeta {
                resource_version: Some(rv.into()),
                continue_: cont.map(Into::into),
                ..Default::default()
            },
            items,
        }
    }

    fn status(code: u16, reason: &str) -> Status {
        serde_json::from_value(serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": reason, "reason": reason, "code": code,
        }))
        .unwrap()
    }

    fn api_err(code: u16, reason: &str) -> kube_client::Error {
        kube_client::Error::Api(Box::new(status(code, reason)))
    }

    fn names(events: &[Event<ConfigMap>]) -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                Event::Init => "Init".into(),
                Event::InitApply(o) => format!("InitApply({})", o.metadata.name.as_deref().unwrap()),
                Event::InitDone => "InitDone".into(),
                Event::Apply(o) => format!("Apply({})", o.metadata.name.as_deref().unwrap()),
                Event::Delete(o) => format!("Delete({})", o.metadata.name.as_deref().unwrap()),
            })
            .collect()
    }

    fn bookmark(rv: &str, end: bool) -> WatchEvent<ConfigMap> {
        let mut annotations = std::collections::BTreeMap::new();
        if end {
            annotations.insert(
                kube_core::watch::INITIAL_EVENTS_END_ANNOTATION.into(),
                "true".into(),
            );
        }
        WatchEvent::Bookmark(Bookmark {
            kind: "ConfigMap".into(),
            api_version: "v1".into(),
            metadata: BookmarkMeta {
                resource_version: rv.into(),
                annotations,
            },
        })
    }

    #[test]
    fn pages_then_watch_from_the_lists_version() {
        let mut m = Machine::new(InitialList::ListWatch);
        assert_eq!(m.next(), Next::List { continue_token: None });
        let s = m.on_list(Ok(page(vec![cm("a", "3")], "9", Some("tok"))));
        assert_eq!(names(&s.events), ["Init", "InitApply(a)"]);
        assert_eq!(
            m.next(),
            Next::List {
                continue_token: Some("tok".into())
            }
        );
        let s = m.on_list(Ok(page(vec![cm("b", "5")], "9", None)));
        assert_eq!(names(&s.events), ["InitApply(b)", "InitDone"]);
        assert_eq!(
            m.next(),
            Next::Watch {
                resource_version: "9".into(),
                initial: false
            }
        );
        let s = m.on_watch_started::<ConfigMap>(Ok(()));
        assert!(s.events.is_empty());
        assert_eq!(m.next(), Next::Poll);
        let s = m.on_watch_event(Some(Ok(WatchEvent::Modified(cm("a", "12")))));
        assert_eq!(names(&s.events), ["Apply(a)"]);
        let s = m.on_watch_event(Some(Ok(WatchEvent::Deleted(cm("b", "13")))));
        assert_eq!(names(&s.events), ["Delete(b)"]);
        // A bookmark moves the resume point without an event.
        let s = m.on_watch_event(Some(Ok(bookmark("20", false))));
        assert!(s.events.is_empty());
        // The server closes the watch: resume from the last version seen, no error.
        let s = m.on_watch_event::<ConfigMap>(None);
        assert_eq!(s.outcome, Outcome::WatchEnded);
        assert!(s.error.is_none());
        assert_eq!(
            m.next(),
            Next::Watch {
                resource_version: "20".into(),
                initial: false
            }
        );
    }

    #[test]
    fn a_broken_watch_resumes_after_backoff() {
        let mut m = Machine::new(InitialList::ListWatch);
        m.on_list(Ok(page(vec![], "4", None)));
        m.on_watch_started::<ConfigMap>(Ok(()));
        m.on_watch_event(Some(Ok(WatchEvent::Added(cm("x", "6")))));
        let s = m.on_watch_event::<ConfigMap>(Some(Err(api_err(500, "InternalError"))));
        assert_eq!(s.outcome, Outcome::WatchFailed);
        assert!(matches!(s.error, Some(Error::WatchFailed(_))));
        assert_eq!(
            m.next(),
            Next::Watch {
                resource_version: "6".into(),
                initial: false
            }
        );
    }

    #[test]
    fn expiry_relists_without_an_error() {
        let mut m = Machine::new(InitialList::ListWatch);
        m.on_list(Ok(page(vec![], "4", None)));
        // Gone when the watch starts.
        let s = m.on_watch_started::<ConfigMap>(Err(api_err(410, "Expired")));
        assert!(s.error.is_none());
        assert_eq!(m.state, State::Empty);
        // Gone as an ERROR event.
        m.on_list(Ok(page(vec![], "8", None)));
        m.on_watch_started::<ConfigMap>(Ok(()));
        let s = m.on_watch_event::<ConfigMap>(Some(Ok(WatchEvent::Error(status(410, "Expired")))));
        assert!(s.error.is_none());
        assert_eq!(s.outcome, Outcome::WatchEnded);
        assert_eq!(m.next(), Next::List { continue_token: None });
        // An expired continue token restarts the list, which announces Init again.
        m.on_list(Ok(page(vec![cm("a", "1")], "9", Some("tok"))));
        let s = m.on_list::<ConfigMap>(Err(api_err(410, "Expired")));
        assert!(s.error.is_none());
        let s = m.on_list(Ok(page(vec![cm("a", "1")], "10", None)));
        assert_eq!(names(&s.events), ["Init", "InitApply(a)", "InitDone"]);
    }

    #[test]
    fn other_errors_back_off_and_keep_the_position() {
        let mut m = Machine::new(InitialList::ListWatch);
        let s = m.on_list::<ConfigMap>(Err(api_err(503, "ServiceUnavailable")));
        assert_eq!(s.outcome, Outcome::Failed);
        assert_eq!(m.state, State::Empty);
        m.on_list(Ok(page(vec![], "4", None)));
        let s = m.on_watch_started::<ConfigMap>(Err(api_err(403, "Forbidden")));
        assert!(matches!(s.error, Some(Error::WatchStartFailed(_))));
        assert_eq!(
            m.next(),
            Next::Watch {
                resource_version: "4".into(),
                initial: false
            }
        );
        m.on_watch_started::<ConfigMap>(Ok(()));
        let s = m.on_watch_event::<ConfigMap>(Some(Ok(WatchEvent::Error(status(500, "InternalError")))));
        assert!(matches!(s.error, Some(Error::WatchError(_))));
        assert_eq!(
            m.next(),
            Next::Watch {
                resource_version: "4".into(),
                initial: false
            }
        );
    }

    #[test]
    fn streaming_list_marks_the_initial_events() {
        let mut m = Machine::new(InitialList::Streaming);
        assert_eq!(
            m.next(),
            Next::Watch {
                resource_version: String::new(),
                initial: true
            }
        );
        let s = m.on_watch_started::<ConfigMap>(Ok(()));
        assert_eq!(names(&s.events), ["Init"]);
        let s = m.on_watch_event(Some(Ok(WatchEvent::Added(cm("a", "3")))));
        assert_eq!(names(&s.events), ["InitApply(a)"]);
        let s = m.on_watch_event(Some(Ok(bookmark("7", false))));
        assert!(s.events.is_empty());
        let s = m.on_watch_event(Some(Ok(bookmark("7", true))));
        assert_eq!(names(&s.events), ["InitDone"]);
        let s = m.on_watch_event(Some(Ok(WatchEvent::Added(cm("b", "8")))));
        assert_eq!(names(&s.events), ["Apply(b)"]);
        // After the initial events, a closed watch resumes rather than re-streams.
        m.on_watch_event::<ConfigMap>(None);
        assert_eq!(
            m.next(),
            Next::Watch {
                resource_version: "8".into(),
                initial: false
            }
        );
    }

    #[test]
    fn a_streaming_list_cut_short_starts_over() {
        let mut m = Machine::new(InitialList::Streaming);
        m.on_watch_started::<ConfigMap>(Ok(()));
        m.on_watch_event(Some(Ok(WatchEvent::Added(cm("a", "3")))));
        m.on_watch_event::<ConfigMap>(None);
        assert_eq!(m.state, State::Empty);
        let s = m.on_watch_started::<ConfigMap>(Ok(()));
        assert_eq!(names(&s.events), ["Init"]);
    }
}
