//! The core (`v1`) kinds other than pods, services and volumes: namespaces, nodes, config maps,
//! secrets, events, resource quotas, limit ranges and replication controllers.

use std::collections::{BTreeMap, BTreeSet};

use kube_core::Selector;
use serde_json::{Value, json};

use super::formats::{
    IMMUTABLE, NEGATIVE, base64_decode, config_map_key, dns1123_subdomain, label_value, qualified_name,
    valid_cidr,
};
use super::json::{arr, get, int_of, obj, semantic_eq, str_of, string_map, strings};
use super::meta::kube_finalizer_name;
use super::pod::{PodOpts, template_labels, template_restart_always, validate_pod, validate_pod_template};
use super::podspec::taint_effect;
use super::quantity::Quantity;
use super::resources::{container_resource_name, quantity_value, resource_name};
use super::{FieldError, Path, service, storage};

/// `MaxSecretSize`: the data of a Secret or ConfigMap.
pub(crate) const MAX_DATA_BYTES: usize = 1024 * 1024;

/// Dispatches core/v1 kinds.
pub(crate) fn validate(kind: &str, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    match kind {
        "Pod" => validate_pod(obj, old),
        "Namespace" => namespace(obj),
        "Node" => node(obj, old),
        "Service" => service::validate_service(obj, old),
        "Endpoints" => service::validate_endpoints(obj),
        "ConfigMap" => config_map(obj, old),
        "Secret" => secret(obj, old),
        "Event" => event(obj, old, false),
        "ResourceQuota" => resource_quota(obj, old),
        "LimitRange" => limit_range(obj),
        "PersistentVolume" => storage::validate_pv(obj, old),
        "PersistentVolumeClaim" => storage::validate_pvc(obj, old),
        "ReplicationController" => replication_controller(obj),
        "PodTemplate" => {
            validate_pod_template(get(obj, "template"), &PodOpts::default(), &Path::new("template"))
        }
        _ => Vec::new(),
    }
}

fn namespace(ns: &Value) -> Vec<FieldError> {
    let p = Path::new("spec").child("finalizers");
    let mut errs = Vec::new();
    for f in get(ns, "spec")
        .map(|s| strings(s, "finalizers"))
        .unwrap_or_default()
    {
        errs.extend(
            qualified_name(&f)
                .into_iter()
                .map(|m| FieldError::invalid(&p, f.as_str(), m)),
        );
        errs.extend(kube_finalizer_name(&f, &p));
    }
    errs
}

fn pod_cidrs(spec: &Value) -> Vec<String> {
    let cidrs = strings(spec, "podCIDRs");
    if cidrs.is_empty() && !str_of(spec, "podCIDR").is_empty() {
        return vec![str_of(spec, "podCIDR").to_string()];
    }
    cidrs
}

