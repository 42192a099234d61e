//! Server-side apply and managed fields at the level of a request: who the field manager is,
//! what an apply request's body and options must be, and the `Status` answers.

use kube_core::Status;
use kube_core::patch::APPLY_PATCH;
use kube_core::status::{StatusCause, StatusDetails, reason};
use serde_json::{Map, Value, json};

use super::managed::{self, BEFORE_FIRST_APPLY, Conflict, ManagedFields, Writer};
use super::path::display;
use super::schema::Ty;
use super::typed;
use crate::handlers::{Ctx, MAX_BODY, Verb};
use crate::registry::ResourceDef;

/// The annotation client-side `kubectl apply` keeps its last applied configuration in.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The longest field manager name kube-apiserver accepts.
const MAX_MANAGER_LEN: usize = 128;

fn content_type(ctx: &Ctx) -> &str {
    ctx.headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim())
        .unwrap_or_default()
}

/// Whether the request is a server-side apply (`PATCH` with `application/apply-patch+yaml`).
pub fn is_apply(ctx: &Ctx) -> bool {
    ctx.info.verb == Verb::Patch && content_type(ctx) == APPLY_PATCH
}

/// The field manager of a write: the `fieldManager` parameter, else what the `User-Agent`
/// says before its first `/` (`kubectl/v1.35.2 (linux/amd64)` is `kubectl`), printable
/// characters only and at most 128 bytes, as kube-apiserver's `prefixFromUserAgent` names it
/// (empty without a user agent).
pub fn manager(ctx: &Ctx) -> String {
    if let Some(manager) = ctx.param("fieldManager") {
        return manager.to_string();
    }
    let agent = ctx
        .headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mut prefix = String::new();
    for c in agent.split('/').next().unwrap_or_default().chars() {
        if c.is_control() || (c.is_whitespace() && c != ' ') {
            continue;
        }
        if prefix.len() + c.len_utf8() > MAX_MANAGER_LEN {
            break;
        }
        prefix.push(c);
    }
    prefix
}

fn writer(ctx: &Ctx) -> Writer {
    Writer {
        manager: manager(ctx),
        api_version: ctx.def.api_version(),
        subresource: ctx.info.subresource.clone().unwrap_or_default(),
    }
}

/// The apply type of a resource: its structural schema for custom resources, the built-in
/// tables otherwise.
pub fn type_of(def: &ResourceDef) -> Ty<'_> {
    match &def.custom {
        Some(custom) => Ty::custom(custom.schema.as_ref().map(|s| s.root())),
        None => Ty::builtin(&def.api_version(), &def.kind),
    }
}

fn without_managed_fields(obj: &Value) -> Value {
    let mut obj = obj.clone();
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    obj
}

fn set_managed_fields(obj: &mut Value, managed: &ManagedFields) {
    let meta = crate::object::meta_mut(obj);
    if managed.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert("managedFields".into(), managed.encode());
    }
}

/// Record a write that is not an apply in `new`'s `metadata.managedFields` (`old` is `None` for
/// a create): the manager takes ownership of what it added or changed. Never fails, as in
/// kube-apiserver: entries that cannot be worked out are dropped instead of refusing the write.
///
/// Managed fields sent with the object replace the stored ones (that is how clients edit them;
/// `[{}]` clears them), except through subresources, and an empty list keeps the stored ones.
pub fn record_update(ctx: &Ctx, old: Option<&Value>, new: &mut Value) {
    record(ctx, old, new, false);
}

/// [`record_update`] for a create whose object goes straight to storage: where the create's
/// `fieldsV1` is worked out directly (nobody owned anything yet: the common case), the entry
/// holds [`crate::object::FIELDS_V1_PLACEHOLDER`] and the `fieldsV1` JSON text is returned,
/// for [`crate::object::to_storage_with_fields`] to put in its place. The fields of a pod are
/// half its stored size; as text they are never built, serialised and dropped as a
/// `serde_json::Value`.
pub fn record_create(ctx: &Ctx, new: &mut Value) -> Option<String> {
    record(ctx, None, new, true)
}

