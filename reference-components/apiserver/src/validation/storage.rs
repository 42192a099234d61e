//! PersistentVolumes, PersistentVolumeClaims and StorageClasses (core and storage validation).

use serde_json::Value;

use super::formats::{IMMUTABLE, dns1123_subdomain, qualified_name};
use super::json::{arr, describe_diff, get, normalized, obj, opt_str, semantic_eq, str_of, strings};
use super::meta::validate_label_selector;
use super::pod::immutable;
use super::podspec::node_selector;
use super::quantity;
use super::resources::quantity_value;
use super::volume::csi_driver_name;
use super::{FieldError, Path};

const ACCESS_MODES: &[&str] = &[
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];

/// PersistentVolume source keys in Kubernetes' order, with the name its errors use.
const PV_SOURCES: &[(&str, &str)] = &[
    ("hostPath", "hostPath"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("glusterfs", "glusterfs"),
    ("flocker", "flocker"),
    ("nfs", "nfs"),
    ("rbd", "rbd"),
    ("quobyte", "quobyte"),
    ("cephfs", "cephFS"),
    ("iscsi", "iscsi"),
    ("cinder", "cinder"),
    ("fc", "fc"),
    ("flexVolume", "flexVolume"),
    ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("azureDisk", "azureDisk"),
    ("scaleIO", "scaleIO"),
    ("local", "local"),
    ("storageos", "storageos"),
    ("csi", "csi"),
];

fn access_modes(spec: &Value, required_detail: &str, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let modes = strings(spec, "accessModes");
    if modes.is_empty() {
        errs.push(FieldError::required(path, required_detail));
    }
    let (mut rwop, mut other) = (false, false);
    for m in &modes {
        if !ACCESS_MODES.contains(&m.as_str()) {
            errs.push(FieldError::not_supported(path, m.as_str(), ACCESS_MODES));
        } else if m == "ReadWriteOncePod" {
            rwop = true;
        } else {
            other = true;
        }
    }
    if rwop && other {
        errs.push(FieldError::forbidden(
            path,
            "may not use ReadWriteOncePod with other access modes",
        ));
    }
    errs
}

fn volume_mode(spec: &Value, path: &Path) -> Vec<FieldError> {
    match opt_str(spec, "volumeMode") {
        Some(m) if m != "Block" && m != "Filesystem" => {
            vec![FieldError::not_supported(path, m, &["Block", "Filesystem"])]
        }
        _ => Vec::new(),
    }
}

fn class_name(value: Option<&str>, path: &Path) -> Vec<FieldError> {
    match value.filter(|v| !v.is_empty()) {
        Some(v) => dns1123_subdomain(v)
            .into_iter()
            .map(|m| FieldError::invalid(path, v, m))
            .collect(),
        None => Vec::new(),
    }
}

/// `ValidatePersistentVolume` (and its update rules when `old` is set).
pub(crate) fn validate_pv(pv: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let null = Value::Null;
    let spec = get(pv, "spec").unwrap_or(&null);
    let sp = Path::new("spec");
    let mut errs = access_modes(spec, "", &sp.child("accessModes"));
    let cp = sp.child("capacity");
    let capacity = obj(spec, "capacity");
    if capacity.is_none_or(|c| c.is_empty()) {
        errs.push(FieldError::required(&cp, ""));
    }
    if capacity.is_none_or(|c| !c.contains_key("storage") || c.len() > 1) {
        let value = spec.get("capacity").cloned().unwrap_or(Value::Null);
        errs.push(FieldError::not_supported(&cp, value, &["storage"]));
    }
    for (name, raw) in capacity.into_iter().flatten() {
        let Some(q) = raw.as_str().and_then(quantity::parse) else {
            errs.push(FieldError::invalid(
                &cp.key(name),
                raw.clone(),
                quantity::FORMAT_ERROR,
            ));
            continue;
        };
        if q.is_negative() {
            errs.push(FieldError::invalid(
                &cp.key(name),
                q.value(),
                "must be a valid resource quantity",
            ));
        }
        if !q.is_positive() {
            errs.push(FieldError::invalid(
                &cp.key(name),
                q.canonical(),
                "must be greater than zero",
            ));
        }
    }
    let reclaim = str_of(spec, "persistentVolumeReclaimPolicy");
    if !reclaim.is_empty() && !["Delete", "Recycle", "Retain"].contains(&reclaim) {
        let p = sp.child("persistentVolumeReclaimPolicy");
        errs.push(FieldError::not_supported(
            &p,
            reclaim,
            &["Delete", "Recycle", "Retain"],
        ));
    }
    let mut affinity = false;
    if let Some(na) = get(spec, "nodeAffinity") {
        affinity = true;
        let np = sp.child("nodeAffinity");
        match get(na, "required") {
            Some(req) => errs.extend(node_selector(req, &np.child("required"))),
            None => errs.push(FieldError::required(
                &np.child("required"),
                "must specify required node constraints",
            )),
        }
    }
    let mut count = 0;
    for (key, forbidden_name) in PV_SOURCES {
        let Some(src) = get(spec, key) else { continue };
        if count > 0 && *key != "flexVolume" {
            errs.push(FieldError::forbidden(
                &sp.child(forbidden_name),
                "may not specify more than 1 volume type",
            ));
            continue;
        }
        count += 1;
        let p = sp.child(key);
        let required = |field: &str| {
            if str_of(src, field).is_empty() {
                vec![FieldError::required(&p.child(field), "")]
            } else {
                Vec::new()
            }
        };
        match *key {
            "hostPath" | "local" => errs.extend(required("path")),
            "nfs" => {
                errs.extend(required("server"));
                errs.extend(required("path"));
                if !str_of(src, "path").starts_with('/') {
                    errs.push(FieldError::invalid(
                        &p.child("path"),
                        str_of(src, "path"),
                        "must be an absolute path",
                    ));
                }
            }
            "csi" => {
                errs.extend(csi_driver_name(str_of(src, "driver"), &p.child("driver")));
                errs.extend(required("volumeHandle"));
            }
            _ => {}
        }
        if *key == "local" && !affinity {
            errs.push(FieldError::required(
                &sp.child("nodeAffinity"),
                "Local volume requires node affinity",
            ));
        }
    }
    if count == 0 {
        errs.push(FieldError::required(&sp, "must specify a volume type"));
    }
    if let Some(hp) = get(spec, "hostPath")
        && str_of(hp, "path").trim_end_matches('/').is_empty()
        && !str_of(hp, "path").is_empty()
        && reclaim == "Recycle"
    {
        let msg = "may not be 'recycle' for a hostPath mount of '/'";
        errs.push(FieldError::forbidden(
            &sp.child("persistentVolumeReclaimPolicy"),
            msg,
        ));
    }
    errs.extend(class_name(
        opt_str(spec, "storageClassName"),
        &sp.child("storageClassName"),
    ));
    errs.extend(volume_mode(spec, &sp.child("volumeMode")));
    if let Some(old) = old {
        let old_spec = get(old, "spec").unwrap_or(&null);
        let source = |s: &Value, drop_expand_ref: bool| {
            let mut m = serde_json::Map::new();
            for (key, _) in PV_SOURCES {
                if let Some(v) = get(s, key) {
                    m.insert(key.to_string(), v.clone());
                }
            }
            if drop_expand_ref && let Some(csi) = m.get_mut("csi").and_then(Value::as_object_mut) {
                csi.remove("controllerExpandSecretRef");
            }
            Value::Object(m)
        };
        let old_has_ref = get(old_spec, "csi").is_some_and(|c| get(c, "controllerExpandSecretRef").is_some());
        let (n_src, o_src) = (source(spec, !old_has_ref), source(old_spec, false));
        if normalized(&n_src) != normalized(&o_src) {
            let msg = format!(
                "spec.persistentvolumesource is immutable after creation\n{}",
                describe_diff("spec", &o_src, &n_src)
            );
            errs.push(FieldError::forbidden(&sp.child("persistentvolumesource"), msg));
        }
        errs.extend(immutable(
            get(spec, "volumeMode"),
            get(old_spec, "volumeMode"),
            &Path::new("volumeMode"),
        ));
        if get(old_spec, "nodeAffinity").is_some()
            && !semantic_eq(get(spec, "nodeAffinity"), get(old_spec, "nodeAffinity"))
        {
            let msg = format!("{IMMUTABLE}, except for updating from beta label to GA");
            let v = spec.get("nodeAffinity").cloned().unwrap_or(Value::Null);
            errs.push(FieldError::invalid(&Path::new("nodeAffinity"), v, msg));
        }
    }
    errs
}

/// `ValidatePersistentVolumeClaimSpec` (also used for claim templates).
pub(crate) fn pvc_spec(spec: &Value, path: &Path) -> Vec<FieldError> {
    let mut errs = access_modes(
        spec,
        "at least 1 access mode is required",
        &path.child("accessModes"),
    );
    errs.extend(validate_label_selector(
        get(spec, "selector"),
        &path.child("selector"),
    ));
    let sp = path.child("resources").key("storage");
    let storage = get(spec, "resources")
        .and_then(|r| obj(r, "requests"))
        .and_then(|r| r.get("storage"));
    match storage {
        None => errs.push(FieldError::required(&sp, "")),
        Some(raw) => {
            let (q, e) = quantity_value("storage", raw, &sp);
            match q {
                Some(q) if !q.is_positive() => {
                    errs.push(FieldError::invalid(
                        &sp,
                        q.canonical(),
                        "must be greater than zero",
                    ));
                }
                _ => errs.extend(e),
            }
        }
    }
    errs.extend(class_name(
        opt_str(spec, "storageClassName"),
        &path.child("storageClassName"),
    ));
    errs.extend(volume_mode(spec, &path.child("volumeMode")));
    for field in ["dataSource", "dataSourceRef"] {
        let Some(ds) = get(spec, field) else { continue };
        let p = path.child(field);
        for f in ["name", "kind"] {
            if str_of(ds, f).is_empty() {
                errs.push(FieldError::required(&p.child(f), ""));
            }
        }
        let group = str_of(ds, "apiGroup");
        if group.is_empty() && str_of(ds, "kind") != "PersistentVolumeClaim" {
            let msg = "must be 'PersistentVolumeClaim' when referencing the default apiGroup";
            errs.push(FieldError::invalid(&p, str_of(ds, "kind"), msg));
        }
        if !group.is_empty() {
            errs.extend(
                dns1123_subdomain(group)
                    .into_iter()
                    .map(|m| FieldError::invalid(&p.child("apiGroup"), group, m)),
            );
        }
    }
    errs
}

/// `ValidatePersistentVolumeClaim` (and `ValidatePersistentVolumeClaimUpdate` with `old`).
pub(crate) fn validate_pvc(pvc: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let null = Value::Null;
    let spec = get(pvc, "spec").unwrap_or(&null);
    let sp = Path::new("spec");
    let mut errs = pvc_spec(spec, &sp);
    let Some(old) = old else { return errs };
    let old_spec = get(old, "spec").unwrap_or(&null);
    let mut new_clone = spec.clone();
    let mut old_clone = old_spec.clone();
    let set = |v: &mut Value, key: &str, value: Option<&Value>| {
        if let Some(m) = v.as_object_mut() {
            match value {
                Some(x) => m.insert(key.into(), x.clone()),
                None => m.remove(key),
            };
        }
    };
    if str_of(old_spec, "volumeName").is_empty() {
        set(&mut old_clone, "volumeName", spec.get("volumeName"));
    }
    if old_spec.get("storageClassName").is_none() && spec.get("storageClassName").is_some() {
        set(&mut new_clone, "storageClassName", None);
    }
    let bound = get(pvc, "status").is_some_and(|s| str_of(s, "phase") == "Bound");
    let storage_of = |s: &Value| {
        get(s, "resources")
            .and_then(|r| obj(r, "requests"))
            .and_then(|r| r.get("storage"))
            .cloned()
    };
    if bound {
        if let Some(req) = new_clone
            .pointer_mut("/resources/requests")
            .and_then(Value::as_object_mut)
        {
            match storage_of(old_spec) {
                Some(s) => req.insert("storage".into(), s),
                None => req.remove("storage"),
            };
        }
        set(
            &mut new_clone,
            "volumeAttributesClassName",
            old_spec.get("volumeAttributesClassName"),
        );
    }
    if normalized(&new_clone) != normalized(&old_clone) {
        let msg = format!(
            "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n{}",
            describe_diff("spec", &old_clone, &new_clone)
        );
        errs.push(FieldError::forbidden(&sp, msg));
    }
    let q = |v: Option<Value>| v.as_ref().and_then(Value::as_str).and_then(quantity::parse);
    let status_cap = get(old, "status")
        .and_then(|s| obj(s, "capacity"))
        .and_then(|c| c.get("storage"))
        .cloned();
    if let (Some(n), Some(o)) = (q(storage_of(spec)), q(storage_of(old_spec)))
        && n < o
        && q(status_cap).is_none_or(|cap| n <= cap)
    {
        let p = sp.child("resources").child("requests").child("storage");
        errs.push(FieldError::forbidden(
            &p,
            "field can not be less than status.capacity",
        ));
    }
    errs.extend(immutable(
        get(spec, "volumeMode"),
        get(old_spec, "volumeMode"),
        &Path::new("volumeMode"),
    ));
    errs
}

/// `ValidateStorageClass` (and `ValidateStorageClassUpdate` with `old`).
pub(crate) fn validate_storage_class(sc: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let provisioner = str_of(sc, "provisioner");
    let pp = Path::new("provisioner");
    if provisioner.is_empty() {
        errs.push(FieldError::required(&pp, ""));
    }
    if provisioner.len() > 63 {
        errs.push(FieldError::too_long(&pp, 63));
    }
    errs.extend(
        qualified_name(&provisioner.to_lowercase())
            .into_iter()
            .map(|m| FieldError::invalid(&pp, provisioner, m)),
    );
    let params = obj(sc, "parameters");
    let param_path = Path::new("parameters");
    let size: usize = params
        .into_iter()
        .flatten()
        .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
        .sum();
    if params.is_some_and(|p| p.len() > 512) {
        errs.push(FieldError::too_long(&param_path, 512));
    }
    if params.is_some_and(|p| p.contains_key("")) {
        errs.push(FieldError::invalid(&param_path, "", "field can not be empty."));
    }
    if size > 256 * 1024 {
        errs.push(FieldError::too_long(&param_path, 256 * 1024));
    }
    if let Some(rp) = opt_str(sc, "reclaimPolicy")
        && rp != "Delete"
        && rp != "Retain"
    {
        errs.push(FieldError::not_supported(
            &Path::new("reclaimPolicy"),
            rp,
            &["Delete", "Retain"],
        ));
    }
    match opt_str(sc, "volumeBindingMode") {
        None => errs.push(FieldError::required(&Path::new("volumeBindingMode"), "")),
        Some(m) if m != "Immediate" && m != "WaitForFirstConsumer" => {
            let supported = &["Immediate", "WaitForFirstConsumer"];
            errs.push(FieldError::not_supported(
                &Path::new("volumeBindingMode"),
                m,
                supported,
            ));
        }
        _ => {}
    }
    for (i, term) in arr(sc, "allowedTopologies").iter().enumerate() {
        for (j, expr) in arr(term, "matchLabelExpressions").iter().enumerate() {
            let p = Path::new("allowedTopologies")
                .index(i)
                .child("matchLabelExpressions")
                .index(j);
            if arr(expr, "values").is_empty() {
                errs.push(FieldError::required(&p.child("values"), ""));
            }
            let key = str_of(expr, "key");
            errs.extend(
                qualified_name(key)
                    .into_iter()
                    .map(|m| FieldError::invalid(&p.child("key"), key, m)),
            );
        }
    }
    if let Some(old) = old {
        for (field, msg) in [
            ("parameters", "updates to parameters are forbidden."),
            ("provisioner", "updates to provisioner are forbidden."),
            ("reclaimPolicy", "updates to reclaimPolicy are forbidden."),
        ] {
            if !semantic_eq(get(sc, field), get(old, field)) {
                errs.push(FieldError::forbidden(&Path::new(field), msg));
            }
        }
        let bm = Path::new("volumeBindingMode");
        errs.extend(immutable(
            get(sc, "volumeBindingMode"),
            get(old, "volumeBindingMode"),
            &bm,
        ));
    }
    errs
}
