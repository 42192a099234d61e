//! Validation of objects as kube-apiserver does it, with its field paths and messages.
//!
//! [`validate`] checks an object (and, on update, the object it replaces) and returns every
//! problem as a [`FieldError`]. [`FieldError::to_cause`] renders one the way Kubernetes does in
//! `Status.details.causes`, and [`invalid_message`] builds the `Status.message` of the 422
//! `Invalid` answer (`Pod "web" is invalid: spec.containers[0].image: Required value`).
//!
//! Validation runs on the JSON the apiserver stores, after [`crate::defaults::default`] (like
//! Kubernetes, it assumes defaults are applied: an undefaulted pod lacks `restartPolicy` and is
//! rejected). The rules are ported from `pkg/apis/*/validation` and apimachinery's
//! `ValidateObjectMeta`; kinds this module does not know (custom resources) get metadata
//! validation only.
//!
//! ```
//! use reference_apiserver::validation::{validate, FieldErrorKind};
//! use serde_json::json;
//!
//! let cm = json!({"metadata": {"name": "Bad_Name", "namespace": "default"}, "data": {"a b": "x"}});
//! let errors = validate("", "ConfigMap", true, &cm, None);
//! assert_eq!(errors[0].field, "metadata.name");
//! assert!(matches!(errors[0].kind, FieldErrorKind::Invalid(_)));
//! assert_eq!(errors[1].to_cause().reason, "FieldValueInvalid");
//! ```

mod apps;
mod container;
mod corev1;
mod crd;
pub(crate) mod formats;
mod json;
mod meta;
mod other;
mod pod;
mod podspec;
pub(crate) mod quantity;
mod resources;
pub mod schema;
mod service;
mod storage;
#[cfg(test)]
mod tests;
mod volume;

use std::fmt;

use kube_core::status::StatusCause;
use serde_json::Value;

use self::meta::NameRule;

/// One validation problem: which field, what kind of problem, and Kubernetes' detail text.
///
/// This is apimachinery's `field.Error`. The rejected value, when Kubernetes prints one, lives
/// in the [`FieldErrorKind`]; for [`FieldErrorKind::NotSupported`] and
/// [`FieldErrorKind::TooMany`], whose payload is the allowed set or bound, `detail` holds the
/// rejected value as Kubernetes renders it (for example `"Sometimes"` with its quotes, or `1001`).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// The field path, e.g. `spec.containers[0].image` or `metadata.labels`.
    pub field: String,
    /// What is wrong, with the bad value or the allowed values.
    pub kind: FieldErrorKind,
    /// Kubernetes' detail text (printed after the value), e.g. `must be no more than 63 characters`.
    pub detail: String,
}

/// The kind of a [`FieldError`], one for each Kubernetes `CauseType` used by validation.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldErrorKind {
    /// `FieldValueRequired`: a required value is missing.
    Required,
    /// `FieldValueInvalid`: the value (carried here) is malformed.
    Invalid(Value),
    /// `FieldValueTypeInvalid`: the value (carried here) is of the wrong type.
    TypeInvalid(Value),
    /// `FieldValueForbidden`: the value is well formed but not allowed here.
    Forbidden,
    /// `FieldValueNotSupported`: the value is not one of these supported values.
    NotSupported(Vec<String>),
    /// `FieldValueTooLong`: longer than this many bytes.
    TooLong(usize),
    /// `FieldValueTooMany`: more than this many items.
    TooMany(usize),
    /// `FieldValueDuplicate`: this value (carried here) appears twice.
    Duplicate(Value),
    /// `FieldValueNotFound`: the value (carried here) refers to something that does not exist,
    /// e.g. a volume mount naming no volume.
    NotFound(Value),
}

impl FieldErrorKind {
    /// The `StatusCause.reason` (Kubernetes' `CauseType`), e.g. `FieldValueRequired`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Required => "FieldValueRequired",
            Self::Invalid(_) => "FieldValueInvalid",
            Self::TypeInvalid(_) => "FieldValueTypeInvalid",
            Self::Forbidden => "FieldValueForbidden",
            Self::NotSupported(_) => "FieldValueNotSupported",
            Self::TooLong(_) => "FieldValueTooLong",
            Self::TooMany(_) => "FieldValueTooMany",
            Self::Duplicate(_) => "FieldValueDuplicate",
            Self::NotFound(_) => "FieldValueNotFound",
        }
    }
}

impl FieldError {
    /// `field.Required`: the value is missing; `detail` may be empty.
    pub fn required(path: &Path, detail: impl Into<String>) -> Self {
        Self::new(path, FieldErrorKind::Required, detail)
    }

    /// `field.Invalid`: `value` is malformed, `detail` says why.
    pub fn invalid(path: &Path, value: impl Into<Value>, detail: impl Into<String>) -> Self {
        Self::new(path, FieldErrorKind::Invalid(value.into()), detail)
    }

    /// `field.TypeInvalid`: `value` is of the wrong type, `detail` says which it must be.
    pub fn type_invalid(path: &Path, value: impl Into<Value>, detail: impl Into<String>) -> Self {
        Self::new(path, FieldErrorKind::TypeInvalid(value.into()), detail)
    }

