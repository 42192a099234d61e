//! Event handlers and the listener that feeds each one from its own buffer.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// Reacts to the changes an informer sees. Every method has an empty default.
///
/// Calls for one handler are made in order, from one task, one at a time; a slow handler delays
/// only itself (its notifications wait in its own buffer), never the informer or other handlers.
/// Keep handlers quick: the usual body puts a key on a workqueue.
#[doc(alias = "ResourceEventHandler")]
pub trait EventHandler<K>: Send + Sync + 'static {
    /// An object appeared. `is_initial_list` is true for the objects of the informer's first
    /// list, and for the current objects replayed to a handler added later.
    fn on_add(&self, obj: &Arc<K>, is_initial_list: bool) {
        let _ = (obj, is_initial_list);
    }

    /// An object changed, or (with resync) is re-announced unchanged (`old` and `new` then have
    /// the same resourceVersion).
    fn on_update(&self, old: &Arc<K>, new: &Arc<K>) {
        let _ = (old, new);
    }

    /// An object was deleted. `final_state_unknown` is true when the deletion was missed (it
    /// happened while the watch was down, and a relist no longer found the object): `obj` is
    /// then the last state the informer knew, not the state at deletion.
    #[doc(alias = "DeletedFinalStateUnknown")]
    fn on_delete(&self, obj: &Arc<K>, final_state_unknown: bool) {
        let _ = (obj, final_state_unknown);
    }
}

type AddFn<K> = Box<dyn Fn(&Arc<K>, bool) + Send + Sync>;
type UpdateFn<K> = Box<dyn Fn(&Arc<K>, &Arc<K>) + Send + Sync>;
type DeleteFn<K> = Box<dyn Fn(&Arc<K>, bool) + Send + Sync>;

/// An [`EventHandler`] made of closures.
///
/// ```
/// # use k8s_openapi::api::core::v1::Pod;
/// use kube_runtime::informer::HandlerFns;
/// let handler = HandlerFns::<Pod>::new()
///     .on_add(|pod, _initial| println!("added {:?}", pod.metadata.name))
///     .on_delete(|pod, _unknown| println!("deleted {:?}", pod.metadata.name));
/// ```
#[doc(alias = "ResourceEventHandlerFuncs")]
pub struct HandlerFns<K> {
    add: Option<AddFn<K>>,
    update: Option<UpdateFn<K>>,
    delete: Option<DeleteFn<K>>,
}

impl<K> Default for HandlerFns<K> {
    fn default() -> Self {
        Self {
            add: None,
            update: None,
            delete: None,
        }
    }
}

impl<K> std::fmt::Debug for HandlerFns<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandlerFns")
            .field("add", &self.add.is_some())
            .field("update", &self.update.is_some())
            .field("delete", &self.delete.is_some())
            .finish()
    }
}

impl<K> HandlerFns<K> {
    /// A handler that does nothing yet.
    pub fn new() -> Self {
        Self::default()
    }
    /// Call `f` on additions.
    #[must_use]
    pub fn on_add(mut self, f: impl Fn(&Arc<K>, bool) + Send + Sync + 'static) -> Self {
        self.add = Some(Box::new(f));
        self
    }
    /// Call `f` on updates.
    #[must_use]
    pub fn on_update(mut self, f: impl Fn(&Arc<K>, &Arc<K>) + Send + Sync + 'static) -> Self {
        self.update = Some(Box::new(f));
        self
    }
    /// Call `f` on deletions.
    #[must_use]
    pub fn on_delete(mut self, f: impl Fn(&Arc<K>, bool) + Send + Sync + 'static) -> Self {
        self.delete = Some(Box::new(f));
        self
    }
}

impl<K: Send + Sync + 'static> EventHandler<K> for HandlerFns<K> {
    fn on_add(&self, obj: &Arc<K>, is_initial_list: bool) {
        if let Some(f) = &self.add {
            f(obj, is_initial_list);
        }
    }
    fn on_update(&self, old: &Arc<K>, new: &Arc<K>) {
        if let Some(f) = &self.update {
            f(old, new);
        }
    }
    fn on_delete(&self, obj: &Arc<K>, final_state_unknown: bool) {
        if let Some(f) = &self.delete {
            f(obj, final_state_unknown);
        }
    }
}

/// Options of one handler.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandlerOptions {
    /// Re-announce every cached object as an update this often (client-go's resync), so that a
    /// level-triggered consumer revisits everything even without changes. `None`: never.
    pub resync: Option<Duration>,
}

impl HandlerOptions {
    /// Resync this often.
    #[must_use]
    pub fn resync(mut self, every: Duration) -> Self {
        self.resync = Some(every);
        self
    }
}

/// One notification on its way to a handler.
pub(crate) enum Notification<K> {
    Add(Arc<K>, bool),
    Update(Arc<K>, Arc<K>),
    Delete(Arc<K>, bool),
    /// Everything before this belongs to the handler's initial state.
    Synced,
}

/// The informer's side of one handler: a buffer and the state to decide resyncs.
pub(crate) struct Listener<K> {
    pub(crate) id: u64,
    tx: mpsc::UnboundedSender<Notification<K>>,
    pub(crate) resync: Option<Duration>,
    pub(crate) next_resync: Option<Instant>,
}

impl<K: Send + Sync + 'static> Listener<K> {
    /// Start the task that feeds `handler` and return the informer's side and the shared
    /// "initial state delivered" flag.
    pub(crate) fn spawn(
        id: u64,
        handler: Arc<dyn EventHandler<K>>,
        options: &HandlerOptions,
    ) -> (Self, watch::Receiver<bool>) {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (flag, synced) = watch::channel(false);
        tokio::spawn(async move {
            while let Some(n) = rx.recv().await {
                match n {
                    Notification::Add(obj, initial) => handler.on_add(&obj, initial),
                    Notification::Update(old, new) => handler.on_update(&old, &new),
                    Notification::Delete(obj, unknown) => handler.on_delete(&obj, unknown),
                    Notification::Synced => {
                        flag.send_replace(true);
                    }
                }
            }
        });
        let next_resync = options.resync.map(|every| Instant::now() + every);
        (
            Self {
                id,
                tx,
                resync: options.resync,
                next_resync,
            },
            synced,
        )
    }

    /// Queue a notification; false once the handler's task is gone.
    pub(crate) fn send(&self, n: Notification<K>) -> bool {
        self.tx.send(n).is_ok()
    }

    /// Whether a resync is due at `now` (and if so, schedule the next one).
    pub(crate) fn resync_due(&mut self, now: Instant) -> bool {
        match (self.resync, self.next_resync) {
            (Some(every), Some(at)) if at <= now => {
                self.next_resync = Some(now + every);
                true
            }
            _ => false,
        }
    }
}
