//! Discovery: which groups, versions and resources the apiserver serves.
//!
//! [`Discovery::run`] reads `/api`, `/api/v1`, `/apis` and every `/apis/{group}/{version}`
//! (concurrently) and keeps the answer; [`Discovery::refresh`] reads it again. Resolving a
//! kind, plural, singular or short name (`deploy`, `deployments.apps`, `Deployment`) gives the
//! [`ApiResource`] to address it and its [`ApiCapabilities`] (scope, verbs, subresources).
//!
//! As client-go's discovery, one failing group-version (an aggregated API that is down, a CRD
//! deleted meanwhile) does not fail the whole: the others are read, and the failures are kept in
//! [`Discovery::failures`]. Only `/api` and `/apis` themselves must answer.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{APIGroupList, APIResourceList, APIVersions};
use tokio::time::Instant;

use kube_core::GroupVersionKind;
use kube_core::dynamic::{ApiResource, Scope};

use crate::Client;
use crate::client::get;
use crate::error::{Error, Result};

/// What can be done with a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiCapabilities {
    /// Namespaced or cluster-wide.
    pub scope: Scope,
    /// Verbs: `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`.
    pub verbs: Vec<String>,
    /// Subresources, e.g. `status`, `scale`.
    pub subresources: Vec<String>,
    /// Short names, e.g. `po`.
    pub short_names: Vec<String>,
    /// Categories, e.g. `all`.
    pub categories: Vec<String>,
    /// The singular name, e.g. `pod`.
    pub singular: String,
}

impl ApiCapabilities {
    /// Whether the resource supports `verb`.
    pub fn supports(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }
}

/// One API group (the core group is `""`) and what each of its versions serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiGroup {
    /// The group name; empty for the core group.
    pub name: String,
    /// Versions, the preferred one first.
    pub versions: Vec<String>,
    /// The version the server prefers.
    pub preferred_version: String,
    /// Resources by version.
    pub resources: BTreeMap<String, Vec<(ApiResource, ApiCapabilities)>>,
}

impl ApiGroup {
    /// The resources of the preferred version.
    pub fn preferred_resources(&self) -> &[(ApiResource, ApiCapabilities)] {
        self.resources
            .get(&self.preferred_version)
            .map_or(&[], Vec::as_slice)
    }
}

/// A cached view of what the apiserver serves.
#[derive(Debug, Clone)]
pub struct Discovery {
    client: Client,
    groups: BTreeMap<String, ApiGroup>,
    failures: BTreeMap<String, std::sync::Arc<Error>>,
    fetched_at: Option<Instant>,
}

impl Discovery {
    /// An empty view; call [`run`](Self::run).
    pub fn new(client: Client) -> Self {
        Self {
            client,
            groups: BTreeMap::new(),
            failures: BTreeMap::new(),
            fetched_at: None,
        }
    }

    /// Read everything the apiserver serves.
    pub async fn run(mut self) -> Result<Self> {
        self.refresh().await?;
        Ok(self)
    }

    /// Read everything again. Fails only when `/api` or `/apis` cannot be read; a group-version
    /// that cannot be read is left without resources and listed in [`failures`](Self::failures).
    pub async fn refresh(&mut self) -> Result<()> {
        let core: APIVersions = self.client.request(get("/api")?).await?;
        let apis: APIGroupList = self.client.request(get("/apis")?).await?;
        let mut wanted: Vec<(String, String, String)> = core
            .versions
            .iter()
            .map(|v| (String::new(), v.clone(), format!("/api/{v}")))
            .collect();
        let mut groups = BTreeMap::new();
        groups.insert(
            String::new(),
            ApiGroup {
                name: String::new(),
                versions: core.versions.clone(),
                preferred_version: core.versions.first().cloned().unwrap_or_else(|| "v1".into()),
                resources: BTreeMap::new(),
            },
        );
        for g in &apis.groups {
            let preferred = g
                .preferred_version
                .as_ref()
                .map(|p| p.version.clone())
                .or_else(|| g.versions.first().map(|v| v.version.clone()))
                .unwrap_or_default();
            let mut versions: Vec<String> = g.versions.iter().map(|v| v.version.clone()).collect();
            versions.sort_by_key(|v| *v != preferred);
            for v in &versions {
                wanted.push((g.name.clone(), v.clone(), format!("/apis/{}/{v}", g.name)));
            }
            groups.insert(
                g.name.clone(),
                ApiGroup {
                    name: g.name.clone(),
                    versions,
                    preferred_version: preferred,
                    resources: BTreeMap::new(),
                },
            );
        }
        let client = &self.client;
        let answers: Vec<(String, String, Result<APIResourceList>)> = futures::stream::iter(wanted)
            .map(|(group, version, path)| async move {
                let list = match get(&path) {
                    Ok(request) => client.request::<APIResourceList>(request).await,
                    Err(e) => Err(e),
                };
                (group, version, list)
            })
            .buffer_unordered(8)
            .collect()
            .await;
        let mut failures = BTreeMap::new();
        for (group, version, list) in answers {
            let list = match list {
                Ok(list) => list,
                Err(error) => {
                    let gv = if group.is_empty() {
                        version
                    } else {
                        format!("{group}/{version}")
                    };
                    tracing::warn!(group_version = %gv, %error, "discovery of a group-version failed");
                    failures.insert(gv, std::sync::Arc::new(error));
                    continue;
                }
            };
            let resources = parse_resource_list(&group, &version, &list);
            if let Some(g) = groups.get_mut(&group) {
                g.resources.insert(version, resources);
            }
        }
        self.groups = groups;
        self.failures = failures;
        self.fetched_at = Some(Instant::now());
        Ok(())
    }

