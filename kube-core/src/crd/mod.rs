//! CustomResourceDefinitions from Rust types, without a proc-macro.
//!
//! Implement [`CustomResource`] on your spec type (which derives `JsonSchema`), pick a status
//! type (or [`NoStatus`]), and you get:
//!
//! - [`CustomResource::crd`]: the `CustomResourceDefinition` to install, whose schema is
//!   *structural* (see [`structural_schema`] and [`check_structural`]);
//! - [`CustomObject<Spec>`](CustomObject): the object type for `Api<CustomObject<Spec>>`, with
//!   `apiVersion`, `kind`, `metadata`, `spec` and `status`.
//!
//! ```
//! use kube_core::crd::{CustomObject, CustomResource, PrinterColumn};
//! use schemars::JsonSchema;
//! use serde::{Deserialize, Serialize};
//!
//! /// A widget: something with a colour and a size.
//! #[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
//! pub struct WidgetSpec {
//!     pub colour: String,
//!     pub size: Option<u32>,
//! }
//!
//! #[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
//! pub struct WidgetStatus {
//!     pub ready: bool,
//! }
//!
//! impl CustomResource for WidgetSpec {
//!     const GROUP: &'static str = "example.com";
//!     const VERSION: &'static str = "v1";
//!     const KIND: &'static str = "Widget";
//!     const PLURAL: &'static str = "widgets";
//!     const SHORT_NAMES: &'static [&'static str] = &["wd"];
//!     const PRINTER_COLUMNS: &'static [PrinterColumn] =
//!         &[PrinterColumn::new("Colour", "string", ".spec.colour")];
//!     type Status = WidgetStatus;
//! }
//!
//! pub type Widget = CustomObject<WidgetSpec>;
//!
//! let crd = WidgetSpec::crd();
//! assert_eq!(crd.metadata.name.as_deref(), Some("widgets.example.com"));
//! let schema = crd.spec.versions[0].schema.as_ref().unwrap().open_api_v3_schema.as_ref().unwrap();
//! assert!(kube_core::crd::check_structural(schema).is_ok());
//! let w = Widget::new("blue-one", WidgetSpec { colour: "blue".into(), size: None });
//! assert_eq!(w.kind, "Widget");
//! ```

mod junctors;
mod object;
mod schema;
mod structural;

use std::any::TypeId;
use std::collections::BTreeMap;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceColumnDefinition, CustomResourceDefinition, CustomResourceDefinitionNames,
    CustomResourceDefinitionSpec, CustomResourceDefinitionVersion, CustomResourceSubresourceStatus,
    CustomResourceSubresources, CustomResourceValidation, JSONSchemaProps,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use object::CustomObject;
pub use schema::structural_schema;
pub use structural::check_structural;

/// A custom resource, described by its spec type.
///
/// The spec type carries the names (group, version, kind, plural, ...) as associated consts and
/// the status type as an associated type. [`crd`](Self::crd) builds the
/// `CustomResourceDefinition`; [`CustomObject<Self>`](CustomObject) is the object type.
///
/// See the [module documentation](self) for a complete example.
#[doc(alias = "CRD")]
pub trait CustomResource: Serialize + DeserializeOwned + JsonSchema + Clone + Send + Sync + 'static {
    /// The API group, e.g. `example.com`.
    const GROUP: &'static str;
    /// The version, e.g. `v1`.
    const VERSION: &'static str;
    /// The kind, e.g. `Widget`.
    const KIND: &'static str;
    /// The plural resource name used in URLs, e.g. `widgets`.
    const PLURAL: &'static str;
    /// The singular name; `None` means the lowercased kind.
    const SINGULAR: Option<&'static str> = None;
    /// Short names for kubectl, e.g. `["wd"]`.
    const SHORT_NAMES: &'static [&'static str] = &[];
    /// Categories the resource belongs to, e.g. `["all"]`.
    const CATEGORIES: &'static [&'static str] = &[];
    /// Whether objects live in a namespace (`Namespaced`) or not (`Cluster`).
    const NAMESPACED: bool = true;
    /// Extra columns for `kubectl get`.
    const PRINTER_COLUMNS: &'static [PrinterColumn] = &[];

    /// The status type, written through the `status` subresource. Use [`NoStatus`] (or `()`)
    /// for a resource without one: the schema then has no `status` and the CRD no subresource.
    type Status: Serialize + DeserializeOwned + JsonSchema + Clone + Send + Sync + 'static;

    /// The CustomResourceDefinition for this resource; see [`generate`].
    fn crd() -> CustomResourceDefinition {
        generate::<Self>()
    }
}

/// The status type of resources that have no status.
///
/// It encodes as `{}` and decodes from any object; [`generate`] leaves `status` out of the
/// schema and out of the subresources when a resource uses it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct NoStatus {}

