//! Coordination, discovery, networking, storage and RBAC kinds.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::super::{Column, Row, age, name};
use super::{at, list, text};

/// Lease columns.
pub fn lease_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new(
            "Holder",
            "string",
            "holderIdentity contains the identity of the holder of a current lease.",
            0,
        ),
        Column::age(),
    ]
}

/// A Lease's row.
pub fn lease(obj: &Value, now: Timestamp) -> Row {
    Row::cells(vec![
        json!(name(obj)),
        json!(text(obj, "/spec/holderIdentity")),
        age(obj, now),
    ])
}

/// `listWithMoreString`: three shown, then `+ N more...`; `<unset>` when empty.
fn with_more(items: Vec<String>) -> String {
    if items.is_empty() {
        return "<unset>".into();
    }
    if items.len() > 3 {
        return format!("{} + {} more...", items[..3].join(","), items.len() - 3);
    }
    items.join(",")
}

/// EndpointSlice columns.
pub fn endpointslice_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new(
            "AddressType",
            "string",
            "addressType specifies the type of address carried by this EndpointSlice.",
            0,
        ),
        Column::new(
            "Ports",
            "string",
            "ports specifies the list of network ports exposed by each endpoint in this slice.",
            0,
        ),
        Column::new(
            "Endpoints",
            "string",
            "endpoints is a list of unique endpoints in this slice.",
            0,
        ),
        Column::age(),
    ]
}

/// An EndpointSlice's row.
pub fn endpoint_slice(obj: &Value, now: Timestamp) -> Row {
    let ports: Vec<String> = list(obj, "/ports")
        .iter()
        .map(|p| match (p["port"].as_i64(), p["name"].as_str()) {
            (Some(n), _) => n.to_string(),
            (None, Some(name)) => name.to_string(),
            _ => "*".into(),
        })
        .collect();
    let endpoints: Vec<String> = list(obj, "/endpoints")
        .iter()
        .flat_map(|e| list(e, "/addresses"))
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect();
    Row::cells(vec![
        json!(name(obj)),
        json!(text(obj, "/addressType")),
        json!(with_more(ports)),
        json!(with_more(endpoints)),
        age(obj, now),
    ])
}

/// Ingress columns.
pub fn ingress_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new(
            "Class",
            "string",
            "The name of the IngressClass resource that should be used for additional configuration",
            0,
        ),
        Column::new(
            "Hosts",
            "string",
            "Hosts that incoming requests are matched against before the ingress rule",
            0,
        ),
        Column::new(
            "Address",
            "string",
            "Address is a list containing ingress points for the load-balancer",
            0,
        ),
        Column::new("Ports", "string", "Ports of TLS configurations that open", 0),
        Column::age(),
    ]
}

/// An Ingress's row.
pub fn ingress(obj: &Value, now: Timestamp) -> Row {
    let rules = list(obj, "/spec/rules");
    let hosts: Vec<&str> = rules
        .iter()
        .filter_map(|r| r["host"].as_str().filter(|h| !h.is_empty()))
        .take(3)
        .collect();
    let hosts = if hosts.is_empty() {
        "*".to_string()
    } else if rules.len() > 3 {
        format!("{} + {} more...", hosts.join(","), rules.len() - 3)
    } else {
        hosts.join(",")
    };
    let mut address: Vec<&str> = list(obj, "/status/loadBalancer/ingress")
        .iter()
        .filter_map(|i| {
            i["ip"]
                .as_str()
                .filter(|s| !s.is_empty())
                .or_else(|| i["hostname"].as_str().filter(|s| !s.is_empty()))
        })
        .collect();
    address.dedup();
    let ports = if list(obj, "/spec/tls").is_empty() {
        "80"
    } else {
        "80, 443"
    };
    let class = at(obj, "/spec/ingressClassName").as_str().unwrap_or("<none>");
    Row::cells(vec![
        json!(name(obj)),
        json!(class),
        json!(hosts),
        json!(address.join(",")),
        json!(ports),
        age(obj, now),
    ])
}