fn record(ctx: &Ctx, old: Option<&Value>, new: &mut Value, as_text: bool) -> Option<String> {
    if is_apply(ctx) || matches!(ctx.info.subresource.as_deref(), Some("binding" | "eviction")) {
        return None; // an apply worked them out; a binding only sets what the scheduler decided
    }
    // Taken out while the object is compared (it is not part of what anyone manages), and
    // replaced by the new entries.
    let sent = new
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .and_then(|meta| meta.remove("managedFields"));
    if ManagedFields::is_reset(sent.as_ref()) {
        return None;
    }
    let from_request = ctx
        .info
        .subresource
        .is_none()
        .then(|| ManagedFields::decode(sent.as_ref()).ok())
        .flatten()
        .filter(|m| !m.is_empty());
    let base = match from_request {
        Some(managed) => Ok(managed),
        None => ManagedFields::decode(old.and_then(|o| o.pointer("/metadata/managedFields"))),
    };
    let old_plain = match old {
        Some(old) => match ctx.def.conversion {
            Some(_) => ctx.def.served(without_managed_fields(old)),
            None => without_managed_fields(old),
        },
        None if ctx.def.is_custom() => json!({}),
        None => zero_object(new),
    };
    let converted;
    let new_plain = match ctx.def.conversion {
        Some(_) => {
            converted = ctx.def.served(new.clone());
            &converted
        }
        None => &*new,
    };
    if matches!(&base, Ok(managed) if managed.is_empty()) {
        // Nobody owns anything yet (a create, or an object without entries): the writer gets
        // what changed, computed straight into fieldsV1.
        if as_text
            && let Some(text) = super::created::fields_v1_json(&old_plain, new_plain, type_of(&ctx.def))
        {
            if text == "{}" {
                return None;
            }
            set_created_entry(
                ctx,
                new,
                Value::String(crate::object::FIELDS_V1_PLACEHOLDER.clone()),
            );
            return Some(text);
        }
        if let Some(fields) = super::created::fields_v1(&old_plain, new_plain, type_of(&ctx.def)) {
            if !fields.is_empty() {
                set_created_entry(ctx, new, Value::Object(fields));
            }
            return None;
        }
    }
    let result = base.and_then(|mut managed| {
        let now = crate::object::now_rfc3339();
        managed.update(&old_plain, new_plain, type_of(&ctx.def), &writer(ctx), &now)?;
        Ok(managed)
    });
    match result {
        Ok(managed) => set_managed_fields(new, &managed),
        Err(e) => {
            tracing::warn!(error = %e, name = %ctx.name(), "cannot work out managed fields; dropping them");
        }
    }
    None
}

/// The writer's one entry, owning `fields`, of an object nobody owned anything of.
fn set_created_entry(ctx: &Ctx, new: &mut Value, fields: Value) {
    let now = crate::object::now_rfc3339();
    let entry = managed::entry_json(&writer(ctx), managed::Operation::Update, Some(&now), fields);
    crate::object::meta_mut(new).insert("managedFields".into(), Value::Array(vec![entry]));
}

/// Structs of the built-in Go types that are not pointers, so exist (empty) in a new object.
const VALUE_STRUCTS: &[&str] = &[
    "/spec",
    "/status",
    "/spec/strategy",
    "/spec/updateStrategy",
    "/spec/template",
    "/spec/template/metadata",
    "/spec/template/spec",
    "/spec/jobTemplate",
    "/spec/jobTemplate/spec",
    "/spec/jobTemplate/spec/template",
    "/spec/jobTemplate/spec/template/metadata",
    "/spec/jobTemplate/spec/template/spec",
];

/// What kube-apiserver compares a created built-in object with: the zero value of its Go type,
/// where the structs that are not pointers exist empty (`spec`, `status`, a pod template's
/// `metadata` and `spec`) and a pod spec's `containers` is `null`. So a create owns what is in
/// `spec`, not `spec` itself, as on a real cluster.
fn zero_object(new: &Value) -> Value {
    let mut zero = json!({});
    for path in VALUE_STRUCTS {
        let Some(Value::Object(new_struct)) = crate::object::at(new, path) else {
            continue;
        };
        let (parent, name) = path.rsplit_once('/').expect("paths start with /");
        let parent = parent
            .split('/')
            .skip(1)
            .try_fold(&mut zero, |v, name| v.get_mut(name));
        if let Some(Value::Object(parent)) = parent {
            let mut value = json!({});
            if name == "spec" && new_struct.contains_key("containers") {
                value["containers"] = Value::Null;
            }
            parent.insert(name.to_string(), value);
        }
    }
    zero
}