fn node(n: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let null = Value::Null;
    let spec = get(n, "spec").unwrap_or(&null);
    let mut errs = Vec::new();
    // Kubernetes reports taints under `metadata.taints`.
    let taints_path = Path::new("metadata").child("taints");
    let mut unique: BTreeSet<(&str, &str)> = BTreeSet::new();
    for (i, t) in arr(spec, "taints").iter().enumerate() {
        let p = taints_path.index(i);
        let (key, value, effect) = (str_of(t, "key"), str_of(t, "value"), str_of(t, "effect"));
        errs.extend(
            qualified_name(key)
                .into_iter()
                .map(|m| FieldError::invalid(&p.child("key"), key, m)),
        );
        let msgs = label_value(value);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(&p.child("value"), value, msgs.join(";")));
        }
        if effect.is_empty() {
            errs.push(FieldError::required(&p.child("effect"), ""));
        } else {
            errs.extend(taint_effect(effect, &p.child("effect")));
        }
        if !unique.insert((effect, key)) {
            let mut e = FieldError::duplicate(&p, t.clone());
            e.detail = "taints must be unique by key and effect pair".into();
            errs.push(e);
        }
    }
    let status = get(n, "status").unwrap_or(&null);
    for field in ["capacity", "allocatable"] {
        for (k, v) in obj(status, field).into_iter().flatten() {
            let p = Path::new("status").child(field).child(k);
            errs.extend(quantity_value(k, v, &p).1);
        }
    }
    let cidrs = pod_cidrs(spec);
    let cp = Path::new("spec").child("podCIDRs");
    for (i, c) in cidrs.iter().enumerate() {
        errs.extend(valid_cidr(&cp.index(i), c));
    }
    if cidrs.len() > 1 {
        let v6 = cidrs.iter().filter(|c| c.contains(':')).count();
        if v6 == 0 || v6 == cidrs.len() || cidrs.len() > 2 {
            errs.push(FieldError::invalid(
                &cp,
                json!(cidrs),
                "may specify no more than one CIDR for each IP family",
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, c) in cidrs.iter().enumerate() {
            if !seen.insert(c) {
                errs.push(FieldError::duplicate(&cp.index(i), c.as_str()));
            }
        }
    }
    let Some(old) = old else { return errs };
    let old_spec = get(old, "spec").unwrap_or(&null);
    let mut seen = Vec::new();
    for (i, a) in get(n, "status")
        .map(|s| arr(s, "addresses"))
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        if seen.contains(&a) {
            errs.push(FieldError::duplicate(
                &Path::new("status").child("addresses").index(i),
                a.clone(),
            ));
        }
        seen.push(a);
    }
    let old_cidrs = pod_cidrs(old_spec);
    if !old_cidrs.is_empty() {
        let changed = if old_cidrs.len() != cidrs.len() {
            1
        } else {
            old_cidrs.iter().zip(&cidrs).filter(|(a, b)| a != b).count()
        };
        for _ in 0..changed {
            let msg = "node updates may not change podCIDR except from \"\" to valid";
            errs.push(FieldError::forbidden(&cp, msg));
        }
    }
    let old_provider = str_of(old_spec, "providerID");
    if !old_provider.is_empty() && old_provider != str_of(spec, "providerID") {
        let msg = "node updates may not change providerID except from \"\" to valid";
        errs.push(FieldError::forbidden(&Path::new("spec").child("providerID"), msg));
    }
    if str_of(spec, "externalID") != str_of(old_spec, "externalID") {
        errs.push(FieldError::forbidden(
            &Path::new("spec").child("externalID"),
            "may not be updated",
        ));
    }
    errs
}

/// Data keys and decoded sizes of a `data`/`binaryData` map (values base64 when `encoded`).
fn data_map(
    map: Option<&serde_json::Map<String, Value>>,
    encoded: bool,
    path: &Path,
    redacted: &str,
) -> (usize, Vec<FieldError>) {
    let mut errs = Vec::new();
    let mut size = 0;
    for (key, value) in map.into_iter().flatten() {
        let p = path.key(key);
        errs.extend(
            config_map_key(key)
                .into_iter()
                .map(|m| FieldError::invalid(&p, key.as_str(), m)),
        );
        let text = value.as_str().unwrap_or("");
        if encoded {
            match base64_decode(text) {
                Ok(bytes) => size += bytes.len(),
                Err(e) => errs.push(FieldError::invalid(&p, redacted, e)),
            }
        } else {
            size += text.len();
        }
    }
    (size, errs)
}

fn immutable_data(new: &Value, old: &Value, fields: &[&str]) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if old.get("immutable").and_then(Value::as_bool) != Some(true) {
        return errs;
    }
    let msg = "field is immutable when `immutable` is set";
    if new.get("immutable").and_then(Value::as_bool) != Some(true) {
        errs.push(FieldError::forbidden(&Path::new("immutable"), msg));
    }
    for field in fields {
        if !semantic_eq(get(new, field), get(old, field)) {
            errs.push(FieldError::forbidden(&Path::new(field), msg));
        }
    }
    errs
}

fn config_map(cm: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errs = old
        .map(|o| immutable_data(cm, o, &["data", "binaryData"]))
        .unwrap_or_default();
    let (data, binary) = (obj(cm, "data"), obj(cm, "binaryData"));
    let (size, e) = data_map(data, false, &Path::new("data"), "");
    errs.extend(e);
    for key in data.into_iter().flatten().map(|(k, _)| k) {
        if binary.is_some_and(|b| b.contains_key(key)) {
            let msg = "duplicate of key present in binaryData";
            errs.push(FieldError::invalid(
                &Path::new("data").key(key),
                key.as_str(),
                msg,
            ));
        }
    }
    let (bsize, e) = data_map(binary, true, &Path::new("binaryData"), "<value omitted>");
    errs.extend(e);
    if size + bsize > MAX_DATA_BYTES {
        errs.push(FieldError::too_long(&Path::new(""), MAX_DATA_BYTES));
    }
    errs
}

