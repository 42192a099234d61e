//! Pod and pod template defaults: `SetDefaults_Pod`, `SetDefaults_PodSpec`,
//! `SetDefaults_Container`, probes, volumes, plus the Priority admission plugin's values.

use serde_json::{Value, json};

use super::{each, ensure_object, set_default, set_default_int, set_default_str, str_field, with};

/// The volume source keys: a volume with none of them gets `emptyDir: {}`.
const VOLUME_SOURCES: &[&str] = &[
    "awsElasticBlockStore",
    "azureDisk",
    "azureFile",
    "cephfs",
    "cinder",
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "fc",
    "flexVolume",
    "flocker",
    "gcePersistentDisk",
    "gitRepo",
    "glusterfs",
    "hostPath",
    "image",
    "iscsi",
    "nfs",
    "persistentVolumeClaim",
    "photonPersistentDisk",
    "portworxVolume",
    "projected",
    "quobyte",
    "rbd",
    "scaleIO",
    "secret",
    "storageos",
    "vsphereVolume",
];

/// Defaults a Pod: its spec (as in templates) plus the Pod-only defaults.
pub(super) fn default_pod(pod: &mut Value) {
    let Some(spec) = ensure_object(pod, "spec") else {
        return;
    };
    default_pod_spec(spec);
    for field in ["containers", "initContainers"] {
        each(spec, field, requests_from_limits);
    }
    set_default(spec, "enableServiceLinks", json!(true));
    if spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) {
        for field in ["containers", "initContainers"] {
            each(spec, field, |c| {
                each(c, "ports", |p| {
                    if p.get("hostPort").and_then(Value::as_i64).unwrap_or(0) == 0
                        && let Some(cp) = p.get("containerPort").cloned()
                    {
                        p["hostPort"] = cp;
                    }
                })
            });
        }
    }
    // The Priority admission plugin, with no default PriorityClass in the cluster.
    let priority = match str_field(spec, "priorityClassName") {
        "" => Some(0),
        "system-node-critical" => Some(2_000_001_000),
        "system-cluster-critical" => Some(2_000_000_000),
        _ => None,
    };
    if let Some(p) = priority {
        set_default(spec, "priority", json!(p));
    }
    set_default(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
}

/// Limits without requests become requests (Pods only, not templates).
fn requests_from_limits(c: &mut Value) {
    let Some(limits) = c
        .get("resources")
        .and_then(|r| r.get("limits"))
        .and_then(Value::as_object)
        .cloned()
    else {
        return;
    };
    let Some(resources) = ensure_object(c, "resources") else {
        return;
    };
    let Some(requests) = ensure_object(resources, "requests").and_then(Value::as_object_mut) else {
        return;
    };
    for (k, v) in limits {
        requests.entry(k).or_insert(v);
    }
}

/// Defaults a pod template (`{metadata, spec}`), creating its spec when missing.
pub(super) fn default_pod_template(template: &mut Value) {
    if let Some(spec) = ensure_object(template, "spec") {
        default_pod_spec(spec);
    }
}

/// `SetDefaults_PodSpec` and everything nested: containers, probes, volumes.
pub(super) fn default_pod_spec(spec: &mut Value) {
    set_default_str(spec, "dnsPolicy", "ClusterFirst");
    set_default_str(spec, "restartPolicy", "Always");
    set_default(spec, "securityContext", json!({}));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default_str(spec, "schedulerName", "default-scheduler");
    // v1 conversion keeps the deprecated serviceAccount in step with serviceAccountName.
    match (
        str_field(spec, "serviceAccountName").to_string(),
        str_field(spec, "serviceAccount").to_string(),
    ) {
        (name, old) if name.is_empty() && !old.is_empty() => spec["serviceAccountName"] = json!(old),
        (name, old) if !name.is_empty() && old != name => spec["serviceAccount"] = json!(name),
        _ => {}
    }
    for field in ["containers", "initContainers", "ephemeralContainers"] {
        each(spec, field, default_container);
    }
    each(spec, "volumes", default_volume);
}

/// `imagePullPolicy` for an image: `Always` for `:latest` or no tag (and no digest), else
/// `IfNotPresent`, as `parsers.ParseImageName` decides.
pub(super) fn pull_policy_for(image: &str) -> &'static str {
    if image.is_empty() || image.bytes().any(|c| c.is_ascii_whitespace()) {
        return "IfNotPresent";
    }
    let (name, digest) = image.split_once('@').map_or((image, false), |(n, _)| (n, true));
    let last = name.rsplit('/').next().unwrap_or(name);
    match last.split_once(':') {
        Some((_, "latest")) => "Always",
        Some(_) => "IfNotPresent",
        None if digest => "IfNotPresent",
        None => "Always",
    }
}

fn default_container(c: &mut Value) {
    if str_field(c, "imagePullPolicy").is_empty() {
        let policy = pull_policy_for(str_field(c, "image"));
        set_default_str(c, "imagePullPolicy", policy);
    }
    set_default_str(c, "terminationMessagePath", "/dev/termination-log");
    set_default_str(c, "terminationMessagePolicy", "File");
    set_default(c, "resources", json!({}));
    each(c, "ports", |p| set_default_str(p, "protocol", "TCP"));
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        with(c, probe, |p| {
            set_default_int(p, "timeoutSeconds", 1);
            set_default_int(p, "periodSeconds", 10);
            set_default_int(p, "successThreshold", 1);
            set_default_int(p, "failureThreshold", 3);
            with(p, "httpGet", default_http_get);
        });
    }
    with(c, "lifecycle", |l| {
        for hook in ["postStart", "preStop"] {
            with(l, hook, |h| with(h, "httpGet", default_http_get));
        }
    });
    each(c, "env", |e| {
        with(e, "valueFrom", |from| {
            with(from, "fieldRef", |f| set_default_str(f, "apiVersion", "v1"))
        });
    });
}

fn default_http_get(h: &mut Value) {
    set_default_str(h, "path", "/");
    set_default_str(h, "scheme", "HTTP");
}

fn default_downward_items(src: &mut Value) {
    each(src, "items", |item| {
        with(item, "fieldRef", |f| set_default_str(f, "apiVersion", "v1"))
    });
}

fn default_volume(v: &mut Value) {
    let has_source = v.as_object().is_some_and(|m| {
        VOLUME_SOURCES
            .iter()
            .any(|k| m.get(*k).is_some_and(|s| !s.is_null()))
    });
    if !has_source {
        set_default(v, "emptyDir", json!({}));
    }
    for key in ["secret", "configMap"] {
        with(v, key, |s| set_default(s, "defaultMode", json!(420)));
    }
    with(v, "downwardAPI", |d| {
        set_default(d, "defaultMode", json!(420));
        default_downward_items(d);
    });
    with(v, "projected", |p| {
        set_default(p, "defaultMode", json!(420));
        each(p, "sources", |s| {
            with(s, "serviceAccountToken", |t| {
                set_default(t, "expirationSeconds", json!(3600))
            });
            with(s, "downwardAPI", default_downward_items);
        });
    });
    with(v, "hostPath", |h| set_default(h, "type", json!("")));
    with(v, "iscsi", |i| set_default_str(i, "iscsiInterface", "default"));
    with(v, "image", |i| {
        let policy = pull_policy_for(str_field(i, "reference"));
        set_default_str(i, "pullPolicy", policy);
    });
    with(v, "ephemeral", |e| {
        with(e, "volumeClaimTemplate", |t| {
            with(t, "spec", |s| set_default(s, "volumeMode", json!("Filesystem")))
        })
    });
}
