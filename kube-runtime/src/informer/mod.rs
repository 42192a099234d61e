//! Shared informers: one watch per collection, a cache every consumer reads, and event
//! handlers that react to changes — client-go's `SharedIndexInformer` and its factory.
//!
//! A [`SharedInformerFactory`] hands out one [`SharedInformer`] per (resource, namespace,
//! selectors), however many controllers ask for it, and runs them all. Each informer keeps a
//! [`Store`](crate::reflector::Store) (with indices) and calls its [`EventHandler`]s in order:
//! `on_add` (flagged while the first list loads), `on_update`, and `on_delete` — also for
//! deletions the watch missed, with the last known state. Handlers can be added at any time;
//! a late one is first handed the current objects. An optional per-handler resync re-announces
//! every object periodically.

mod factory;
mod handler;
mod shared;

pub use self::factory::{InformerOptions, SharedInformerFactory};
pub use self::handler::{EventHandler, HandlerFns, HandlerOptions};
pub use self::shared::{HandlerRegistration, InformerConfig, RunError, SharedInformer};