fn invalid_option(field: &str, reason: &str, message: String) -> Status {
    Status::invalid(
        "PatchOptions.meta.k8s.io",
        "",
        vec![StatusCause {
            reason: reason.into(),
            message,
            field: field.into(),
        }],
    )
}

/// Check the options of a patch: an apply needs a `fieldManager` (of printable characters, 128
/// at most) and may set `force`; other patches may not.
pub fn check_patch_options(ctx: &Ctx, apply: bool) -> Result<(), Status> {
    let manager = ctx.param("fieldManager");
    if let Some(manager) = manager {
        if manager.len() > MAX_MANAGER_LEN {
            return Err(invalid_option(
                "fieldManager",
                "FieldValueTooLong",
                format!("Too long: may not be more than {MAX_MANAGER_LEN} bytes"),
            ));
        }
        if let Some((i, c)) = manager.char_indices().find(|(_, c)| c.is_control()) {
            return Err(invalid_option(
                "fieldManager",
                "FieldValueInvalid",
                format!("Invalid value: {manager:?}: invalid character {c:?} (at position {i})"),
            ));
        }
    }
    match (apply, ctx.param("force")) {
        (true, _) if manager.is_none() => Err(invalid_option(
            "fieldManager",
            "FieldValueRequired",
            "Required value: is required for apply patch".into(),
        )),
        (true, Some(force)) if force.parse::<bool>().is_err() => Err(Status::bad_request(format!(
            "invalid value for force: {force:?} is not a boolean"
        ))),
        (false, Some(_)) => Err(invalid_option(
            "force",
            "FieldValueForbidden",
            "Forbidden: may not be specified for non-apply patch".into(),
        )),
        _ => Ok(()),
    }
}

/// `group/version, Kind=kind`, as Go prints a GroupVersionKind.
fn gvk_string(api_version: &str, kind: &str) -> String {
    let gv = if api_version.contains('/') {
        api_version.to_string()
    } else {
        format!("/{api_version}")
    };
    format!("{gv}, Kind={kind}")
}

