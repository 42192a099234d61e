//! Services and Endpoints: core validation's `ValidateService`, `ValidateServiceUpdate` and
//! `ValidateEndpoints`.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::container::{port_num_or_name, protocol};
use super::formats::{
    dns1123_label, dns1123_subdomain, non_special_ip, parse_ip, port_num, qualified_name, valid_cidr,
    valid_ip,
};
use super::json::{arr, get, int_of, obj, opt_str, str_of, strings};
use super::meta::validate_labels;
use super::{FieldError, Path};

/// The node port range the reference apiserver allocates from (kube-apiserver's default).
pub(crate) const NODE_PORT_RANGE: std::ops::RangeInclusive<i64> = 30000..=32767;

fn cluster_ips(spec: &Value) -> Vec<String> {
    let ips = strings(spec, "clusterIPs");
    if ips.is_empty() {
        // The registry fills clusterIPs from clusterIP before validating.
        let ip = str_of(spec, "clusterIP");
        if !ip.is_empty() {
            return vec![ip.to_string()];
        }
    }
    ips
}

fn is_headless(spec: &Value) -> bool {
    cluster_ips(spec) == ["None"]
}

fn externally_accessible(spec: &Value) -> bool {
    let t = str_of(spec, "type");
    t == "LoadBalancer" || t == "NodePort" || (t == "ClusterIP" && !arr(spec, "externalIPs").is_empty())
}

