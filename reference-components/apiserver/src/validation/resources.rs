//! Compute resources: resource names, quantities, and container requests and limits
//! (core validation's `ValidateContainerResourceRequirements` and helpers).

use std::collections::BTreeMap;

use serde_json::Value;

use super::formats::{NEGATIVE, qualified_name};
use super::json::obj;
use super::quantity::{self, FORMAT_ERROR, Quantity};
use super::{FieldError, Path};

/// Whether a resource is native (`cpu`, `kubernetes.io/...`) rather than extended.
fn is_native(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

fn is_hugepages(name: &str) -> bool {
    name.starts_with("hugepages-")
}

/// `IsOvercommitAllowed`: native resources other than hugepages.
fn overcommit_allowed(name: &str) -> bool {
    is_native(name) && !is_hugepages(name)
}

pub(super) const STANDARD_RESOURCES: &[&str] = &[
    "configmaps",
    "cpu",
    "ephemeral-storage",
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "memory",
    "persistentvolumeclaims",
    "pods",
    "replicationcontrollers",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
    "requests.storage",
    "resourcequotas",
    "secrets",
    "services",
    "services.loadbalancers",
    "services.nodeports",
    "storage",
];

/// `validateResourceName`: qualified, and standard unless it has a domain.
pub(crate) fn resource_name(name: &str, path: &Path) -> Vec<FieldError> {
    let errs: Vec<FieldError> = qualified_name(name)
        .into_iter()
        .map(|m| FieldError::invalid(path, name, m))
        .collect();
    if !errs.is_empty() {
        return errs;
    }
    let standard =
        STANDARD_RESOURCES.contains(&name) || is_hugepages(name) || name.starts_with("requests.hugepages-");
    if !name.contains('/') && !standard {
        return vec![FieldError::invalid(
            path,
            name,
            "must be a standard resource type or fully qualified",
        )];
    }
    Vec::new()
}

/// `validateContainerResourceName`.
pub(crate) fn container_resource_name(name: &str, path: &Path) -> Vec<FieldError> {
    let mut errs = resource_name(name, path);
    if !name.contains('/') {
        if !matches!(name, "cpu" | "memory" | "ephemeral-storage") && !is_hugepages(name) {
            errs.push(FieldError::invalid(
                path,
                name,
                "must be a standard resource for containers",
            ));
        }
    } else if !is_native(name) {
        let extended =
            !name.starts_with("requests.") && qualified_name(&format!("requests.{name}")).is_empty();
        if !extended {
            errs.push(FieldError::invalid(
                path,
                name,
                "doesn't follow extended resource name standard",
            ));
        }
    }
    errs
}

/// Integer-only resources (`pods`, extended resources, object counts).
pub(crate) fn is_integer_resource(name: &str) -> bool {
    matches!(
        name,
        "pods"
            | "services"
            | "replicationcontrollers"
            | "resourcequotas"
            | "secrets"
            | "configmaps"
            | "persistentvolumeclaims"
            | "services.nodeports"
            | "services.loadbalancers"
    ) || name.starts_with("count/")
        || (!is_native(name) && !name.starts_with("requests."))
}

/// `ValidateResourceQuantityValue`: parses, not negative, whole where it must be.
pub(crate) fn quantity_value(name: &str, raw: &Value, path: &Path) -> (Option<Quantity>, Vec<FieldError>) {
    let text = raw
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| raw.to_string());
    let Some(q) = quantity::parse(&text) else {
        return (None, vec![FieldError::invalid(path, text, FORMAT_ERROR)]);
    };
    let mut errs = Vec::new();
    if q.is_negative() {
        errs.push(FieldError::invalid(path, q.canonical(), NEGATIVE));
    }
    if is_integer_resource(name) && !q.is_integer() {
        errs.push(FieldError::invalid(path, q.canonical(), "must be an integer"));
    }
    (Some(q), errs)
}

/// `ValidateContainerResourceRequirements`: names, quantities, and requests within limits.
pub(crate) fn resource_requirements(r: &Value, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let (lim_path, req_path) = (path.child("limits"), path.child("requests"));
    let mut limits = BTreeMap::new();
    let (mut cpu_mem, mut hugepages) = (false, false);
    for (name, raw) in obj(r, "limits").into_iter().flatten() {
        let p = lim_path.key(name);
        errs.extend(container_resource_name(name, &p));
        let (q, e) = quantity_value(name, raw, &p);
        errs.extend(e);
        if let Some(q) = q {
            limits.insert(name.as_str(), q);
        }
        hugepages |= is_hugepages(name);
        cpu_mem |= name == "cpu" || name == "memory";
    }
    for (name, raw) in obj(r, "requests").into_iter().flatten() {
        let p = req_path.key(name);
        errs.extend(container_resource_name(name, &p));
        let (q, e) = quantity_value(name, raw, &p);
        errs.extend(e);
        hugepages |= is_hugepages(name);
        cpu_mem |= name == "cpu" || name == "memory";
        let Some(q) = q else { continue };
        match limits.get(name.as_str()) {
            Some(limit) if q != *limit && !overcommit_allowed(name) => {
                let msg = format!("must be equal to {name} limit of {}", limit.canonical());
                errs.push(FieldError::invalid(&req_path, q.canonical(), msg));
            }
            Some(limit) if q > *limit => {
                let msg = format!(
                    "must be less than or equal to {name} limit of {}",
                    limit.canonical()
                );
                errs.push(FieldError::invalid(&req_path, q.canonical(), msg));
            }
            Some(_) => {}
            None if !overcommit_allowed(name) => {
                errs.push(FieldError::required(
                    &lim_path,
                    "Limit must be set for non overcommitable resources",
                ));
            }
            None => {}
        }
    }
    if hugepages && !cpu_mem {
        errs.push(FieldError::forbidden(path, "HugePages require cpu or memory"));
    }
    errs
}