fn secret(s: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(old) = old {
        errs.extend(super::pod::immutable(
            get(s, "type"),
            get(old, "type"),
            &Path::new("type"),
        ));
        errs.extend(immutable_data(s, old, &["data"]));
    }
    let data_path = Path::new("data");
    let data = obj(s, "data");
    let (size, e) = data_map(data, true, &data_path, "<secret contents redacted>");
    errs.extend(e);
    if size > MAX_DATA_BYTES {
        errs.push(FieldError::too_long(&data_path, MAX_DATA_BYTES));
    }
    let entry = |k: &str| {
        data.and_then(|d| d.get(k))
            .map(|v| base64_decode(v.as_str().unwrap_or("")).unwrap_or_default())
    };
    let json_entry = |k: &str, errs: &mut Vec<FieldError>| match entry(k) {
        None => errs.push(FieldError::required(&data_path.key(k), "")),
        Some(bytes) => {
            if let Err(e) = serde_json::from_slice::<serde_json::Map<String, Value>>(&bytes) {
                errs.push(FieldError::invalid(
                    &data_path.key(k),
                    "<secret contents redacted>",
                    e.to_string(),
                ));
            }
        }
    };
    match str_of(s, "type") {
        "kubernetes.io/service-account-token" => {
            let name = get(s, "metadata")
                .and_then(|m| obj(m, "annotations"))
                .and_then(|a| a.get("kubernetes.io/service-account.name"));
            if name.and_then(Value::as_str).is_none_or(str::is_empty) {
                let p = Path::new("metadata")
                    .child("annotations")
                    .key("kubernetes.io/service-account.name");
                errs.push(FieldError::required(&p, ""));
            }
        }
        "kubernetes.io/dockercfg" => json_entry(".dockercfg", &mut errs),
        "kubernetes.io/dockerconfigjson" => json_entry(".dockerconfigjson", &mut errs),
        "kubernetes.io/basic-auth" if entry("username").is_none() && entry("password").is_none() => {
            errs.push(FieldError::required(&data_path.key("username"), ""));
            errs.push(FieldError::required(&data_path.key("password"), ""));
        }
        "kubernetes.io/ssh-auth" if entry("ssh-privatekey").is_none_or(|b| b.is_empty()) => {
            errs.push(FieldError::required(&data_path.key("ssh-privatekey"), ""));
        }
        "kubernetes.io/tls" => {
            for key in ["tls.crt", "tls.key"] {
                if entry(key).is_none() {
                    errs.push(FieldError::required(&data_path.key(key), ""));
                }
            }
        }
        _ => {}
    }
    errs
}

