//! In-cluster configuration.