/// IngressClass columns.
pub fn ingressclass_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new(
            "Controller",
            "string",
            "Controller that is responsible for handling this class",
            0,
        ),
        Column::new(
            "Parameters",
            "string",
            "A reference to a resource with additional parameters",
            0,
        ),
        Column::age(),
    ]
}

/// An IngressClass's row.
pub fn ingress_class(obj: &Value, now: Timestamp) -> Row {
    let params = at(obj, "/spec/parameters");
    let parameters = if params.is_object() {
        let kind = match params["apiGroup"].as_str() {
            Some(g) => format!("{}.{g}", text(params, "/kind")),
            None => text(params, "/kind").to_string(),
        };
        format!("{kind}/{}", text(params, "/name"))
    } else {
        "<none>".into()
    };
    Row::cells(vec![
        json!(name(obj)),
        json!(text(obj, "/spec/controller")),
        json!(parameters),
        age(obj, now),
    ])
}

/// StorageClass columns.
pub fn storageclass_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new(
            "Provisioner",
            "string",
            "provisioner indicates the type of the provisioner.",
            0,
        ),
        Column::new(
            "ReclaimPolicy",
            "string",
            "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class.",
            0,
        ),
        Column::new(
            "VolumeBindingMode",
            "string",
            "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.",
            0,
        ),
        Column::new(
            "AllowVolumeExpansion",
            "string",
            "allowVolumeExpansion shows whether the storage class allow volume expand.",
            0,
        ),
        Column::age(),
    ]
}

/// A StorageClass's row; the default class is named `name (default)`.
pub fn storage_class(obj: &Value, now: Timestamp) -> Row {
    let annotations = at(obj, "/metadata/annotations");
    let default = [
        "storageclass.kubernetes.io/is-default-class",
        "storageclass.beta.kubernetes.io/is-default-class",
    ]
    .iter()
    .any(|a| annotations[*a] == "true");
    let shown = if default {
        format!("{} (default)", name(obj))
    } else {
        name(obj).to_string()
    };
    Row::cells(vec![
        json!(shown),
        json!(text(obj, "/provisioner")),
        json!(at(obj, "/reclaimPolicy").as_str().unwrap_or("Delete")),
        json!(at(obj, "/volumeBindingMode").as_str().unwrap_or("Immediate")),
        json!(at(obj, "/allowVolumeExpansion").as_bool().unwrap_or(false)),
        age(obj, now),
    ])
}

/// RoleBinding and ClusterRoleBinding columns (`what` names the kind in descriptions).
pub fn binding_columns(what: &'static str) -> Vec<Column> {
    let (users, groups, sas) = match what {
        "roleBinding" => (
            "Users in the roleBinding",
            "Groups in the roleBinding",
            "ServiceAccounts in the roleBinding",
        ),
        _ => (
            "Users in the clusterRoleBinding",
            "Groups in the clusterRoleBinding",
            "ServiceAccounts in the clusterRoleBinding",
        ),
    };
    vec![
        Column::name(),
        Column::new(
            "Role",
            "string",
            "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace.",
            0,
        ),
        Column::age(),
        Column::new("Users", "string", users, 1),
        Column::new("Groups", "string", groups, 1),
        Column::new("ServiceAccounts", "string", sas, 1),
    ]
}

/// A RoleBinding's or ClusterRoleBinding's row.
pub fn binding(obj: &Value, now: Timestamp) -> Row {
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let mut sas = Vec::new();
    for s in list(obj, "/subjects") {
        let n = text(s, "/name");
        match text(s, "/kind") {
            "User" => users.push(n.to_string()),
            "Group" => groups.push(n.to_string()),
            "ServiceAccount" => sas.push(format!("{}/{n}", text(s, "/namespace"))),
            _ => {}
        }
    }
    Row::cells(vec![
        json!(name(obj)),
        json!(format!(
            "{}/{}",
            text(obj, "/roleRef/kind"),
            text(obj, "/roleRef/name")
        )),
        age(obj, now),
        json!(users.join(", ")),
        json!(groups.join(", ")),
        json!(sas.join(", ")),
    ])
}
