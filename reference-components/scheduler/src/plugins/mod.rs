//! The in-tree plugins and the registry that finds them by name. Adding a plugin is a file here
//! and one line in [`registry`].

use std::sync::Arc;

use serde_json::Value;

use crate::framework::{FilterPlugin, ScorePlugin};

pub mod image_locality;
pub mod node_affinity;
pub mod node_ports;
pub mod node_resources_fit;
pub mod node_unschedulable;
pub mod taint_toleration;

/// A plugin as the registry builds it: the extension points it implements.
#[derive(Clone)]
pub struct Plugin {
    /// Its filter, if it has one.
    pub filter: Option<Arc<dyn FilterPlugin>>,
    /// Its score, if it has one.
    pub score: Option<Arc<dyn ScorePlugin>>,
    /// Its weight when enabled by default (or enabled without one).
    pub default_weight: i64,
}

/// Why a plugin could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// No plugin has this name.
    #[error("plugin {0:?} does not exist (this scheduler has: {names})", names = names().join(", "))]
    Unknown(String),
    /// The plugin's `pluginConfig` arguments do not decode.
    #[error("invalid arguments for plugin {name:?}: {source}")]
    Args {
        /// The plugin.
        name: String,
        /// What was wrong.
        #[source]
        source: serde_json::Error,
    },
}

fn filter_and_score<P: FilterPlugin + ScorePlugin + 'static>(p: P, default_weight: i64) -> Plugin {
    let p = Arc::new(p);
    Plugin {
        filter: Some(p.clone()),
        score: Some(p),
        default_weight,
    }
}

fn filter_only(p: impl FilterPlugin + 'static) -> Plugin {
    Plugin {
        filter: Some(Arc::new(p)),
        score: None,
        default_weight: 1,
    }
}

fn score_only(p: impl ScorePlugin + 'static, default_weight: i64) -> Plugin {
    Plugin {
        filter: None,
        score: Some(Arc::new(p)),
        default_weight,
    }
}

/// The default plugins, in kube-scheduler's order (`getDefaultPlugins`, v1), with their
/// default score weights.
pub const DEFAULTS: &[&str] = &[
    "NodeUnschedulable",
    "TaintToleration",
    "NodeAffinity",
    "NodePorts",
    "NodeResourcesFit",
    "NodeResourcesBalancedAllocation",
    "ImageLocality",
];

/// The plugins that read `pluginConfig` arguments here; arguments for any other are an error.
pub const TAKES_ARGS: &[&str] = &["NodeResourcesFit", "NodeResourcesBalancedAllocation"];

/// The names the registry knows.
pub fn names() -> Vec<&'static str> {
    DEFAULTS.to_vec()
}

/// Decodes a plugin's arguments (`None`: an empty object, so the defaults).
fn decode<T: serde::de::DeserializeOwned>(name: &str, args: Option<&Value>) -> Result<T, PluginError> {
    let args = args
        .cloned()
        .filter(|a| !a.is_null())
        .unwrap_or_else(|| Value::Object(Default::default()));
    serde_json::from_value(args).map_err(|source| PluginError::Args {
        name: name.to_owned(),
        source,
    })
}

/// Builds the plugin called `name` with its `pluginConfig` arguments (`None`: the defaults).
pub fn registry(name: &str, args: Option<&Value>) -> Result<Plugin, PluginError> {
    Ok(match name {
        "NodeUnschedulable" => filter_only(node_unschedulable::NodeUnschedulable),
        "TaintToleration" => filter_and_score(taint_toleration::TaintToleration, 3),
        "NodeAffinity" => filter_and_score(node_affinity::NodeAffinity, 2),
        "NodePorts" => filter_only(node_ports::NodePorts),
        "NodeResourcesFit" => {
            filter_and_score(node_resources_fit::NodeResourcesFit::new(decode(name, args)?), 1)
        }
        "NodeResourcesBalancedAllocation" => score_only(
            node_resources_fit::BalancedAllocation::new(decode(name, args)?),
            1,
        ),
        "ImageLocality" => score_only(image_locality::ImageLocality, 1),
        other => return Err(PluginError::Unknown(other.to_owned())),
    })
}
