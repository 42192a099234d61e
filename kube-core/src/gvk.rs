//! Group, version, kind and resource names.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a `group/version` string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid apiVersion {0:?}: expected \"version\" or \"group/version\"")]
pub struct ParseGroupVersionError(pub String);

/// An API group and version, e.g. `apps/v1` (group `apps`) or `v1` (the core group, empty).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct GroupVersion {
    /// The group; empty for the core group.
    pub group: String,
    /// The version.
    pub version: String,
}

impl GroupVersion {
    /// A group and version.
    pub fn gv(group: &str, version: &str) -> Self {
        Self {
            group: group.into(),
            version: version.into(),
        }
    }

    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// This group and version with a kind.
    pub fn with_kind(self, kind: &str) -> GroupVersionKind {
        GroupVersionKind {
            group: self.group,
            version: self.version,
            kind: kind.into(),
        }
    }

    /// This group and version with a plural resource name.
    pub fn with_resource(self, resource: &str) -> GroupVersionResource {
        GroupVersionResource {
            group: self.group,
            version: self.version,
            resource: resource.into(),
        }
    }
}

impl std::str::FromStr for GroupVersion {
    type Err = ParseGroupVersionError;

    /// Parse an `apiVersion` field: `v1` or `apps/v1`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ParseGroupVersionError(s.to_string());
        match s.split_once('/') {
            None if !s.is_empty() => Ok(Self::gv("", s)),
            Some((g, v)) if !g.is_empty() && !v.is_empty() && !v.contains('/') => Ok(Self::gv(g, v)),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for GroupVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.api_version())
    }
}

/// A group, version and kind: what `apiVersion` + `kind` in an object name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct GroupVersionKind {
    /// The group; empty for the core group.
    pub group: String,
    /// The version.
    pub version: String,
    /// The kind, e.g. `Pod`.
    pub kind: String,
}

impl GroupVersionKind {
    /// A group, version and kind.
    pub fn gvk(group: &str, version: &str, kind: &str) -> Self {
        Self {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
        }
    }

    /// From an object's `apiVersion` and `kind` fields.
    pub fn from_api_version(api_version: &str, kind: &str) -> Result<Self, ParseGroupVersionError> {
        Ok(api_version.parse::<GroupVersion>()?.with_kind(kind))
    }

    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        self.group_version().api_version()
    }

    /// The group and version alone.
    pub fn group_version(&self) -> GroupVersion {
        GroupVersion::gv(&self.group, &self.version)
    }
}

impl fmt::Display for GroupVersionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, Kind={}", self.group_version(), self.kind)
    }
}

/// A group, version and plural resource name: what a URL names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct GroupVersionResource {
    /// The group; empty for the core group.
    pub group: String,
    /// The version.
    pub version: String,
    /// The plural resource name, e.g. `pods`.
    pub resource: String,
}

impl GroupVersionResource {
    /// A group, version and resource.
    pub fn gvr(group: &str, version: &str, resource: &str) -> Self {
        Self {
            group: group.into(),
            version: version.into(),
            resource: resource.into(),
        }
    }

    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        GroupVersion::gv(&self.group, &self.version).api_version()
    }
}

impl fmt::Display for GroupVersionResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, Resource={}",
            GroupVersion::gv(&self.group, &self.version),
            self.resource
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_api_versions() {
        assert_eq!("v1".parse::<GroupVersion>().unwrap(), GroupVersion::gv("", "v1"));
        assert_eq!(
            "apps/v1".parse::<GroupVersion>().unwrap(),
            GroupVersion::gv("apps", "v1")
        );
        for bad in ["", "/v1", "apps/", "a/b/c"] {
            assert!(bad.parse::<GroupVersion>().is_err(), "{bad}");
        }
        let gvk = GroupVersionKind::from_api_version("apps/v1", "Deployment").unwrap();
        assert_eq!(gvk.api_version(), "apps/v1");
        assert_eq!(gvk.to_string(), "apps/v1, Kind=Deployment");
        assert_eq!(GroupVersionKind::gvk("", "v1", "Pod").api_version(), "v1");
    }
}
