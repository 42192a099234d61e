//! The reference scheduler: a thin program on the SDK that places pods on nodes the way
//! kube-scheduler does.
//!
//! Start here: [`Scheduler::run`](scheduler::Scheduler::run) watches pods and nodes through
//! shared informers, keeps a [`Cache`](cache::Cache) of what runs where, and runs one
//! scheduling cycle at a time, taking pods from the [`SchedulingQueue`](queue::SchedulingQueue)
//! highest priority first: [`algorithm::schedule`] filters every node with the profile's
//! [`FilterPlugin`](framework::FilterPlugin)s, scores the feasible ones with its
//! [`ScorePlugin`](framework::ScorePlugin)s, picks the best (at random among equals), assumes
//! the pod there and binds it through `pods/binding` in the background. A pod that fits
//! nowhere gets kube-scheduler's `FailedScheduling` event and `PodScheduled=False` condition
//! with its `0/N nodes are available: ...` text (without the ` preemption: ...` part
//! kube-scheduler appends, preemption not being built), and waits for a node or pod change
//! (with backoff) before the next try. Pods with scheduling gates wait until the gates are gone.
//!
//! [`config::KubeSchedulerConfiguration`] reads kube-scheduler's configuration file (profiles,
//! plugin weights, `NodeResourcesFit` scoring, backoff, client connection, leader election);
//! the binary `ref-scheduler` adds the flags and runs the scheduler under leader election with
//! [`kube_leaderelection::component::ComponentElection`].
//!
//! The plugins ([`plugins`]): `NodeUnschedulable`, `TaintToleration`, `NodeAffinity` (node
//! selector, required and preferred node affinity), `NodePorts`, `NodeResourcesFit`
//! (`LeastAllocated` or `MostAllocated`), `NodeResourcesBalancedAllocation` and
//! `ImageLocality`, with kube-scheduler's default weights.

pub mod algorithm;
pub mod cache;
pub mod config;
pub mod framework;
pub mod metrics;
pub mod plugins;
pub mod profile;
pub mod queue;
pub mod scheduler;

pub use config::KubeSchedulerConfiguration;
pub use scheduler::Scheduler;
