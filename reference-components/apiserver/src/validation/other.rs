//! The other groups the reference apiserver serves: coordination (Lease), discovery
//! (EndpointSlice), events.k8s.io (Event), autoscaling (HorizontalPodAutoscaler), networking
//! (Ingress, IngressClass), storage (StorageClass) and RBAC.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::container::protocol;
use super::corev1::event;
use super::formats::{
    dns1035_label, dns1123_label, dns1123_subdomain, fqdn, non_special_ip, parse_ip, path_segment_name,
    port_name, port_num, qualified_name, regex_error, valid_ipv4, valid_ipv6, wildcard_subdomain,
};
use super::json::{arr, get, int_of, obj, opt_str, str_of, strings};
use super::meta::validate_labels;
use super::pod::immutable;
use super::quantity;
use super::storage::validate_storage_class;
use super::{FieldError, Path};

/// Dispatches kinds outside the core and apps groups; unknown kinds have no spec rules.
pub(crate) fn validate(group: &str, kind: &str, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    match (group, kind) {
        ("coordination.k8s.io", "Lease") => lease(obj),
        ("discovery.k8s.io", "EndpointSlice") => endpoint_slice(obj, old),
        ("events.k8s.io", "Event") => {
            let old_core = old.map(events_v1_as_core);
            event(&events_v1_as_core(obj), old_core.as_ref(), true)
        }
        ("autoscaling", "HorizontalPodAutoscaler") => hpa(obj),
        ("networking.k8s.io", "Ingress") => ingress(obj),
        ("networking.k8s.io", "IngressClass") => ingress_class(obj, old),
        ("storage.k8s.io", "StorageClass") => validate_storage_class(obj, old),
        ("rbac.authorization.k8s.io", "Role") => rules(obj, true),
        ("rbac.authorization.k8s.io", "ClusterRole") => rules(obj, false),
        ("rbac.authorization.k8s.io", "RoleBinding") => binding(obj, old, true),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => binding(obj, old, false),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => super::crd::validate(obj, old),
        _ => Vec::new(),
    }
}

fn lease(l: &Value) -> Vec<FieldError> {
    let null = Value::Null;
    let spec = get(l, "spec").unwrap_or(&null);
    let sp = Path::new("spec");
    let mut errs = Vec::new();
    if let Some(d) = int_of(spec, "leaseDurationSeconds").filter(|d| *d <= 0) {
        errs.push(FieldError::invalid(
            &sp.child("leaseDurationSeconds"),
            d,
            "must be greater than 0",
        ));
    }
    if let Some(t) = int_of(spec, "leaseTransitions").filter(|t| *t < 0) {
        errs.push(FieldError::invalid(
            &sp.child("leaseTransitions"),
            t,
            "must be greater than or equal to 0",
        ));
    }
    let strategy = opt_str(spec, "strategy");
    if let Some(s) = strategy {
        let p = sp.child("strategy").child("strategy");
        if !s.contains('/') {
            if s != "OldestEmulationVersion" {
                errs.push(FieldError::not_supported(&p, s, &["OldestEmulationVersion"]));
            }
        } else {
            errs.extend(
                qualified_name(s)
                    .into_iter()
                    .map(|m| FieldError::invalid(&p, s, m)),
            );
        }
    }
    if opt_str(spec, "preferredHolder").is_some_and(|h| !h.is_empty()) && strategy.is_none_or(str::is_empty) {
        let msg = "may only be specified if `strategy` is defined";
        errs.push(FieldError::forbidden(&sp.child("preferredHolder"), msg));
    }
    errs
}

/// events.k8s.io/v1 fields under their core/v1 names, which its validation errors use.
fn events_v1_as_core(ev: &Value) -> Value {
    let mut m = ev.as_object().cloned().unwrap_or_default();
    for (from, to) in [
        ("regarding", "involvedObject"),
        ("note", "message"),
        ("reportingController", "reportingComponent"),
        ("deprecatedSource", "source"),
        ("deprecatedFirstTimestamp", "firstTimestamp"),
        ("deprecatedLastTimestamp", "lastTimestamp"),
        ("deprecatedCount", "count"),
    ] {
        if let Some(v) = m.remove(from) {
            m.insert(to.into(), v);
        }
    }
    Value::Object(m)
}