/// Keys of `input` that the typed round trip (`typed`) dropped, removed from `input`.
fn strip_unknown(input: &mut Value, typed: &Value, path: &str, out: &mut Vec<String>) {
    match (input, typed) {
        (Value::Object(fields), Value::Object(known)) => {
            fields.retain(|key, value| {
                let here = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match known.get(key) {
                    Some(k) => {
                        strip_unknown(value, k, &here, out);
                        true
                    }
                    None if value.is_null() => true,
                    None => {
                        out.push(here);
                        false
                    }
                }
            });
        }
        (Value::Array(items), Value::Array(known)) => {
            for (i, (item, k)) in items.iter_mut().zip(known).enumerate() {
                strip_unknown(item, k, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// The applied configuration of an apply request: the body as YAML (or JSON), checked as
/// kube-apiserver checks it (an object of the resource's kind and version, without managed
/// fields), without the fields the type does not know (reported as warnings, or refused with
/// `fieldValidation=Strict`), and reduced to what the endpoint writes: everything but `status`
/// on the main resource of a kind with a status subresource, only `status` on that subresource.
pub fn parse_config(ctx: &Ctx, status_only: bool) -> Result<(Value, Vec<String>), Status> {
    if ctx.body.len() > MAX_BODY {
        return Err(Status::failure(
            413,
            reason::REQUEST_ENTITY_TOO_LARGE,
            format!("Request entity too large: limit is {MAX_BODY}"),
        ));
    }
    let mut config: Value = match serde_json::from_slice(&ctx.body) {
        Ok(v) => v,
        Err(_) => yaml_serde::from_slice(&ctx.body)
            .map_err(|e| Status::bad_request(format!("error decoding YAML: {e}")))?,
    };
    if !config.is_object() {
        return Err(Status::bad_request(
            "error decoding YAML: the applied configuration must be an object",
        ));
    }
    let api_version = config
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = config.get("kind").and_then(Value::as_str).unwrap_or_default();
    if api_version != ctx.def.api_version() || kind != ctx.def.kind {
        return Err(Status::bad_request(format!(
            "invalid object type: {}",
            gvk_string(api_version, kind)
        )));
    }
    if config
        .pointer("/metadata/managedFields")
        .is_some_and(|m| !m.is_null())
    {
        return Err(Status::bad_request("metadata.managedFields must be nil"));
    }
    let cannot_handle = |e: serde_json::Error| {
        Status::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: {e}",
            ctx.def.kind, ctx.def.version, ctx.def.kind
        ))
    };
    let typed = match (ctx.def.codec, &ctx.def.custom) {
        (Some(codec), _) => Some((codec.roundtrip)(&config).map_err(cannot_handle)?),
        (None, Some(custom)) => Some(custom.decode(config.clone()).map_err(cannot_handle)?),
        (None, None) => None,
    };
    let mut unknown = Vec::new();
    if let Some(typed) = typed {
        strip_unknown(&mut config, &typed, "", &mut unknown);
    }
    let warnings = match ctx.param("fieldValidation").unwrap_or("Warn") {
        "Strict" if !unknown.is_empty() => {
            return Err(Status::bad_request(format!(
                "failed to create typed patch object ({}): {}",
                object_ref(ctx),
                unknown
                    .iter()
                    .map(|f| format!(".{f}: field not declared in schema"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        "Strict" | "Ignore" => Vec::new(),
        "Warn" => unknown.iter().map(|f| format!("unknown field \"{f}\"")).collect(),
        other => {
            return Err(Status::bad_request(format!(
                "fieldValidation: Unsupported value: \"{other}\": supported values: \"Ignore\", \"Strict\", \"Warn\""
            )));
        }
    };
    let root = config.as_object_mut().expect("checked to be an object");
    if status_only {
        root.retain(|k, _| matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "status"));
        if let Some(Value::Object(meta)) = root.get_mut("metadata") {
            meta.retain(|k, _| matches!(k.as_str(), "name" | "namespace" | "uid" | "resourceVersion"));
        }
    } else if ctx.def.has_status() {
        root.remove("status");
    }
    Ok((config, warnings))
}

/// `namespace/name; group/version, Kind=kind`, as kube-apiserver names the object in apply
/// errors.
fn object_ref(ctx: &Ctx) -> String {
    let name = match ctx.namespace() {
        Some(ns) => format!("{ns}/{}", ctx.name()),
        None => ctx.name().to_string(),
    };
    format!("{name}; {}", gvk_string(&ctx.def.api_version(), &ctx.def.kind))
}

/// 409 Conflict for an apply that would change fields other managers own, worded as
/// kube-apiserver words it: `Apply failed with 1 conflict: conflict with "kubectl-client-side-apply"
/// using apps/v1: .spec.replicas`, one cause per field.
pub fn conflict_status(conflicts: &[Conflict]) -> Status {
    let message = if let [only] = conflicts {
        format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            only.manager,
            display(&only.path)
        )
    } else {
        let mut lines = Vec::new();
        let mut last: Option<&str> = None;
        for conflict in conflicts {
            if last != Some(conflict.manager.as_str()) {
                lines.push(format!("conflicts with {}:", conflict.manager));
                last = Some(&conflict.manager);
            }
            lines.push(format!("- {}", display(&conflict.path)));
        }
        format!(
            "Apply failed with {} conflicts: {}",
            conflicts.len(),
            lines.join("\n")
        )
    };
    Status::failure(409, reason::CONFLICT, message).with_details(StatusDetails {
        causes: conflicts
            .iter()
            .map(|c| StatusCause {
                reason: "FieldManagerConflict".into(),
                message: format!("conflict with {}", c.manager),
                field: display(&c.path),
            })
            .collect(),
        ..Default::default()
    })
}

fn last_applied(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/annotations")?
        .get(LAST_APPLIED)?
        .as_str()
        .filter(|s| !s.is_empty())
}

/// The fields of the client-side apply annotation (written in `api_version`) that still hold
/// the value the object has: a kubectl server-side apply may take those over from client-side
/// apply without a conflict.
fn allowed_from_last_applied(live: &Value, ty: Ty<'_>, api_version: &str) -> Option<super::FieldSet> {
    let applied: Value = serde_json::from_str(last_applied(live)?).ok()?;
    if applied.get("apiVersion").and_then(Value::as_str) != Some(api_version) {
        return None;
    }
    let mut set = typed::to_field_set(&applied, ty, false).ok()?;
    let cmp = typed::compare(&applied, live, ty).ok()?;
    set.remove_all(&cmp.modified);
    set.remove_all(&cmp.added);
    set.remove_all(&cmp.removed);
    Some(set)
}

/// The object after applying `config` to `live` (served form; `None` when the object does not
/// exist yet), with its `metadata.managedFields`. Conflicts answer 409, a configuration that
/// does not fit its type 422.
pub fn apply(ctx: &Ctx, live: Option<&Value>, config: &Value) -> Result<Value, Status> {
    let ty = type_of(&ctx.def);
    let writer = writer(ctx);
    let force = ctx.param("force") == Some("true");
    let now = crate::object::now_rfc3339();
    if live.is_none()
        && let Some(uid) = config
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
    {
        return Err(Status::conflict(
            &ctx.def.qualified_plural(),
            ctx.name(),
            &format!(
                "uid mismatch: the provided object specified uid {uid}, and no existing object was found"
            ),
        ));
    }
    let live_plain = live.map_or_else(|| json!({}), without_managed_fields);
    let mut managed = live
        .and_then(|l| ManagedFields::decode(l.pointer("/metadata/managedFields")).ok())
        .unwrap_or_default();
    if live.is_some() && managed.is_empty() {
        // Fields written before any manager was recorded belong to "before-first-apply".
        let before = Writer {
            manager: BEFORE_FIRST_APPLY.into(),
            ..writer.clone()
        };
        let _ = managed.update(&json!({}), &live_plain, ty, &before, &now);
    }
    let invalid = |message: String| {
        Status::failure(
            422,
            reason::INVALID,
            format!(
                "failed to create typed patch object ({}): {message}",
                object_ref(ctx)
            ),
        )
    };
    // `apply` changes the entries only when it succeeds.
    let mut merged = match managed.apply(&live_plain, config, ty, &writer, force, &now) {
        Ok(merged) => merged,
        Err(managed::Error::Invalid(message)) => return Err(invalid(message)),
        Err(managed::Error::Conflicts(conflicts)) => {
            // kubectl taking over from client-side apply: fields whose value still matches
            // the last-applied annotation are not conflicts (only for the manager `kubectl`, so
            // that other names opt out, as in kube-apiserver).
            let allowed = (writer.manager == "kubectl")
                .then(|| allowed_from_last_applied(&live_plain, ty, &writer.api_version))
                .flatten();
            let remaining: Vec<Conflict> = conflicts
                .into_iter()
                .filter(|c| !allowed.as_ref().is_some_and(|a| a.has(&c.path)))
                .collect();
            if !remaining.is_empty() {
                return Err(conflict_status(&remaining));
            }
            managed
                .apply(&live_plain, config, ty, &writer, true, &now)
                .map_err(|_| invalid("forced apply failed".into()))?
        }
    };
    if writer.manager == "kubectl" && last_applied(&live_plain).is_some() {
        // Keep the client-side apply annotation in step with what kubectl applies server-side.
        let mut applied = config.clone();
        if let Some(Value::Object(annotations)) = applied.pointer_mut("/metadata/annotations") {
            annotations.remove(LAST_APPLIED);
        }
        let text = serde_json::to_string(&applied).expect("JSON values serialise");
        let meta = crate::object::meta_mut(&mut merged);
        let annotations = meta
            .entry("annotations")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(annotations) = annotations.as_object_mut() {
            annotations.insert(LAST_APPLIED.into(), Value::String(text));
        }
    }
    set_managed_fields(&mut merged, &managed);
    Ok(merged)
}
