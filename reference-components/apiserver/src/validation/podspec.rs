//! The parts of a pod spec beyond containers and volumes: the pod security context,
//! tolerations, affinity, DNS configuration and topology spread constraints.

use std::collections::BTreeSet;

use serde_json::Value;

use super::container::{id_range, seccomp_profile};
use super::formats::{
    dns1123_label, dns1123_subdomain, inclusive_range, label_value, qualified_name, valid_ip,
};
use super::json::{arr, bool_of, get, int_of, opt_str, str_of, strings};
use super::meta::validate_label_selector;
use super::{FieldError, Path};

pub(crate) fn pod_security_context(spec: &Value, path: &Path) -> Vec<FieldError> {
    let Some(sc) = get(spec, "securityContext") else {
        return Vec::new();
    };
    let mut errs = Vec::new();
    for field in ["fsGroup", "runAsUser", "runAsGroup"] {
        errs.extend(id_range(sc, field, path));
    }
    for (i, gid) in arr(sc, "supplementalGroups").iter().enumerate() {
        if let Some(g) = gid.as_i64().filter(|g| !(0..=0xffff_ffff).contains(g)) {
            errs.push(FieldError::invalid(
                &path.child("supplementalGroups").index(i),
                g,
                inclusive_range(0, 0xffff_ffff),
            ));
        }
    }
    if sc
        .get("shareProcessNamespace")
        .or(spec.get("shareProcessNamespace"))
        .and_then(Value::as_bool)
        == Some(true)
        && bool_of(spec, "hostPID")
    {
        let msg = "ShareProcessNamespace and HostPID cannot both be enabled";
        errs.push(FieldError::invalid(
            &path.child("shareProcessNamespace"),
            true,
            msg,
        ));
    }
    let mut names = BTreeSet::new();
    for (i, s) in arr(sc, "sysctls").iter().enumerate() {
        let (name, p) = (str_of(s, "name"), path.child("sysctls").index(i).child("name"));
        if name.is_empty() {
            errs.push(FieldError::required(&p, ""));
        } else if !is_sysctl_name(name) {
            let msg = "must have at most 253 characters and match regex ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$";
            errs.push(FieldError::invalid(&p, name, msg));
        } else if names.contains(name) {
            errs.push(FieldError::duplicate(&p, name));
        }
        let ipc = name.starts_with("kernel.shm")
            || name.starts_with("kernel.msg")
            || name == "kernel.sem"
            || name.starts_with("fs.mqueue.");
        if bool_of(spec, "hostNetwork") && name.starts_with("net.") {
            errs.push(FieldError::invalid(
                &p,
                name,
                "may not be specified when 'hostNetwork' is true",
            ));
        } else if bool_of(spec, "hostIPC") && ipc {
            errs.push(FieldError::invalid(
                &p,
                name,
                "may not be specified when 'hostIPC' is true",
            ));
        }
        names.insert(name);
    }
    if let Some(p) = opt_str(sc, "fsGroupChangePolicy")
        && p != "Always"
        && p != "OnRootMismatch"
    {
        errs.push(FieldError::not_supported(
            &path.child("fsGroupChangePolicy"),
            p,
            &["Always", "OnRootMismatch"],
        ));
    }
    errs.extend(seccomp_profile(
        get(sc, "seccompProfile"),
        &path.child("seccompProfile"),
    ));
    if let Some(p) = opt_str(sc, "supplementalGroupsPolicy")
        && p != "Merge"
        && p != "Strict"
    {
        errs.push(FieldError::not_supported(
            &path.child("supplementalGroupsPolicy"),
            p,
            &["Merge", "Strict"],
        ));
    }
    if let Some(p) = opt_str(sc, "seLinuxChangePolicy")
        && p != "MountOption"
        && p != "Recursive"
    {
        errs.push(FieldError::not_supported(
            &path.child("seLinuxChangePolicy"),
            p,
            &["MountOption", "Recursive"],
        ));
    }
    errs
}

fn is_sysctl_name(name: &str) -> bool {
    let segment = |s: &str| {
        let b = s.as_bytes();
        let edge = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        b.first().is_some_and(edge)
            && b.last().is_some_and(edge)
            && b.iter().all(|c| edge(c) || *c == b'-' || *c == b'_')
    };
    name.len() <= 253 && name.split(['.', '/']).all(segment)
}