    /// `field.Forbidden`.
    pub fn forbidden(path: &Path, detail: impl Into<String>) -> Self {
        Self::new(path, FieldErrorKind::Forbidden, detail)
    }

    /// `field.NotSupported`: `value` is not one of `supported` (kept in the given order).
    pub fn not_supported(path: &Path, value: impl Into<Value>, supported: &[&str]) -> Self {
        let kind = FieldErrorKind::NotSupported(supported.iter().map(|s| s.to_string()).collect());
        Self::new(path, kind, render_value(&value.into()))
    }

    /// `field.TooLong`: longer than `max` bytes.
    pub fn too_long(path: &Path, max: usize) -> Self {
        Self::new(path, FieldErrorKind::TooLong(max), "")
    }

    /// `field.TooMany`: `actual` items where at most `max` are allowed.
    pub fn too_many(path: &Path, actual: usize, max: usize) -> Self {
        Self::new(path, FieldErrorKind::TooMany(max), actual.to_string())
    }

    /// `field.Duplicate`: `value` appears more than once.
    pub fn duplicate(path: &Path, value: impl Into<Value>) -> Self {
        Self::new(path, FieldErrorKind::Duplicate(value.into()), "")
    }

    /// `field.NotFound`: `value` refers to something that does not exist.
    pub fn not_found(path: &Path, value: impl Into<Value>) -> Self {
        Self::new(path, FieldErrorKind::NotFound(value.into()), "")
    }

    fn new(path: &Path, kind: FieldErrorKind, detail: impl Into<String>) -> Self {
        Self {
            field: path.to_string(),
            kind,
            detail: detail.into(),
        }
    }

    /// The message without the field, exactly as Kubernetes' `ErrorBody()`, e.g.
    /// `Invalid value: "Foo": a lowercase RFC 1123 subdomain must consist of ...`.
    pub fn body(&self) -> String {
        let with_detail = |head: String| {
            if self.detail.is_empty() {
                head
            } else {
                format!("{head}: {}", self.detail)
            }
        };
        match &self.kind {
            FieldErrorKind::Required => with_detail("Required value".into()),
            FieldErrorKind::Forbidden => with_detail("Forbidden".into()),
            FieldErrorKind::Invalid(v) | FieldErrorKind::TypeInvalid(v) => {
                with_detail(format!("Invalid value: {}", render_value(v)))
            }
            FieldErrorKind::Duplicate(v) => with_detail(format!("Duplicate value: {}", render_value(v))),
            FieldErrorKind::NotFound(v) => with_detail(format!("Not found: {}", render_value(v))),
            FieldErrorKind::TooLong(max) => {
                let unit = if *max == 1 { "byte" } else { "bytes" };
                with_detail(format!("Too long: may not be more than {max} {unit}"))
            }
            FieldErrorKind::NotSupported(supported) => {
                let mut s = String::from("Unsupported value");
                if !self.detail.is_empty() {
                    s = format!("{s}: {}", self.detail);
                }
                if !supported.is_empty() {
                    let quoted: Vec<String> = supported.iter().map(|v| go_quote(v)).collect();
                    s = format!("{s}: supported values: {}", quoted.join(", "));
                }
                s
            }
            FieldErrorKind::TooMany(max) => {
                let unit = if *max == 1 { "item" } else { "items" };
                let mut s = String::from("Too many");
                if !self.detail.is_empty() {
                    s = format!("{s}: {}", self.detail);
                }
                format!("{s}: must have at most {max} {unit}")
            }
        }
    }

    /// This problem as a `metav1.StatusCause`: Kubernetes' reason, message and field.
    pub fn to_cause(&self) -> StatusCause {
        StatusCause {
            reason: self.kind.reason().into(),
            message: self.body(),
            field: self.field.clone(),
        }
    }
}

impl fmt::Display for FieldError {
    /// `field: body`, as Kubernetes' `Error()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

impl std::error::Error for FieldError {}

/// A field path, rendered like apimachinery's `field.Path`: `spec.containers[0].ports[1]`,
/// `metadata.annotations[example.com/key]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Path(String);

impl Path {
    /// A path starting at the top-level field `name` (`""` is the object itself).
    pub fn new(name: &str) -> Self {
        Self(name.to_string())
    }

    /// `self.name`.
    pub fn child(&self, name: &str) -> Self {
        if self.0.is_empty() {
            Self(name.to_string())
        } else {
            self.joined(&[".", name])
        }
    }

    /// `self[index]`.
    pub fn index(&self, index: usize) -> Self {
        // Paths are built for every field validated, errors or not: no formatting machinery.
        let mut buf = [0; 20];
        self.joined(&["[", crate::object::decimal(index as u64, &mut buf), "]"])
    }

    /// `self[key]` (a map key, unquoted as Kubernetes prints it).
    pub fn key(&self, key: &str) -> Self {
        self.joined(&["[", key, "]"])
    }