/// Event validation: `legacyValidateEvent`, plus the strict rules of events.k8s.io (`strict`).
/// `ev` uses core/v1 field names (events.k8s.io objects are mapped by the caller).
pub(crate) fn event(ev: &Value, old: Option<&Value>, strict: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let ns = get(ev, "metadata").map(|m| str_of(m, "namespace")).unwrap_or("");
    let io_ns = get(ev, "involvedObject")
        .map(|o| str_of(o, "namespace"))
        .unwrap_or("");
    let io_path = Path::new("involvedObject").child("namespace");
    let mismatch = "does not match event.namespace";
    if get(ev, "eventTime").is_none() {
        if (io_ns.is_empty() && !ns.is_empty() && ns != "default") || (!io_ns.is_empty() && ns != io_ns) {
            errs.push(FieldError::invalid(&io_path, io_ns, mismatch));
        }
    } else {
        if io_ns.is_empty() && ns != "default" && ns != "kube-system" {
            errs.push(FieldError::invalid(&io_path, io_ns, mismatch));
        }
        // core/v1 calls it `reportingComponent`; errors use the events.k8s.io name.
        let rc = str_of(ev, "reportingComponent");
        if rc.is_empty() {
            errs.push(FieldError::required(&Path::new("reportingController"), ""));
        }
        errs.extend(
            qualified_name(rc)
                .into_iter()
                .map(|m| FieldError::invalid(&Path::new("reportingController"), rc, m)),
        );
        for (field, limit) in [("reportingInstance", 128), ("action", 128), ("reason", 128)] {
            let v = str_of(ev, field);
            if v.is_empty() {
                errs.push(FieldError::required(&Path::new(field), ""));
            }
            if v.len() > limit {
                errs.push(FieldError::invalid(
                    &Path::new(field),
                    "",
                    format!("can have at most {limit} characters"),
                ));
            }
        }
        if str_of(ev, "message").len() > 1024 {
            errs.push(FieldError::invalid(
                &Path::new("message"),
                "",
                "can have at most 1024 characters",
            ));
        }
    }
    errs.extend(
        dns1123_subdomain(ns)
            .into_iter()
            .map(|m| FieldError::invalid(&Path::new("namespace"), ns, m)),
    );
    if !strict {
        return errs;
    }
    let series_changed = old.is_none_or(|o| !semantic_eq(get(ev, "series"), get(o, "series")));
    if series_changed && let Some(series) = get(ev, "series") {
        if int_of(series, "count").unwrap_or(0) < 2 {
            errs.push(FieldError::invalid(
                &Path::new("series.count"),
                "",
                "should be at least 2",
            ));
        }
        if get(series, "lastObservedTime").is_none() {
            errs.push(FieldError::required(&Path::new("series.lastObservedTime"), ""));
        }
    }
    match old {
        None => {
            if get(ev, "eventTime").is_none() {
                errs.push(FieldError::required(&Path::new("eventTime"), ""));
            }
            let t = str_of(ev, "type");
            if t != "Normal" && t != "Warning" {
                errs.push(FieldError::invalid(
                    &Path::new("type"),
                    "",
                    format!("has invalid value: {t}"),
                ));
            }
            for field in ["firstTimestamp", "lastTimestamp"] {
                if get(ev, field).is_some() {
                    errs.push(FieldError::invalid(&Path::new(field), "", "needs to be unset"));
                }
            }
            if int_of(ev, "count").unwrap_or(0) != 0 {
                errs.push(FieldError::invalid(&Path::new("count"), "", "needs to be unset"));
            }
            let source = get(ev, "source");
            if source.is_some_and(|s| !str_of(s, "component").is_empty() || !str_of(s, "host").is_empty()) {
                errs.push(FieldError::invalid(&Path::new("source"), "", "needs to be unset"));
            }
        }
        Some(old) => {
            for field in [
                "involvedObject",
                "reason",
                "message",
                "source",
                "firstTimestamp",
                "lastTimestamp",
                "count",
                "type",
                "eventTime",
                "action",
                "related",
                "reportingComponent",
                "reportingInstance",
            ] {
                errs.extend(super::pod::immutable(
                    get(ev, field),
                    get(old, field),
                    &Path::new(field),
                ));
            }
        }
    }
    errs
}

/// Standard quota resources: the standard resource names except `storage`
/// (Kubernetes' `standardQuotaResources`).
fn is_standard_quota_resource(name: &str) -> bool {
    name != "storage" && super::resources::STANDARD_RESOURCES.contains(&name)
}

const QUOTA_SCOPES: &[&str] = &[
    "BestEffort",
    "CrossNamespacePodAffinity",
    "NotBestEffort",
    "NotTerminating",
    "PriorityClass",
    "Terminating",
    "VolumeAttributesClass",
];

fn quota_resources(map: Option<&serde_json::Map<String, Value>>, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (k, v) in map.into_iter().flatten() {
        let p = path.key(k);
        errs.extend(resource_name(k, &p));
        let standard = is_standard_quota_resource(k)
            || k.starts_with("hugepages-")
            || k.starts_with("requests.hugepages-");
        if !k.contains('/') && !standard {
            errs.push(FieldError::invalid(
                &p,
                k.as_str(),
                "must be a standard resource for quota",
            ));
        }
        errs.extend(quantity_value(k, v, &p).1);
    }
    errs
}