/// `ValidateService` (and, with `old`, `ValidateServiceUpdate`).
pub(crate) fn validate_service(svc: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let null = Value::Null;
    let spec = get(svc, "spec").unwrap_or(&null);
    let sp = Path::new("spec");
    let mut errs = Vec::new();
    if let Some(old) = old {
        errs.extend(service_update(spec, get(old, "spec").unwrap_or(&null), &sp));
    }
    let annotations = get(svc, "metadata").and_then(|m| obj(m, "annotations"));
    let ann = |k: &str| annotations.and_then(|a| a.get(k)).and_then(Value::as_str);
    if let (Some(mode), Some(hints)) = (
        ann("service.kubernetes.io/topology-mode"),
        ann("service.kubernetes.io/topology-aware-hints"),
    ) && mode != hints
    {
        let p = Path::new("metadata")
            .child("annotations")
            .key("service.kubernetes.io/topology-mode");
        let msg =
            "must match annotations[service.kubernetes.io/topology-aware-hints] when both are specified";
        errs.push(FieldError::invalid(&p, mode, msg));
    }
    let svc_type = str_of(spec, "type");
    let ports = arr(spec, "ports");
    let headless = is_headless(spec);
    if ports.is_empty() && !headless && svc_type != "ExternalName" {
        errs.push(FieldError::required(&sp.child("ports"), ""));
    }
    match svc_type {
        "LoadBalancer" | "NodePort" if headless => {
            let msg = format!("may not be set to 'None' for {svc_type} services");
            errs.push(FieldError::invalid(&sp.child("clusterIPs").index(0), "None", msg));
        }
        "ExternalName" => {
            if !cluster_ips(spec).is_empty() {
                errs.push(FieldError::forbidden(
                    &sp.child("clusterIPs"),
                    "may not be set for ExternalName services",
                ));
            }
            if !arr(spec, "ipFamilies").is_empty() {
                errs.push(FieldError::forbidden(
                    &sp.child("ipFamilies"),
                    "may not be set for ExternalName services",
                ));
            }
            if get(spec, "ipFamilyPolicy").is_some() {
                errs.push(FieldError::forbidden(
                    &sp.child("ipFamilyPolicy"),
                    "may not be set for ExternalName services",
                ));
            }
            let cname = str_of(spec, "externalName");
            let cname = cname.strip_suffix('.').unwrap_or(cname);
            if cname.is_empty() {
                errs.push(FieldError::required(&sp.child("externalName"), ""));
            } else {
                let p = sp.child("externalName");
                errs.extend(
                    dns1123_subdomain(cname)
                        .into_iter()
                        .map(|m| FieldError::invalid(&p, cname, m)),
                );
            }
        }
        _ => {}
    }
    let mut names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        errs.extend(service_port(
            port,
            ports.len() > 1,
            &mut names,
            &sp.child("ports").index(i),
        ));
    }
    if get(spec, "selector").is_some() {
        errs.extend(validate_labels(get(spec, "selector"), &sp.child("selector")));
    }
    let affinity = str_of(spec, "sessionAffinity");
    match affinity {
        "" => errs.push(FieldError::required(&sp.child("sessionAffinity"), "")),
        "ClientIP" => errs.extend(client_ip_config(
            get(spec, "sessionAffinityConfig"),
            &sp.child("sessionAffinityConfig"),
        )),
        "None" if get(spec, "sessionAffinityConfig").is_some() => {
            let msg = "must not be set when session affinity is None";
            errs.push(FieldError::forbidden(&sp.child("sessionAffinityConfig"), msg));
        }
        "None" => {}
        other => errs.push(FieldError::not_supported(
            &sp.child("sessionAffinity"),
            other,
            &["ClientIP", "None"],
        )),
    }
    if svc_type != "ExternalName" {
        errs.extend(cluster_ip_fields(spec, &sp));
    }
    for (i, ip) in strings(spec, "externalIPs").iter().enumerate() {
        let p = sp.child("externalIPs").index(i);
        let e = valid_ip(&p, ip);
        if e.is_empty() {
            errs.extend(non_special_ip(&p, ip))
        } else {
            errs.extend(e)
        }
    }
    const TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
    if svc_type.is_empty() {
        errs.push(FieldError::required(&sp.child("type"), ""));
    } else if !TYPES.contains(&svc_type) {
        errs.push(FieldError::not_supported(&sp.child("type"), svc_type, TYPES));
    }
    let mut node_ports = BTreeSet::new();
    let mut port_keys = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = sp.child("ports").index(i);
        let node_port = int_of(port, "nodePort").unwrap_or(0);
        if svc_type == "ClusterIP" && node_port != 0 {
            errs.push(FieldError::forbidden(
                &p.child("nodePort"),
                "may not be used when `type` is 'ClusterIP'",
            ));
        }
        if node_port != 0 {
            if !node_ports.insert((str_of(port, "protocol"), node_port)) {
                errs.push(FieldError::duplicate(&p.child("nodePort"), node_port));
            }
            if svc_type != "ClusterIP" && !NODE_PORT_RANGE.contains(&node_port) {
                let msg = "provided port is not in the valid range. The range of valid ports is 30000-32767";
                errs.push(FieldError::invalid(&p.child("nodePort"), node_port, msg));
            }
        }
        let key = (str_of(port, "protocol"), int_of(port, "port").unwrap_or(0));
        if !port_keys.insert(key) {
            errs.push(FieldError::duplicate(
                &p,
                json!({"port": key.1, "protocol": key.0}),
            ));
        }
    }
    let ranges = strings(spec, "loadBalancerSourceRanges");
    if !ranges.is_empty() {
        let p = sp.child("LoadBalancerSourceRanges");
        if svc_type != "LoadBalancer" {
            errs.push(FieldError::forbidden(
                &p,
                "may only be used when `type` is 'LoadBalancer'",
            ));
        }
        for (i, r) in ranges.iter().enumerate() {
            errs.extend(valid_cidr(&p.index(i), r.trim()));
        }
    }
    if get(spec, "allocateLoadBalancerNodePorts").is_some() && svc_type != "LoadBalancer" {
        let msg = "may only be used when `type` is 'LoadBalancer'";
        errs.push(FieldError::forbidden(
            &sp.child("allocateLoadBalancerNodePorts"),
            msg,
        ));
    }
    if svc_type == "LoadBalancer" && get(spec, "allocateLoadBalancerNodePorts").is_none() {
        errs.push(FieldError::required(
            &Path::new("allocateLoadBalancerNodePorts"),
            "",
        ));
    }
    if let Some(class) = opt_str(spec, "loadBalancerClass") {
        let p = sp.child("loadBalancerClass");
        if svc_type == "LoadBalancer" {
            errs.extend(
                qualified_name(class)
                    .into_iter()
                    .map(|m| FieldError::invalid(&p, class, m)),
            );
        } else {
            errs.push(FieldError::forbidden(
                &p,
                "may only be used when `type` is 'LoadBalancer'",
            ));
        }
    }
    errs.extend(traffic_policies(spec, &sp));
    errs
}

