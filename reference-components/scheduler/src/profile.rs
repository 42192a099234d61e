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

/// One extension point's list while merging: (name, weight).
type Point = Vec<(String, i64)>;

fn disable(point: &mut Point, set: &PluginSet) {
    for d in &set.disabled {
        if d.name == "*" {
            point.clear();
        } else {
            point.retain(|(n, _)| *n != d.name);
        }
    }
}

impl Profile {
    /// Builds the profile `config` describes.
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
        // The defaults, per point.
        let mut filter: Point = Vec::new();
        let mut score: Point = Vec::new();
        for name in plugins::DEFAULTS {
            let p = plugin(name)?;
            if p.filter.is_some() {
                filter.push((name.to_string(), 0));
            }
            if p.score.is_some() {
                score.push((name.to_string(), p.default_weight));
            }
        }
        // multiPoint first, then each point's own set.
        let multi = &config.plugins.multi_point;
        disable(&mut filter, multi);
        disable(&mut score, multi);
        disable(&mut filter, &config.plugins.filter);
        disable(&mut score, &config.plugins.score);
        let enable =
            |point: &mut Point, name: &str, weight: i64| match point.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = weight,
                None => point.push((name.to_owned(), weight)),
            };
        let weight_of = |p: &Plugin, name: &str, weight: Option<i64>| match weight.filter(|w| *w != 0) {
            None => Ok(p.default_weight),
            Some(w) if (1..=100).contains(&w) => Ok(w),
            Some(weight) => Err(ProfileError::Weight {
                name: name.to_owned(),
                weight,
            }),
        };
        for e in &multi.enabled {
            let p = plugin(&e.name)?;
            if p.filter.is_some() {
                enable(&mut filter, &e.name, 0);
            }
            if p.score.is_some() {
                enable(&mut score, &e.name, weight_of(&p, &e.name, e.weight)?);
            }
        }
        for e in &config.plugins.filter.enabled {
            if plugin(&e.name)?.filter.is_none() {
                return Err(ProfileError::NotAtPoint {
                    name: e.name.clone(),
                    point: "filter",
                });
            }
            enable(&mut filter, &e.name, 0);
        }
        for e in &config.plugins.score.enabled {
            let p = plugin(&e.name)?;
            if p.score.is_none() {
                return Err(ProfileError::NotAtPoint {
                    name: e.name.clone(),
                    point: "score",
                });
            }
            enable(&mut score, &e.name, weight_of(&p, &e.name, e.weight)?);
        }
        let filters = filter
            .into_iter()
            .map(|(name, _)| Ok((name.clone(), plugin(&name)?.filter.expect("checked above"))))
            .collect::<Result<_, ProfileError>>()?;
        let scores = score
            .into_iter()
            .map(|(name, weight)| Ok((name.clone(), plugin(&name)?.score.expect("checked above"), weight)))
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
