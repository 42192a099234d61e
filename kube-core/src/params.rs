//! Request options, rendered as the query strings (and bodies) kube-apiserver reads.

use serde::Serialize;

/// Why a combination of options cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid request parameters: {0}")]
pub struct ParamsError(pub String);

/// How `resourceVersion` on a list is interpreted (`resourceVersionMatch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionMatch {
    /// Exactly the given revision (may fail with 410 if compacted).
    Exact,
    /// The given revision or anything newer (the server may answer from its cache).
    NotOlderThan,
}

impl VersionMatch {
    fn as_str(self) -> &'static str {
        match self {
            VersionMatch::Exact => "Exact",
            VersionMatch::NotOlderThan => "NotOlderThan",
        }
    }
}

/// What the server does with unknown or duplicate fields (`fieldValidation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidationDirective {
    /// Reject the request.
    Strict,
    /// Accept it and return a warning.
    Warn,
    /// Silently drop the fields.
    Ignore,
}

impl ValidationDirective {
    fn as_str(self) -> &'static str {
        match self {
            ValidationDirective::Strict => "Strict",
            ValidationDirective::Warn => "Warn",
            ValidationDirective::Ignore => "Ignore",
        }
    }
}

struct Query(form_urlencoded::Serializer<'static, String>);

impl Query {
    fn new() -> Self {
        Query(form_urlencoded::Serializer::new(String::new()))
    }
    fn opt(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value {
            self.0.append_pair(key, v);
        }
        self
    }
    fn flag(&mut self, key: &str, on: bool) -> &mut Self {
        if on {
            self.0.append_pair(key, "true");
        }
        self
    }
    fn finish(mut self) -> String {
        self.0.finish()
    }
}

/// Options for listing (`GET` on a collection).
///
/// ```
/// use kube_core::params::ListParams;
/// let lp = ListParams::default().labels("app=web").fields("status.phase=Running").limit(500);
/// assert_eq!(lp.to_query().unwrap(), "fieldSelector=status.phase%3DRunning&labelSelector=app%3Dweb&limit=500");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListParams {
    /// `labelSelector`, e.g. `app=web,tier in (a,b)`.
    pub label_selector: Option<String>,
    /// `fieldSelector`, e.g. `spec.nodeName=n1`.
    pub field_selector: Option<String>,
    /// `timeoutSeconds` for the call.
    pub timeout: Option<u32>,
    /// `limit`: at most this many items per page.
    pub limit: Option<u32>,
    /// `continue`: the token from the previous page.
    pub continue_token: Option<String>,
    /// `resourceVersion`: unset reads the latest (quorum read); `"0"` accepts any cached state.
    pub resource_version: Option<String>,
    /// `resourceVersionMatch`; needs `resource_version`.
    pub version_match: Option<VersionMatch>,
}

