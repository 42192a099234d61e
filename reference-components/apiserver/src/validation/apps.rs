//! apps/v1 workloads: `pkg/apis/apps/validation`, plus the selector immutability the apps/v1
//! registry strategies add on update.

use serde_json::Value;

use super::formats::{IMMUTABLE, NEGATIVE, percent};
use super::json::{arr, get, int_of, normalized, opt_str, str_of};
use super::meta::{as_selector, selector_is_empty, validate_label_selector};
use super::pod::{PodOpts, immutable, template_labels, template_restart_always, validate_pod_template};
use super::storage::pvc_spec;
use super::{FieldError, Path};

/// Dispatches apps/v1 kinds.
pub(crate) fn validate(kind: &str, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let null = Value::Null;
    let spec = get(obj, "spec").unwrap_or(&null);
    let old_spec = old.map(|o| get(o, "spec").unwrap_or(&null));
    let sp = Path::new("spec");
    let mut errs = match kind {
        "Deployment" => deployment(spec, &sp),
        "ReplicaSet" => replica_set(spec, &sp),
        "StatefulSet" => stateful_set(spec, old_spec, &sp),
        "DaemonSet" => daemon_set(spec, &sp),
        "ControllerRevision" => return controller_revision(obj, old),
        _ => return Vec::new(),
    };
    if let Some(old_spec) = old_spec
        && kind != "StatefulSet"
    {
        errs.extend(immutable(
            get(spec, "selector"),
            get(old_spec, "selector"),
            &sp.child("selector"),
        ));
    }
    errs
}

fn non_negative(spec: &Value, field: &str, path: &Path) -> Vec<FieldError> {
    match int_of(spec, field) {
        Some(v) if v < 0 => vec![FieldError::invalid(&path.child(field), v, NEGATIVE)],
        _ => Vec::new(),
    }
}

/// The selector checks shared by Deployments, ReplicaSets and StatefulSets: required,
/// valid, not empty.
fn required_selector(spec: &Value, kind: &str, path: &Path) -> Vec<FieldError> {
    match get(spec, "selector") {
        None => vec![FieldError::required(&path.child("selector"), "")],
        Some(sel) => {
            let mut errs = validate_label_selector(Some(sel), &path.child("selector"));
            if selector_is_empty(sel) {
                let msg = format!("empty selector is invalid for {kind}");
                errs.push(FieldError::invalid(&path.child("selector"), sel.clone(), msg));
            }
            errs
        }
    }
}

/// The selector must select the template's labels (unless it selects everything).
fn selector_matches_template(
    spec: &Value,
    invalid_detail: &str,
    path: &Path,
) -> Result<Vec<FieldError>, FieldError> {
    let sel = get(spec, "selector");
    let selector = as_selector(sel).map_err(|()| {
        FieldError::invalid(
            &path.child("selector"),
            sel.cloned().unwrap_or(Value::Null),
            invalid_detail,
        )
    })?;
    let (labels, labels_value) = template_labels(get(spec, "template"));
    if !selector.is_empty() && !selector.matches(&labels) {
        let p = path.child("template").child("metadata").child("labels");
        return Ok(vec![FieldError::invalid(
            &p,
            labels_value,
            "`selector` does not match template `labels`",
        )]);
    }
    Ok(Vec::new())
}

/// `ValidatePodTemplateSpecForReplicaSet`.
fn replica_set_template(spec: &Value, path: &Path) -> Vec<FieldError> {
    let mut errs = match selector_matches_template(spec, "invalid label selector", path) {
        Ok(e) => e,
        Err(e) => return vec![e],
    };
    let tp = path.child("template");
    errs.extend(validate_pod_template(
        get(spec, "template"),
        &PodOpts::default(),
        &tp,
    ));
    errs.extend(template_restart_always(get(spec, "template"), "ReplicaSet", &tp));
    errs
}

fn replica_set(spec: &Value, sp: &Path) -> Vec<FieldError> {
    let mut errs = non_negative(spec, "replicas", sp);
    errs.extend(non_negative(spec, "minReadySeconds", sp));
    errs.extend(required_selector(spec, "deployment", sp));
    errs.extend(replica_set_template(spec, sp));
    errs
}