fn endpoint_slice(es: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let at = str_of(es, "addressType");
    let mut types = vec!["FQDN", "IPv4", "IPv6"];
    if old.is_some() {
        types.insert(1, "IP");
    }
    if at.is_empty() {
        errs.push(FieldError::required(&Path::new("addressType"), ""));
    } else if !types.contains(&at) {
        errs.push(FieldError::not_supported(&Path::new("addressType"), at, &types));
    }
    let ep_path = Path::new("endpoints");
    let endpoints = arr(es, "endpoints");
    if endpoints.len() > 1000 {
        errs.push(FieldError::too_many(&ep_path, endpoints.len(), 1000));
    } else {
        for (i, ep) in endpoints.iter().enumerate() {
            let p = ep_path.index(i);
            let ap = p.child("addresses");
            let addresses = strings(ep, "addresses");
            if addresses.is_empty() {
                errs.push(FieldError::required(&ap, "must contain at least 1 address"));
            } else if addresses.len() > 100 {
                errs.push(FieldError::too_many(&ap, addresses.len(), 100));
            }
            for (j, a) in addresses.iter().enumerate() {
                let aj = ap.index(j);
                match at {
                    "IP" if parse_ip(a).is_none() => {
                        let msg = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
                        errs.push(FieldError::invalid(&aj, a.as_str(), msg));
                    }
                    "IPv4" => {
                        errs.extend(valid_ipv4(&aj, a));
                        errs.extend(non_special_ip(&aj, a));
                    }
                    "IPv6" => {
                        errs.extend(valid_ipv6(&aj, a));
                        errs.extend(non_special_ip(&aj, a));
                    }
                    "FQDN" => errs.extend(fqdn(&aj, a)),
                    _ => {}
                }
            }
            let tp = p.child("deprecatedTopology");
            if let Some(t) = obj(ep, "deprecatedTopology").filter(|t| t.len() > 16) {
                errs.push(FieldError::too_many(&tp, t.len(), 16));
            }
            errs.extend(validate_labels(get(ep, "deprecatedTopology"), &tp));
            if let Some(h) = opt_str(ep, "hostname") {
                errs.extend(
                    dns1123_label(h)
                        .into_iter()
                        .map(|m| FieldError::invalid(&p.child("hostname"), h, m)),
                );
            }
            if let Some(n) = opt_str(ep, "nodeName") {
                errs.extend(
                    dns1123_subdomain(n)
                        .into_iter()
                        .map(|m| FieldError::invalid(&p.child("nodeName"), n, m)),
                );
            }
        }
    }
    let ports = arr(es, "ports");
    let pp = Path::new("ports");
    if ports.len() > 20000 {
        errs.push(FieldError::too_many(&pp, ports.len(), 20000));
        return errs;
    }
    let mut names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = pp.index(i);
        let name = str_of(port, "name");
        if !name.is_empty() {
            errs.extend(
                dns1123_label(name)
                    .into_iter()
                    .map(|m| FieldError::invalid(&p.child("name"), name, m)),
            );
        }
        if !names.insert(name) {
            errs.push(FieldError::duplicate(&p.child("name"), name));
        }
        if let Some(n) = int_of(port, "port") {
            errs.extend(
                port_num(n)
                    .into_iter()
                    .map(|m| FieldError::invalid(&p.child("port"), n, m)),
            );
        }
        errs.extend(protocol(str_of(port, "protocol"), &p.child("protocol")));
        if let Some(app) = opt_str(port, "appProtocol") {
            errs.extend(
                qualified_name(app)
                    .into_iter()
                    .map(|m| FieldError::invalid(&p.child("appProtocol"), app, m)),
            );
        }
    }
    if let Some(old) = old {
        errs.extend(immutable(
            get(es, "addressType"),
            get(old, "addressType"),
            &Path::new("addressType"),
        ));
    }
    errs
}

