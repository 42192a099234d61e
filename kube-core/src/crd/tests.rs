//! CRD generation end to end: a realistic spec and status, and a cluster-scoped resource.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};

use super::*;

/// A database cluster.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct DatabaseSpec {
    /// The engine version, e.g. `16.2`.
    version: String,
    /// How many replicas to run.
    replicas: Option<i32>,
    engine: Engine,
    /// Extra labels for the pods.
    #[serde(default)]
    pod_labels: BTreeMap<String, String>,
    /// Users to create.
    #[serde(default)]
    users: Vec<User>,
    /// Free-form engine settings.
    settings: serde_json::Value,
    /// Port number or name.
    port: IntOrString,
    primary: Endpoint,
    replica: Option<Endpoint>,
    selector: Option<LabelSelector>,
    resources: Option<ResourceRequirements>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Engine {
    Postgres,
    Mysql,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct User {
    name: String,
    /// Databases the user owns.
    owns: Option<Vec<String>>,
}

/// Where a server listens.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Endpoint {
    host: String,
    port: u16,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct DatabaseStatus {
    ready_replicas: Option<i32>,
    #[serde(default)]
    conditions: Vec<Condition>,
}

impl CustomResource for DatabaseSpec {
    const GROUP: &'static str = "db.example.com";
    const VERSION: &'static str = "v1beta1";
    const KIND: &'static str = "Database";
    const PLURAL: &'static str = "databases";
    const SHORT_NAMES: &'static [&'static str] = &["db"];
    const CATEGORIES: &'static [&'static str] = &["all", "storage"];
    const PRINTER_COLUMNS: &'static [PrinterColumn] = &[
        PrinterColumn::new("Version", "string", ".spec.version"),
        PrinterColumn::new("Ready", "integer", ".status.readyReplicas")
            .description("Ready replicas")
            .priority(1),
    ];
    type Status = DatabaseStatus;
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct ZoneSpec {
    cidr: String,
}

impl CustomResource for ZoneSpec {
    const GROUP: &'static str = "net.example.com";
    const VERSION: &'static str = "v1";
    const KIND: &'static str = "Zone";
    const PLURAL: &'static str = "zones";
    const SINGULAR: Option<&'static str> = Some("netzone");
    const NAMESPACED: bool = false;
    type Status = ();
}

fn schema_of(crd: &CustomResourceDefinition) -> &JSONSchemaProps {
    crd.spec.versions[0]
        .schema
        .as_ref()
        .unwrap()
        .open_api_v3_schema
        .as_ref()
        .unwrap()
}

/// Every node of a JSON value, for "nothing like this anywhere" assertions.
fn keys_anywhere(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                found.push(key.clone());
                keys_anywhere(child, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| keys_anywhere(i, found)),
        _ => {}
    }
}

#[test]
fn database_crd_has_names_scope_subresources_and_columns() {
    let crd = DatabaseSpec::crd();
    let json = serde_json::to_value(&crd).unwrap();
    assert_eq!(json["apiVersion"], "apiextensions.k8s.io/v1");
    assert_eq!(json["kind"], "CustomResourceDefinition");
    assert_eq!(json["metadata"]["name"], "databases.db.example.com");
    assert_eq!(json["spec"]["group"], "db.example.com");
    assert_eq!(json["spec"]["scope"], "Namespaced");
    assert_eq!(
        json["spec"]["names"],
        json!({
            "kind": "Database", "listKind": "DatabaseList", "plural": "databases", "singular": "database",
            "shortNames": ["db"], "categories": ["all", "storage"]
        })
    );
    let version = &json["spec"]["versions"][0];
    assert_eq!(json["spec"]["versions"].as_array().unwrap().len(), 1);
    assert_eq!(
        (&version["name"], &version["served"], &version["storage"]),
        (&json!("v1beta1"), &json!(true), &json!(true))
    );
    assert_eq!(version["subresources"], json!({"status": {}}));
    assert_eq!(
        version["additionalPrinterColumns"],
        json!([
            {"name": "Version", "type": "string", "jsonPath": ".spec.version"},
            {"name": "Ready", "type": "integer", "jsonPath": ".status.readyReplicas", "description": "Ready replicas", "priority": 1}
        ])
    );
}