    fn joined(&self, parts: &[&str]) -> Self {
        let mut s = String::with_capacity(self.0.len() + parts.iter().map(|p| p.len()).sum::<usize>());
        s.push_str(&self.0);
        for part in parts {
            s.push_str(part);
        }
        Self(s)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Renders a rejected value as Kubernetes 1.35 does in messages: strings Go-quoted, numbers and
/// booleans bare, anything else as compact JSON.
pub fn render_value(value: &Value) -> String {
    match value {
        Value::String(s) => go_quote(s),
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// Go's `%q` for a string: double quotes, `\"`, `\\`, and escapes for control characters.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The message of the 422 `Invalid` status for these errors, as Kubernetes' `NewInvalid`:
/// `Deployment.apps "web" is invalid: [spec.replicas: ..., spec.selector: ...]` (a single error
/// is not bracketed; identical messages are listed once).
pub fn invalid_message(group: &str, kind: &str, name: &str, errors: &[FieldError]) -> String {
    let qualified = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    let mut msgs: Vec<String> = Vec::new();
    for e in errors {
        let m = e.to_string();
        if !msgs.contains(&m) {
            msgs.push(m);
        }
    }
    let aggregate = match msgs.len() {
        0 => String::new(),
        1 => msgs.remove(0),
        _ => format!("[{}]", msgs.join(", ")),
    };
    format!("{qualified} {} is invalid: {aggregate}", go_quote(name))
}

/// Validates `obj` of `group`/`kind` (its stored JSON, defaults applied) as kube-apiserver does
/// on create (`old` is `None`) or update (`old` is the stored object being replaced).
///
/// `namespaced` is the resource's scope: namespaced objects need `metadata.namespace`, cluster
/// objects must not have one (clear it before validating, as Kubernetes' `BeforeCreate` does).
/// `old` is defaulted (on a copy) before the comparison, as Kubernetes defaults what it reads
/// from storage. Returns every problem found (identical ones once), in Kubernetes' order where
/// it matters.
pub fn validate(
    group: &str,
    kind: &str,
    namespaced: bool,
    obj: &Value,
    old: Option<&Value>,
) -> Vec<FieldError> {
    // The stored object is read back with today's defaults, as Kubernetes decodes it.
    let old_defaulted = old.map(|o| {
        let mut o = o.clone();
        crate::defaults::default(group, kind, &mut o);
        o
    });
    let old = old_defaulted.as_ref();
    let meta_path = Path::new("metadata");
    let mut errs = Vec::new();
    if let Some(old) = old {
        errs.extend(meta::validate_object_meta_update(
            obj.get("metadata"),
            old.get("metadata"),
            &meta_path,
        ));
    }
    let builtin = is_builtin(group, kind);
    let rule = name_rule(group, kind);
    // core/v1 Events keep their legacy, lenient validation (no ObjectMeta checks of its own).
    let legacy_event = group.is_empty() && kind == "Event";
    if !legacy_event {
        errs.extend(meta::validate_object_meta(
            obj.get("metadata"),
            namespaced,
            rule,
            builtin,
            &meta_path,
        ));
    }
    errs.extend(match group {
        "" => corev1::validate(kind, obj, old),
        "apps" => apps::validate(kind, obj, old),
        _ => other::validate(group, kind, obj, old),
    });
    if legacy_event && errs.is_empty() {
        // rest.BeforeCreate's generic metadata check, run once the strategy passed.
        errs.extend(meta::validate_object_meta(
            obj.get("metadata"),
            namespaced,
            rule,
            false,
            &meta_path,
        ));
    }
    dedupe(errs)
}

fn dedupe(errs: Vec<FieldError>) -> Vec<FieldError> {
    let mut out: Vec<FieldError> = Vec::with_capacity(errs.len());
    for e in errs {
        if !out.contains(&e) {
            out.push(e);
        }
    }
    out
}

fn is_builtin(group: &str, kind: &str) -> bool {
    match group {
        "" => matches!(
            kind,
            "Pod"
                | "Node"
                | "Namespace"
                | "Service"
                | "Endpoints"
                | "ConfigMap"
                | "Secret"
                | "ServiceAccount"
                | "Event"
                | "ResourceQuota"
                | "LimitRange"
                | "PersistentVolume"
                | "PersistentVolumeClaim"
                | "ReplicationController"
                | "PodTemplate"
        ),
        "apps"
        | "coordination.k8s.io"
        | "discovery.k8s.io"
        | "events.k8s.io"
        | "autoscaling"
        | "networking.k8s.io"
        | "storage.k8s.io"
        | "rbac.authorization.k8s.io"
        | "apiextensions.k8s.io" => true,
        _ => false,
    }
}

fn name_rule(group: &str, kind: &str) -> NameRule {
    match (group, kind) {
        ("", "Namespace") | ("apps", "StatefulSet") => NameRule::Label,
        ("", "Service") => NameRule::Dns1035,
        ("", "Event") | ("rbac.authorization.k8s.io", _) => NameRule::PathSegment,
        _ => NameRule::Subdomain,
    }
}
