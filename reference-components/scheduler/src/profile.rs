//! A profile, built: the filter and score plugins one scheduler name runs, merged from the
//! defaults and the configuration the way kube-scheduler merges them.

use std::sync::Arc;

use crate::config::{PluginSet, ProfileConfig};
use crate::framework::{FilterPlugin, ScorePlugin};
use crate::plugins::{self, Plugin, PluginError};

/// Why a profile cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// A plugin is unknown or its arguments are wrong.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// A plugin enabled at an extension point it does not implement.
    #[error("plugin {name:?} has no {point} extension")]
    NotAtPoint {
        /// The plugin.
        name: String,
        /// The extension point.
        point: &'static str,
    },
    /// A plugin enabled at an extension point this scheduler does not run.
    #[error(
        "extension point {0:?} is not built in this scheduler; only filter and score plugins can be enabled"
    )]
    Point(String),
    /// `pluginConfig` arguments for a plugin that reads none in this scheduler.
    #[error("plugin {0:?} takes no arguments in this scheduler")]
    Args(String),
    /// A score weight out of range.
    #[error("plugin {name:?}: score weight {weight} is not in 1..=100")]
    Weight {
        /// The plugin.
        name: String,
        /// The weight.
        weight: i64,
    },
}

/// The plugins one scheduler name runs.
#[derive(Clone)]
pub struct Profile {
    /// The `spec.schedulerName` it serves.
    pub name: String,
    /// Filters, in order.
    pub filters: Vec<(String, Arc<dyn FilterPlugin>)>,
    /// Scores with their weights, in order.
    pub scores: Vec<(String, Arc<dyn ScorePlugin>, i64)>,
    /// The share of nodes a cycle filters before it stops looking (`percentageOfNodesToScore`,
    /// the profile's or the configuration's; `None` or `0`: adaptive).
    pub percentage_of_nodes_to_score: Option<i32>,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("name", &self.name)
            .field(
                "filters",
                &self.filters.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("scores", &self.score_weights())
            .finish()
    }
}

/// One list while merging: (name, weight as configured; `None` or `0` mean 1).
type Point = Vec<(String, Option<i64>)>;

fn disabled(set: &PluginSet, name: &str) -> bool {
    set.disabled.iter().any(|d| d.name == name || d.name == "*")
}

/// Adds `name` to `point`, or replaces it in place (which is how a weight changes).
fn enable(point: &mut Point, name: &str, weight: Option<i64>) {
    match point.iter_mut().find(|(n, _)| n == name) {
        Some(slot) => slot.1 = weight,
        None => point.push((name.to_owned(), weight)),
    }
}

/// A configured weight: `None` and `0` are 1 (kube-scheduler's `getScoreWeights`); otherwise
/// 1..=100.
fn weight(name: &str, weight: Option<i64>) -> Result<i64, ProfileError> {
    match weight.unwrap_or(0) {
        0 => Ok(1),
        w if (1..=100).contains(&w) => Ok(w),
        weight => Err(ProfileError::Weight {
            name: name.to_owned(),
            weight,
        }),
    }
}

impl Profile {
    /// Builds the profile `config` describes, merging as kube-scheduler does: the default
    /// plugins are `multiPoint` plugins; the profile's `multiPoint` set disables and enables
    /// among them; each extension point then takes every `multiPoint` plugin that implements it
    /// and that the point's own set does not disable (`*` at a point disables them all there),
    /// and finally the point's own `enabled` plugins, appended or replacing in place.
    pub fn build(
        config: &ProfileConfig,
        percentage_of_nodes_to_score: Option<i32>,
    ) -> Result<Self, ProfileError> {
        let args = |name: &str| {
            config
                .plugin_config
                .iter()
                .find(|c| c.name == name)
                .map(|c| &c.args)
        };
        let plugin = |name: &str| plugins::registry(name, args(name));
        for (point, set) in &config.plugins.other {
            if !set.enabled.is_empty() {
                return Err(ProfileError::Point(point.clone()));
            }
        }
        for c in &config.plugin_config {
            plugin(&c.name)?;
            let empty = c.args.is_null() || c.args.as_object().is_some_and(|o| o.is_empty());
            if !empty && !plugins::TAKES_ARGS.contains(&c.name.as_str()) {
                return Err(ProfileError::Args(c.name.clone()));
            }
        }
        // The multiPoint list: the defaults with their weights, then the profile's set.
        let mut multi: Point = Vec::new();
        for name in plugins::DEFAULTS {
            if !disabled(&config.plugins.multi_point, name) {
                multi.push((name.to_string(), Some(plugin(name)?.default_weight)));
            }
        }
        for e in &config.plugins.multi_point.enabled {
            plugin(&e.name)?;
            enable(&mut multi, &e.name, e.weight);
        }
        // Each point: the multiPoint plugins it has and does not disable, then its own.
        let expand =
            |set: &PluginSet, point: &'static str, has: fn(&Plugin) -> bool| -> Result<Point, ProfileError> {
                let mut list = Point::new();
                for (name, w) in &multi {
                    if !disabled(set, name) && has(&plugin(name)?) {
                        list.push((name.clone(), *w));
                    }
                }
                for e in &set.enabled {
                    if !has(&plugin(&e.name)?) {
                        return Err(ProfileError::NotAtPoint {
                            name: e.name.clone(),
                            point,
                        });
                    }
                    enable(&mut list, &e.name, e.weight);
                }
                Ok(list)
            };
        let filter = expand(&config.plugins.filter, "filter", |p| p.filter.is_some())?;
        let score = expand(&config.plugins.score, "score", |p| p.score.is_some())?;
        let filters = filter
            .into_iter()
            .map(|(name, _)| Ok((name.clone(), plugin(&name)?.filter.expect("checked above"))))
            .collect::<Result<_, ProfileError>>()?;
        let scores = score
            .into_iter()
            .map(|(name, w)| {
                let w = weight(&name, w)?;
                Ok((name.clone(), plugin(&name)?.score.expect("checked above"), w))
            })
            .collect::<Result<_, ProfileError>>()?;
        Ok(Self {
            name: config.scheduler_name.clone(),
            filters,
            scores,
            percentage_of_nodes_to_score: config
                .percentage_of_nodes_to_score
                .or(percentage_of_nodes_to_score),
        })
    }

    /// The score plugins' names and weights, in order.
    pub fn score_weights(&self) -> Vec<(&str, i64)> {
        self.scores.iter().map(|(n, _, w)| (n.as_str(), *w)).collect()
    }
}