impl ListParams {
    /// Filter by a label selector.
    #[must_use]
    pub fn labels(mut self, selector: &str) -> Self {
        self.label_selector = Some(selector.into());
        self
    }
    /// Filter by a field selector.
    #[must_use]
    pub fn fields(mut self, selector: &str) -> Self {
        self.field_selector = Some(selector.into());
        self
    }
    /// Server-side timeout in seconds.
    #[must_use]
    pub fn timeout(mut self, seconds: u32) -> Self {
        self.timeout = Some(seconds);
        self
    }
    /// Page size.
    #[must_use]
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }
    /// Continue from a previous page.
    #[must_use]
    pub fn continue_token(mut self, token: &str) -> Self {
        self.continue_token = Some(token.into());
        self
    }
    /// Read at any revision not older than `rv` (`"0"`: whatever the server has cached).
    #[must_use]
    pub fn at(mut self, rv: &str) -> Self {
        self.resource_version = Some(rv.into());
        self
    }
    /// Read exactly at revision `rv` (`resourceVersionMatch=Exact`).
    #[must_use]
    pub fn match_exact(mut self, rv: &str) -> Self {
        self.resource_version = Some(rv.into());
        self.version_match = Some(VersionMatch::Exact);
        self
    }
    /// Read at revision `rv` or newer (`resourceVersionMatch=NotOlderThan`).
    #[must_use]
    pub fn match_not_older_than(mut self, rv: &str) -> Self {
        self.resource_version = Some(rv.into());
        self.version_match = Some(VersionMatch::NotOlderThan);
        self
    }

    /// Check the combination the way the apiserver would, before sending it.
    pub fn validate(&self) -> Result<(), ParamsError> {
        if self.version_match.is_some() && self.resource_version.is_none() {
            return Err(ParamsError(
                "resourceVersionMatch is forbidden unless resourceVersion is provided".into(),
            ));
        }
        if self.continue_token.is_some() && self.version_match.is_some() {
            return Err(ParamsError(
                "resourceVersionMatch is forbidden when continue is provided".into(),
            ));
        }
        if self.version_match == Some(VersionMatch::Exact) && self.resource_version.as_deref() == Some("0") {
            return Err(ParamsError(
                "resourceVersionMatch \"Exact\" is forbidden for resourceVersion \"0\"".into(),
            ));
        }
        Ok(())
    }

    /// The query string (without `?`), keys in the order the apiserver documents them.
    pub fn to_query(&self) -> Result<String, ParamsError> {
        self.validate()?;
        let mut q = Query::new();
        q.opt("continue", self.continue_token.as_deref())
            .opt("fieldSelector", self.field_selector.as_deref())
            .opt("labelSelector", self.label_selector.as_deref())
            .opt("limit", self.limit.map(|l| l.to_string()).as_deref())
            .opt("resourceVersion", self.resource_version.as_deref())
            .opt(
                "resourceVersionMatch",
                self.version_match.map(VersionMatch::as_str),
            )
            .opt("timeoutSeconds", self.timeout.map(|t| t.to_string()).as_deref());
        Ok(q.finish())
    }
}

/// Options for watching a collection. The resource version to start from is passed separately.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchParams {
    /// `labelSelector`.
    pub label_selector: Option<String>,
    /// `fieldSelector`.
    pub field_selector: Option<String>,
    /// `timeoutSeconds`: the server closes the watch after this long (it picks one when unset).
    pub timeout: Option<u32>,
    /// `allowWatchBookmarks` (default true): receive BOOKMARK progress events.
    pub bookmarks: bool,
    /// `sendInitialEvents`: begin with ADDED events for the current state, then a bookmark
    /// annotated `k8s.io/initial-events-end` (the streaming-list alternative to list+watch).
    pub send_initial_events: bool,
}

impl Default for WatchParams {
    fn default() -> Self {
        Self {
            label_selector: None,
            field_selector: None,
            timeout: None,
            bookmarks: true,
            send_initial_events: false,
        }
    }
}

impl WatchParams {
    /// Filter by a label selector.
    #[must_use]
    pub fn labels(mut self, selector: &str) -> Self {
        self.label_selector = Some(selector.into());
        self
    }
    /// Filter by a field selector.
    #[must_use]
    pub fn fields(mut self, selector: &str) -> Self {
        self.field_selector = Some(selector.into());
        self
    }
    /// Server-side timeout in seconds.
    #[must_use]
    pub fn timeout(mut self, seconds: u32) -> Self {
        self.timeout = Some(seconds);
        self
    }
    /// Turn bookmarks off.
    #[must_use]
    pub fn disable_bookmarks(mut self) -> Self {
        self.bookmarks = false;
        self
    }
    /// Ask for the current state as initial ADDED events (implies bookmarks).
    #[must_use]
    pub fn initial_events(mut self) -> Self {
        self.send_initial_events = true;
        self.bookmarks = true;
        self
    }

    /// Check the combination the way the apiserver would.
    pub fn validate(&self) -> Result<(), ParamsError> {
        if self.send_initial_events && !self.bookmarks {
            return Err(ParamsError(
                "sendInitialEvents requires allowWatchBookmarks=true".into(),
            ));
        }
        Ok(())
    }

