//! Pods and pod templates: core validation's `ValidatePodSpec`, `ValidatePodCreate`,
//! `ValidatePodUpdate` and `ValidatePodTemplateSpec`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::container::{ContainerCtx, validate_containers, validate_init_containers};
use super::formats::{
    IMMUTABLE, dns1123_label, dns1123_subdomain, inclusive_range, qualified_name, valid_ip,
};
use super::json::{arr, bool_of, describe_diff, get, int_of, normalized, obj, opt_str, str_of, strings};
use super::meta::{validate_annotations, validate_labels};
use super::podspec::{affinity, dns_config, pod_security_context, tolerations, topology_spread};
use super::volume::{VolumeInfo, validate_volumes};
use super::{FieldError, Path};

/// How a pod spec is being validated.
#[derive(Debug, Clone, Default)]
pub(crate) struct PodOpts {
    /// The spec belongs to a Pod (not a template): stricter host port and image checks.
    pub is_pod: bool,
    /// Extra claim-backed volumes (a StatefulSet's `volumeClaimTemplates`).
    pub claim_volumes: Vec<String>,
}

const UPDATABLE_POD_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// `ValidatePodCreate` / `ValidatePodUpdate` (the metadata checks are done by the caller).
pub(crate) fn validate_pod(pod: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let null = Value::Null;
    let spec = get(pod, "spec").unwrap_or(&null);
    let spec_path = Path::new("spec");
    let meta = get(pod, "metadata").unwrap_or(&null);
    let mut errs = pod_annotations(meta, spec, &Path::new("metadata").child("annotations"));
    errs.extend(validate_pod_spec(
        spec,
        &PodOpts {
            is_pod: true,
            ..Default::default()
        },
        &spec_path,
    ));
    if str_of(spec, "serviceAccountName").is_empty() {
        for (vi, vol) in arr(spec, "volumes").iter().enumerate() {
            let Some(projected) = get(vol, "projected") else {
                continue;
            };
            for (si, source) in arr(projected, "sources").iter().enumerate() {
                if get(source, "serviceAccountToken").is_some() {
                    let p = spec_path
                        .child("volumes")
                        .index(vi)
                        .child("projected")
                        .child("sources")
                        .index(si);
                    let msg = "must not be specified when serviceAccountName is not set";
                    errs.push(FieldError::forbidden(&p.child("serviceAccountToken"), msg));
                }
            }
        }
    }
    for field in ["containers", "initContainers"] {
        for (i, c) in arr(spec, field).iter().enumerate() {
            let image = str_of(c, "image");
            if image.trim() != image {
                let msg = "must not have leading or trailing whitespace";
                errs.push(FieldError::invalid(
                    &spec_path.child(field).index(i).child("image"),
                    image,
                    msg,
                ));
            }
        }
    }
    match old {
        None => {
            if !arr(spec, "ephemeralContainers").is_empty() {
                errs.push(FieldError::forbidden(
                    &spec_path.child("ephemeralContainers"),
                    "cannot be set on create",
                ));
            }
            if !str_of(spec, "nodeName").is_empty() && !arr(spec, "schedulingGates").is_empty() {
                let msg = "cannot be set until all schedulingGates have been cleared";
                errs.push(FieldError::forbidden(&spec_path.child("nodeName"), msg));
            }
        }
        Some(old) => errs.extend(validate_pod_update(
            spec,
            get(old, "spec").unwrap_or(&null),
            &spec_path,
        )),
    }
    errs
}