fn hpa(h: &Value) -> Vec<FieldError> {
    let null = Value::Null;
    let spec = get(h, "spec").unwrap_or(&null);
    let sp = Path::new("spec");
    let mut errs = Vec::new();
    let min = int_of(spec, "minReplicas");
    let max = int_of(spec, "maxReplicas").unwrap_or(0);
    if let Some(m) = min.filter(|m| *m < 1) {
        errs.push(FieldError::invalid(
            &sp.child("minReplicas"),
            m,
            "must be greater than or equal to 1",
        ));
    }
    if max < 1 {
        errs.push(FieldError::invalid(
            &sp.child("maxReplicas"),
            max,
            "must be greater than 0",
        ));
    }
    if min.is_some_and(|m| max < m) {
        errs.push(FieldError::invalid(
            &sp.child("maxReplicas"),
            max,
            "must be greater than or equal to `minReplicas`",
        ));
    }
    let rp = sp.child("scaleTargetRef");
    let target = get(spec, "scaleTargetRef").unwrap_or(&null);
    for field in ["kind", "name"] {
        let v = str_of(target, field);
        if v.is_empty() {
            errs.push(FieldError::required(&rp.child(field), ""));
        } else {
            errs.extend(
                path_segment_name(v)
                    .into_iter()
                    .map(|m| FieldError::invalid(&rp.child(field), v, m)),
            );
        }
    }
    if let Some(t) = int_of(spec, "targetCPUUtilizationPercentage").filter(|t| *t < 1) {
        errs.push(FieldError::invalid(
            &sp.child("targetCPUUtilizationPercentage"),
            t,
            "must be greater than 0",
        ));
    }
    for (i, metric) in arr(spec, "metrics").iter().enumerate() {
        errs.extend(metric_spec(metric, &sp.child("metrics").index(i)));
    }
    errs
}

fn metric_spec(m: &Value, path: &Path) -> Vec<FieldError> {
    const TYPES: &[(&str, &str)] = &[
        ("ContainerResource", "containerResource"),
        ("External", "external"),
        ("Object", "object"),
        ("Pods", "pods"),
        ("Resource", "resource"),
    ];
    let mut errs = Vec::new();
    let t = str_of(m, "type");
    if t.is_empty() {
        errs.push(FieldError::required(
            &path.child("type"),
            "must specify a metric source type",
        ));
    }
    let names: Vec<&str> = TYPES.iter().map(|(n, _)| *n).collect();
    if !names.contains(&t) {
        errs.push(FieldError::not_supported(&path.child("type"), t, &names));
    }
    let expected = TYPES.iter().find(|(n, _)| *n == t).map(|(_, f)| *f).unwrap_or("");
    let present: Vec<&str> = TYPES
        .iter()
        .map(|(_, f)| *f)
        .filter(|f| get(m, f).is_some())
        .collect();
    if !expected.is_empty() && !present.contains(&expected) {
        let msg = "must populate information for the given metric source";
        errs.push(FieldError::required(&path.child(expected), msg));
    }
    if present.len() > 1 {
        for f in present.iter().filter(|f| **f != expected) {
            errs.push(FieldError::forbidden(
                &path.child(f),
                "must populate the given metric source only",
            ));
        }
    }
    for f in ["resource", "containerResource"] {
        let Some(src) = get(m, f) else { continue };
        let p = path.child(f);
        if str_of(src, "name").is_empty() {
            errs.push(FieldError::required(
                &p.child("name"),
                "must specify a resource name",
            ));
        }
        if let Some(target) = get(src, "target") {
            errs.extend(metric_target(target, &p.child("target")));
            let (util, avg) = (get(target, "averageUtilization"), get(target, "averageValue"));
            if util.is_none() && avg.is_none() {
                let msg = "must set either a target raw value or a target utilization";
                errs.push(FieldError::required(
                    &p.child("target").child("averageUtilization"),
                    msg,
                ));
            } else if util.is_some() && avg.is_some() {
                let msg = "may not set both a target raw value and a target utilization";
                errs.push(FieldError::forbidden(
                    &p.child("target").child("averageValue"),
                    msg,
                ));
            }
        }
    }
    errs
}

fn metric_target(t: &Value, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let tt = str_of(t, "type");
    if tt.is_empty() {
        errs.push(FieldError::required(
            &path.child("type"),
            "must specify a metric target type",
        ));
    }
    if !matches!(tt, "Utilization" | "Value" | "AverageValue") {
        errs.push(FieldError::invalid(
            &path.child("type"),
            tt,
            "must be either Utilization, Value, or AverageValue",
        ));
    }
    for field in ["value", "averageValue"] {
        if let Some(raw) = opt_str(t, field)
            && !quantity::parse(raw).is_some_and(|q| q.is_positive())
        {
            errs.push(FieldError::invalid(&path.child(field), raw, "must be positive"));
        }
    }
    if let Some(u) = int_of(t, "averageUtilization").filter(|u| *u < 1) {
        errs.push(FieldError::invalid(
            &path.child("averageUtilization"),
            u,
            "must be greater than 0",
        ));
    }
    errs
}