    /// The query string for a watch from `resource_version`. Empty or `"0"`: the server first
    /// sends the current state as ADDED events, then the changes; a revision: the changes after it.
    pub fn to_query(&self, resource_version: &str) -> Result<String, ParamsError> {
        self.validate()?;
        let mut q = Query::new();
        q.flag("allowWatchBookmarks", self.bookmarks)
            .opt("fieldSelector", self.field_selector.as_deref())
            .opt("labelSelector", self.label_selector.as_deref())
            .opt(
                "resourceVersion",
                Some(resource_version).filter(|rv| !rv.is_empty()),
            );
        if self.send_initial_events {
            q.opt("resourceVersionMatch", Some(VersionMatch::NotOlderThan.as_str()));
            q.flag("sendInitialEvents", true);
        }
        q.opt("timeoutSeconds", self.timeout.map(|t| t.to_string()).as_deref())
            .flag("watch", true);
        Ok(q.finish())
    }
}

/// Options for reading one object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetParams {
    /// `resourceVersion`: unset reads the latest; `"0"` accepts any cached state.
    pub resource_version: Option<String>,
}

impl GetParams {
    /// Accept any cached state (`resourceVersion=0`).
    pub fn any() -> Self {
        Self {
            resource_version: Some("0".into()),
        }
    }
    /// The query string.
    pub fn to_query(&self) -> String {
        let mut q = Query::new();
        q.opt("resourceVersion", self.resource_version.as_deref());
        q.finish()
    }
}

/// Options for create and replace (`POST`, `PUT`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostParams {
    /// `dryRun=All`: validate and admit, but do not store.
    pub dry_run: bool,
    /// `fieldManager`: the name recorded in managedFields.
    pub field_manager: Option<String>,
    /// `fieldValidation`.
    pub field_validation: Option<ValidationDirective>,
}

impl PostParams {
    /// The query string.
    pub fn to_query(&self) -> Result<String, ParamsError> {
        validate_field_manager(self.field_manager.as_deref())?;
        let mut q = Query::new();
        q.opt("dryRun", self.dry_run.then_some("All"))
            .opt("fieldManager", self.field_manager.as_deref())
            .opt(
                "fieldValidation",
                self.field_validation.map(ValidationDirective::as_str),
            );
        Ok(q.finish())
    }
}

fn validate_field_manager(m: Option<&str>) -> Result<(), ParamsError> {
    match m {
        Some(m) if m.len() > 128 => Err(ParamsError("fieldManager must be 128 characters or fewer".into())),
        Some(m)
            if m.chars()
                .any(|c| c.is_control() || !c.is_ascii_graphic() && c != ' ') =>
        {
            Err(ParamsError(
                "fieldManager must contain only printable ASCII characters".into(),
            ))
        }
        _ => Ok(()),
    }
}

/// Options for patch (`PATCH`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatchParams {
    /// `dryRun=All`.
    pub dry_run: bool,
    /// `force=true`: server-side apply takes ownership of conflicting fields.
    pub force: bool,
    /// `fieldManager`; required for server-side apply.
    pub field_manager: Option<String>,
    /// `fieldValidation`.
    pub field_validation: Option<ValidationDirective>,
}

impl PatchParams {
    /// Options for a server-side apply by `manager`.
    pub fn apply(manager: &str) -> Self {
        Self {
            field_manager: Some(manager.into()),
            ..Self::default()
        }
    }
    /// Take ownership of conflicting fields (apply only).
    #[must_use]
    pub fn force(mut self) -> Self {
        self.force = true;
        self
    }
    /// Validate and admit but do not store.
    #[must_use]
    pub fn dry_run(mut self) -> Self {
        self.dry_run = true;
        self
    }

    /// Check these options against the patch kind they go with.
    pub fn validate<P: Serialize>(&self, patch: &crate::Patch<P>) -> Result<(), ParamsError> {
        validate_field_manager(self.field_manager.as_deref())?;
        if patch.is_apply() && self.field_manager.is_none() {
            return Err(ParamsError("fieldManager is required for apply patches".into()));
        }
        if self.force && !patch.is_apply() {
            return Err(ParamsError("force is only allowed for apply patches".into()));
        }
        Ok(())
    }