fn resource_quota(rq: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let null = Value::Null;
    let spec = get(rq, "spec").unwrap_or(&null);
    let sp = Path::new("spec");
    let mut errs = quota_resources(obj(spec, "hard"), &sp.child("hard"));
    let scopes = strings(spec, "scopes");
    let scopes_value = spec.get("scopes").cloned().unwrap_or(Value::Null);
    let conflicting = |set: &BTreeSet<&str>| {
        (set.contains("BestEffort") && set.contains("NotBestEffort"))
            || (set.contains("Terminating") && set.contains("NotTerminating"))
    };
    if !scopes.is_empty() {
        for s in &scopes {
            if !QUOTA_SCOPES.contains(&s.as_str()) {
                errs.push(FieldError::invalid(
                    &sp.child("scopes"),
                    scopes_value.clone(),
                    "unsupported scope",
                ));
            }
        }
        if conflicting(&scopes.iter().map(String::as_str).collect()) {
            errs.push(FieldError::invalid(
                &sp.child("scopes"),
                scopes_value.clone(),
                "conflicting scopes",
            ));
        }
    }
    if let Some(sel) = get(spec, "scopeSelector") {
        let p = sp.child("scopeSelector").child("matchExpressions");
        let mut names = BTreeSet::new();
        for req in arr(sel, "matchExpressions") {
            let name = str_of(req, "scopeName");
            if !QUOTA_SCOPES.contains(&name) {
                errs.push(FieldError::invalid(
                    &p.child("scopeName"),
                    name,
                    "unsupported scope",
                ));
            }
            let op = str_of(req, "operator");
            let values = arr(req, "values");
            match op {
                "In" | "NotIn" if values.is_empty() => {
                    let msg =
                        "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector";
                    errs.push(FieldError::required(&p.child("values"), msg));
                }
                "Exists" | "DoesNotExist" if !values.is_empty() => {
                    let msg =
                        "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector";
                    errs.push(FieldError::invalid(&p.child("values"), values.to_vec(), msg));
                }
                "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
                other => errs.push(FieldError::invalid(
                    &p.child("operator"),
                    other,
                    "not a valid selector operator",
                )),
            }
            names.insert(name);
        }
        if conflicting(&names) {
            errs.push(FieldError::invalid(
                &p,
                scopes_value.clone(),
                "conflicting scopes",
            ));
        }
    }
    let status = get(rq, "status").unwrap_or(&null);
    errs.extend(quota_resources(
        obj(status, "hard"),
        &Path::new("status").child("hard"),
    ));
    errs.extend(quota_resources(
        obj(status, "used"),
        &Path::new("status").child("used"),
    ));
    if let Some(old) = old {
        let old_scopes: BTreeSet<String> = get(old, "spec")
            .map(|s| strings(s, "scopes"))
            .unwrap_or_default()
            .into_iter()
            .collect();
        if old_scopes != scopes.iter().cloned().collect::<BTreeSet<_>>() {
            errs.push(FieldError::invalid(&sp.child("scopes"), scopes_value, IMMUTABLE));
        }
    }
    errs
}

fn limit_range(lr: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let path = Path::new("spec").child("limits");
    let mut types = BTreeSet::new();
    let limits = get(lr, "spec").map(|s| arr(s, "limits")).unwrap_or_default();
    for (i, limit) in limits.iter().enumerate() {
        let p = path.index(i);
        let t = str_of(limit, "type");
        let type_errs: Vec<FieldError> = qualified_name(t)
            .into_iter()
            .map(|m| FieldError::invalid(&p.child("type"), t, m))
            .collect();
        if type_errs.is_empty()
            && !t.contains('/')
            && !matches!(t, "Pod" | "Container" | "PersistentVolumeClaim")
        {
            errs.push(FieldError::invalid(
                &p.child("type"),
                t,
                "must be a standard limit type or fully qualified",
            ));
        }
        errs.extend(type_errs);
        if !types.insert(t) {
            errs.push(FieldError::duplicate(&p.child("type"), t));
        }
        let mut values: BTreeMap<&str, BTreeMap<String, Quantity>> = BTreeMap::new();
        let pod_or_container = t == "Pod" || t == "Container";
        for field in ["max", "min", "default", "defaultRequest", "maxLimitRequestRatio"] {
            let map = obj(limit, field);
            if t == "Pod" && (field == "default" || field == "defaultRequest") {
                if map.is_some_and(|m| !m.is_empty()) {
                    errs.push(FieldError::forbidden(
                        &p.child(field),
                        "may not be specified when `type` is 'Pod'",
                    ));
                }
                continue;
            }
            for (k, v) in map.into_iter().flatten() {
                let kp = p.child(field).key(k);
                errs.extend(if pod_or_container {
                    container_resource_name(k, &kp)
                } else {
                    resource_name(k, &kp)
                });
                if let Some(q) = v.as_str().and_then(super::quantity::parse) {
                    values.entry(field).or_default().insert(k.clone(), q);
                }
            }
        }
        if t == "PersistentVolumeClaim"
            && [obj(limit, "min"), obj(limit, "max")]
                .iter()
                .all(|m| m.is_none_or(|m| !m.contains_key("storage")))
        {
            let msg = "either minimum or maximum storage value is required, but neither was provided";
            errs.push(FieldError::required(&p.child("limits"), msg));
        }
        errs.extend(limit_comparisons(&values, &p));
    }
    errs
}

