//! Pod volumes: core validation's `ValidateVolumes` and the source checks it runs.

use std::collections::BTreeMap;

use serde_json::Value;

use super::container::{object_field_selector, pull_policy, resource_field_selector};
use super::formats::{dns1123_label, dns1123_subdomain};
use super::json::{arr, get, int_of, opt_str, str_of};
use super::quantity;
use super::{FieldError, Path};
const FILE_MODE_ERROR: &str = "must be a number between 0 and 0777 (octal), both inclusive";

/// What validation needs to know about a declared volume.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct VolumeInfo {
    /// Backed by a claim (`persistentVolumeClaim`, `ephemeral`, or a StatefulSet claim template).
    pub pvc: bool,
    /// An `image` volume (no `subPath` allowed).
    pub image: bool,
}

/// The volume source keys, in the order Kubernetes checks them, with the field name Kubernetes
/// uses in its "more than 1 volume type" errors (quirks included).
const VOLUME_TYPES: &[(&str, &str)] = &[
    ("emptyDir", "emptyDir"),
    ("hostPath", "hostPath"),
    ("gitRepo", "gitRepo"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("secret", "secret"),
    ("nfs", "nfs"),
    ("iscsi", "iscsi"),
    ("glusterfs", "glusterfs"),
    ("flocker", "flocker"),
    ("persistentVolumeClaim", "persistentVolumeClaim"),
    ("rbd", "rbd"),
    ("cinder", "cinder"),
    ("cephfs", "cephFS"),
    ("quobyte", "quobyte"),
    ("downwardAPI", "downwarAPI"),
    ("fc", "fc"),
    ("flexVolume", "flexVolume"),
    ("configMap", "configMap"),
    ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("azureDisk", "azureDisk"),
    ("storageos", "storageos"),
    ("projected", "projected"),
    ("scaleIO", "scaleIO"),
    ("csi", "csi"),
    ("ephemeral", "ephemeral"),
    ("image", "image"),
];

/// `ValidateVolumes`: unique DNS-label names and exactly one valid source each.
pub(crate) fn validate_volumes(
    vols: &[Value],
    is_pod: bool,
    path: &Path,
) -> (BTreeMap<String, VolumeInfo>, Vec<FieldError>) {
    let mut names = BTreeMap::new();
    let mut errs = Vec::new();
    for (i, vol) in vols.iter().enumerate() {
        let idx = path.index(i);
        let name = str_of(vol, "name");
        let mut el = validate_volume_source(vol, is_pod, &idx);
        if name.is_empty() {
            el.push(FieldError::required(&idx.child("name"), ""));
        } else {
            el.extend(
                dns1123_label(name)
                    .into_iter()
                    .map(|m| FieldError::invalid(&idx.child("name"), name, m)),
            );
        }
        if names.contains_key(name) {
            el.push(FieldError::duplicate(&idx.child("name"), name));
        }
        if el.is_empty() {
            let info = VolumeInfo {
                pvc: get(vol, "persistentVolumeClaim").is_some() || get(vol, "ephemeral").is_some(),
                image: get(vol, "image").is_some(),
            };
            names.insert(name.to_string(), info);
        } else {
            errs.extend(el);
        }
    }
    (names, errs)
}

fn validate_volume_source(vol: &Value, is_pod: bool, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut count = 0;
    // The sources this volume names, in `VOLUME_TYPES` order (which decides the one the "more
    // than 1" error names): from the object's few keys rather than a lookup per known type.
    let mut named: Vec<usize> = vol
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, v)| !v.is_null())
        .filter_map(|(k, _)| VOLUME_TYPES.iter().position(|(t, _)| t == k))
        .collect();
    named.sort_unstable();
    for (key, forbidden_name) in named.into_iter().map(|i| &VOLUME_TYPES[i]) {
        let Some(src) = get(vol, key) else { continue };
        if count > 0 {
            errs.push(FieldError::forbidden(
                &path.child(forbidden_name),
                "may not specify more than 1 volume type",
            ));
            continue;
        }
        count += 1;
        let p = path.child(key);
        let required = |field: &str, errs: &mut Vec<FieldError>| {
            if str_of(src, field).is_empty() {
                errs.push(FieldError::required(&p.child(field), ""));
            }
        };
        match *key {
            "emptyDir"
                if opt_str(src, "sizeLimit")
                    .and_then(quantity::parse)
                    .is_some_and(|q| q.is_negative()) =>
            {
                let msg = "SizeLimit field must be a valid resource quantity";
                errs.push(FieldError::forbidden(&p.child("sizeLimit"), msg));
            }
            "hostPath" => {
                if str_of(src, "path").is_empty() {
                    errs.push(FieldError::required(&p.child("path"), ""));
                } else {
                    errs.extend(no_backsteps(str_of(src, "path"), &p.child("path")));
                    if let Some(t) = opt_str(src, "type") {
                        const TYPES: &[&str] = &[
                            "",
                            "BlockDevice",
                            "CharDevice",
                            "Directory",
                            "DirectoryOrCreate",
                            "File",
                            "FileOrCreate",
                            "Socket",
                        ];
                        if !TYPES.contains(&t) {
                            errs.push(FieldError::not_supported(&p.child("type"), t, TYPES));
                        }
                    }
                }
            }
            "gitRepo" => {
                required("repository", &mut errs);
                errs.extend(local_descending_path(
                    str_of(src, "directory"),
                    &p.child("directory"),
                ));
            }
            "secret" => {
                required("secretName", &mut errs);
                errs.extend(file_mode(src, "defaultMode", &p));
                for (j, item) in arr(src, "items").iter().enumerate() {
                    errs.extend(key_to_path(item, &p.child("items").index(j)));
                }
            }
            "configMap" => {
                required("name", &mut errs);
                errs.extend(file_mode(src, "defaultMode", &p));
                for (j, item) in arr(src, "items").iter().enumerate() {
                    errs.extend(key_to_path(item, &p.child("items").index(j)));
                }
            }
            "persistentVolumeClaim" => required("claimName", &mut errs),
            "nfs" => {
                required("server", &mut errs);
                required("path", &mut errs);
                if !str_of(src, "path").starts_with('/') {
                    errs.push(FieldError::invalid(
                        &p.child("path"),
                        str_of(src, "path"),
                        "must be an absolute path",
                    ));
                }
            }
            "downwardAPI" => {
                errs.extend(file_mode(src, "defaultMode", &p));
                for item in arr(src, "items") {
                    errs.extend(downward_api_file(item, &p));
                }
            }
            "projected" => {
                errs.extend(file_mode(src, "defaultMode", &p));
                errs.extend(projected_sources(src, &p));
            }
            "csi" => errs.extend(csi_driver_name(str_of(src, "driver"), &p.child("driver"))),
            "ephemeral" if get(src, "volumeClaimTemplate").is_none() => {
                errs.push(FieldError::required(&p.child("volumeClaimTemplate"), ""));
            }
            "image" => {
                if is_pod {
                    required("reference", &mut errs);
                }
                errs.extend(pull_policy(str_of(src, "pullPolicy"), &p.child("pullPolicy")));
            }
            _ => {}
        }
    }
    if count == 0 {
        errs.push(FieldError::required(path, "must specify a volume type"));
    }
    errs
}

