//! `metadata` validation (apimachinery's `ValidateObjectMeta` and `ValidateObjectMetaUpdate`,
//! with core's extra finalizer check) and label selectors.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube_core::Selector;
use serde_json::Value;

use super::formats::{
    IMMUTABLE, NEGATIVE, dns1035_label, dns1123_label, dns1123_subdomain, label_value, path_segment_name,
    path_segment_prefix, qualified_name,
};
use super::json::{arr, get, int_of, str_of, strings};
use super::{FieldError, Path, go_quote};

/// `TotalAnnotationSizeLimitB`: keys and values of all annotations together.
pub(crate) const ANNOTATIONS_MAX_BYTES: usize = 256 * 1024;

/// The rule an object's name must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameRule {
    /// `NameIsDNSSubdomain`: most objects.
    Subdomain,
    /// `NameIsDNSLabel`: namespaces, statefulsets.
    Label,
    /// `NameIsDNS1035Label`: services.
    Dns1035,
    /// `IsValidPathSegmentName`: RBAC roles and bindings, legacy events.
    PathSegment,
}

impl NameRule {
    /// The problems with `name`; `prefix` is true for a `generateName` (a trailing `-` is fine).
    pub(crate) fn check(self, name: &str, prefix: bool) -> Vec<String> {
        if self == Self::PathSegment {
            return if prefix {
                path_segment_prefix(name)
            } else {
                path_segment_name(name)
            };
        }
        let name = if prefix {
            mask_trailing_dash(name)
        } else {
            name.to_string()
        };
        match self {
            Self::Label => dns1123_label(&name),
            Self::Dns1035 => dns1035_label(&name),
            _ => dns1123_subdomain(&name),
        }
    }
}

/// apimachinery's `maskTrailingDash`, quirks included (it drops two characters).
fn mask_trailing_dash(name: &str) -> String {
    if name.ends_with('-') {
        let keep = name.len().saturating_sub(2);
        format!("{}a", name.get(..keep).unwrap_or(""))
    } else {
        name.to_string()
    }
}

/// `ValidateObjectMeta`: name, namespace, generation, labels, annotations, owner references,
/// finalizers, managed fields. `builtin` adds core's check that unqualified finalizers are
/// standard ones.
pub(crate) fn validate_object_meta(
    meta: Option<&Value>,
    namespaced: bool,
    rule: NameRule,
    builtin: bool,
    path: &Path,
) -> Vec<FieldError> {
    let null = Value::Null;
    let m = meta.unwrap_or(&null);
    let mut errs = Vec::new();
    let generate_name = str_of(m, "generateName");
    if !generate_name.is_empty() {
        for msg in rule.check(generate_name, true) {
            errs.push(FieldError::invalid(
                &path.child("generateName"),
                generate_name,
                msg,
            ));
        }
    }
    let name = str_of(m, "name");
    if name.is_empty() {
        errs.push(FieldError::required(
            &path.child("name"),
            "name or generateName is required",
        ));
    } else {
        for msg in rule.check(name, false) {
            errs.push(FieldError::invalid(&path.child("name"), name, msg));
        }
    }
    let namespace = str_of(m, "namespace");
    if namespaced {
        if namespace.is_empty() {
            errs.push(FieldError::required(&path.child("namespace"), ""));
        } else {
            for msg in dns1123_label(namespace) {
                errs.push(FieldError::invalid(&path.child("namespace"), namespace, msg));
            }
        }
    } else if !namespace.is_empty() {
        errs.push(FieldError::forbidden(
            &path.child("namespace"),
            "not allowed on this type",
        ));
    }
    if let Some(g) = int_of(m, "generation").filter(|g| *g < 0) {
        errs.push(FieldError::invalid(&path.child("generation"), g, NEGATIVE));
    }
    errs.extend(common_meta(m, builtin, path));
    errs
}