fn limit_comparisons(values: &BTreeMap<&str, BTreeMap<String, Quantity>>, p: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let keys: BTreeSet<&String> = values.values().flat_map(|m| m.keys()).collect();
    let get_q = |field: &str, k: &str| values.get(field).and_then(|m| m.get(k)).copied();
    for k in keys {
        let (min, max, def, def_req, ratio) = (
            get_q("min", k),
            get_q("max", k),
            get_q("default", k),
            get_q("defaultRequest", k),
            get_q("maxLimitRequestRatio", k),
        );
        let inv = |field: &str, q: Quantity, msg: String| {
            FieldError::invalid(&p.child(field).key(k), q.canonical(), msg)
        };
        if let (Some(mn), Some(mx)) = (min, max)
            && mn > mx
        {
            errs.push(inv(
                "min",
                mn,
                format!(
                    "min value {} is greater than max value {}",
                    mn.canonical(),
                    mx.canonical()
                ),
            ));
        }
        if let (Some(dr), Some(mn)) = (def_req, min)
            && mn > dr
        {
            let msg = format!(
                "min value {} is greater than default request value {}",
                mn.canonical(),
                dr.canonical()
            );
            errs.push(inv("defaultRequest", dr, msg));
        }
        if let (Some(dr), Some(mx)) = (def_req, max)
            && dr > mx
        {
            let msg = format!(
                "default request value {} is greater than max value {}",
                dr.canonical(),
                mx.canonical()
            );
            errs.push(inv("defaultRequest", dr, msg));
        }
        if let (Some(dr), Some(d)) = (def_req, def)
            && dr > d
        {
            let msg = format!(
                "default request value {} is greater than default limit value {}",
                dr.canonical(),
                d.canonical()
            );
            errs.push(inv("defaultRequest", dr, msg));
        }
        if let (Some(d), Some(mn)) = (def, min)
            && mn > d
        {
            errs.push(inv(
                "default",
                mn,
                format!(
                    "min value {} is greater than default value {}",
                    mn.canonical(),
                    d.canonical()
                ),
            ));
        }
        if let (Some(d), Some(mx)) = (def, max)
            && d > mx
        {
            errs.push(inv(
                "default",
                mx,
                format!(
                    "default value {} is greater than max value {}",
                    d.canonical(),
                    mx.canonical()
                ),
            ));
        }
        if let Some(r) = ratio
            && r < super::quantity::parse("1").expect("one")
        {
            errs.push(inv(
                "maxLimitRequestRatio",
                r,
                format!("ratio {} is less than 1", r.canonical()),
            ));
        }
    }
    errs
}

fn replication_controller(rc: &Value) -> Vec<FieldError> {
    let null = Value::Null;
    let spec = get(rc, "spec").unwrap_or(&null);
    let sp = Path::new("spec");
    let mut errs = Vec::new();
    if let Some(v) = int_of(spec, "minReadySeconds").filter(|v| *v < 0) {
        errs.push(FieldError::invalid(&sp.child("minReadySeconds"), v, NEGATIVE));
    }
    let selector = string_map(get(spec, "selector"));
    if selector.is_empty() {
        errs.push(FieldError::required(&sp.child("selector"), ""));
    }
    if let Some(v) = int_of(spec, "replicas").filter(|v| *v < 0) {
        errs.push(FieldError::invalid(&sp.child("replicas"), v, NEGATIVE));
    }
    let tp = sp.child("template");
    let Some(template) = get(spec, "template") else {
        errs.push(FieldError::required(&tp, ""));
        return errs;
    };
    let (labels, labels_value) = template_labels(Some(template));
    if !selector.is_empty() && !Selector::from(selector).matches(&labels) {
        let p = tp.child("metadata").child("labels");
        errs.push(FieldError::invalid(
            &p,
            labels_value,
            "`selector` does not match template `labels`",
        ));
    }
    errs.extend(validate_pod_template(Some(template), &PodOpts::default(), &tp));
    errs.extend(template_restart_always(
        Some(template),
        "ReplicationController",
        &tp,
    ));
    errs
}
