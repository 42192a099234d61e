//! Watchers, reflectors and stores, shared informers, rate-limited workqueues and a controller
//! runtime: the Rust counterpart of client-go's `tools/cache` and `util/workqueue`.
//!
//! This crate is being built; see the book's "kube-runtime" chapter for what exists today.