    /// The query string.
    pub fn to_query(&self) -> String {
        let mut q = Query::new();
        q.opt("dryRun", self.dry_run.then_some("All"))
            .opt("fieldManager", self.field_manager.as_deref())
            .opt(
                "fieldValidation",
                self.field_validation.map(ValidationDirective::as_str),
            )
            .flag("force", self.force);
        q.finish()
    }
}

/// What happens to the dependents of a deleted object (`propagationPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum PropagationPolicy {
    /// Leave dependents, removing their owner reference.
    Orphan,
    /// Delete the owner now, dependents in the background (the default for most resources).
    Background,
    /// Delete dependents first; the owner goes once they are gone.
    Foreground,
}

/// Conditions a delete must meet (`preconditions`): the object must still have this uid and/or
/// resource version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Preconditions {
    /// Required uid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Required resource version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
}

/// Options for delete and deletecollection, sent as a `DeleteOptions` body (as client-go does;
/// `preconditions` can only travel there).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteParams {
    /// `dryRun: ["All"]`.
    pub dry_run: bool,
    /// `gracePeriodSeconds`: 0 deletes at once.
    pub grace_period_seconds: Option<u32>,
    /// `propagationPolicy`.
    pub propagation_policy: Option<PropagationPolicy>,
    /// `preconditions`.
    pub preconditions: Option<Preconditions>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeleteOptionsBody<'a> {
    kind: &'static str,
    api_version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    grace_period_seconds: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    propagation_policy: Option<PropagationPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    preconditions: Option<&'a Preconditions>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    dry_run: Vec<&'static str>,
}

impl DeleteParams {
    /// Delete dependents in the background.
    pub fn background() -> Self {
        Self {
            propagation_policy: Some(PropagationPolicy::Background),
            ..Self::default()
        }
    }
    /// Delete dependents first.
    pub fn foreground() -> Self {
        Self {
            propagation_policy: Some(PropagationPolicy::Foreground),
            ..Self::default()
        }
    }
    /// Leave dependents.
    pub fn orphan() -> Self {
        Self {
            propagation_policy: Some(PropagationPolicy::Orphan),
            ..Self::default()
        }
    }
    /// Set the grace period.
    #[must_use]
    pub fn grace_period(mut self, seconds: u32) -> Self {
        self.grace_period_seconds = Some(seconds);
        self
    }
    /// Require the object to have this uid.
    #[must_use]
    pub fn precondition_uid(mut self, uid: &str) -> Self {
        self.preconditions.get_or_insert_with(Preconditions::default).uid = Some(uid.into());
        self
    }
    /// Require the object to be at this resource version.
    #[must_use]
    pub fn precondition_resource_version(mut self, rv: &str) -> Self {
        self.preconditions
            .get_or_insert_with(Preconditions::default)
            .resource_version = Some(rv.into());
        self
    }
    /// Validate and admit but do not delete.
    #[must_use]
    pub fn dry_run(mut self) -> Self {
        self.dry_run = true;
        self
    }

