//! `KubeSchedulerConfiguration` (`kubescheduler.config.k8s.io/v1`), the file `--config` reads:
//! the parts this scheduler acts on, strictly decoded, so a typo is an error and not a silently
//! ignored setting.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

use kube_leaderelection::component::LeaderElectionConfiguration;
use serde::Deserialize;
use serde_json::Value;

use crate::profile::{Profile, ProfileError};

/// The configuration's API version.
pub const API_VERSION: &str = "kubescheduler.config.k8s.io/v1";
/// The configuration's kind.
pub const KIND: &str = "KubeSchedulerConfiguration";
/// The scheduler name of pods that name none, and of the default profile.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The text is not a configuration this scheduler understands.
    #[error("decoding the scheduler configuration: {0}")]
    Decode(#[source] yaml_serde::Error),
    /// Another API version or kind.
    #[error("unsupported configuration {api_version}/{kind}: want {API_VERSION} {KIND}")]
    Kind {
        /// What the file says.
        api_version: String,
        /// What the file says.
        kind: String,
    },
    /// A value out of range.
    #[error("invalid scheduler configuration: {0}")]
    Invalid(String),
    /// A profile that cannot be built.
    #[error("profile {name:?}: {source}")]
    Profile {
        /// The profile's scheduler name.
        name: String,
        /// Why.
        #[source]
        source: ProfileError,
    },
}

/// `clientConnection`: how the scheduler talks to the apiserver.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientConnection {
    /// The kubeconfig file; empty: `$KUBECONFIG`, `~/.kube/config`, then in-cluster.
    #[serde(default)]
    pub kubeconfig: String,
    /// Client-side requests per second (default 50).
    pub qps: Option<f32>,
    /// Client-side burst (default 100).
    pub burst: Option<u32>,
    /// Accepted for compatibility; this client negotiates JSON.
    #[serde(default)]
    pub content_type: Option<String>,
    /// Accepted for compatibility.
    #[serde(default)]
    pub accept_content_types: Option<String>,
}

/// A plugin named in a set, with an optional weight (score only).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginRef {
    /// The plugin's name, or `*` in `disabled` for all defaults.
    pub name: String,
    /// Its score weight; absent or 0: 1, as kube-scheduler reads it.
    #[serde(default)]
    pub weight: Option<i64>,
}

/// `enabled` and `disabled` plugins of one extension point.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginSet {
    /// Added after the defaults; naming a default replaces it in place (that is how a weight
    /// changes).
    pub enabled: Vec<PluginRef>,
    /// Removed from the defaults.
    pub disabled: Vec<PluginRef>,
}

/// `plugins`: the sets per extension point.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Plugins {
    /// Applies to every extension point a plugin implements.
    pub multi_point: PluginSet,
    /// Filter plugins.
    pub filter: PluginSet,
    /// Score plugins.
    pub score: PluginSet,
    /// The other extension points (`queueSort`, `preFilter`, `bind`, ...): disabling there is
    /// accepted, enabling is an error, since this scheduler has no plugins for them.
    #[serde(flatten)]
    pub other: BTreeMap<String, PluginSet>,
}

/// `pluginConfig`: a plugin's arguments.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginConfig {
    /// The plugin.
    pub name: String,
    /// Its arguments.
    #[serde(default)]
    pub args: Value,
}

/// One profile: a scheduler name and its plugins.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileConfig {
    /// The `spec.schedulerName` of the pods this profile schedules.
    #[serde(default = "default_scheduler_name")]
    pub scheduler_name: String,
    /// Changes to the default plugins.
    #[serde(default)]
    pub plugins: Plugins,
    /// Arguments of plugins.
    #[serde(default)]
    pub plugin_config: Vec<PluginConfig>,
    /// The share of nodes (percent) a cycle filters before it stops looking, over the
    /// configuration's; `0`: adaptive.
    #[serde(default)]
    pub percentage_of_nodes_to_score: Option<i32>,
}

fn default_scheduler_name() -> String {
    DEFAULT_SCHEDULER_NAME.into()
}

/// The configuration file.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubeSchedulerConfiguration {
    /// `kubescheduler.config.k8s.io/v1`.
    pub api_version: String,
    /// `KubeSchedulerConfiguration`.
    pub kind: String,
    /// Leader election; absent: the defaults (elect, Lease `kube-system/kube-scheduler`).
    #[serde(default)]
    pub leader_election: LeaderElectionConfiguration,
    /// The apiserver connection.
    #[serde(default)]
    pub client_connection: ClientConnection,
    /// The first retry delay of an unschedulable pod (default 1).
    #[serde(default = "one")]
    pub pod_initial_backoff_seconds: u64,
    /// The longest retry delay (default 10).
    #[serde(default = "ten")]
    pub pod_max_backoff_seconds: u64,
    /// The profiles; none: one default profile.
    #[serde(default)]
    pub profiles: Vec<ProfileConfig>,
    /// Accepted; scheduling cycles run one at a time.
    #[serde(default)]
    pub parallelism: Option<i32>,
    /// The share of nodes (percent) a cycle filters before it stops looking once it has found
    /// that many feasible ones; `0` or absent: adaptive (`50 - nodes/125`, at least 5 %), and
    /// never fewer than 100 nodes.
    #[serde(default)]
    pub percentage_of_nodes_to_score: Option<i32>,
    /// Accepted; this scheduler serves neither.
    #[serde(default)]
    pub enable_profiling: Option<bool>,
    /// Accepted; see `enableProfiling`.
    #[serde(default)]
    pub enable_contention_profiling: Option<bool>,
    /// Accepted; informers start only once leading.
    #[serde(default)]
    pub delay_cache_until_active: Option<bool>,
}

