//! [`CustomObject`]: a custom resource object, typed by its spec.

use std::borrow::Cow;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use super::CustomResource;
use crate::resource::{DynamicResourceScope, Resource, api_version_from_group_version};

/// An object of the custom resource whose spec is `S`: what `Api<CustomObject<S>>` reads and
/// writes.
///
/// `apiVersion` and `kind` are plain fields (decoding stays a single pass); [`new`](Self::new)
/// fills them from `S`. `status` is left out of the JSON when it is `None`.
///
/// ```
/// # use kube_core::{CustomObject, CustomResource, Resource, crd::NoStatus};
/// # use schemars::JsonSchema;
/// # use serde::{Deserialize, Serialize};
/// #[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
/// struct GadgetSpec { size: u32 }
///
/// impl CustomResource for GadgetSpec {
///     const GROUP: &'static str = "example.com";
///     const VERSION: &'static str = "v1";
///     const KIND: &'static str = "Gadget";
///     const PLURAL: &'static str = "gadgets";
///     type Status = NoStatus;
/// }
///
/// let gadget = CustomObject::new("g1", GadgetSpec { size: 3 });
/// assert_eq!(gadget.api_version, "example.com/v1");
/// assert_eq!(CustomObject::<GadgetSpec>::url_path(&(), Some("ns")), "/apis/example.com/v1/namespaces/ns/gadgets");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct CustomObject<S: CustomResource> {
    /// `<group>/<version>`.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// The kind, `S::KIND`.
    pub kind: String,
    /// Name, namespace, labels and the rest of the standard metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The desired state.
    pub spec: S,
    /// The observed state, written through the `status` subresource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<S::Status>,
}

impl<S: CustomResource> CustomObject<S> {
    /// A new object named `name` with `spec`, its `apiVersion` and `kind` filled in.
    pub fn new(name: &str, spec: S) -> Self {
        Self {
            api_version: Self::api_version(&()).into_owned(),
            kind: S::KIND.to_string(),
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                ..ObjectMeta::default()
            },
            spec,
            status: None,
        }
    }

    /// The same object, placed in `namespace`.
    #[must_use]
    pub fn within(mut self, namespace: &str) -> Self {
        self.metadata.namespace = Some(namespace.to_string());
        self
    }
}

impl<S: CustomResource> Resource for CustomObject<S> {
    type DynamicType = ();
    // The scope is an associated const of `S`, which cannot pick a marker type on stable Rust;
    // `is_namespaced` answers from `S::NAMESPACED`.
    type Scope = DynamicResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        S::KIND.into()
    }
    fn group(_: &()) -> Cow<'_, str> {
        S::GROUP.into()
    }
    fn version(_: &()) -> Cow<'_, str> {
        S::VERSION.into()
    }
    fn api_version(_: &()) -> Cow<'_, str> {
        api_version_from_group_version(S::GROUP.into(), S::VERSION.into())
    }
    fn plural(_: &()) -> Cow<'_, str> {
        S::PLURAL.into()
    }
    fn is_namespaced(_: &()) -> bool {
        S::NAMESPACED
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ResourceExt;
    use crate::crd::NoStatus;
    use schemars::JsonSchema;
    use serde_json::json;

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    struct BackupSpec {
        target: String,
        keep_last: u32,
    }

    #[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    struct BackupStatus {
        last_run: Option<String>,
    }

    impl CustomResource for BackupSpec {
        const GROUP: &'static str = "backup.example.com";
        const VERSION: &'static str = "v1alpha1";
        const KIND: &'static str = "Backup";
        const PLURAL: &'static str = "backups";
        type Status = BackupStatus;
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
    struct RegionSpec {
        zones: Vec<String>,
    }

    impl CustomResource for RegionSpec {
        const GROUP: &'static str = "geo.example.com";
        const VERSION: &'static str = "v1";
        const KIND: &'static str = "Region";
        const PLURAL: &'static str = "regions";
        const NAMESPACED: bool = false;
        type Status = NoStatus;
    }

    #[test]
    fn round_trips_through_json_without_an_absent_status() {
        let mut backup = CustomObject::new(
            "nightly",
            BackupSpec {
                target: "s3://b".into(),
                keep_last: 7,
            },
        )
        .within("ops");
        backup.labels_mut().insert("tier".into(), "gold".into());
        let encoded = serde_json::to_value(&backup).unwrap();
        assert_eq!(
            encoded,
            json!({
                "apiVersion": "backup.example.com/v1alpha1",
                "kind": "Backup",
                "metadata": {"name": "nightly", "namespace": "ops", "labels": {"tier": "gold"}},
                "spec": {"target": "s3://b", "keepLast": 7}
            })
        );
        let decoded: CustomObject<BackupSpec> = serde_json::from_value(encoded).unwrap();
        assert_eq!(decoded, backup);

        let from_server: CustomObject<BackupSpec> = serde_json::from_value(json!({
            "apiVersion": "backup.example.com/v1alpha1", "kind": "Backup",
            "metadata": {"name": "nightly", "resourceVersion": "12"},
            "spec": {"target": "s3://b", "keepLast": 7},
            "status": {"lastRun": "2024-01-01T00:00:00Z"}
        }))
        .unwrap();
        assert_eq!(
            from_server.status.as_ref().unwrap().last_run.as_deref(),
            Some("2024-01-01T00:00:00Z")
        );
        assert_eq!(from_server.resource_version().as_deref(), Some("12"));
        assert!(
            serde_json::from_value::<CustomObject<BackupSpec>>(json!({"apiVersion": "x", "kind": "Backup"}))
                .is_err()
        );
    }

    #[test]
    fn resource_follows_the_spec_constants() {
        type Backup = CustomObject<BackupSpec>;
        type Region = CustomObject<RegionSpec>;
        assert_eq!(
            Backup::url_path(&(), Some("ops")),
            "/apis/backup.example.com/v1alpha1/namespaces/ops/backups"
        );
        assert_eq!(
            Backup::url_path(&(), None),
            "/apis/backup.example.com/v1alpha1/backups"
        );
        assert_eq!(
            Region::url_path(&(), Some("ignored")),
            "/apis/geo.example.com/v1/regions"
        );
        assert!(Backup::is_namespaced(&()));
        assert!(!Region::is_namespaced(&()));
        assert_eq!(Region::kind(&()), "Region");
        assert_eq!(crate::TypeMeta::list::<Region>().kind, "RegionList");

        let mut region = Region::new(
            "eu",
            RegionSpec {
                zones: vec!["a".into()],
            },
        );
        region.metadata.uid = Some("u1".into());
        let owner = region.controller_owner_ref(&()).unwrap();
        assert_eq!(
            (owner.api_version.as_str(), owner.kind.as_str()),
            ("geo.example.com/v1", "Region")
        );
        assert_eq!(serde_json::to_value(&region).unwrap().get("status"), None);
    }
}
