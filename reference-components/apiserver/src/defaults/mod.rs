//! Defaulting as kube-apiserver does it when it decodes a v1 object: `restartPolicy: Always`,
//! `imagePullPolicy` from the image tag, `strategy.rollingUpdate.maxSurge: 25%`,
//! `sessionAffinity: None`, and so on.
//!
//! [`default`] edits the stored JSON in place and only ever adds missing fields, so unknown
//! fields survive and applying it twice changes nothing. Besides the scheme defaulters
//! (`pkg/apis/*/v1/defaults.go` and the `+default` markers), it applies the few values
//! Kubernetes sets elsewhere on every create and that clients expect to read back: a pod's
//! `priority`/`preemptionPolicy` (the Priority admission plugin), a namespace's
//! `spec.finalizers` (its strategy), `status.phase` of namespaces, volumes and claims, a
//! Secret's `stringData` folded into `data` and mirrored deprecated fields (conversion); and
//! quantities in canonical form (`0.5` CPU reads back as `500m`), as decoding them does.
//!
//! ```
//! use reference_apiserver::defaults::default;
//! use serde_json::json;
//!
//! let mut pod = json!({"spec": {"containers": [{"name": "web", "image": "nginx"}]}, "x-custom": 1});
//! default("", "Pod", &mut pod);
//! assert_eq!(pod["spec"]["restartPolicy"], "Always");
//! assert_eq!(pod["spec"]["containers"][0]["imagePullPolicy"], "Always");
//! assert_eq!(pod["x-custom"], 1);
//! ```

mod apiextensions;
mod apps;
mod corev1;
mod other;
mod pod;
mod quantities;
#[cfg(test)]
mod tests;

use serde_json::{Map, Value};

/// Applies Kubernetes' v1 defaults for `group`/`kind` to `obj`, in place. Kinds without
/// defaults (and custom resources) are left untouched.
pub fn default(group: &str, kind: &str, obj: &mut Value) {
    if !obj.is_object() {
        return;
    }
    match group {
        "" => corev1::default(kind, obj),
        "apps" => apps::default(kind, obj),
        "apiextensions.k8s.io" if kind == "CustomResourceDefinition" => apiextensions::crd(obj),
        _ => other::default(group, kind, obj),
    }
    quantities::canonicalise(group, kind, obj);
}

/// The object field `key`, unless missing or not an object.
fn object_mut<'a>(v: &'a mut Value, key: &str) -> Option<&'a mut Map<String, Value>> {
    v.get_mut(key).and_then(Value::as_object_mut)
}

/// The field `key` as an object, created (`{}`) when missing or `null`; `None` when `v` is not
/// an object or the field holds something else.
fn ensure_object<'a>(v: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    let m = v.as_object_mut()?;
    let slot = m.entry(key.to_string()).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    slot.is_object().then_some(slot)
}

fn is_unset(v: Option<&Value>) -> bool {
    matches!(v, None | Some(Value::Null))
}

/// Sets a pointer field (`*int32`, `*string`, a struct pointer) when missing or `null`.
fn set_default(v: &mut Value, key: &str, default: Value) {
    if let Some(m) = v.as_object_mut()
        && is_unset(m.get(key))
    {
        m.insert(key.to_string(), default);
    }
}

/// Sets a plain string field when missing, `null` or empty (Go's zero value).
fn set_default_str(v: &mut Value, key: &str, default: &str) {
    if let Some(m) = v.as_object_mut()
        && (is_unset(m.get(key)) || m.get(key).and_then(Value::as_str) == Some(""))
    {
        m.insert(key.to_string(), Value::from(default));
    }
}

/// Sets a plain integer field when missing, `null` or zero (Go's zero value).
fn set_default_int(v: &mut Value, key: &str, default: i64) {
    if let Some(m) = v.as_object_mut()
        && (is_unset(m.get(key)) || m.get(key).and_then(Value::as_i64) == Some(0))
    {
        m.insert(key.to_string(), Value::from(default));
    }
}

/// Runs `f` on every element of the array field `key`.
fn each(v: &mut Value, key: &str, mut f: impl FnMut(&mut Value)) {
    if let Some(items) = v.get_mut(key).and_then(Value::as_array_mut) {
        items.iter_mut().for_each(&mut f);
    }
}

/// Runs `f` on the object field `key` when present.
fn with(v: &mut Value, key: &str, f: impl FnOnce(&mut Value)) {
    if let Some(child) = v.get_mut(key).filter(|c| c.is_object()) {
        f(child);
    }
}

/// The string field `key`, or `""`.
fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}
