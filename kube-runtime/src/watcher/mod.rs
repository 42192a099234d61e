//! The watcher: a never-ending stream of the changes to a collection, with list-then-watch,
//! resumption, relisting on `410 Expired` and backoff built in.
//!
//! ```no_run
//! # async fn run(client: kube_client::Client) {
//! use futures::TryStreamExt;
//! use k8s_openapi::api::core::v1::Pod;
//! use kube_client::Api;
//! use kube_runtime::watcher::{self, Event};
//!
//! let pods: Api<Pod> = Api::all(client);
//! let mut events = std::pin::pin!(watcher::watcher(pods, watcher::Config::default().labels("app=web")));
//! while let Some(event) = events.try_next().await.transpose() {
//!     match event {
//!         Ok(Event::Apply(pod)) => println!("changed: {:?}", pod.metadata.name),
//!         Ok(Event::Delete(pod)) => println!("deleted: {:?}", pod.metadata.name),
//!         Ok(_) => {} // the initial list: Init, InitApply(pod)..., InitDone
//!         Err(e) => eprintln!("watch trouble, retrying by itself: {e}"),
//!     }
//! }
//! # }
//! ```
//!
//! How it behaves, as client-go's reflector does:
//! - it lists the collection in pages of [`Config::page_size`] (500), announcing the objects as
//!   [`Event::Init`], [`Event::InitApply`]... [`Event::InitDone`], then watches from the list's
//!   resourceVersion; with [`InitialList::Streaming`] it gets the initial state from a
//!   `sendInitialEvents=true` watch instead;
//! - when the server closes the watch or the connection drops, it watches again from the last
//!   resourceVersion it saw (objects and bookmarks both advance it), so nothing is missed;
//! - when that version is too old (`410 Expired`), it relists, and the consumer sees a new
//!   `Init`...`InitDone` round that replaces its state;
//! - errors are yielded (for logging) and the watcher carries on after a backoff of 800 ms
//!   doubling to 30 s with jitter, reset after 2 minutes without failures.

mod backoff;
mod state;

use std::collections::VecDeque;
use std::fmt::Debug;
use std::time::Duration;

use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use kube_client::Api;
use kube_core::params::{ListParams, WatchParams};
use kube_core::{Resource, Status, WatchEvent};
use serde::de::DeserializeOwned;

pub use self::backoff::{Backoff, BackoffConfig};
use self::state::{Machine, Next, Outcome, Step};

/// What the watcher tells its consumer.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<K> {
    /// A (re)list starts: the objects that follow, up to [`Event::InitDone`], are the complete
    /// current state; anything not among them is gone.
    Init,
    /// An object of the initial state.
    InitApply(K),
    /// The initial state is complete; from here on, changes.
    InitDone,
    /// An object was created or changed.
    Apply(K),
    /// An object was deleted (its last state).
    Delete(K),
}

impl<K> Event<K> {
    /// The object the event carries, if any.
    pub fn object(&self) -> Option<&K> {
        match self {
            Event::InitApply(o) | Event::Apply(o) | Event::Delete(o) => Some(o),
            Event::Init | Event::InitDone => None,
        }
    }

    /// Whether the event belongs to an initial list.
    pub fn is_initial(&self) -> bool {
        matches!(self, Event::Init | Event::InitApply(_) | Event::InitDone)
    }
}

/// Why a request of the watcher failed. The watcher goes on after each (with backoff unless
/// disabled); they are yielded so that the consumer can log them.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Listing failed.
    #[error("initial list failed: {0}")]
    InitialListFailed(#[source] kube_client::Error),
    /// The watch request failed.
    #[error("failed to start watching: {0}")]
    WatchStartFailed(#[source] kube_client::Error),
    /// The server sent an ERROR event.
    #[error("watch error from the server: {} ({})", .0.message, .0.reason)]
    WatchError(Box<Status>),
    /// The watch stream broke (connection dropped, undecodable event).
    #[error("watch stream failed: {0}")]
    WatchFailed(#[source] kube_client::Error),
    /// Nothing arrived on the watch for longer than the server's timeout allows.
    #[error("watch silent for {0:?}; reconnecting")]
    WatchIdle(Duration),
}

/// The watcher's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How to get the initial state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InitialList {
    /// Paged list calls, then a watch from the list's resourceVersion (works everywhere).
    #[default]
    ListWatch,
    /// One watch with `sendInitialEvents=true` (Kubernetes 1.27+ streaming lists): the current
    /// state as ADDED events up to a bookmark, then the changes. Less memory on the server.
    Streaming,
}

/// Watcher options.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Only objects with these labels.
    pub label_selector: Option<String>,
    /// Only objects with these fields.
    pub field_selector: Option<String>,
    /// Server-side timeout of each watch request, in seconds (default 290, as kube-rs and
    /// client-go pick around five minutes). The watcher reconnects after each.
    pub timeout: u32,
    /// Objects per list page (default 500).
    pub page_size: u32,
    /// How to get the initial state.
    pub initial_list: InitialList,
    /// Ask for bookmarks (default true), so that a resumed watch starts from a recent version.
    pub bookmarks: bool,
    /// Backoff after failures (default on); `None` retries at once on the next poll.
    pub backoff: Option<BackoffConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            label_selector: None,
            field_selector: None,
            timeout: 290,
            page_size: 500,
            initial_list: InitialList::default(),
            bookmarks: true,
            backoff: Some(BackoffConfig::default()),
        }
    }
}

