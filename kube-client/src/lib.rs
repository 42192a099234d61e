//! A Kubernetes client: the Rust counterpart of client-go's `rest` and `kubernetes` packages.
//!
//! Start here: [`Config::infer`] finds credentials (kubeconfig, then in-cluster), [`Client`]
//! sends requests (with TLS, authentication, client-side rate limiting and retries), and
//! [`Api`] gives typed access to one kind of resource.
//!
//! ```no_run
//! use k8s_openapi::api::core::v1::Pod;
//! use kube_client::{Api, Client, Config};
//! use kube_core::params::ListParams;
//!
//! # async fn run() -> Result<(), kube_client::Error> {
//! let client = Client::try_from(Config::infer().await?)?;
//! let pods: Api<Pod> = Api::namespaced(client, "default");
//! for pod in pods.list(&ListParams::default().labels("app=web")).await? {
//!     println!("{}", pod.metadata.name.unwrap_or_default());
//! }
//! # Ok(())
//! # }
//! ```

pub mod api;
pub mod client;
pub mod config;
pub mod discovery;
pub mod error;

pub use api::Api;
pub use client::Client;
pub use config::Config;
pub use discovery::Discovery;
pub use error::{Error, Result};

pub use kube_core as core;

/// The README's examples, compiled as doc tests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