pub(crate) fn tolerations(tols: &[Value], path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, t) in tols.iter().enumerate() {
        let p = path.index(i);
        let (key, op, value, effect) = (
            str_of(t, "key"),
            str_of(t, "operator"),
            str_of(t, "value"),
            str_of(t, "effect"),
        );
        if !key.is_empty() {
            errs.extend(
                qualified_name(key)
                    .into_iter()
                    .map(|m| FieldError::invalid(&p.child("key"), key, m)),
            );
        }
        if key.is_empty() && op != "Exists" {
            let msg =
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"";
            errs.push(FieldError::invalid(&p.child("operator"), op, msg));
        }
        if get(t, "tolerationSeconds").is_some() && effect != "NoExecute" {
            let msg = "effect must be 'NoExecute' when `tolerationSeconds` is set";
            errs.push(FieldError::invalid(&p.child("effect"), effect, msg));
        }
        match op {
            "Equal" | "" => {
                let msgs = label_value(value);
                if !msgs.is_empty() {
                    errs.push(FieldError::invalid(&p.child("operator"), value, msgs.join(";")));
                }
            }
            "Exists" if !value.is_empty() => {
                let msg = "value must be empty when `operator` is 'Exists'";
                errs.push(FieldError::invalid(&p.child("operator"), value, msg));
            }
            "Exists" => {}
            other => errs.push(FieldError::not_supported(
                &p.child("operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() {
            errs.extend(taint_effect(effect, &p.child("effect")));
        }
    }
    errs
}

/// `validateTaintEffect` for a non-empty effect.
pub(crate) fn taint_effect(effect: &str, path: &Path) -> Vec<FieldError> {
    let supported = &["NoSchedule", "PreferNoSchedule", "NoExecute"];
    if supported.contains(&effect) {
        Vec::new()
    } else {
        vec![FieldError::not_supported(path, effect, supported)]
    }
}

pub(crate) fn affinity(aff: &Value, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(na) = get(aff, "nodeAffinity") {
        let np = path.child("nodeAffinity");
        if let Some(req) = get(na, "requiredDuringSchedulingIgnoredDuringExecution") {
            errs.extend(node_selector(
                req,
                &np.child("requiredDuringSchedulingIgnoredDuringExecution"),
            ));
        }
        for (i, term) in arr(na, "preferredDuringSchedulingIgnoredDuringExecution")
            .iter()
            .enumerate()
        {
            let p = np
                .child("preferredDuringSchedulingIgnoredDuringExecution")
                .index(i);
            let w = int_of(term, "weight").unwrap_or(0);
            if !(1..=100).contains(&w) {
                errs.push(FieldError::invalid(
                    &p.child("weight"),
                    w,
                    "must be in the range 1-100",
                ));
            }
            if let Some(pref) = get(term, "preference") {
                errs.extend(node_selector_term(pref, false, &p.child("preference")));
            }
        }
    }
    for kind in ["podAffinity", "podAntiAffinity"] {
        let Some(pa) = get(aff, kind) else { continue };
        let kp = path.child(kind);
        for (i, term) in arr(pa, "requiredDuringSchedulingIgnoredDuringExecution")
            .iter()
            .enumerate()
        {
            errs.extend(pod_affinity_term(
                term,
                &kp.child("requiredDuringSchedulingIgnoredDuringExecution")
                    .index(i),
            ));
        }
        for (i, term) in arr(pa, "preferredDuringSchedulingIgnoredDuringExecution")
            .iter()
            .enumerate()
        {
            let p = kp
                .child("preferredDuringSchedulingIgnoredDuringExecution")
                .index(i);
            let w = int_of(term, "weight").unwrap_or(0);
            if !(1..=100).contains(&w) {
                errs.push(FieldError::invalid(
                    &p.child("weight"),
                    w,
                    "must be in the range 1-100",
                ));
            }
            if let Some(t) = get(term, "podAffinityTerm") {
                errs.extend(pod_affinity_term(t, &p.child("podAffinityTerm")));
            }
        }
    }
    errs
}

/// `ValidateNodeSelector`: at least one term, each with valid requirements.
pub(crate) fn node_selector(sel: &Value, path: &Path) -> Vec<FieldError> {
    let terms = arr(sel, "nodeSelectorTerms");
    let tp = path.child("nodeSelectorTerms");
    if terms.is_empty() {
        return vec![FieldError::required(
            &tp,
            "must have at least one node selector term",
        )];
    }
    terms
        .iter()
        .enumerate()
        .flat_map(|(i, t)| node_selector_term(t, true, &tp.index(i)))
        .collect()
}

fn node_selector_term(term: &Value, check_values: bool, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (j, req) in arr(term, "matchExpressions").iter().enumerate() {
        let p = path.child("matchExpressions").index(j);
        let values = strings(req, "values");
        let op = str_of(req, "operator");
        match op {
            "In" | "NotIn" if values.is_empty() => {
                let msg = "must be specified when `operator` is 'In' or 'NotIn'";
                errs.push(FieldError::required(&p.child("values"), msg));
            }
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                let msg = "may not be specified when `operator` is 'Exists' or 'DoesNotExist'";
                errs.push(FieldError::forbidden(&p.child("values"), msg));
            }
            "Gt" | "Lt" if values.len() != 1 => {
                let msg = "must be specified single value when `operator` is 'Lt' or 'Gt'";
                errs.push(FieldError::required(&p.child("values"), msg));
            }
            "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt" => {}
            other => errs.push(FieldError::invalid(
                &p.child("operator"),
                other,
                "not a valid selector operator",
            )),
        }
        let key = str_of(req, "key");
        errs.extend(
            qualified_name(key)
                .into_iter()
                .map(|m| FieldError::invalid(&p.child("key"), key, m)),
        );
        if check_values {
            for (k, v) in values.iter().enumerate() {
                let vp = p.child("values").index(k);
                errs.extend(
                    label_value(v)
                        .into_iter()
                        .map(|m| FieldError::invalid(&vp, v.as_str(), m)),
                );
            }
        }
    }
    for (j, req) in arr(term, "matchFields").iter().enumerate() {
        let p = path.child("matchFields").index(j);
        let op = str_of(req, "operator");
        let values = strings(req, "values");
        if op == "In" || op == "NotIn" {
            if values.len() != 1 {
                let msg = "must be only one value when `operator` is 'In' or 'NotIn' for node field selector";
                errs.push(FieldError::required(&p.child("values"), msg));
            }
        } else {
            errs.push(FieldError::invalid(
                &p.child("operator"),
                op,
                "not a valid selector operator",
            ));
        }
        let key = str_of(req, "key");
        if key != "metadata.name" {
            errs.push(FieldError::invalid(
                &p.child("key"),
                key,
                "not a valid field selector key",
            ));
        } else {
            for (k, v) in values.iter().enumerate() {
                let vp = p.child("values").index(k);
                errs.extend(
                    dns1123_subdomain(v)
                        .into_iter()
                        .map(|m| FieldError::invalid(&vp, v.as_str(), m)),
                );
            }
        }
    }
    errs
}

fn pod_affinity_term(term: &Value, path: &Path) -> Vec<FieldError> {
    let mut errs = validate_label_selector(get(term, "labelSelector"), &path.child("labelSelector"));
    errs.extend(validate_label_selector(
        get(term, "namespaceSelector"),
        &path.child("namespaceSelector"),
    ));
    for ns in strings(term, "namespaces") {
        errs.extend(
            dns1123_label(&ns)
                .into_iter()
                .map(|m| FieldError::invalid(&path.child("namespace"), ns.as_str(), m)),
        );
    }
    let key = str_of(term, "topologyKey");
    if key.is_empty() {
        errs.push(FieldError::required(
            &path.child("topologyKey"),
            "can not be empty",
        ));
    }
    errs.extend(
        qualified_name(key)
            .into_iter()
            .map(|m| FieldError::invalid(&path.child("topologyKey"), key, m)),
    );
    errs
}

pub(crate) fn dns_config(config: Option<&Value>, policy: &str, path: &Path) -> Vec<FieldError> {
    if policy == "None" {
        let Some(c) = config else {
            return vec![FieldError::required(
                path,
                "must provide `dnsConfig` when `dnsPolicy` is None",
            )];
        };
        if arr(c, "nameservers").is_empty() {
            let msg = "must provide at least one DNS nameserver when `dnsPolicy` is None";
            return vec![FieldError::required(&path.child("nameservers"), msg)];
        }
    }
    let Some(c) = config else { return Vec::new() };
    let mut errs = Vec::new();
    let servers = arr(c, "nameservers");
    if servers.len() > 3 {
        errs.push(FieldError::invalid(
            &path.child("nameservers"),
            servers.to_vec(),
            "must not have more than 3 nameservers",
        ));
    }
    for (i, ns) in servers.iter().enumerate() {
        errs.extend(valid_ip(
            &path.child("nameservers").index(i),
            ns.as_str().unwrap_or(""),
        ));
    }
    let searches = strings(c, "searches");
    if searches.len() > 32 {
        errs.push(FieldError::invalid(
            &path.child("searches"),
            arr(c, "searches").to_vec(),
            "must not have more than 32 search paths",
        ));
    }
    if searches.join(" ").len() > 2048 {
        let msg = "must not have more than 2048 characters (including spaces) in the search list";
        errs.push(FieldError::invalid(
            &path.child("searches"),
            arr(c, "searches").to_vec(),
            msg,
        ));
    }
    for (i, s) in searches.iter().enumerate() {
        if s == "." {
            continue;
        }
        let s = s.strip_suffix('.').unwrap_or(s);
        let underscore = s.replace('_', "a");
        let p = path.child("searches").index(i);
        if !dns1123_subdomain(&underscore).is_empty() {
            errs.extend(
                dns1123_subdomain(s)
                    .into_iter()
                    .map(|m| FieldError::invalid(&p, s, m)),
            );
        }
    }
    for (i, o) in arr(c, "options").iter().enumerate() {
        if str_of(o, "name").is_empty() {
            errs.push(FieldError::required(
                &path.child("options").index(i),
                "must not be empty",
            ));
        }
    }
    errs
}

pub(crate) fn topology_spread(constraints: &[Value], path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, c) in constraints.iter().enumerate() {
        let p = path.index(i);
        let skew = int_of(c, "maxSkew").unwrap_or(0);
        if skew <= 0 {
            errs.push(FieldError::invalid(
                &p.child("maxSkew"),
                skew,
                "must be greater than zero",
            ));
        }
        let key = str_of(c, "topologyKey");
        if key.is_empty() {
            errs.push(FieldError::required(&p.child("topologyKey"), "can not be empty"));
        }
        let action = str_of(c, "whenUnsatisfiable");
        if action != "DoNotSchedule" && action != "ScheduleAnyway" {
            let supported = &["DoNotSchedule", "ScheduleAnyway"];
            errs.push(FieldError::not_supported(
                &p.child("whenUnsatisfiable"),
                action,
                supported,
            ));
        }
        let repeated = constraints[i + 1..]
            .iter()
            .any(|o| str_of(o, "topologyKey") == key && str_of(o, "whenUnsatisfiable") == action);
        if repeated {
            errs.push(FieldError::duplicate(
                &p.child("{topologyKey, whenUnsatisfiable}"),
                format!("{{{key}, {action}}}"),
            ));
        }
        if let Some(min) = int_of(c, "minDomains") {
            if min <= 0 {
                errs.push(FieldError::invalid(
                    &p.child("minDomains"),
                    min,
                    "must be greater than zero",
                ));
            }
            if action != "DoNotSchedule" {
                let msg = format!("can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {action}");
                errs.push(FieldError::invalid(&p.child("minDomains"), min, msg));
            }
        }
        for field in ["nodeAffinityPolicy", "nodeTaintsPolicy"] {
            if let Some(v) = opt_str(c, field)
                && v != "Honor"
                && v != "Ignore"
            {
                errs.push(FieldError::not_supported(
                    &p.child(field),
                    v,
                    &["Honor", "Ignore"],
                ));
            }
        }
        errs.extend(validate_label_selector(
            get(c, "labelSelector"),
            &p.child("labelSelector"),
        ));
    }
    errs
}