fn pod_annotations(meta: &Value, spec: &Value, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let annotations = obj(meta, "annotations");
    let ann = |k: &str| annotations.and_then(|a| a.get(k)).and_then(Value::as_str);
    if let Some(v) = ann("kubernetes.io/config.mirror")
        && str_of(spec, "nodeName").is_empty()
    {
        let msg = "must set spec.nodeName if mirror pod annotation is set";
        errs.push(FieldError::invalid(
            &path.key("kubernetes.io/config.mirror"),
            v,
            msg,
        ));
    }
    if let Some(v) = ann("controller.kubernetes.io/pod-deletion-cost")
        && v.parse::<i32>().is_err()
    {
        errs.push(FieldError::invalid(
            &path.key("controller.kubernetes.io/pod-deletion-cost"),
            v,
            "must be a 32bit integer",
        ));
    }
    errs
}

/// `ValidatePodTemplateSpec`: template labels and annotations, the pod spec, no ephemeral
/// containers. `path` is the template (`spec.template`).
pub(crate) fn validate_pod_template(
    template: Option<&Value>,
    opts: &PodOpts,
    path: &Path,
) -> Vec<FieldError> {
    let null = Value::Null;
    let t = template.unwrap_or(&null);
    let meta = get(t, "metadata").unwrap_or(&null);
    let spec = get(t, "spec").unwrap_or(&null);
    let mut errs = validate_labels(get(meta, "labels"), &path.child("labels"));
    errs.extend(validate_annotations(
        get(meta, "annotations"),
        &path.child("annotations"),
    ));
    errs.extend(pod_annotations(meta, spec, &path.child("annotations")));
    errs.extend(validate_pod_spec(spec, opts, &path.child("spec")));
    if !arr(spec, "ephemeralContainers").is_empty() {
        let msg = "ephemeral containers not allowed in pod template";
        errs.push(FieldError::forbidden(
            &path.child("spec").child("ephemeralContainers"),
            msg,
        ));
    }
    errs
}