/// The checks `ValidateObjectMeta` and `ValidateObjectMetaUpdate` share.
fn common_meta(m: &Value, builtin: bool, path: &Path) -> Vec<FieldError> {
    let mut errs = validate_labels(get(m, "labels"), &path.child("labels"));
    errs.extend(validate_annotations(
        get(m, "annotations"),
        &path.child("annotations"),
    ));
    errs.extend(validate_owner_references(
        arr(m, "ownerReferences"),
        &path.child("ownerReferences"),
    ));
    let fin_path = path.child("finalizers");
    let finalizers = strings(m, "finalizers");
    for f in &finalizers {
        for msg in qualified_name(f) {
            errs.push(FieldError::invalid(&fin_path, f.as_str(), msg));
        }
    }
    if finalizers.iter().any(|f| f == "orphan") && finalizers.iter().any(|f| f == "foregroundDeletion") {
        let msg = "finalizer orphan and foregroundDeletion cannot be both set";
        errs.push(FieldError::invalid(&fin_path, arr(m, "finalizers").to_vec(), msg));
    }
    if builtin {
        for (i, f) in finalizers.iter().enumerate() {
            errs.extend(kube_finalizer_name(f, &fin_path.index(i)));
        }
    }
    for (i, entry) in arr(m, "managedFields").iter().enumerate() {
        let p = path.child("managedFields").index(i);
        let op = str_of(entry, "operation");
        if op != "Apply" && op != "Update" {
            errs.push(FieldError::invalid(
                &p.child("operation"),
                op,
                "must be `Apply` or `Update`",
            ));
        }
        let ft = str_of(entry, "fieldsType");
        if !ft.is_empty() && ft != "FieldsV1" {
            errs.push(FieldError::invalid(
                &p.child("fieldsType"),
                ft,
                "must be `FieldsV1`",
            ));
        }
        if str_of(entry, "manager").len() > 128 {
            errs.push(FieldError::too_long(&p.child("manager"), 128));
        }
        if str_of(entry, "subresource").len() > 256 {
            errs.push(FieldError::too_long(&p.child("subresource"), 256));
        }
    }
    errs
}

/// core's `validateKubeFinalizerName`: an unqualified finalizer must be a standard one.
pub(crate) fn kube_finalizer_name(f: &str, path: &Path) -> Vec<FieldError> {
    if !f.contains('/') && !matches!(f, "kubernetes" | "orphan" | "foregroundDeletion") {
        let msg = "name is neither a standard finalizer name nor is it fully qualified";
        return vec![FieldError::invalid(path, f, msg)];
    }
    Vec::new()
}

/// `ValidateLabels`: keys are qualified names, values label values; errors name the map.
pub(crate) fn validate_labels(labels: Option<&Value>, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (k, v) in labels.and_then(Value::as_object).into_iter().flatten() {
        for msg in qualified_name(k) {
            errs.push(FieldError::invalid(path, k.as_str(), msg));
        }
        let v = v.as_str().unwrap_or("");
        for msg in label_value(v) {
            errs.push(FieldError::invalid(path, v, msg));
        }
    }
    errs
}

/// `ValidateAnnotations`: keys are qualified names (case-insensitively), 256 KiB in total.
pub(crate) fn validate_annotations(annotations: Option<&Value>, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut size = 0;
    for (k, v) in annotations.and_then(Value::as_object).into_iter().flatten() {
        for msg in qualified_name(&k.to_lowercase()) {
            errs.push(FieldError::invalid(path, k.as_str(), msg));
        }
        size += k.len() + v.as_str().map_or(0, str::len);
    }
    if size > ANNOTATIONS_MAX_BYTES {
        errs.push(FieldError::too_long(path, ANNOTATIONS_MAX_BYTES));
    }
    errs
}