fn file_mode(src: &Value, key: &str, path: &Path) -> Vec<FieldError> {
    match int_of(src, key) {
        Some(m) if !(0..=0o777).contains(&m) => {
            vec![FieldError::invalid(&path.child(key), m, FILE_MODE_ERROR)]
        }
        _ => Vec::new(),
    }
}

fn key_to_path(kp: &Value, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if str_of(kp, "key").is_empty() {
        errs.push(FieldError::required(&path.child("key"), ""));
    }
    if str_of(kp, "path").is_empty() {
        errs.push(FieldError::required(&path.child("path"), ""));
    }
    errs.extend(local_non_reserved_path(str_of(kp, "path"), &path.child("path")));
    errs.extend(file_mode(kp, "mode", path));
    errs
}

fn downward_api_file(file: &Value, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if str_of(file, "path").is_empty() {
        errs.push(FieldError::required(&path.child("path"), ""));
    }
    errs.extend(local_non_reserved_path(str_of(file, "path"), &path.child("path")));
    match (get(file, "fieldRef"), get(file, "resourceFieldRef")) {
        (Some(f), r) => {
            let allowed = [
                "metadata.annotations",
                "metadata.labels",
                "metadata.name",
                "metadata.namespace",
                "metadata.uid",
            ];
            errs.extend(object_field_selector(f, &allowed, &path.child("fieldRef")));
            if r.is_some() {
                let msg = "fieldRef and resourceFieldRef can not be specified simultaneously";
                errs.push(FieldError::invalid(path, "resource", msg));
            }
        }
        (None, Some(r)) => errs.extend(resource_field_selector(r, true, &path.child("resourceFieldRef"))),
        (None, None) => errs.push(FieldError::required(
            path,
            "one of fieldRef and resourceFieldRef is required",
        )),
    }
    errs.extend(file_mode(file, "mode", path));
    errs
}