fn one() -> u64 {
    1
}

fn ten() -> u64 {
    10
}

impl Default for KubeSchedulerConfiguration {
    fn default() -> Self {
        Self {
            api_version: API_VERSION.into(),
            kind: KIND.into(),
            leader_election: LeaderElectionConfiguration::default(),
            client_connection: ClientConnection::default(),
            pod_initial_backoff_seconds: 1,
            pod_max_backoff_seconds: 10,
            profiles: Vec::new(),
            parallelism: None,
            percentage_of_nodes_to_score: None,
            enable_profiling: None,
            enable_contention_profiling: None,
            delay_cache_until_active: None,
        }
    }
}

impl KubeSchedulerConfiguration {
    /// Parses a configuration (YAML or JSON) and checks it.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let config: Self = yaml_serde::from_str(text).map_err(ConfigError::Decode)?;
        if config.api_version != API_VERSION || config.kind != KIND {
            return Err(ConfigError::Kind {
                api_version: config.api_version,
                kind: config.kind,
            });
        }
        if let Some(pct) = config
            .percentage_of_nodes_to_score
            .filter(|v| !(0..=100).contains(v))
        {
            return Err(ConfigError::Invalid(format!(
                "percentageOfNodesToScore {pct} is not in 0..=100"
            )));
        }
        config.profiles()?;
        if config.pod_initial_backoff_seconds == 0 {
            return Err(ConfigError::Invalid(
                "podInitialBackoffSeconds must be greater than 0".into(),
            ));
        }
        if config.pod_max_backoff_seconds < config.pod_initial_backoff_seconds {
            return Err(ConfigError::Invalid(
                "podMaxBackoffSeconds must be greater than or equal to podInitialBackoffSeconds".into(),
            ));
        }
        Ok(config)
    }

    /// Reads and parses the file at `path`.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    /// The first and longest retry delay of an unschedulable pod.
    pub fn backoff(&self) -> (Duration, Duration) {
        (
            Duration::from_secs(self.pod_initial_backoff_seconds),
            Duration::from_secs(self.pod_max_backoff_seconds),
        )
    }

    /// The profiles, built: the configured ones, or one default profile.
    pub fn profiles(&self) -> Result<Vec<Profile>, ConfigError> {
        let default = [ProfileConfig {
            scheduler_name: DEFAULT_SCHEDULER_NAME.into(),
            plugins: Plugins::default(),
            plugin_config: Vec::new(),
            percentage_of_nodes_to_score: None,
        }];
        let configs = if self.profiles.is_empty() {
            &default[..]
        } else {
            &self.profiles[..]
        };
        let mut seen = HashSet::new();
        configs
            .iter()
            .map(|p| {
                if p.scheduler_name.is_empty() {
                    return Err(ConfigError::Invalid("a profile needs a schedulerName".into()));
                }
                if !seen.insert(p.scheduler_name.as_str()) {
                    return Err(ConfigError::Invalid(format!(
                        "duplicate profile {:?}",
                        p.scheduler_name
                    )));
                }
                if let Some(pct) = p.percentage_of_nodes_to_score.filter(|v| !(0..=100).contains(v)) {
                    return Err(ConfigError::Invalid(format!(
                        "profile {:?}: percentageOfNodesToScore {pct} is not in 0..=100",
                        p.scheduler_name
                    )));
                }
                Profile::build(p, self.percentage_of_nodes_to_score).map_err(|source| ConfigError::Profile {
                    name: p.scheduler_name.clone(),
                    source,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;

    #[test]
    fn a_full_file_decodes() {
        let config = KubeSchedulerConfiguration::parse(
            r#"
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
parallelism: 16
leaderElection:
  leaderElect: true
  resourceName: my-scheduler
  leaseDuration: 4s
  renewDeadline: 3s
  retryPeriod: 1s
clientConnection: {kubeconfig: /etc/kubernetes/scheduler.conf, qps: 50, burst: 100}
podInitialBackoffSeconds: 2
podMaxBackoffSeconds: 20
profiles:
- schedulerName: default-scheduler
- schedulerName: packing
  plugins:
    score:
      disabled: [{name: NodeResourcesBalancedAllocation}]
      enabled: [{name: NodeResourcesFit, weight: 5}]
    queueSort:
      disabled: [{name: "*"}]
  pluginConfig:
  - name: NodeResourcesFit
    args: {scoringStrategy: {type: MostAllocated}}
"#,
        )
        .unwrap();
        assert_eq!(config.leader_election.resource_name, "my-scheduler");
        assert_eq!(config.leader_election.retry_period, Duration::from_secs(1));
        assert_eq!(
            config.client_connection.kubeconfig,
            "/etc/kubernetes/scheduler.conf"
        );
        assert_eq!(
            config.backoff(),
            (Duration::from_secs(2), Duration::from_secs(20))
        );
        let profiles = config.profiles().unwrap();
        assert_eq!(profiles.len(), 2);
        assert_eq!(
            profiles[1].score_weights(),
            [
                ("TaintToleration", 3),
                ("NodeAffinity", 2),
                ("NodeResourcesFit", 5),
                ("ImageLocality", 1)
            ]
        );
    }

    #[test]
    fn plugin_sets_merge_as_kube_scheduler_merges_them() {
        let profile = |plugins: &str| {
            let text = format!(
                "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles: [{{plugins: {plugins}}}]\n"
            );
            KubeSchedulerConfiguration::parse(&text)
                .unwrap()
                .profiles()
                .unwrap()
                .remove(0)
        };
        let filters = |p: &Profile| p.filters.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        // Enabling a default again without a weight gives it weight 1, in place.
        let p = profile("{score: {enabled: [{name: TaintToleration}]}}");
        assert_eq!(p.score_weights()[0], ("TaintToleration", 1));
        // A point's own disable wins over multiPoint, and `*` there drops every multiPoint plugin.
        let p =
            profile("{multiPoint: {enabled: [{name: NodePorts}]}, filter: {disabled: [{name: NodePorts}]}}");
        assert!(
            !filters(&p).contains(&"NodePorts".to_owned()),
            "{:?}",
            filters(&p)
        );
        let p = profile("{filter: {disabled: [{name: \"*\"}], enabled: [{name: NodeResourcesFit}]}}");
        assert_eq!(filters(&p), ["NodeResourcesFit"]);
        assert_eq!(p.scores.len(), 5, "score keeps its plugins");
        // multiPoint's own disable removes a plugin from every point.
        let p = profile("{multiPoint: {disabled: [{name: TaintToleration}]}}");
        assert!(!filters(&p).contains(&"TaintToleration".to_owned()));
        assert!(p.score_weights().iter().all(|(n, _)| *n != "TaintToleration"));
    }

    #[test]
    fn defaults_when_the_file_says_little() {
        let config = KubeSchedulerConfiguration::parse(
            "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n",
        )
        .unwrap();
        assert!(config.leader_election.leader_elect);
        assert_eq!(
            config.backoff(),
            (Duration::from_secs(1), Duration::from_secs(10))
        );
        let profiles = config.profiles().unwrap();
        assert_eq!(profiles[0].name, "default-scheduler");
        assert_eq!(
            profiles[0].score_weights(),
            [
                ("TaintToleration", 3),
                ("NodeAffinity", 2),
                ("NodeResourcesFit", 1),
                ("NodeResourcesBalancedAllocation", 1),
                ("ImageLocality", 1)
            ]
        );
    }

    #[test]
    fn bad_files_are_clear_errors() {
        let head = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n";
        let err = |body: &str| {
            KubeSchedulerConfiguration::parse(&format!("{head}{body}"))
                .unwrap_err()
                .to_string()
        };
        assert!(err("podMaxBackofSeconds: 3\n").contains("unknown field `podMaxBackofSeconds`"));
        assert!(
            err("podInitialBackoffSeconds: 0\n").contains("podInitialBackoffSeconds must be greater than 0")
        );
        assert!(
            err("profiles: [{schedulerName: a}, {schedulerName: a}]\n").contains("duplicate profile \"a\"")
        );
        assert!(
            err("profiles: [{plugins: {score: {enabled: [{name: Nope}]}}}]\n")
                .contains("plugin \"Nope\" does not exist")
        );
        assert!(
            err("profiles: [{plugins: {bind: {enabled: [{name: DefaultBinder}]}}}]\n")
                .contains("extension point \"bind\"")
        );
        assert!(err("leaderElection: {leaseDuration: soon}\n").contains("soon"));
        assert!(
            err("profiles: [{pluginConfig: [{name: NodeAffinity, args: {addedAffinity: {}}}]}]\n")
                .contains("plugin \"NodeAffinity\" takes no arguments in this scheduler")
        );
        assert!(
            err("profiles: [{plugins: {score: {enabled: [{name: NodeAffinity, weight: 101}]}}}]\n")
                .contains("not in 1..=100")
        );
        assert!(
            err("percentageOfNodesToScore: 101\n").contains("percentageOfNodesToScore 101 is not in 0..=100")
        );
        assert!(err("profiles: [{percentageOfNodesToScore: -1}]\n").contains("is not in 0..=100"));
        let other = KubeSchedulerConfiguration::parse(
            "apiVersion: kubescheduler.config.k8s.io/v1beta3\nkind: KubeSchedulerConfiguration\n",
        )
        .unwrap_err()
        .to_string();
        assert!(other.contains("want kubescheduler.config.k8s.io/v1"), "{other}");
    }
}