impl Config {
    /// Only objects matching this label selector.
    #[must_use]
    pub fn labels(mut self, selector: &str) -> Self {
        self.label_selector = Some(selector.into());
        self
    }
    /// Only objects matching this field selector.
    #[must_use]
    pub fn fields(mut self, selector: &str) -> Self {
        self.field_selector = Some(selector.into());
        self
    }
    /// The server-side timeout of each watch request.
    #[must_use]
    pub fn timeout(mut self, seconds: u32) -> Self {
        self.timeout = seconds;
        self
    }
    /// Objects per list page.
    #[must_use]
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = size;
        self
    }
    /// Get the initial state from a streaming list.
    #[must_use]
    pub fn streaming_list(mut self) -> Self {
        self.initial_list = InitialList::Streaming;
        self
    }
    /// Back off with these settings (or not at all with `None`).
    #[must_use]
    pub fn backoff(mut self, backoff: Option<BackoffConfig>) -> Self {
        self.backoff = backoff;
        self
    }

    fn list_params(&self, continue_token: Option<String>) -> ListParams {
        ListParams {
            label_selector: self.label_selector.clone(),
            field_selector: self.field_selector.clone(),
            limit: Some(self.page_size),
            continue_token,
            ..ListParams::default()
        }
    }

    fn watch_params(&self, initial: bool) -> WatchParams {
        WatchParams {
            label_selector: self.label_selector.clone(),
            field_selector: self.field_selector.clone(),
            timeout: Some(self.timeout),
            bookmarks: self.bookmarks || initial,
            send_initial_events: initial,
        }
    }

    /// How long a watch may stay silent before the watcher gives up on the connection: the
    /// server ends every watch after `timeout`, so silence beyond it means a dead connection.
    fn idle_limit(&self) -> Duration {
        Duration::from_secs(u64::from(self.timeout) + 30)
    }
}

/// Watch the objects of `api` for ever (see the [module documentation](self)).
#[doc(alias = "reflector")]
#[doc(alias = "ListWatch")]
pub fn watcher<K>(api: Api<K>, config: Config) -> impl Stream<Item = Result<Event<K>>> + Send + 'static
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let driver = Driver {
        machine: Machine::new(config.initial_list),
        backoff: config.backoff.map(Backoff::new),
        api,
        config,
        watch: None,
        queue: VecDeque::new(),
        delay: None,
    };
    futures::stream::unfold(driver, |mut d| async move {
        loop {
            if let Some(item) = d.queue.pop_front() {
                return Some((item, d));
            }
            d.step().await;
        }
    })
}

struct Driver<K> {
    api: Api<K>,
    config: Config,
    machine: Machine,
    backoff: Option<Backoff>,
    watch: Option<BoxStream<'static, kube_client::Result<WatchEvent<K>>>>,
    queue: VecDeque<Result<Event<K>>>,
    delay: Option<Duration>,
}

impl<K> Driver<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    async fn step(&mut self) {
        if let Some(delay) = self.delay.take() {
            tokio::time::sleep(delay).await;
        }
        let step = match self.machine.next() {
            Next::List { continue_token } => {
                let lp = self.config.list_params(continue_token);
                let page = self.api.list(&lp).await;
                self.machine.on_list(page)
            }
            Next::Watch {
                resource_version,
                initial,
            } => {
                let wp = self.config.watch_params(initial);
                match self.api.watch(&wp, &resource_version).await {
                    Ok(stream) => {
                        self.watch = Some(stream.boxed());
                        self.machine.on_watch_started(Ok(()))
                    }
                    Err(e) => self.machine.on_watch_started(Err(e)),
                }
            }
            Next::Poll => {
                let watch = self.watch.as_mut().expect("a watch is open while polling");
                let limit = self.config.idle_limit();
                match tokio::time::timeout(limit, watch.next()).await {
                    Ok(event) => self.machine.on_watch_event(event),
                    Err(_) => {
                        // Treat a silent connection like a broken one.
                        let mut step = self.machine.on_watch_event::<K>(None);
                        step.error = Some(Error::WatchIdle(limit));
                        step.outcome = Outcome::WatchFailed;
                        step
                    }
                }
            }
        };
        self.apply(step);
    }

    fn apply(&mut self, step: Step<K>) {
        self.queue.extend(step.events.into_iter().map(Ok));
        if matches!(step.outcome, Outcome::WatchEnded | Outcome::WatchFailed) {
            self.watch = None;
        }
        if matches!(step.outcome, Outcome::Failed | Outcome::WatchFailed) {
            self.delay = self.backoff.as_mut().map(Backoff::next_delay);
        }
        if let Some(error) = step.error {
            tracing::debug!(%error, "watcher error");
            self.queue.push_back(Err(error));
        }
    }
}
