//! Leader election over Lease, ConfigMap and Endpoints resource locks, wire-compatible with
//! client-go's `tools/leaderelection`.
//!
//! This crate is being built; see the book's "kube-leaderelection" chapter for what exists today.