#[test]
fn database_schema_is_structural_and_inlined() {
    let crd = DatabaseSpec::crd();
    let schema = schema_of(&crd);
    if let Err(problems) = check_structural(schema) {
        panic!("{problems:#?}");
    }
    let root = serde_json::to_value(schema).unwrap();
    let mut keys = Vec::new();
    keys_anywhere(&root, &mut keys);
    for forbidden in [
        "$ref",
        "$schema",
        "definitions",
        "$defs",
        "anyOf",
        "oneOf",
        "allOf",
        "additionalItems",
        "uniqueItems",
    ] {
        assert!(!keys.iter().any(|k| k == forbidden), "{forbidden} in {root:#}");
    }
    assert!(!root.to_string().contains("\"null\""), "no null types: {root:#}");

    assert_eq!(root["type"], "object");
    assert_eq!(root["required"], json!(["spec"]));
    let spec = &root["properties"]["spec"];
    let status = &root["properties"]["status"];
    assert_eq!(spec["type"], "object");
    assert_eq!(spec["description"], "A database cluster.");
    assert_eq!(
        spec["required"],
        json!(["version", "engine", "settings", "port", "primary"])
    );

    let p = &spec["properties"];
    assert_eq!(
        p["version"],
        json!({"type": "string", "description": "The engine version, e.g. `16.2`."})
    );
    assert_eq!(
        p["replicas"],
        json!({"type": "integer", "format": "int32", "nullable": true, "description": "How many replicas to run."})
    );
    assert_eq!(
        p["engine"],
        json!({"type": "string", "enum": ["postgres", "mysql"]})
    );
    assert_eq!(p["podLabels"]["type"], "object");
    assert_eq!(p["podLabels"]["additionalProperties"], json!({"type": "string"}));
    assert_eq!(p["podLabels"]["default"], json!({}));
    assert_eq!(p["users"]["items"]["type"], "object");
    assert_eq!(p["users"]["items"]["required"], json!(["name"]));
    assert_eq!(p["users"]["items"]["properties"]["owns"]["nullable"], true);
    assert_eq!(
        p["users"]["items"]["properties"]["owns"]["items"],
        json!({"type": "string"})
    );
    assert_eq!(
        p["settings"],
        json!({"x-kubernetes-preserve-unknown-fields": true, "description": "Free-form engine settings."})
    );
    assert_eq!(p["port"]["x-kubernetes-int-or-string"], true);
    assert_eq!(p["port"]["description"], "Port number or name.");
    assert!(p["port"].get("type").is_none());

    // The same struct twice (once optional): both inlined in full.
    assert_eq!(p["primary"]["type"], "object");
    assert_eq!(p["primary"]["description"], "Where a server listens.");
    assert_eq!(p["primary"]["properties"]["port"]["format"], "uint16");
    assert_eq!(p["replica"]["properties"], p["primary"]["properties"]);
    assert_eq!(p["replica"]["nullable"], true);

    // k8s-openapi types keep their own schemas, inlined.
    assert_eq!(p["selector"]["nullable"], true);
    assert_eq!(
        p["selector"]["properties"]["matchLabels"]["additionalProperties"]["type"],
        "string"
    );
    assert_eq!(
        p["selector"]["properties"]["matchExpressions"]["items"]["required"],
        json!(["key", "operator"])
    );
    assert_eq!(
        p["resources"]["properties"]["limits"]["additionalProperties"]["x-kubernetes-int-or-string"],
        true
    );
    assert_eq!(
        p["resources"]["properties"]["claims"]["items"]["properties"]["name"]["type"],
        "string"
    );

    assert_eq!(status["type"], "object");
    assert_eq!(status["properties"]["readyReplicas"]["nullable"], true);
    let condition = &status["properties"]["conditions"]["items"];
    assert_eq!(
        condition["properties"]["lastTransitionTime"],
        json!({
            "type": "string", "format": "date-time",
            "description": condition["properties"]["lastTransitionTime"]["description"].clone()
        })
    );
    assert_eq!(condition["required"].as_array().unwrap().len(), 5);
}

#[test]
fn cluster_scoped_resource_without_status() {
    assert!(!has_status::<ZoneSpec>());
    assert!(has_status::<DatabaseSpec>());
    let crd = generate::<ZoneSpec>();
    assert_eq!(crd.metadata.name.as_deref(), Some("zones.net.example.com"));
    assert_eq!(crd.spec.scope, "Cluster");
    assert_eq!(crd.spec.names.singular.as_deref(), Some("netzone"));
    assert_eq!(crd.spec.names.short_names, None);
    assert_eq!(crd.spec.names.categories, None);
    let version = &crd.spec.versions[0];
    assert_eq!(version.subresources, None);
    assert_eq!(version.additional_printer_columns, None);
    let schema = schema_of(&crd);
    check_structural(schema).unwrap();
    let properties = schema.properties.as_ref().unwrap();
    assert_eq!(properties.keys().collect::<Vec<_>>(), ["spec"]);
    assert_eq!(properties["spec"].required, Some(vec!["cidr".to_string()]));
    assert!(!CustomObject::<ZoneSpec>::is_namespaced(&()));
}

#[test]
fn no_status_encodes_as_an_empty_object_and_decodes_anything() {
    assert_eq!(serde_json::to_value(NoStatus {}).unwrap(), json!({}));
    let decoded: NoStatus = serde_json::from_value(json!({"left": "over"})).unwrap();
    assert_eq!(decoded, NoStatus {});
}

#[test]
fn generated_crd_survives_a_json_round_trip() {
    let crd = DatabaseSpec::crd();
    let text = serde_json::to_string(&crd).unwrap();
    let back: CustomResourceDefinition = serde_json::from_str(&text).unwrap();
    assert_eq!(back, crd);
}

use crate::Resource;