fn projected_sources(src: &Value, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, source) in arr(src, "sources").iter().enumerate() {
        let sp = path.child("sources").index(i);
        let mut n = 0;
        for kind in ["secret", "configMap"] {
            if let Some(s) = get(source, kind) {
                n += 1;
                if str_of(s, "name").is_empty() {
                    errs.push(FieldError::required(&sp.child(kind).child("name"), ""));
                }
                for (j, item) in arr(s, "items").iter().enumerate() {
                    errs.extend(key_to_path(item, &sp.child(kind).child("items").index(j)));
                }
            }
        }
        if let Some(d) = get(source, "downwardAPI") {
            n += 1;
            for item in arr(d, "items") {
                errs.extend(downward_api_file(item, &sp.child("downwardAPI")));
            }
        }
        if let Some(t) = get(source, "serviceAccountToken") {
            n += 1;
            let tp = sp.child("serviceAccountToken");
            let exp = int_of(t, "expirationSeconds").unwrap_or(3600);
            if exp < 600 {
                let msg = "may not specify a duration less than 10 minutes";
                errs.push(FieldError::invalid(&tp.child("expirationSeconds"), exp, msg));
            }
            if exp > 1 << 32 {
                let msg = "may not specify a duration larger than 2^32 seconds";
                errs.push(FieldError::invalid(&tp.child("expirationSeconds"), exp, msg));
            }
            if str_of(t, "path").is_empty() {
                errs.push(FieldError::required(&path.child("path"), ""));
            } else {
                errs.extend(local_non_reserved_path(str_of(t, "path"), &path.child("path")));
            }
        }
        if get(source, "clusterTrustBundle").is_some() || get(source, "podCertificate").is_some() {
            n += 1;
        }
        if n > 1 {
            errs.push(FieldError::forbidden(
                &sp,
                "may not specify more than 1 volume type per source",
            ));
        }
    }
    errs
}

/// `ValidateCSIDriverName`.
pub(crate) fn csi_driver_name(driver: &str, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if driver.is_empty() {
        errs.push(FieldError::required(path, ""));
    }
    if driver.len() > 63 {
        errs.push(FieldError::too_long(path, 63));
    }
    errs.extend(
        dns1123_subdomain(&driver.to_lowercase())
            .into_iter()
            .map(|m| FieldError::invalid(path, driver, m)),
    );
    errs
}

pub(crate) fn no_backsteps(p: &str, path: &Path) -> Vec<FieldError> {
    if p.replace('\\', "/").split('/').any(|s| s == "..") {
        vec![FieldError::invalid(path, p, "must not contain '..'")]
    } else {
        Vec::new()
    }
}

/// `validateLocalDescendingPath`: relative and without `..` elements.
pub(crate) fn local_descending_path(p: &str, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if p.starts_with('/') {
        errs.push(FieldError::invalid(path, p, "must be a relative path"));
    }
    errs.extend(no_backsteps(p, path));
    errs
}

fn local_non_reserved_path(p: &str, path: &Path) -> Vec<FieldError> {
    let mut errs = local_descending_path(p, path);
    if p.starts_with("..") && !p.starts_with("../") {
        errs.push(FieldError::invalid(path, p, "must not start with '..'"));
    }
    errs
}