fn ingress(ing: &Value) -> Vec<FieldError> {
    let null = Value::Null;
    let spec = get(ing, "spec").unwrap_or(&null);
    let sp = Path::new("spec");
    let mut errs = Vec::new();
    let rules = arr(spec, "rules");
    if rules.is_empty() && get(spec, "defaultBackend").is_none() {
        let v = spec.get("rules").cloned().unwrap_or(Value::Null);
        errs.push(FieldError::invalid(
            &sp,
            v,
            "either `defaultBackend` or `rules` must be specified",
        ));
    }
    if let Some(b) = get(spec, "defaultBackend") {
        errs.extend(ingress_backend(b, &sp.child("defaultBackend")));
    }
    for (i, rule) in rules.iter().enumerate() {
        let p = sp.child("rules").index(i);
        let host = str_of(rule, "host");
        if !host.is_empty() {
            errs.extend(ingress_host(host, &p.child("host")));
        }
        if let Some(http) = get(rule, "http") {
            errs.extend(http_rule(http, &p.child("http")));
        }
    }
    for (i, tls) in arr(spec, "tls").iter().enumerate() {
        for (j, host) in strings(tls, "hosts").iter().enumerate() {
            let p = sp.child("tls").index(i).child("hosts").index(j);
            let msgs = if host.contains('*') {
                wildcard_subdomain(host)
            } else {
                dns1123_subdomain(host)
            };
            errs.extend(
                msgs.into_iter()
                    .map(|m| FieldError::invalid(&p, host.as_str(), m)),
            );
        }
    }
    if let Some(class) = opt_str(spec, "ingressClassName") {
        let p = sp.child("ingressClassName");
        errs.extend(
            dns1123_subdomain(class)
                .into_iter()
                .map(|m| FieldError::invalid(&p, class, m)),
        );
    }
    errs
}

fn ingress_host(host: &str, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if parse_ip(host).is_some() {
        errs.push(FieldError::invalid(
            path,
            host,
            "must be a DNS name, not an IP address",
        ));
    }
    let msgs = if host.contains('*') {
        wildcard_subdomain(host)
    } else {
        dns1123_subdomain(host)
    };
    errs.extend(msgs.into_iter().map(|m| FieldError::invalid(path, host, m)));
    errs
}

fn http_rule(http: &Value, path: &Path) -> Vec<FieldError> {
    let paths = arr(http, "paths");
    if paths.is_empty() {
        return vec![FieldError::required(&path.child("paths"), "")];
    }
    let mut errs = Vec::new();
    for (i, hp) in paths.iter().enumerate() {
        let p = path.child("paths").index(i);
        let value = str_of(hp, "path");
        match opt_str(hp, "pathType") {
            None => errs.push(FieldError::required(
                &p.child("pathType"),
                "pathType must be specified",
            )),
            Some("Exact" | "Prefix") => {
                if !value.starts_with('/') {
                    errs.push(FieldError::invalid(
                        &p.child("path"),
                        value,
                        "must be an absolute path",
                    ));
                }
                for seq in ["//", "/./", "/../", "%2f", "%2F"] {
                    if value.contains(seq) {
                        errs.push(FieldError::invalid(
                            &p.child("path"),
                            value,
                            format!("must not contain '{seq}'"),
                        ));
                    }
                }
                for suffix in ["/..", "/."] {
                    if value.ends_with(suffix) {
                        errs.push(FieldError::invalid(
                            &p.child("path"),
                            value,
                            format!("cannot end with '{suffix}'"),
                        ));
                    }
                }
            }
            Some("ImplementationSpecific") => {
                if !value.is_empty() && !value.starts_with('/') {
                    errs.push(FieldError::invalid(
                        &p.child("path"),
                        value,
                        "must be an absolute path",
                    ));
                }
            }
            Some(other) => {
                let supported = &["Exact", "ImplementationSpecific", "Prefix"];
                errs.push(FieldError::not_supported(&p.child("pathType"), other, supported));
            }
        }
        match get(hp, "backend") {
            Some(b) => errs.extend(ingress_backend(b, &p.child("backend"))),
            None => errs.push(FieldError::required(&p.child("backend"), "")),
        }
    }
    errs
}