    /// Refresh when the cached view is older than `max_age` (or was never read).
    pub async fn refresh_if_older_than(&mut self, max_age: Duration) -> Result<()> {
        if self.fetched_at.is_none_or(|t| t.elapsed() > max_age) {
            self.refresh().await?;
        }
        Ok(())
    }

    /// The group-versions (`apps/v1`, `v1`) the last refresh could not read, with why. Their
    /// groups are listed without resources for those versions.
    #[doc(alias = "ErrGroupDiscoveryFailed")]
    pub fn failures(&self) -> &BTreeMap<String, std::sync::Arc<Error>> {
        &self.failures
    }

    /// Every group, the core group (`""`) first.
    pub fn groups(&self) -> impl Iterator<Item = &ApiGroup> {
        self.groups.values()
    }

    /// One group by name.
    pub fn group(&self, name: &str) -> Option<&ApiGroup> {
        self.groups.get(name)
    }

    /// The resource serving exactly `gvk`.
    pub fn resolve_gvk(&self, gvk: &GroupVersionKind) -> Option<(ApiResource, ApiCapabilities)> {
        self.groups
            .get(&gvk.group)?
            .resources
            .get(&gvk.version)?
            .iter()
            .find(|(ar, _)| ar.kind == gvk.kind)
            .cloned()
    }

    /// Resolve a name as kubectl does: a kind (`Deployment`), plural (`deployments`), singular
    /// (`deployment`) or short name (`deploy`), optionally qualified by group
    /// (`deployments.apps`). Preferred versions win; the core group wins ties, then groups in
    /// name order.
    pub fn resolve(&self, name: &str) -> Option<(ApiResource, ApiCapabilities)> {
        let candidates = std::iter::once((name, None)).chain(name.split_once('.').map(|(n, g)| (n, Some(g))));
        for (short, group) in candidates {
            let lower = short.to_ascii_lowercase();
            for g in self
                .groups
                .values()
                .filter(|g| group.is_none_or(|want| g.name == want))
            {
                for (ar, caps) in g.preferred_resources() {
                    let hit = ar.plural == lower
                        || caps.singular == lower
                        || ar.kind.eq_ignore_ascii_case(short)
                        || caps.short_names.contains(&lower);
                    if hit {
                        return Some((ar.clone(), caps.clone()));
                    }
                }
            }
        }
        None
    }
}

fn parse_resource_list(
    group: &str,
    version: &str,
    list: &APIResourceList,
) -> Vec<(ApiResource, ApiCapabilities)> {
    let api_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let mut out: Vec<(ApiResource, ApiCapabilities)> = Vec::new();
    for r in list.resources.iter().filter(|r| !r.name.contains('/')) {
        let scope = if r.namespaced {
            Scope::Namespaced
        } else {
            Scope::Cluster
        };
        let subresources = list
            .resources
            .iter()
            .filter_map(|s| s.name.strip_prefix(&format!("{}/", r.name)).map(str::to_string))
            .collect();
        out.push((
            ApiResource {
                group: r.group.clone().unwrap_or_else(|| group.to_string()),
                version: r.version.clone().unwrap_or_else(|| version.to_string()),
                api_version: api_version.clone(),
                kind: r.kind.clone(),
                plural: r.name.clone(),
                scope,
            },
            ApiCapabilities {
                scope,
                verbs: r.verbs.clone(),
                subresources,
                short_names: r.short_names.clone().unwrap_or_default(),
                categories: r.categories.clone().unwrap_or_default(),
                singular: if r.singular_name.is_empty() {
                    r.kind.to_ascii_lowercase()
                } else {
                    r.singular_name.clone()
                },
            },
        ));
    }
    out
}
