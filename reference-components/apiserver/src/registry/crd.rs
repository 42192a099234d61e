//! Custom resources in the registry: the entries one CustomResourceDefinition serves.
//!
//! [`defs`] turns a CRD into one [`ResourceDef`] per served version, named by the CRD's
//! *accepted* names (`status.acceptedNames`, which the naming part of
//! [`crate::apiextensions`] fills) and stored under `/registry/{group}/{plural}/`. Every version
//! shares the storage version's keys; conversion is the `None` strategy: only `apiVersion`
//! changes between the stored and the served form.

use std::borrow::Cow;
use std::sync::Arc;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceColumnDefinition, CustomResourceDefinition,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::{ALL_VERBS, ResourceDef, Subresource, compare_versions};
use crate::validation::FieldError;
use crate::validation::schema::Schema;

/// The storage segment of CustomResourceDefinitions, as kube-apiserver keys them.
pub const CRD_STORAGE: &str = "apiextensions.k8s.io/customresourcedefinitions";

/// The key prefix of every CustomResourceDefinition.
pub const CRD_PREFIX: &str = "/registry/apiextensions.k8s.io/customresourcedefinitions/";

/// Where the `scale` subresource finds replicas and the selector in a custom resource: simple
/// JSON paths such as `.spec.replicas`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalePaths {
    /// `specReplicasPath`: the desired replicas (under `.spec`).
    pub spec_replicas: String,
    /// `statusReplicasPath`: the observed replicas (under `.status`).
    pub status_replicas: String,
    /// `labelSelectorPath`: a serialised label selector string, if any.
    pub label_selector: Option<String>,
}

/// What a custom resource's registry entry adds to a built-in one.
#[derive(Debug)]
pub struct CustomInfo {
    /// The CRD's name, `<plural>.<group>`.
    pub crd_name: String,
    /// The version objects are stored in.
    pub storage_version: String,
    /// Whether the CRD has several versions (so stored objects may carry another `apiVersion`
    /// than the one served).
    pub multi_version: bool,
    /// The accepted list kind.
    pub list_kind: String,
    /// This version's structural schema (every v1 CRD has one).
    pub schema: Option<Arc<Schema>>,
    /// The scale subresource's paths, when it has one.
    pub scale: Option<ScalePaths>,
    /// `additionalPrinterColumns` of this version, for Table output.
    pub printer_columns: Vec<CustomResourceColumnDefinition>,
    /// Whether the CRD is being deleted: no new objects are created.
    pub terminating: bool,
    /// Cancelled when the CRD is gone: watches of its objects end.
    pub removed: CancellationToken,
}

impl CustomInfo {
    /// Decode a request's object: `metadata` through the typed `ObjectMeta` (unknown metadata
    /// fields dropped, wrong types refused), then pruning by the schema (unknown fields and
    /// non-nullable nulls dropped, as kube-apiserver's decoder does).
    pub fn decode(&self, mut obj: Value) -> Result<Value, serde_json::Error> {
        if let Some(meta) = obj.get_mut("metadata").filter(|m| !m.is_null()) {
            *meta = serde_json::to_value(ObjectMeta::deserialize(&*meta)?)?;
        }
        if let Some(schema) = &self.schema {
            schema.prune(&mut obj);
        }
        Ok(obj)
    }

    /// Apply the schema's defaults.
    pub fn default(&self, obj: &mut Value) {
        if let Some(schema) = &self.schema {
            schema.default(obj);
        }
    }

    /// Validate against the schema.
    pub fn validate(&self, obj: &Value) -> Vec<FieldError> {
        self.schema.as_ref().map(|s| s.validate(obj)).unwrap_or_default()
    }
}

/// `v` with its `apiVersion` set (the `None` conversion strategy).
pub fn with_api_version(mut v: Value, api_version: String) -> Value {
    if let Some(root) = v.as_object_mut() {
        root.insert("apiVersion".into(), Value::String(api_version));
    }
    v
}

/// A condition of `crd` is `True`.
pub fn condition_true(crd: &CustomResourceDefinition, type_: &str) -> bool {
    crd.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == type_ && c.status == "True"))
}