fn service_port(port: &Value, require_name: bool, names: &mut BTreeSet<String>, p: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = str_of(port, "name");
    if require_name && name.is_empty() {
        errs.push(FieldError::required(&p.child("name"), ""));
    } else if !name.is_empty() {
        errs.extend(
            dns1123_label(name)
                .into_iter()
                .map(|m| FieldError::invalid(&p.child("name"), name, m)),
        );
        if !names.insert(name.to_string()) {
            errs.push(FieldError::duplicate(&p.child("name"), name));
        }
    }
    let n = int_of(port, "port").unwrap_or(0);
    errs.extend(
        port_num(n)
            .into_iter()
            .map(|m| FieldError::invalid(&p.child("port"), n, m)),
    );
    errs.extend(protocol(str_of(port, "protocol"), &p.child("protocol")));
    errs.extend(port_num_or_name(port.get("targetPort"), &p.child("targetPort")));
    if let Some(app) = opt_str(port, "appProtocol") {
        errs.extend(
            qualified_name(app)
                .into_iter()
                .map(|m| FieldError::invalid(&p.child("appProtocol"), app, m)),
        );
    }
    errs
}

fn client_ip_config(config: Option<&Value>, path: &Path) -> Vec<FieldError> {
    let when = "when session affinity type is ClientIP";
    let Some(c) = config else {
        return vec![FieldError::required(path, when)];
    };
    let Some(ip) = get(c, "clientIP") else {
        return vec![FieldError::required(&path.child("clientIP"), when)];
    };
    let tp = path.child("clientIP").child("timeoutSeconds");
    match int_of(ip, "timeoutSeconds") {
        None => vec![FieldError::required(&tp, when)],
        Some(t) if t <= 0 || t > 86400 => vec![FieldError::invalid(
            &tp,
            t,
            "must be greater than 0 and less than 86400",
        )],
        Some(_) => Vec::new(),
    }
}

fn cluster_ip_fields(spec: &Value, sp: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let ips_path = sp.child("clusterIPs");
    let cluster_ip = str_of(spec, "clusterIP");
    let ips = cluster_ips(spec);
    let ips_value = json!(ips);
    if !cluster_ip.is_empty() && ips.first().map(String::as_str) != Some(cluster_ip) {
        errs.push(FieldError::invalid(
            &ips_path,
            ips_value.clone(),
            "first value must match `clusterIP`",
        ));
    } else if cluster_ip.is_empty() && !ips.is_empty() {
        errs.push(FieldError::invalid(
            &ips_path,
            ips_value.clone(),
            "must be empty when `clusterIP` is not specified",
        ));
    }
    let families = strings(spec, "ipFamilies");
    let mut seen = BTreeSet::new();
    for (i, f) in families.iter().enumerate() {
        let p = sp.child("ipFamilies").index(i);
        if f != "IPv4" && f != "IPv6" {
            errs.push(FieldError::not_supported(&p, f.as_str(), &["IPv4", "IPv6"]));
        }
        if !seen.insert(f) {
            errs.push(FieldError::duplicate(&p, f.as_str()));
        }
    }
    if let Some(policy) = opt_str(spec, "ipFamilyPolicy") {
        const POLICIES: &[&str] = &["PreferDualStack", "RequireDualStack", "SingleStack"];
        if !POLICIES.contains(&policy) {
            errs.push(FieldError::not_supported(
                &sp.child("ipFamilyPolicy"),
                policy,
                POLICIES,
            ));
        }
    }
    let mut bad_ips = false;
    for (i, ip) in ips.iter().enumerate() {
        if i == 0 && ip == "None" {
            if ips.len() > 1 {
                bad_ips = true;
                errs.push(FieldError::invalid(
                    &ips_path,
                    ips_value.clone(),
                    "'None' must be the first and only value",
                ));
            }
            continue;
        }
        let e = valid_ip(&ips_path.index(i), ip);
        bad_ips |= !e.is_empty();
        errs.extend(e);
    }
    if ips.len() > 2 {
        errs.push(FieldError::invalid(
            &ips_path,
            ips_value.clone(),
            "may only hold up to 2 values",
        ));
    }
    if bad_ips {
        return errs;
    }
    if ips.len() > 1 {
        let v6: Vec<bool> = ips
            .iter()
            .map(|ip| parse_ip(ip).is_some_and(|a| a.is_ipv6()))
            .collect();
        let n6 = v6.iter().filter(|b| **b).count();
        if n6 == 0 || n6 == v6.len() {
            let msg = "may specify no more than one IP for each IP family";
            errs.push(FieldError::invalid(&ips_path, ips_value.clone(), msg));
        }
    }
    if !is_headless(spec) {
        for (i, (ip, family)) in ips.iter().zip(&families).enumerate() {
            let is_v6 = parse_ip(ip).is_some_and(|a| a.is_ipv6());
            if family == "IPv4" && is_v6 {
                let msg = format!("expected an IPv4 value as indicated by `ipFamilies[{i}]`");
                errs.push(FieldError::invalid(&ips_path.index(i), ip.as_str(), msg));
            }
            if family == "IPv6" && !is_v6 {
                let msg = format!("expected an IPv6 value as indicated by `ipFamilies[{i}]`");
                errs.push(FieldError::invalid(&ips_path.index(i), ip.as_str(), msg));
            }
        }
    }
    errs
}

