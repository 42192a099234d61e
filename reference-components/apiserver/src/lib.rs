//! The reference apiserver: the only component that touches storage.
//!
//! Start here: [`server::ApiState::new`] builds the server over a [`storage::Storage`] backend
//! and [`server::router`] serves it; [`testing::TestServer`] runs one in-process on a random
//! loopback port for tests. The request path: [`server`] (limits, authentication,
//! authorization) → [`handlers`] (one per verb, generic over the [`registry`]) →
//! [`watch_cache`] for reads and watches, [`storage`] for writes. Custom resources join the
//! registry at run time: [`apiextensions`] serves each established CustomResourceDefinition,
//! whose objects are pruned, defaulted and validated by [`validation::schema`].

// Handlers answer with a `metav1.Status`, the error every client expects; it is returned by
// value on the (cold) error path, as boxing it everywhere would only add noise.
#![allow(clippy::result_large_err)]

pub mod allocator;
pub mod apiextensions;
pub mod apply;
pub mod defaults;
pub mod discovery;
pub mod handlers;
pub mod metrics;
pub mod negotiation;
pub mod object;
pub mod openapi;
pub mod projection;
pub mod protobuf;
pub mod registry;
pub mod server;
pub mod storage;
pub mod table;
pub mod testing;
pub mod unknown_fields;
pub mod validation;
pub mod watch_cache;
