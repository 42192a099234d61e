//! apps/v1 defaults (`pkg/apis/apps/v1/defaults.go`): replicas, update strategies, history
//! limits, and the pod template inside every workload.

use serde_json::{Value, json};

use super::pod::default_pod_template;
use super::{each, ensure_object, set_default, set_default_str, str_field, with};

/// Dispatches apps/v1 kinds.
pub(super) fn default(kind: &str, obj: &mut Value) {
    match kind {
        "Deployment" => deployment(obj),
        "ReplicaSet" => replica_set(obj),
        "StatefulSet" => stateful_set(obj),
        "DaemonSet" => daemon_set(obj),
        _ => {}
    }
}

fn template(spec: &mut Value) {
    if let Some(t) = ensure_object(spec, "template") {
        default_pod_template(t);
    }
}

fn deployment(obj: &mut Value) {
    let Some(spec) = ensure_object(obj, "spec") else {
        return;
    };
    set_default(spec, "replicas", json!(1));
    if let Some(strategy) = ensure_object(spec, "strategy") {
        set_default_str(strategy, "type", "RollingUpdate");
        if str_field(strategy, "type") == "RollingUpdate"
            && let Some(ru) = ensure_object(strategy, "rollingUpdate")
        {
            set_default(ru, "maxUnavailable", json!("25%"));
            set_default(ru, "maxSurge", json!("25%"));
        }
    }
    set_default(spec, "revisionHistoryLimit", json!(10));
    set_default(spec, "progressDeadlineSeconds", json!(600));
    template(spec);
}

fn replica_set(obj: &mut Value) {
    let Some(spec) = ensure_object(obj, "spec") else {
        return;
    };
    set_default(spec, "replicas", json!(1));
    template(spec);
}

fn stateful_set(obj: &mut Value) {
    let Some(spec) = ensure_object(obj, "spec") else {
        return;
    };
    set_default_str(spec, "podManagementPolicy", "OrderedReady");
    if let Some(strategy) = ensure_object(spec, "updateStrategy") {
        if str_field(strategy, "type").is_empty() {
            strategy["type"] = json!("RollingUpdate");
            set_default(strategy, "rollingUpdate", json!({}));
        }
        if str_field(strategy, "type") == "RollingUpdate" {
            with(strategy, "rollingUpdate", |ru| {
                set_default(ru, "partition", json!(0))
            });
        }
    }
    if let Some(policy) = ensure_object(spec, "persistentVolumeClaimRetentionPolicy") {
        set_default_str(policy, "whenDeleted", "Retain");
        set_default_str(policy, "whenScaled", "Retain");
    }
    set_default(spec, "replicas", json!(1));
    set_default(spec, "revisionHistoryLimit", json!(10));
    template(spec);
    each(spec, "volumeClaimTemplates", |claim| {
        with(claim, "spec", |s| {
            set_default(s, "volumeMode", json!("Filesystem"))
        });
        if let Some(status) = ensure_object(claim, "status") {
            set_default_str(status, "phase", "Pending");
        }
    });
}

fn daemon_set(obj: &mut Value) {
    let Some(spec) = ensure_object(obj, "spec") else {
        return;
    };
    if let Some(strategy) = ensure_object(spec, "updateStrategy") {
        set_default_str(strategy, "type", "RollingUpdate");
        if str_field(strategy, "type") == "RollingUpdate"
            && let Some(ru) = ensure_object(strategy, "rollingUpdate")
        {
            set_default(ru, "maxUnavailable", json!(1));
            set_default(ru, "maxSurge", json!(0));
        }
    }
    set_default(spec, "revisionHistoryLimit", json!(10));
    template(spec);
}