fn deployment(spec: &Value, sp: &Path) -> Vec<FieldError> {
    let mut errs = non_negative(spec, "replicas", sp);
    errs.extend(required_selector(spec, "deployment", sp));
    errs.extend(replica_set_template(spec, sp));
    let strategy = get(spec, "strategy").cloned().unwrap_or(Value::Null);
    let stp = sp.child("strategy");
    match str_of(&strategy, "type") {
        "Recreate" => {
            if get(&strategy, "rollingUpdate").is_some() {
                let msg = "may not be specified when strategy `type` is 'Recreate'";
                errs.push(FieldError::forbidden(&stp.child("rollingUpdate"), msg));
            }
        }
        "RollingUpdate" => match get(&strategy, "rollingUpdate") {
            None => {
                let msg = "this should be defaulted and never be nil";
                errs.push(FieldError::required(&stp.child("rollingUpdate"), msg));
            }
            Some(ru) => {
                let rp = stp.child("rollingUpdate");
                let (mu, ms) = (ru.get("maxUnavailable"), ru.get("maxSurge"));
                errs.extend(positive_int_or_percent(mu, &rp.child("maxUnavailable")));
                errs.extend(positive_int_or_percent(ms, &rp.child("maxSurge")));
                if int_or_percent(mu) == 0 && int_or_percent(ms) == 0 {
                    let v = mu.cloned().unwrap_or(Value::Null);
                    errs.push(FieldError::invalid(
                        &rp.child("maxUnavailable"),
                        v,
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
                errs.extend(not_more_than_100(mu, &rp.child("maxUnavailable")));
            }
        },
        _ => errs.push(FieldError::not_supported(
            &stp,
            strategy.clone(),
            &["Recreate", "RollingUpdate"],
        )),
    }
    errs.extend(non_negative(spec, "minReadySeconds", sp));
    errs.extend(non_negative(spec, "revisionHistoryLimit", sp));
    if let Some(pds) = int_of(spec, "progressDeadlineSeconds") {
        errs.extend(non_negative(spec, "progressDeadlineSeconds", sp));
        if pds <= int_of(spec, "minReadySeconds").unwrap_or(0) {
            let msg = "must be greater than minReadySeconds";
            errs.push(FieldError::invalid(
                &sp.child("progressDeadlineSeconds"),
                pds,
                msg,
            ));
        }
    }
    errs
}

/// `ValidatePositiveIntOrPercent`.
fn positive_int_or_percent(v: Option<&Value>, path: &Path) -> Vec<FieldError> {
    match v {
        Some(Value::String(s)) => percent(s)
            .into_iter()
            .map(|m| FieldError::invalid(path, s.as_str(), m))
            .collect(),
        Some(n) => match n.as_i64() {
            Some(i) if i < 0 => vec![FieldError::invalid(path, i, NEGATIVE)],
            _ => Vec::new(),
        },
        None => Vec::new(),
    }
}

/// `getIntOrPercentValue`: the number of a percentage or an int, 0 otherwise.
fn int_or_percent(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::String(s)) => s.strip_suffix('%').and_then(|n| n.parse().ok()).unwrap_or(0),
        Some(n) => n.as_i64().unwrap_or(0),
        None => 0,
    }
}

fn not_more_than_100(v: Option<&Value>, path: &Path) -> Vec<FieldError> {
    match v {
        Some(Value::String(s)) if percent(s).is_empty() && int_or_percent(v) > 100 => {
            vec![FieldError::invalid(
                path,
                s.as_str(),
                "must not be greater than 100%",
            )]
        }
        _ => Vec::new(),
    }
}

fn stateful_set(spec: &Value, old_spec: Option<&Value>, sp: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    match str_of(spec, "podManagementPolicy") {
        "" => errs.push(FieldError::required(&sp.child("podManagementPolicy"), "")),
        "OrderedReady" | "Parallel" => {}
        other => {
            let msg = "must be 'OrderedReady' or 'Parallel'";
            errs.push(FieldError::invalid(&sp.child("podManagementPolicy"), other, msg));
        }
    }
    let null = Value::Null;
    let strategy = get(spec, "updateStrategy").unwrap_or(&null);
    let up = sp.child("updateStrategy");
    match str_of(strategy, "type") {
        "" => errs.push(FieldError::required(&up, "")),
        "OnDelete" => {
            if let Some(ru) = get(strategy, "rollingUpdate") {
                let msg = "only allowed for updateStrategy 'RollingUpdate'";
                errs.push(FieldError::invalid(&up.child("rollingUpdate"), ru.clone(), msg));
            }
        }
        "RollingUpdate" => {
            if let Some(ru) = get(strategy, "rollingUpdate") {
                let rp = up.child("rollingUpdate");
                errs.extend(non_negative(ru, "partition", &rp));
                if let Some(mu) = ru.get("maxUnavailable").filter(|v| !v.is_null()) {
                    errs.extend(positive_int_or_percent(Some(mu), &rp.child("maxUnavailable")));
                    if int_or_percent(Some(mu)) == 0 {
                        errs.push(FieldError::invalid(
                            &rp.child("maxUnavailable"),
                            mu.clone(),
                            "cannot be 0",
                        ));
                    }
                    errs.extend(not_more_than_100(Some(mu), &rp.child("maxUnavailable")));
                }
            }
        }
        _ => errs.push(FieldError::invalid(
            &up,
            strategy.clone(),
            "must be 'RollingUpdate' or 'OnDelete'",
        )),
    }
    if let Some(policy) = get(spec, "persistentVolumeClaimRetentionPolicy") {
        for field in ["whenDeleted", "whenScaled"] {
            let v = str_of(policy, field);
            if v != "Retain" && v != "Delete" {
                let p = sp.child("persistentVolumeClaimRetentionPolicy").child(field);
                errs.push(FieldError::not_supported(&p, v, &["Retain", "Delete"]));
            }
        }
    }
    errs.extend(non_negative(spec, "replicas", sp));
    errs.extend(non_negative(spec, "minReadySeconds", sp));
    if let Some(start) = get(spec, "ordinals")
        .and_then(|o| int_of(o, "start"))
        .filter(|s| *s < 0)
    {
        errs.push(FieldError::invalid(&sp.child("ordinals.start"), start, NEGATIVE));
    }
    errs.extend(required_selector(spec, "statefulset", sp));
    let tp = sp.child("template");
    match selector_matches_template(spec, "", sp) {
        Err(e) => errs.push(e),
        Ok(e) => {
            errs.extend(e);
            let claims: Vec<String> = arr(spec, "volumeClaimTemplates")
                .iter()
                .filter_map(|c| get(c, "metadata").map(|m| str_of(m, "name").to_string()))
                .collect();
            let opts = PodOpts {
                is_pod: false,
                claim_volumes: claims,
            };
            errs.extend(validate_pod_template(get(spec, "template"), &opts, &tp));
        }
    }
    errs.extend(template_restart_always(get(spec, "template"), "StatefulSet", &tp));
    for (i, claim) in arr(spec, "volumeClaimTemplates").iter().enumerate() {
        let cp = sp.child("volumeClaimTemplates").index(i);
        errs.extend(pvc_spec(get(claim, "spec").unwrap_or(&null), &cp.child("spec")));
    }
    if let Some(old_spec) = old_spec {
        let mutable = [
            "replicas",
            "template",
            "updateStrategy",
            "minReadySeconds",
            "ordinals",
            "persistentVolumeClaimRetentionPolicy",
        ];
        let strip = |s: &Value| {
            let mut s = normalized(s);
            if let Some(m) = s.as_object_mut() {
                for f in mutable {
                    m.remove(f);
                }
            }
            s
        };
        if strip(spec) != strip(old_spec) {
            let msg = "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden";
            errs.push(FieldError::forbidden(sp, msg));
        }
    }
    errs
}

fn daemon_set(spec: &Value, sp: &Path) -> Vec<FieldError> {
    let mut errs = validate_label_selector(get(spec, "selector"), &sp.child("selector"));
    if let Ok(e) = selector_matches_template(spec, "", sp) {
        errs.extend(e);
    }
    if let Some(sel) = get(spec, "selector")
        && selector_is_empty(sel)
    {
        errs.push(FieldError::invalid(
            &sp.child("selector"),
            sel.clone(),
            "empty selector is invalid for daemonset",
        ));
    }
    let tp = sp.child("template");
    errs.extend(validate_pod_template(
        get(spec, "template"),
        &PodOpts::default(),
        &tp,
    ));
    errs.extend(template_restart_always(get(spec, "template"), "DaemonSet", &tp));
    errs.extend(non_negative(spec, "minReadySeconds", sp));
    let null = Value::Null;
    let strategy = get(spec, "updateStrategy").unwrap_or(&null);
    let up = sp.child("updateStrategy");
    match opt_str(strategy, "type").unwrap_or("") {
        "OnDelete" => {}
        "RollingUpdate" => match get(strategy, "rollingUpdate") {
            None => errs.push(FieldError::required(&up.child("rollingUpdate"), "")),
            Some(ru) => {
                let rp = up.child("rollingUpdate");
                let (mu, ms) = (ru.get("maxUnavailable"), ru.get("maxSurge"));
                errs.extend(positive_int_or_percent(mu, &rp.child("maxUnavailable")));
                errs.extend(positive_int_or_percent(ms, &rp.child("maxSurge")));
                errs.extend(not_more_than_100(mu, &rp.child("maxUnavailable")));
                errs.extend(not_more_than_100(ms, &rp.child("maxSurge")));
                match (int_or_percent(mu) != 0, int_or_percent(ms) != 0) {
                    (true, true) => {
                        let v = ms.cloned().unwrap_or(Value::Null);
                        errs.push(FieldError::invalid(
                            &rp.child("maxSurge"),
                            v,
                            "may not be set when maxUnavailable is non-zero",
                        ));
                    }
                    (false, false) => {
                        errs.push(FieldError::required(
                            &rp.child("maxUnavailable"),
                            "cannot be 0 when maxSurge is 0",
                        ));
                    }
                    _ => {}
                }
            }
        },
        _ => errs.push(FieldError::not_supported(
            &up,
            strategy.clone(),
            &["RollingUpdate", "OnDelete"],
        )),
    }
    errs.extend(non_negative(spec, "revisionHistoryLimit", sp));
    errs
}

fn controller_revision(rev: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if get(rev, "data").is_none() {
        errs.push(FieldError::required(&Path::new("data"), "data is mandatory"));
    }
    errs.extend(non_negative(rev, "revision", &Path::new("")));
    if let Some(old) = old
        && get(rev, "data") != get(old, "data")
    {
        errs.push(FieldError::invalid(
            &Path::new("data"),
            rev.get("data").cloned().unwrap_or(Value::Null),
            IMMUTABLE,
        ));
    }
    errs
}