fn traffic_policies(spec: &Value, sp: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let etp = str_of(spec, "externalTrafficPolicy");
    if !externally_accessible(spec) {
        if !etp.is_empty() {
            let msg = "may only be set for externally-accessible services";
            errs.push(FieldError::invalid(&sp.child("externalTrafficPolicy"), etp, msg));
        }
    } else if etp.is_empty() {
        errs.push(FieldError::required(&sp.child("externalTrafficPolicy"), ""));
    } else if etp != "Cluster" && etp != "Local" {
        errs.push(FieldError::not_supported(
            &sp.child("externalTrafficPolicy"),
            etp,
            &["Cluster", "Local"],
        ));
    }
    let hc = int_of(spec, "healthCheckNodePort").unwrap_or(0);
    let needs_hc = str_of(spec, "type") == "LoadBalancer" && etp == "Local";
    if !needs_hc && hc != 0 {
        let msg = "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'";
        errs.push(FieldError::invalid(&sp.child("healthCheckNodePort"), hc, msg));
    } else if needs_hc && hc != 0 {
        let p = sp.child("healthCheckNodePort");
        errs.extend(port_num(hc).into_iter().map(|m| FieldError::invalid(&p, hc, m)));
    }
    match opt_str(spec, "internalTrafficPolicy") {
        None if matches!(str_of(spec, "type"), "NodePort" | "LoadBalancer" | "ClusterIP") => {
            errs.push(FieldError::required(&sp.child("internalTrafficPolicy"), ""));
        }
        Some(p) if p != "Cluster" && p != "Local" => {
            errs.push(FieldError::not_supported(
                &sp.child("internalTrafficPolicy"),
                p,
                &["Cluster", "Local"],
            ));
        }
        _ => {}
    }
    if let Some(td) = opt_str(spec, "trafficDistribution") {
        const DISTRIBUTIONS: &[&str] = &["PreferClose", "PreferSameZone", "PreferSameNode"];
        if !DISTRIBUTIONS.contains(&td) {
            errs.push(FieldError::not_supported(
                &sp.child("trafficDistribution"),
                td,
                DISTRIBUTIONS,
            ));
        }
    }
    errs
}

