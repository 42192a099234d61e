//! Generate the CustomResourceDefinition of a `Widget` from Rust types and print it as YAML.
//!
//! ```sh
//! cargo run -p examples --example crd_generate > widget-crd.yaml
//! kubectl apply -f widget-crd.yaml
//! ```
//!
//! No proc-macro: the spec type implements [`CustomResource`] by hand (a few consts and the
//! status type), and `CustomObject<WidgetSpec>` is the object type to use with `Api`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube_core::crd::{PrinterColumn, check_structural};
use kube_core::{CustomObject, CustomResource};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A widget: a small web service with a colour.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WidgetSpec {
    /// The colour the widget is painted in.
    pub colour: Colour,
    /// How many copies to run.
    pub replicas: Option<i32>,
    /// The container port, by number or name.
    pub port: IntOrString,
    /// Pods this widget watches over.
    pub selector: Option<LabelSelector>,
    /// Compute resources for each copy.
    pub resources: Option<ResourceRequirements>,
    /// Labels added to everything the widget creates.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Opaque configuration handed to the widget as is.
    pub config: Option<serde_json::Value>,
}

/// The available colours.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Colour {
    /// Warm.
    Red,
    /// Calm.
    Green,
    /// Cool.
    Blue,
}

/// What the controller last saw.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WidgetStatus {
    /// Copies that are ready.
    pub ready_replicas: Option<i32>,
    /// The latest observations of the widget's state.
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

impl CustomResource for WidgetSpec {
    const GROUP: &'static str = "example.com";
    const VERSION: &'static str = "v1";
    const KIND: &'static str = "Widget";
    const PLURAL: &'static str = "widgets";
    const SHORT_NAMES: &'static [&'static str] = &["wd"];
    const CATEGORIES: &'static [&'static str] = &["all"];
    const PRINTER_COLUMNS: &'static [PrinterColumn] = &[
        PrinterColumn::new("Colour", "string", ".spec.colour"),
        PrinterColumn::new("Ready", "integer", ".status.readyReplicas"),
        PrinterColumn::new("Age", "date", ".metadata.creationTimestamp"),
    ];
    type Status = WidgetStatus;
}

/// The object type: `Api<Widget>` reads and writes these.
pub type Widget = CustomObject<WidgetSpec>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let crd = WidgetSpec::crd();
    let schema = crd.spec.versions[0]
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref());
    if let Some(Err(problems)) = schema.map(check_structural) {
        return Err(format!("the generated schema is not structural: {problems:?}").into());
    }
    print!("{}", yaml_serde::to_string(&crd)?);

    // An object of the new kind, as `kubectl get widget blue -o yaml` would show it.
    let widget = Widget::new(
        "blue",
        WidgetSpec {
            colour: Colour::Blue,
            replicas: Some(2),
            port: IntOrString::String("http".into()),
            selector: None,
            resources: None,
            labels: BTreeMap::new(),
            config: None,
        },
    );
    print!("---\n{}", yaml_serde::to_string(&widget)?);
    Ok(())
}