fn ingress_backend(b: &Value, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    match (get(b, "service"), get(b, "resource")) {
        (Some(_), Some(_)) => errs.push(FieldError::invalid(
            path,
            "",
            "cannot set both resource and service backends",
        )),
        (None, Some(r)) => {
            for field in ["kind", "name"] {
                if str_of(r, field).is_empty() {
                    errs.push(FieldError::required(&path.child("resource").child(field), ""));
                }
            }
        }
        (Some(s), None) => {
            let np = path.child("service").child("name");
            let name = str_of(s, "name");
            if name.is_empty() {
                errs.push(FieldError::required(&np, ""));
            } else {
                errs.extend(
                    dns1035_label(name)
                        .into_iter()
                        .map(|m| FieldError::invalid(&np, name, m)),
                );
            }
            let port = get(s, "port");
            let port_name_v = port.map(|p| str_of(p, "name")).unwrap_or("");
            let number = port.and_then(|p| int_of(p, "number")).unwrap_or(0);
            let pp = path.child("service").child("port");
            match (port_name_v.is_empty(), number == 0) {
                (false, false) => errs.push(FieldError::invalid(
                    path,
                    "",
                    "cannot set both port name & port number",
                )),
                (false, true) => {
                    let p = pp.child("name");
                    errs.extend(
                        port_name(port_name_v)
                            .into_iter()
                            .map(|m| FieldError::invalid(&p, port_name_v, m)),
                    );
                }
                (true, false) => {
                    let p = pp.child("number");
                    errs.extend(
                        port_num(number)
                            .into_iter()
                            .map(|m| FieldError::invalid(&p, number, m)),
                    );
                }
                (true, true) => errs.push(FieldError::required(path, "port name or number is required")),
            }
        }
        (None, None) => errs.push(FieldError::invalid(
            path,
            "",
            "one backend type must be specified",
        )),
    }
    errs
}

fn ingress_class(ic: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let null = Value::Null;
    let spec = get(ic, "spec").unwrap_or(&null);
    let cp = Path::new("spec").child("controller");
    let controller = str_of(spec, "controller");
    let mut errs = Vec::new();
    if controller.len() > 250 {
        errs.push(FieldError::too_long(&cp, 250));
    }
    match controller.split_once('/') {
        _ if controller.is_empty() => errs.push(FieldError::required(&cp, "")),
        Some((host, rest)) if !host.is_empty() && !rest.is_empty() => {
            errs.extend(
                dns1123_subdomain(host)
                    .into_iter()
                    .map(|m| FieldError::invalid(&cp, host, m)),
            );
            let ok = rest
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"/-._~%!$&'()*+,;=:".contains(&c));
            if !ok {
                let msg = regex_error("Invalid path", "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+", &[]);
                errs.push(FieldError::invalid(&cp, rest, msg));
            }
        }
        _ => errs.push(FieldError::invalid(
            &cp,
            controller,
            "must be a domain-prefixed path (such as \"acme.io/foo\")",
        )),
    }
    if let Some(params) = get(spec, "parameters") {
        let pp = Path::new("spec").child("parameters");
        for field in ["kind", "name"] {
            if str_of(params, field).is_empty() {
                errs.push(FieldError::required(&pp.child(field), ""));
            }
        }
    }
    if let Some(old) = old {
        let old_controller = get(old, "spec").and_then(|s| s.get("controller"));
        errs.extend(immutable(spec.get("controller"), old_controller, &cp));
    }
    errs
}