/// `ValidatePodSpec`.
pub(crate) fn validate_pod_spec(spec: &Value, opts: &PodOpts, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let grace = int_of(spec, "terminationGracePeriodSeconds");
    if get(spec, "terminationGracePeriodSeconds").is_none() {
        errs.push(FieldError::required(
            &path.child("terminationGracePeriodSeconds"),
            "",
        ));
    }
    let sc = get(spec, "securityContext");
    let host_users = sc
        .and_then(|s| s.get("hostUsers"))
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let (mut volumes, verrs) = validate_volumes(arr(spec, "volumes"), opts.is_pod, &path.child("volumes"));
    errs.extend(verrs);
    for claim in &opts.claim_volumes {
        volumes.entry(claim.clone()).or_insert(VolumeInfo {
            pvc: true,
            image: false,
        });
    }
    let restart_policy = str_of(spec, "restartPolicy");
    let ctx = ContainerCtx {
        volumes: &volumes,
        grace,
        host_users,
    };
    let containers = arr(spec, "containers");
    errs.extend(validate_containers(containers, ctx, &path.child("containers")));
    errs.extend(validate_init_containers(
        arr(spec, "initContainers"),
        containers,
        ctx,
        &path.child("initContainers"),
    ));
    if bool_of(spec, "hostNetwork") {
        for (i, c) in containers.iter().enumerate() {
            for (j, port) in arr(c, "ports").iter().enumerate() {
                let (hp, cp) = (
                    int_of(port, "hostPort").unwrap_or(0),
                    int_of(port, "containerPort").unwrap_or(0),
                );
                if (opts.is_pod || hp != 0) && hp != cp {
                    let p = path
                        .child("containers")
                        .index(i)
                        .child("ports")
                        .index(j)
                        .child("hostPort");
                    errs.push(FieldError::invalid(
                        &p,
                        hp,
                        "must match `containerPort` when `hostNetwork` is true",
                    ));
                }
            }
        }
    }
    errs.extend(one_of(
        restart_policy,
        &["Always", "OnFailure", "Never"],
        &path.child("restartPolicy"),
    ));
    let dns_policy = str_of(spec, "dnsPolicy");
    let dns_policies = &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];
    errs.extend(one_of(dns_policy, dns_policies, &path.child("dnsPolicy")));
    errs.extend(validate_labels(
        get(spec, "nodeSelector"),
        &path.child("nodeSelector"),
    ));
    errs.extend(pod_security_context(spec, &path.child("securityContext")));
    for (i, secret) in arr(spec, "imagePullSecrets").iter().enumerate() {
        if secret.as_object().is_some_and(|m| m.keys().any(|k| k != "name")) {
            errs.push(FieldError::invalid(
                &path.child("imagePullSecrets").index(i),
                secret.clone(),
                "only name may be set",
            ));
        }
    }
    if let Some(aff) = get(spec, "affinity") {
        errs.extend(affinity(aff, &path.child("affinity")));
    }
    errs.extend(dns_config(
        get(spec, "dnsConfig"),
        dns_policy,
        &path.child("dnsConfig"),
    ));
    for (i, gate) in arr(spec, "readinessGates").iter().enumerate() {
        let t = str_of(gate, "conditionType");
        let p = path.child("readinessGates").index(i).child("conditionType");
        errs.extend(
            qualified_name(t)
                .into_iter()
                .map(|m| FieldError::invalid(&p, t, m)),
        );
    }
    let mut gates = BTreeSet::new();
    for (i, gate) in arr(spec, "schedulingGates").iter().enumerate() {
        let (name, p) = (str_of(gate, "name"), path.child("schedulingGates").index(i));
        errs.extend(
            qualified_name(name)
                .into_iter()
                .map(|m| FieldError::invalid(&p, name, m)),
        );
        if !gates.insert(name) {
            errs.push(FieldError::duplicate(&p, name));
        }
    }
    errs.extend(topology_spread(
        arr(spec, "topologySpreadConstraints"),
        &path.child("topologySpreadConstraints"),
    ));
    if !host_users {
        for (field, name) in [
            ("hostNetwork", "hostNetwork"),
            ("hostPID", "HostPID"),
            ("hostIPC", "HostIPC"),
        ] {
            if bool_of(spec, field) {
                errs.push(FieldError::forbidden(
                    &path.child(name),
                    "when `pod.Spec.HostUsers` is false",
                ));
            }
        }
    }
    for (field, check) in [
        ("serviceAccountName", dns1123_subdomain as fn(&str) -> Vec<String>),
        ("nodeName", dns1123_subdomain),
        ("hostname", dns1123_label),
        ("subdomain", dns1123_label),
        ("priorityClassName", dns1123_subdomain),
    ] {
        let v = str_of(spec, field);
        if !v.is_empty() {
            errs.extend(
                check(v)
                    .into_iter()
                    .map(|m| FieldError::invalid(&path.child(field), v, m)),
            );
        }
    }
    if let Some(v) = int_of(spec, "activeDeadlineSeconds").filter(|v| !(1..=i64::from(i32::MAX)).contains(v))
    {
        errs.push(FieldError::invalid(
            &path.child("activeDeadlineSeconds"),
            v,
            inclusive_range(1, i64::from(i32::MAX)),
        ));
    }
    errs.extend(tolerations(arr(spec, "tolerations"), &path.child("tolerations")));
    for (i, alias) in arr(spec, "hostAliases").iter().enumerate() {
        let p = path.child("hostAliases").index(i);
        errs.extend(valid_ip(&p.child("ip"), str_of(alias, "ip")));
        for (j, host) in strings(alias, "hostnames").iter().enumerate() {
            let hp = p.child("hostnames").index(j);
            errs.extend(
                dns1123_subdomain(host)
                    .into_iter()
                    .map(|m| FieldError::invalid(&hp, host.as_str(), m)),
            );
        }
    }
    if let Some(rc) = opt_str(spec, "runtimeClassName") {
        let p = path.child("runtimeClassName");
        errs.extend(
            dns1123_subdomain(rc)
                .into_iter()
                .map(|m| FieldError::invalid(&p, rc, m)),
        );
    }
    if let Some(pp) = opt_str(spec, "preemptionPolicy") {
        errs.extend(one_of(
            pp,
            &["PreemptLowerPriority", "Never"],
            &path.child("preemptionPolicy"),
        ));
    }
    if let Some(os) = get(spec, "os") {
        let name = str_of(os, "name");
        if name.is_empty() {
            errs.push(FieldError::required(
                &path.child("os").child("name"),
                "cannot be empty",
            ));
        } else if name != "linux" && name != "windows" {
            errs.push(FieldError::not_supported(
                &path.child("os"),
                name,
                &["linux", "windows"],
            ));
        }
    }
    errs
}