    /// The `DeleteOptions` JSON body.
    pub fn to_body(&self) -> Vec<u8> {
        serde_json::to_vec(&DeleteOptionsBody {
            kind: "DeleteOptions",
            api_version: "v1",
            grace_period_seconds: self.grace_period_seconds,
            propagation_policy: self.propagation_policy,
            preconditions: self.preconditions.as_ref(),
            dry_run: if self.dry_run { vec!["All"] } else { vec![] },
        })
        .expect("DeleteOptions serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Patch;

    #[test]
    fn list_queries() {
        assert_eq!(ListParams::default().to_query().unwrap(), "");
        let lp = ListParams::default()
            .labels("app in (a,b),!x")
            .fields("spec.nodeName=")
            .limit(500)
            .continue_token("tok+/=")
            .timeout(30);
        assert_eq!(
            lp.to_query().unwrap(),
            "continue=tok%2B%2F%3D&fieldSelector=spec.nodeName%3D&labelSelector=app+in+%28a%2Cb%29%2C%21x&limit=500&timeoutSeconds=30"
        );
        assert_eq!(
            ListParams::default().match_exact("42").to_query().unwrap(),
            "resourceVersion=42&resourceVersionMatch=Exact"
        );
        assert_eq!(
            ListParams::default()
                .match_not_older_than("0")
                .to_query()
                .unwrap(),
            "resourceVersion=0&resourceVersionMatch=NotOlderThan"
        );
        assert_eq!(
            ListParams::default().at("0").to_query().unwrap(),
            "resourceVersion=0"
        );
    }

    #[test]
    fn list_params_rejected_like_the_apiserver_would() {
        let lp = ListParams {
            version_match: Some(VersionMatch::Exact),
            ..Default::default()
        };
        assert!(lp.to_query().unwrap_err().0.contains("unless resourceVersion"));
        assert!(ListParams::default().match_exact("0").to_query().is_err());
        assert!(
            ListParams::default()
                .continue_token("c")
                .match_exact("5")
                .to_query()
                .is_err()
        );
    }

    #[test]
    fn watch_queries() {
        assert_eq!(
            WatchParams::default().to_query("").unwrap(),
            "allowWatchBookmarks=true&watch=true"
        );
        assert_eq!(
            WatchParams::default()
                .labels("a=b")
                .timeout(290)
                .to_query("1200")
                .unwrap(),
            "allowWatchBookmarks=true&labelSelector=a%3Db&resourceVersion=1200&timeoutSeconds=290&watch=true"
        );
        assert_eq!(
            WatchParams::default()
                .disable_bookmarks()
                .fields("metadata.name=x")
                .to_query("7")
                .unwrap(),
            "fieldSelector=metadata.name%3Dx&resourceVersion=7&watch=true"
        );
        assert_eq!(
            WatchParams::default().initial_events().to_query("").unwrap(),
            "allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&sendInitialEvents=true&watch=true"
        );
        let bad = WatchParams {
            send_initial_events: true,
            bookmarks: false,
            ..Default::default()
        };
        assert!(bad.to_query("").is_err());
    }

    #[test]
    fn write_queries() {
        assert_eq!(GetParams::any().to_query(), "resourceVersion=0");
        assert_eq!(GetParams::default().to_query(), "");
        let pp = PostParams {
            dry_run: true,
            field_manager: Some("kubectl-client-side-apply".into()),
            field_validation: Some(ValidationDirective::Strict),
        };
        assert_eq!(
            pp.to_query().unwrap(),
            "dryRun=All&fieldManager=kubectl-client-side-apply&fieldValidation=Strict"
        );
        let long = PostParams {
            field_manager: Some("x".repeat(129)),
            ..Default::default()
        };
        assert!(long.to_query().is_err());

        let apply = PatchParams::apply("ctrl").force();
        assert_eq!(apply.to_query(), "fieldManager=ctrl&force=true");
        let p: Patch<serde_json::Value> = Patch::Apply(serde_json::json!({}));
        assert!(apply.validate(&p).is_ok());
        let m: Patch<serde_json::Value> = Patch::Merge(serde_json::json!({}));
        assert!(apply.validate(&m).unwrap_err().0.contains("force"));
        assert!(
            PatchParams::default()
                .validate(&p)
                .unwrap_err()
                .0
                .contains("fieldManager")
        );
        assert_eq!(PatchParams::default().dry_run().to_query(), "dryRun=All");
    }

    #[test]
    fn delete_bodies() {
        assert_eq!(
            String::from_utf8(DeleteParams::default().to_body()).unwrap(),
            r#"{"kind":"DeleteOptions","apiVersion":"v1"}"#
        );
        let dp = DeleteParams::foreground()
            .grace_period(0)
            .precondition_uid("u1")
            .dry_run();
        assert_eq!(
            String::from_utf8(dp.to_body()).unwrap(),
            r#"{"kind":"DeleteOptions","apiVersion":"v1","gracePeriodSeconds":0,"propagationPolicy":"Foreground","preconditions":{"uid":"u1"},"dryRun":["All"]}"#
        );
    }
}