/// `ValidateServiceUpdate`'s own rules: cluster IPs and families may be added or released but
/// never changed, and the load balancer class and health check port stay put.
fn service_update(new: &Value, old: &Value, sp: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let (nt, ot) = (str_of(new, "type"), str_of(old, "type"));
    if nt == "ExternalName" || ot == "ExternalName" {
        return errs;
    }
    // An update that leaves cluster IPs out keeps the allocated ones (the registry copies them).
    let (mut n_ips, o_ips) = (cluster_ips(new), cluster_ips(old));
    if n_ips.is_empty() {
        n_ips.clone_from(&o_ips);
    }
    let n_value = json!(n_ips);
    let headless = |ips: &[String]| ips == ["None"];
    if !(headless(&n_ips) && headless(&o_ips)) {
        let p0 = sp.child("clusterIPs").index(0);
        match n_ips.len().cmp(&o_ips.len()) {
            std::cmp::Ordering::Equal => {
                for (i, ip) in o_ips.iter().enumerate() {
                    if *ip != n_ips[i] {
                        errs.push(FieldError::invalid(
                            &sp.child("clusterIPs").index(i),
                            n_value.clone(),
                            "may not change once set",
                        ));
                    }
                }
            }
            std::cmp::Ordering::Less => {
                if n_ips.is_empty() {
                    errs.push(FieldError::invalid(
                        &p0,
                        n_value.clone(),
                        "primary clusterIP can not be unset",
                    ));
                } else if n_ips[0] != o_ips[0] {
                    errs.push(FieldError::invalid(
                        &p0,
                        n_value.clone(),
                        "may not change once set",
                    ));
                }
                if n_ips.len() == 1 && opt_str(new, "ipFamilyPolicy") != Some("SingleStack") {
                    let msg = "must be set to 'SingleStack' when releasing the secondary clusterIP";
                    let v = new.get("ipFamilyPolicy").cloned().unwrap_or(Value::Null);
                    errs.push(FieldError::invalid(&sp.child("ipFamilyPolicy"), v, msg));
                }
            }
            std::cmp::Ordering::Greater => {
                if !o_ips.is_empty() && n_ips[0] != o_ips[0] {
                    errs.push(FieldError::invalid(
                        &p0,
                        n_value.clone(),
                        "may not change once set",
                    ));
                }
            }
        }
    }
    let (n_fam, o_fam) = (strings(new, "ipFamilies"), strings(old, "ipFamilies"));
    if !headless(&n_ips) && !headless(&o_ips) && !n_fam.is_empty() {
        let changed = n_fam.iter().zip(&o_fam).any(|(a, b)| a != b);
        if changed {
            let msg = "may not change once set";
            errs.push(FieldError::invalid(
                &sp.child("ipFamilies").index(0),
                json!(n_fam),
                msg,
            ));
        }
    }
    if nt == "LoadBalancer"
        && ot == "LoadBalancer"
        && opt_str(new, "loadBalancerClass") != opt_str(old, "loadBalancerClass")
    {
        let v = new.get("loadBalancerClass").cloned().unwrap_or(Value::Null);
        errs.push(FieldError::invalid(
            &sp.child("loadBalancerClass"),
            v,
            "may not change once set",
        ));
    }
    let needs_hc =
        |s: &Value| str_of(s, "type") == "LoadBalancer" && str_of(s, "externalTrafficPolicy") == "Local";
    let new_hc = int_of(new, "healthCheckNodePort").unwrap_or(0);
    if needs_hc(new)
        && needs_hc(old)
        && new_hc != 0
        && new_hc != int_of(old, "healthCheckNodePort").unwrap_or(0)
    {
        errs.push(FieldError::forbidden(
            &sp.child("healthCheckNodePort"),
            "field is immutable",
        ));
    }
    errs
}

/// `ValidateEndpoints`.
pub(crate) fn validate_endpoints(ep: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let path = Path::new("subsets");
    for (i, ss) in arr(ep, "subsets").iter().enumerate() {
        let p = path.index(i);
        let (ready, not_ready) = (arr(ss, "addresses"), arr(ss, "notReadyAddresses"));
        if ready.is_empty() && not_ready.is_empty() {
            errs.push(FieldError::required(
                &p,
                "must specify `addresses` or `notReadyAddresses`",
            ));
        }
        for (field, list) in [("addresses", ready), ("notReadyAddresses", not_ready)] {
            for (j, addr) in list.iter().enumerate() {
                let ap = p.child(field).index(j);
                let ip = str_of(addr, "ip");
                errs.extend(valid_ip(&ap.child("ip"), ip));
                let host = str_of(addr, "hostname");
                if !host.is_empty() {
                    errs.extend(
                        dns1123_label(host)
                            .into_iter()
                            .map(|m| FieldError::invalid(&ap.child("hostname"), host, m)),
                    );
                }
                if let Some(node) = opt_str(addr, "nodeName") {
                    let np = ap.child("nodeName");
                    errs.extend(
                        dns1123_subdomain(node)
                            .into_iter()
                            .map(|m| FieldError::invalid(&np, node, m)),
                    );
                }
                errs.extend(non_special_ip(&ap.child("ip"), ip));
            }
        }
        let ports = arr(ss, "ports");
        for (j, port) in ports.iter().enumerate() {
            let pp = p.child("ports").index(j);
            let name = str_of(port, "name");
            if ports.len() > 1 && name.is_empty() {
                errs.push(FieldError::required(&pp.child("name"), ""));
            } else if !name.is_empty() {
                errs.extend(
                    dns1123_label(name)
                        .into_iter()
                        .map(|m| FieldError::invalid(&pp.child("name"), name, m)),
                );
            }
            let n = int_of(port, "port").unwrap_or(0);
            errs.extend(
                port_num(n)
                    .into_iter()
                    .map(|m| FieldError::invalid(&pp.child("port"), n, m)),
            );
            errs.extend(protocol(str_of(port, "protocol"), &pp.child("protocol")));
            if let Some(app) = opt_str(port, "appProtocol") {
                errs.extend(
                    qualified_name(app)
                        .into_iter()
                        .map(|m| FieldError::invalid(&pp.child("appProtocol"), app, m)),
                );
            }
        }
    }
    errs
}