/// An enum field: required, then one of `supported` (in Kubernetes' order).
pub(crate) fn one_of(value: &str, supported: &[&str], path: &Path) -> Vec<FieldError> {
    if value.is_empty() {
        vec![FieldError::required(path, "")]
    } else if !supported.contains(&value) {
        vec![FieldError::not_supported(path, value, supported)]
    } else {
        Vec::new()
    }
}

/// `ValidatePodUpdate`'s spec rules: only images, `activeDeadlineSeconds`, added tolerations,
/// removed scheduling gates and a negative grace period set to 1 may change.
fn validate_pod_update(new: &Value, old: &Value, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for field in ["containers", "initContainers"] {
        let (n, o) = (arr(new, field), arr(old, field));
        if n.len() != o.len() {
            errs.push(FieldError::forbidden(
                &path.child(field),
                "pod updates may not add or remove containers",
            ));
            return errs;
        }
        for (i, c) in n.iter().enumerate() {
            if str_of(c, "image").is_empty() {
                errs.push(FieldError::required(
                    &path.child(field).index(i).child("image"),
                    "",
                ));
            }
        }
    }
    match (
        int_of(new, "activeDeadlineSeconds"),
        int_of(old, "activeDeadlineSeconds"),
    ) {
        (Some(n), _) if !(0..=i64::from(i32::MAX)).contains(&n) => {
            errs.push(FieldError::invalid(
                &path.child("activeDeadlineSeconds"),
                n,
                inclusive_range(0, i64::from(i32::MAX)),
            ));
            return errs;
        }
        (Some(n), Some(o)) if o < n => {
            let msg = "must be less than or equal to previous value";
            errs.push(FieldError::invalid(&path.child("activeDeadlineSeconds"), n, msg));
            return errs;
        }
        (None, Some(_)) => {
            let msg = "must not update from a positive integer to nil value";
            errs.push(FieldError::invalid(
                &path.child("activeDeadlineSeconds"),
                Value::Null,
                msg,
            ));
        }
        _ => {}
    }
    errs.extend(only_added_tolerations(
        arr(new, "tolerations"),
        arr(old, "tolerations"),
        &path.child("tolerations"),
    ));
    let old_gates: BTreeSet<&str> = arr(old, "schedulingGates")
        .iter()
        .map(|g| str_of(g, "name"))
        .collect();
    for (i, g) in arr(new, "schedulingGates").iter().enumerate() {
        let name = str_of(g, "name");
        if !old_gates.contains(name) {
            let msg = format!("only deletion is allowed, but found new scheduling gate '{name}'");
            errs.push(FieldError::forbidden(
                &path.child("schedulingGates").index(i).child("name"),
                msg,
            ));
        }
    }
    let mut munged = new.clone();
    if let Some(m) = munged.as_object_mut() {
        for field in ["containers", "initContainers"] {
            if let Some(list) = m.get_mut(field).and_then(Value::as_array_mut) {
                for (c, oc) in list.iter_mut().zip(arr(old, field)) {
                    if let Some(c) = c.as_object_mut() {
                        match oc.get("image") {
                            Some(img) => c.insert("image".into(), img.clone()),
                            None => c.remove("image"),
                        };
                    }
                }
            }
        }
        for field in ["activeDeadlineSeconds", "schedulingGates", "tolerations"] {
            match old.get(field) {
                Some(v) => m.insert(field.into(), v.clone()),
                None => m.remove(field),
            };
        }
        let old_grace = int_of(old, "terminationGracePeriodSeconds");
        if old_grace.is_some_and(|g| g < 0) && int_of(new, "terminationGracePeriodSeconds") == Some(1) {
            m.insert(
                "terminationGracePeriodSeconds".into(),
                old["terminationGracePeriodSeconds"].clone(),
            );
        }
        if !arr(old, "schedulingGates").is_empty() {
            let (n_sel, o_sel) = (obj(new, "nodeSelector"), obj(old, "nodeSelector"));
            let kept = o_sel
                .into_iter()
                .flatten()
                .all(|(k, v)| n_sel.and_then(|n| n.get(k)) == Some(v));
            if !kept {
                let msg = "only additions to spec.nodeSelector are allowed (no mutations or deletions)";
                let value = new.get("nodeSelector").cloned().unwrap_or(Value::Null);
                errs.push(FieldError::invalid(&path.child("nodeSelector"), value, msg));
            }
            match old.get("nodeSelector") {
                Some(v) => m.insert("nodeSelector".into(), v.clone()),
                None => m.remove("nodeSelector"),
            };
        }
    }
    if normalized(&munged) != normalized(old) {
        let diff = describe_diff("spec", old, &munged);
        let msg = format!("pod updates may not change fields other than {UPDATABLE_POD_FIELDS}\n{diff}");
        errs.push(FieldError::forbidden(path, msg));
    }
    errs
}

