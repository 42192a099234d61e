//! Watchers, reflectors and stores, shared informers, rate-limited workqueues and a controller
//! runtime: the Rust counterpart of client-go's `tools/cache` and `util/workqueue`.
//!
//! Start here:
//! - [`watcher`]: a never-ending, self-healing stream of a collection's changes;
//! - [`reflector`]: a local indexed cache ([`Store`](reflector::Store)) kept current by a watcher;
//! - [`informer`]: shared informers (one watch, many consumers, event handlers) and their factory;
//! - [`workqueue`]: the rate-limited work queue controllers are built on;
//! - [`controller`]: reconcile loops over shared informers, with backoff and metrics;
//! - [`finalizer`] and [`events`]: cleanup before deletion, and Kubernetes Events for objects.

pub mod controller;
pub mod events;
pub mod finalizer;
pub mod informer;
pub mod reflector;
pub mod watcher;
pub mod workqueue;