/// `ValidateOwnerReferences` (its field paths have no index, as in Kubernetes).
fn validate_owner_references(refs: &[Value], path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut controller: Option<String> = None;
    for r in refs {
        let api_version = str_of(r, "apiVersion");
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let kind = str_of(r, "kind");
        if version.is_empty() {
            errs.push(FieldError::invalid(
                &path.child("apiVersion"),
                api_version,
                "version must not be empty",
            ));
        }
        for (field, value) in [
            ("kind", kind),
            ("name", str_of(r, "name")),
            ("uid", str_of(r, "uid")),
        ] {
            if value.is_empty() {
                errs.push(FieldError::invalid(
                    &path.child(field),
                    value,
                    "must not be empty",
                ));
            }
        }
        if group.is_empty() && version == "v1" && kind == "Event" {
            errs.push(FieldError::invalid(
                path,
                r.clone(),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if r.get("controller").and_then(Value::as_bool) == Some(true) {
            let this = format!("{kind}/{}", str_of(r, "name"));
            match &controller {
                Some(first) => {
                    let msg = format!(
                        "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {this}"
                    );
                    errs.push(FieldError::invalid(path, refs.to_vec(), msg));
                }
                None => controller = Some(this),
            }
        }
    }
    errs
}

/// `ValidateObjectMetaUpdate`: identity fields are immutable, generation never decreases, no
/// finalizers are added once deletion started. Fields the apiserver resets before validating
/// (an omitted `uid` or `creationTimestamp`) are accepted.
pub(crate) fn validate_object_meta_update(
    new: Option<&Value>,
    old: Option<&Value>,
    path: &Path,
) -> Vec<FieldError> {
    let null = Value::Null;
    let (n, o) = (new.unwrap_or(&null), old.unwrap_or(&null));
    let mut errs = Vec::new();
    if get(o, "deletionTimestamp").is_some() {
        let old_fin = strings(o, "finalizers");
        let mut extra: Vec<String> = strings(n, "finalizers")
            .into_iter()
            .filter(|f| !old_fin.contains(f))
            .collect();
        extra.sort();
        extra.dedup();
        if !extra.is_empty() {
            let list: Vec<String> = extra.iter().map(|f| go_quote(f)).collect();
            let msg = format!(
                "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                list.join(", ")
            );
            errs.push(FieldError::forbidden(&path.child("finalizers"), msg));
        }
    }
    if let (Some(ng), Some(og)) = (int_of(n, "generation"), int_of(o, "generation"))
        && ng < og
    {
        errs.push(FieldError::invalid(
            &path.child("generation"),
            ng,
            "must not be decremented",
        ));
    }
    for field in ["name", "namespace"] {
        if str_of(n, field) != str_of(o, field) {
            errs.push(FieldError::invalid(
                &path.child(field),
                str_of(n, field),
                IMMUTABLE,
            ));
        }
    }
    let uid = str_of(n, "uid");
    if !uid.is_empty() && uid != str_of(o, "uid") {
        errs.push(FieldError::invalid(&path.child("uid"), uid, IMMUTABLE));
    }
    if let (Some(nt), Some(ot)) = (get(n, "creationTimestamp"), get(o, "creationTimestamp"))
        && nt != ot
    {
        errs.push(FieldError::invalid(
            &path.child("creationTimestamp"),
            nt.clone(),
            IMMUTABLE,
        ));
    }
    for field in ["deletionTimestamp", "deletionGracePeriodSeconds"] {
        if let (Some(nv), None) = (get(n, field), get(o, field)) {
            errs.push(FieldError::invalid(&path.child(field), nv.clone(), IMMUTABLE));
        }
    }
    errs.extend(common_meta(n, false, path));
    errs
}

/// `ValidateLabelSelector` with invalid label values rejected (the strict mode workloads use).
pub(crate) fn validate_label_selector(selector: Option<&Value>, path: &Path) -> Vec<FieldError> {
    let Some(sel) = selector.filter(|s| !s.is_null()) else {
        return Vec::new();
    };
    let mut errs = validate_labels(get(sel, "matchLabels"), &path.child("matchLabels"));
    for (i, expr) in arr(sel, "matchExpressions").iter().enumerate() {
        let p = path.child("matchExpressions").index(i);
        let values = strings(expr, "values");
        let op = str_of(expr, "operator");
        match op {
            "In" | "NotIn" if values.is_empty() => {
                let msg = "must be specified when `operator` is 'In' or 'NotIn'";
                errs.push(FieldError::required(&p.child("values"), msg));
            }
            "In" | "NotIn" => {}
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                let msg = "may not be specified when `operator` is 'Exists' or 'DoesNotExist'";
                errs.push(FieldError::forbidden(&p.child("values"), msg));
            }
            "Exists" | "DoesNotExist" => {}
            _ => errs.push(FieldError::invalid(
                &p.child("operator"),
                op,
                "not a valid selector operator",
            )),
        }
        let key = str_of(expr, "key");
        for msg in qualified_name(key) {
            errs.push(FieldError::invalid(&p.child("key"), key, msg));
        }
        for (j, v) in values.iter().enumerate() {
            for msg in label_value(v) {
                errs.push(FieldError::invalid(&p.child("values").index(j), v.as_str(), msg));
            }
        }
    }
    errs
}

/// `LabelSelectorAsSelector`: a missing selector selects nothing, an empty one everything;
/// `Err` when it cannot be converted (bad operator, key or value).
pub(crate) fn as_selector(selector: Option<&Value>) -> Result<Selector, ()> {
    match selector.filter(|s| !s.is_null()) {
        None => Ok(Selector::nothing()),
        Some(v) => {
            let sel: LabelSelector = serde_json::from_value(v.clone()).map_err(|_| ())?;
            Selector::try_from(&sel).map_err(|_| ())
        }
    }
}

/// Whether a `LabelSelector` value has neither `matchLabels` nor `matchExpressions`.
pub(crate) fn selector_is_empty(selector: &Value) -> bool {
    selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .is_none_or(|m| m.is_empty())
        && arr(selector, "matchExpressions").is_empty()
}