fn only_added_tolerations(new: &[Value], old: &[Value], path: &Path) -> Vec<FieldError> {
    let strip = |t: &Value| {
        let mut t = normalized(t);
        if let Some(m) = t.as_object_mut() {
            m.remove("tolerationSeconds");
        }
        t
    };
    let new_stripped: Vec<Value> = new.iter().map(strip).collect();
    for o in old {
        if !new_stripped.contains(&strip(o)) {
            return vec![FieldError::forbidden(
                path,
                "existing toleration can not be modified except its tolerationSeconds",
            )];
        }
    }
    tolerations(new, path)
}

/// Field checks shared by workloads whose template must restart always.
pub(crate) fn template_restart_always(template: Option<&Value>, kind: &str, path: &Path) -> Vec<FieldError> {
    let null = Value::Null;
    let spec = template.and_then(|t| get(t, "spec")).unwrap_or(&null);
    let mut errs = Vec::new();
    let rp = str_of(spec, "restartPolicy");
    if rp != "Always" {
        errs.push(FieldError::not_supported(
            &path.child("spec").child("restartPolicy"),
            rp,
            &["Always"],
        ));
    }
    if get(spec, "activeDeadlineSeconds").is_some() {
        let msg = format!("activeDeadlineSeconds in {kind} is not Supported");
        errs.push(FieldError::forbidden(
            &path.child("spec").child("activeDeadlineSeconds"),
            msg,
        ));
    }
    errs
}

/// `ValidateImmutableField` on JSON values.
pub(crate) fn immutable(new: Option<&Value>, old: Option<&Value>, path: &Path) -> Vec<FieldError> {
    if super::json::semantic_eq(new, old) {
        Vec::new()
    } else {
        vec![FieldError::invalid(
            path,
            new.cloned().unwrap_or(Value::Null),
            IMMUTABLE,
        )]
    }
}

/// The labels of a pod template, for selector matching.
pub(crate) fn template_labels(template: Option<&Value>) -> (BTreeMap<String, String>, Value) {
    let labels = template
        .and_then(|t| get(t, "metadata"))
        .and_then(|m| get(m, "labels"));
    (
        super::json::string_map(labels),
        labels.cloned().unwrap_or(Value::Null),
    )
}