/// An `additionalPrinterColumns` entry: a column `kubectl get` shows for the resource.
///
/// ```
/// # use kube_core::crd::PrinterColumn;
/// const AGE: PrinterColumn = PrinterColumn::new("Age", "date", ".metadata.creationTimestamp");
/// const READY: PrinterColumn =
///     PrinterColumn::new("Ready", "boolean", ".status.ready").description("Serving traffic").priority(1);
/// # let _ = (AGE, READY);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrinterColumn {
    /// The column header.
    pub name: &'static str,
    /// `string`, `integer`, `number`, `boolean` or `date`.
    pub type_: &'static str,
    /// A JSONPath into the object, e.g. `.spec.replicas`.
    pub json_path: &'static str,
    /// A human-readable description; empty for none.
    pub description: &'static str,
    /// 0 shows the column by default; higher priorities only with `-o wide`.
    pub priority: i32,
}

impl PrinterColumn {
    /// A column named `name` of type `type_` showing `json_path`.
    pub const fn new(name: &'static str, type_: &'static str, json_path: &'static str) -> Self {
        Self {
            name,
            type_,
            json_path,
            description: "",
            priority: 0,
        }
    }

    /// The same column with a description.
    #[must_use]
    pub const fn description(self, description: &'static str) -> Self {
        Self { description, ..self }
    }

    /// The same column with a priority (0 by default).
    #[must_use]
    pub const fn priority(self, priority: i32) -> Self {
        Self { priority, ..self }
    }

    fn to_definition(self) -> CustomResourceColumnDefinition {
        CustomResourceColumnDefinition {
            name: self.name.to_string(),
            type_: self.type_.to_string(),
            json_path: self.json_path.to_string(),
            description: (!self.description.is_empty()).then(|| self.description.to_string()),
            priority: (self.priority != 0).then_some(self.priority),
            format: None,
        }
    }
}

/// Whether `S` has a status (anything but [`NoStatus`] or `()`).
pub fn has_status<S: CustomResource>() -> bool {
    let status = TypeId::of::<S::Status>();
    status != TypeId::of::<NoStatus>() && status != TypeId::of::<()>()
}

/// The `CustomResourceDefinition` of `S`.
///
/// `apiextensions.k8s.io/v1`, named `<plural>.<group>`, with the names, scope and printer
/// columns from `S`'s consts, and a single version (served and stored) whose schema is
/// `{type: object, properties: {spec, status}, required: [spec]}` (no `status` and no status
/// subresource when `S` has [`NoStatus`]).
pub fn generate<S: CustomResource>() -> CustomResourceDefinition {
    let mut properties = BTreeMap::new();
    properties.insert("spec".to_string(), structural_schema::<S>());
    let status = has_status::<S>();
    if status {
        properties.insert("status".to_string(), structural_schema::<S::Status>());
    }
    let root = JSONSchemaProps {
        type_: Some("object".into()),
        properties: Some(properties),
        required: Some(vec!["spec".into()]),
        ..JSONSchemaProps::default()
    };
    let strings = |names: &[&str]| (!names.is_empty()).then(|| names.iter().map(|n| n.to_string()).collect());
    let columns: Vec<_> = S::PRINTER_COLUMNS.iter().map(|c| c.to_definition()).collect();

    CustomResourceDefinition {
        metadata: ObjectMeta {
            name: Some(format!("{}.{}", S::PLURAL, S::GROUP)),
            ..ObjectMeta::default()
        },
        spec: CustomResourceDefinitionSpec {
            group: S::GROUP.to_string(),
            names: CustomResourceDefinitionNames {
                kind: S::KIND.to_string(),
                list_kind: Some(format!("{}List", S::KIND)),
                plural: S::PLURAL.to_string(),
                singular: Some(S::SINGULAR.map_or_else(|| S::KIND.to_ascii_lowercase(), str::to_string)),
                short_names: strings(S::SHORT_NAMES),
                categories: strings(S::CATEGORIES),
            },
            scope: if S::NAMESPACED { "Namespaced" } else { "Cluster" }.to_string(),
            versions: vec![CustomResourceDefinitionVersion {
                name: S::VERSION.to_string(),
                served: true,
                storage: true,
                schema: Some(CustomResourceValidation {
                    open_api_v3_schema: Some(root),
                }),
                subresources: status.then(|| CustomResourceSubresources {
                    status: Some(CustomResourceSubresourceStatus(serde_json::Value::Object(
                        Default::default(),
                    ))),
                    scale: None,
                }),
                additional_printer_columns: (!columns.is_empty()).then_some(columns),
                ..CustomResourceDefinitionVersion::default()
            }],
            ..CustomResourceDefinitionSpec::default()
        },
        status: None,
    }
}

#[cfg(test)]
mod tests;