fn rules(role: &Value, namespaced: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, rule) in arr(role, "rules").iter().enumerate() {
        let p = Path::new("rules").index(i);
        if arr(rule, "verbs").is_empty() {
            errs.push(FieldError::required(
                &p.child("verbs"),
                "verbs must contain at least one value",
            ));
        }
        let urls = arr(rule, "nonResourceURLs");
        if !urls.is_empty() {
            if namespaced {
                let msg = "namespaced rules cannot apply to non-resource URLs";
                errs.push(FieldError::invalid(
                    &p.child("nonResourceURLs"),
                    urls.to_vec(),
                    msg,
                ));
            }
            if !arr(rule, "apiGroups").is_empty()
                || !arr(rule, "resources").is_empty()
                || !arr(rule, "resourceNames").is_empty()
            {
                let msg = "rules cannot apply to both regular resources and non-resource URLs";
                errs.push(FieldError::invalid(
                    &p.child("nonResourceURLs"),
                    urls.to_vec(),
                    msg,
                ));
            }
            continue;
        }
        if arr(rule, "apiGroups").is_empty() {
            let msg = "resource rules must supply at least one api group";
            errs.push(FieldError::required(&p.child("apiGroups"), msg));
        }
        if arr(rule, "resources").is_empty() {
            errs.push(FieldError::required(
                &p.child("resources"),
                "resource rules must supply at least one resource",
            ));
        }
        if !arr(rule, "resourceNames").is_empty() && arr(rule, "resources").len() > 1 {
            let msg = "resource names cannot apply to multiple resources";
            errs.push(FieldError::required(&p.child("resourceNames"), msg));
        }
    }
    errs
}

fn binding(b: &Value, old: Option<&Value>, namespaced: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let null = Value::Null;
    let role_ref = get(b, "roleRef").unwrap_or(&null);
    let rp = Path::new("roleRef");
    let group = str_of(role_ref, "apiGroup");
    if group != "rbac.authorization.k8s.io" {
        errs.push(FieldError::not_supported(
            &rp.child("apiGroup"),
            group,
            &["rbac.authorization.k8s.io"],
        ));
    }
    let kinds: &[&str] = if namespaced {
        &["Role", "ClusterRole"]
    } else {
        &["ClusterRole"]
    };
    let kind = str_of(role_ref, "kind");
    if !kinds.contains(&kind) {
        errs.push(FieldError::not_supported(&rp.child("kind"), kind, kinds));
    }
    let name = str_of(role_ref, "name");
    if name.is_empty() {
        errs.push(FieldError::required(&rp.child("name"), ""));
    } else {
        errs.extend(
            path_segment_name(name)
                .into_iter()
                .map(|m| FieldError::invalid(&rp.child("name"), name, m)),
        );
    }
    for (i, s) in arr(b, "subjects").iter().enumerate() {
        errs.extend(subject(s, namespaced, &Path::new("subjects").index(i)));
    }
    if let Some(old) = old {
        let strip = |v: Option<&Value>| v.and_then(Value::as_object).cloned().unwrap_or_else(Map::new);
        if strip(get(old, "roleRef")) != strip(get(b, "roleRef")) {
            errs.push(FieldError::invalid(
                &rp,
                role_ref.clone(),
                "cannot change roleRef",
            ));
        }
    }
    errs
}

fn subject(s: &Value, namespaced: bool, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let (name, group) = (str_of(s, "name"), str_of(s, "apiGroup"));
    if name.is_empty() {
        errs.push(FieldError::required(&path.child("name"), ""));
    }
    match str_of(s, "kind") {
        "ServiceAccount" => {
            if !name.is_empty() {
                errs.extend(
                    dns1123_subdomain(name)
                        .into_iter()
                        .map(|m| FieldError::invalid(&path.child("name"), name, m)),
                );
            }
            if !group.is_empty() {
                errs.push(FieldError::not_supported(&path.child("apiGroup"), group, &[""]));
            }
            if !namespaced && str_of(s, "namespace").is_empty() {
                errs.push(FieldError::required(&path.child("namespace"), ""));
            }
        }
        k @ ("User" | "Group") => {
            if name.is_empty() {
                let msg = if k == "User" {
                    "user name cannot be empty"
                } else {
                    "group name cannot be empty"
                };
                errs.push(FieldError::invalid(&path.child("name"), name, msg));
            }
            if group != "rbac.authorization.k8s.io" {
                errs.push(FieldError::not_supported(
                    &path.child("apiGroup"),
                    group,
                    &["rbac.authorization.k8s.io"],
                ));
            }
        }
        other => errs.push(FieldError::not_supported(
            &path.child("kind"),
            other,
            &["ServiceAccount", "User", "Group"],
        )),
    }
    errs
}