/// The registry entries of `crd`: one per served version, most preferred version first, named
/// by the accepted names. `removed` is the CRD's lifetime token (see [`CustomInfo::removed`]).
pub fn defs(crd: &CustomResourceDefinition, removed: &CancellationToken) -> Vec<ResourceDef> {
    let spec = &crd.spec;
    let accepted = crd.status.as_ref().and_then(|s| s.accepted_names.as_ref());
    let names = accepted.filter(|a| !a.kind.is_empty()).unwrap_or(&spec.names);
    let kind = names.kind.clone();
    let list_kind = names.list_kind.clone().unwrap_or_else(|| format!("{kind}List"));
    let singular = names
        .singular
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| kind.to_ascii_lowercase());
    let crd_name = crd.metadata.name.clone().unwrap_or_default();
    let storage_version = spec
        .versions
        .iter()
        .find(|v| v.storage)
        .map(|v| v.name.clone())
        .unwrap_or_default();
    let mut versions: Vec<_> = spec.versions.iter().filter(|v| v.served).collect();
    versions.sort_by(|a, b| compare_versions(&a.name, &b.name));
    let owned = |v: &Option<Vec<String>>| -> Vec<Cow<'static, str>> {
        v.iter().flatten().map(|s| Cow::Owned(s.clone())).collect()
    };
    versions
        .into_iter()
        .map(|v| {
            let subs = v.subresources.as_ref();
            let mut subresources = Vec::new();
            if subs.is_some_and(|s| s.status.is_some()) {
                subresources.push(Subresource::Status);
            }
            let scale = subs.and_then(|s| s.scale.as_ref()).map(|s| ScalePaths {
                spec_replicas: s.spec_replicas_path.clone(),
                status_replicas: s.status_replicas_path.clone(),
                label_selector: s.label_selector_path.clone(),
            });
            if scale.is_some() {
                subresources.push(Subresource::Scale);
            }
            let schema = v
                .schema
                .as_ref()
                .and_then(|s| s.open_api_v3_schema.clone())
                .map(|s| Arc::new(Schema::new(s)));
            ResourceDef {
                group: Cow::Owned(spec.group.clone()),
                version: Cow::Owned(v.name.clone()),
                kind: Cow::Owned(kind.clone()),
                plural: Cow::Owned(spec.names.plural.clone()),
                singular: Cow::Owned(singular.clone()),
                namespaced: spec.scope == "Namespaced",
                short_names: owned(&names.short_names),
                categories: owned(&names.categories),
                subresources,
                storage: Cow::Owned(format!("{}/{}", spec.group, spec.names.plural)),
                tracks_generation: true,
                allow_create_on_update: false,
                field_selectors: Vec::new(),
                codec: None,
                conversion: None,
                verbs: ALL_VERBS,
                custom: Some(Arc::new(CustomInfo {
                    crd_name: crd_name.clone(),
                    storage_version: storage_version.clone(),
                    multi_version: spec.versions.len() > 1,
                    list_kind: list_kind.clone(),
                    schema,
                    scale,
                    printer_columns: v.additional_printer_columns.clone().unwrap_or_default(),
                    terminating: crd.metadata.deletion_timestamp.is_some(),
                    removed: removed.clone(),
                })),
                // kube-apiserver's default text when the version gives none.
                deprecation: v.deprecated.unwrap_or(false).then(|| {
                    Cow::Owned(
                        v.deprecation_warning
                            .clone()
                            .unwrap_or_else(|| format!("{}/{} {kind} is deprecated", spec.group, v.name)),
                    )
                }),
            }
        })
        .collect()
}

/// A CRD read from storage JSON.
pub fn parse(json: &[u8]) -> Option<CustomResourceDefinition> {
    serde_json::from_slice(json).ok()
}

/// The JSON of a CRD.
pub fn to_value<T: Serialize>(crd: &T) -> Value {
    serde_json::to_value(crd).expect("CRDs serialise")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crd(status: Value) -> CustomResourceDefinition {
        serde_json::from_value(json!({
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList", "shortNames": ["wd"]},
                "versions": [
                    {"name": "v1beta1", "served": true, "storage": false, "schema": {"openAPIV3Schema": {"type": "object"}}},
                    {"name": "v1", "served": true, "storage": true,
                     "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object", "properties": {"replicas": {"type": "integer"}}}}}},
                     "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}},
                     "additionalPrinterColumns": [{"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"}]},
                    {"name": "v0", "served": false, "storage": false},
                ],
            },
            "status": status,
        }))
        .unwrap()
    }

    #[test]
    fn one_entry_per_served_version_named_by_accepted_names() {
        let token = CancellationToken::new();
        let defs = defs(
            &crd(
                json!({"acceptedNames": {"plural": "widgets", "kind": "Widget", "listKind": "WidgetList", "singular": "widget"}}),
            ),
            &token,
        );
        let versions: Vec<&str> = defs.iter().map(|d| d.version.as_ref()).collect();
        assert_eq!(versions, ["v1", "v1beta1"]);
        let v1 = &defs[0];
        assert_eq!(v1.key(Some("ns"), "a"), "/registry/example.com/widgets/ns/a");
        assert_eq!(v1.subresources, [Subresource::Status, Subresource::Scale]);
        assert!(
            v1.short_names.is_empty(),
            "short names come from the accepted names"
        );
        let info = v1.custom.as_ref().unwrap();
        assert_eq!(info.storage_version, "v1");
        assert_eq!(info.printer_columns[0].name, "Replicas");
        assert_eq!(info.scale.as_ref().unwrap().spec_replicas, ".spec.replicas");
        let beta = &defs[1];
        assert!(beta.subresources.is_empty());
        // Served in v1beta1, stored in v1: only apiVersion changes.
        let stored =
            beta.stored(json!({"apiVersion": "example.com/v1beta1", "kind": "Widget", "spec": {"a": 1}}));
        assert_eq!(stored["apiVersion"], "example.com/v1");
        assert_eq!(beta.served(stored.clone())["apiVersion"], "example.com/v1beta1");
        assert!(
            v1.converts() && beta.converts(),
            "two versions: objects may be stored in either"
        );
    }

    #[test]
    fn spec_names_until_names_are_accepted() {
        let defs = defs(&crd(json!({})), &CancellationToken::new());
        assert_eq!(defs[0].kind, "Widget");
        assert_eq!(defs[0].short_names, ["wd"]);
        assert_eq!(defs[0].list_kind(), "WidgetList");
    }
}
