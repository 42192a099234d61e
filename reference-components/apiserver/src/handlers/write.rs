//! What every write shares: reading the body, checking its type, decoding it as the typed
//! resource (type errors and unknown fields, per `fieldValidation`), defaulting and validation,
//! and the compare-and-swap loop of updates.

use http::StatusCode;
use kube_core::Status;
use serde_json::{Map, Value};

use super::{Ctx, internal, storage_status};
use crate::object::{from_storage, meta_mut, meta_str, spec_part, to_storage};
use crate::storage::KeyValue;

/// Largest request body accepted (kube-apiserver's limit is 3 MiB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// Parse the body as a JSON object.
pub fn parse_body(ctx: &Ctx) -> Result<Value, Status> {
    if ctx.body.len() > MAX_BODY {
        return Err(Status::failure(
            413,
            kube_core::status::reason::REQUEST_ENTITY_TOO_LARGE,
            format!("Request entity too large: limit is {MAX_BODY}"),
        ));
    }
    let value: Value = serde_json::from_slice(&ctx.body)
        .map_err(|e| Status::bad_request(format!("couldn't get version/kind; json parse error: {e}")))?;
    if !value.is_object() {
        return Err(Status::bad_request(format!(
            "couldn't get version/kind; json parse error: expected an object, got {}",
            type_name(&value)
        )));
    }
    Ok(value)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The fields the handlers read from a body before its typed decoding, checked for their JSON
/// type first: a wrong type is a 400, as kube-apiserver's decoder answers, never silently
/// replaced (a non-object `metadata` would otherwise become `{}` and wipe labels on update,
/// and a numeric `resourceVersion` would turn a conditional update into an unconditional one).
fn check_types(ctx: &Ctx, obj: &Value) -> Result<(), Status> {
    let not_string = |v: &&Value| !v.is_null() && !v.is_string();
    for field in ["apiVersion", "kind"] {
        if let Some(v) = obj.get(field).filter(not_string) {
            return Err(Status::bad_request(format!(
                "couldn't get version/kind; json parse error: {field} must be a string, not {}",
                type_name(v)
            )));
        }
    }
    let cannot_handle = |field: &str, want: &str, v: &Value| {
        let kind = &ctx.def.kind;
        Status::bad_request(format!(
            "{kind} in version \"{}\" cannot be handled as a {kind}: {field} must be {want}, not {}",
            ctx.def.version,
            type_name(v)
        ))
    };
    let Some(meta) = obj.get("metadata").filter(|m| !m.is_null()) else {
        return Ok(());
    };
    if !meta.is_object() {
        return Err(cannot_handle("metadata", "an object", meta));
    }
    // Includes the server-owned fields the handlers overwrite before decoding, so that a wrong
    // type there is refused as the typed decoding would refuse it.
    for field in [
        "name",
        "generateName",
        "namespace",
        "resourceVersion",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "selfLink",
    ] {
        if let Some(v) = meta.get(field).filter(not_string) {
            return Err(cannot_handle(&format!("metadata.{field}"), "a string", v));
        }
    }
    for field in ["generation", "deletionGracePeriodSeconds"] {
        if let Some(v) = meta.get(field).filter(|v| !v.is_null() && !v.is_i64()) {
            return Err(cannot_handle(&format!("metadata.{field}"), "an integer", v));
        }
    }
    Ok(())
}

/// Check `apiVersion` and `kind` against the URL (filling them when absent), and the name and
/// namespace in the body against the URL.
pub fn check_identity(ctx: &Ctx, obj: &mut Value) -> Result<(), Status> {
    check_types(ctx, obj)?;
    let api_version = ctx.def.api_version();
    let root = obj.as_object_mut().expect("checked to be an object");
    match root.get("apiVersion").and_then(Value::as_str) {
        Some(v) if v != api_version => {
            return Err(Status::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({api_version})"
            )));
        }
        _ => {
            root.insert("apiVersion".into(), api_version.into());
        }
    }
    match root.get("kind").and_then(Value::as_str) {
        Some(k) if k != ctx.def.kind.as_ref() => {
            return Err(Status::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                ctx.def.kind
            )));
        }
        _ => {
            root.insert("kind".into(), ctx.def.kind.as_ref().into());
        }
    }
    let meta = meta_mut(obj);
    if let Some(name) = ctx.info.name.as_deref() {
        match meta.get("name").and_then(Value::as_str) {
            Some(n) if n != name => {
                return Err(Status::bad_request(format!(
                    "the name of the object ({n}) does not match the name on the URL ({name})"
                )));
            }
            _ => {
                meta.insert("name".into(), name.into());
            }
        }
    }
    if ctx.def.namespaced {
        let ns = ctx.namespace().unwrap_or_default();
        match meta.get("namespace").and_then(Value::as_str) {
            Some(n) if !n.is_empty() && n != ns => {
                return Err(Status::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => {
                meta.insert("namespace".into(), ns.into());
            }
        }
    } else {
        meta.remove("namespace");
    }
    Ok(())
}

/// Unknown fields: keys of `input` that the typed round trip dropped (`null`s excepted). `path`
/// is the dotted path so far (a buffer that is restored before returning).
fn unknown_fields(input: &Value, typed: &Value, path: &mut String, out: &mut Vec<String>) {
    use std::fmt::Write;
    let len = path.len();
    match (input, typed) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                match b.get(k) {
                    Some(bv) => unknown_fields(v, bv, path, out),
                    None if v.is_null() => {}
                    None => out.push(path.clone()),
                }
                path.truncate(len);
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                let _ = write!(path, "[{i}]");
                unknown_fields(x, y, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// Decode as the typed resource: a type error is a 400; unknown fields are dropped, and per
/// `fieldValidation` rejected (`Strict`), reported as warnings (`Warn`, the default) or ignored.
/// Returns the canonical object and the warnings.
pub fn decode_typed(ctx: &Ctx, obj: Value) -> Result<(Value, Vec<String>), Status> {
    let cannot_handle = |e: serde_json::Error| {
        Status::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: {e}",
            ctx.def.kind, ctx.def.version, ctx.def.kind
        ))
    };
    let typed = match (ctx.def.codec, &ctx.def.custom) {
        (Some(codec), _) => (codec.roundtrip)(&obj).map_err(cannot_handle)?,
        // Custom resources: typed metadata, and pruning by the version's schema.
        (None, Some(custom)) => custom.decode(obj.clone()).map_err(cannot_handle)?,
        (None, None) => return Ok((obj, Vec::new())),
    };
    let mut unknown = Vec::new();
    unknown_fields(&obj, &typed, &mut String::new(), &mut unknown);
    Ok((typed, field_validation(ctx, &unknown)?))
}

/// `fieldValidation` applied to the unknown fields of a body: rejected (`Strict`), reported as
/// warnings (`Warn`, the default) or ignored. Returns the warnings.
pub fn field_validation(ctx: &Ctx, unknown: &[String]) -> Result<Vec<String>, Status> {
    let directive = ctx.param("fieldValidation").unwrap_or("Warn");
    let warnings = match directive {
        "Strict" if !unknown.is_empty() => {
            let list = unknown
                .iter()
                .map(|f| format!("unknown field \"{f}\""))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(Status::bad_request(format!("strict decoding error: {list}")));
        }
        "Strict" | "Ignore" => Vec::new(),
        "Warn" => unknown.iter().map(|f| format!("unknown field \"{f}\"")).collect(),
        other => {
            return Err(Status::bad_request(format!(
                "fieldValidation: Unsupported value: \"{other}\": supported values: \"Ignore\", \"Strict\", \"Warn\""
            )));
        }
    };
    Ok(warnings)
}

/// Defaults, then validation (422 Invalid with one cause per field error). Custom resources get
/// their schema's defaults and validation besides the metadata checks.
pub fn default_and_validate(ctx: &Ctx, obj: &mut Value, old: Option<&Value>) -> Result<(), Status> {
    let (group, kind) = (ctx.def.storage_group(), ctx.def.storage_kind());
    crate::defaults::default(group, kind, obj);
    if let Some(custom) = &ctx.def.custom {
        custom.default(obj);
    }
    let mut errors = crate::validation::validate(group, kind, ctx.def.namespaced, obj, old);
    if let Some(custom) = &ctx.def.custom {
        errors.extend(custom.validate(obj));
    }
    if errors.is_empty() {
        return Ok(());
    }
    let name = meta_str(obj, "name").unwrap_or_default().to_string();
    Err(invalid(group, kind, &name, &errors))
}

/// 422 Invalid as kube-apiserver's `NewInvalid`: the message names the group-qualified kind
/// (`Widget.example.com "w" is invalid: ...`), the details the group, kind and causes.
pub fn invalid(group: &str, kind: &str, name: &str, errors: &[crate::validation::FieldError]) -> Status {
    Status::failure(
        422,
        kube_core::status::reason::INVALID,
        crate::validation::invalid_message(group, kind, name, errors),
    )
    .with_details(kube_core::status::StatusDetails {
        name: name.into(),
        group: group.into(),
        kind: kind.into(),
        causes: errors.iter().map(|e| e.to_cause()).collect(),
        ..Default::default()
    })
}

/// Add `Warning` headers.
pub fn with_warnings(mut resp: axum::response::Response, warnings: &[String]) -> axum::response::Response {
    for w in warnings {
        let v = format!("299 - \"{}\"", w.replace('"', "\\\""));
        if let Ok(v) = http::HeaderValue::from_str(&v) {
            resp.headers_mut().append(http::header::WARNING, v);
        }
    }
    resp
}

/// Which part of the object an update may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Everything but `status` (for resources with a status subresource).
    Main,
    /// Only `status`.
    Status,
    /// Everything but `status`, written by the server itself (pod binding): no update
    /// validation, since the change is one users may not make.
    System,
}

/// The result of an update.
pub struct Updated {
    /// The object as stored (served form).
    pub object: Value,
    /// 200, or 201 when the update created the object.
    pub code: StatusCode,
    /// Unknown-field warnings.
    pub warnings: Vec<String>,
}

const PRESERVED_META: &[&str] = &[
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "selfLink",
];

/// Read-modify-write with compare-and-swap, retried on races. `desired` builds the wanted object
/// from the current one (it runs again after a lost race); a `resourceVersion` it leaves in the
/// object is a precondition (409 when stale). When the object is missing, `desired` gets `None`;
/// returning an object then creates it (create-on-update).
pub async fn guaranteed_update<F>(ctx: &Ctx, part: Part, mut desired: F) -> Result<Updated, Status>
where
    F: FnMut(Option<&Value>) -> Result<Value, Status>,
{
    let key = ctx.key();
    for _attempt in 0..16 {
        let current = ctx
            .state
            .storage
            .get(&key)
            .await
            .map_err(|e| storage_status(&ctx.def, ctx.name(), e))?;
        let Some(current) = current else {
            if !ctx.def.allow_create_on_update || part == Part::Status {
                return Err(Status::not_found(&ctx.def.qualified_plural(), ctx.name()));
            }
            let obj = desired(None)?;
            let (object, warnings) = super::create::create_object(ctx, obj).await?;
            let object = serde_json::from_slice(&object).map_err(internal)?;
            return Ok(Updated {
                object,
                code: StatusCode::CREATED,
                warnings,
            });
        };
        let old = from_storage(&current.value, current.mod_revision).map_err(internal)?;
        let new = desired(Some(&ctx.def.served(old.clone())))?;
        match apply_update(ctx, part, &current, &old, new).await? {
            Some(done) => {
                return Ok(Updated {
                    object: ctx.def.served(done.object),
                    ..done
                });
            }
            None => continue, // lost a race: read again
        }
    }
    Err(Status::conflict(
        &ctx.def.qualified_plural(),
        ctx.name(),
        "too many concurrent updates; try again",
    ))
}

/// One attempt: `Ok(None)` when another write got in between (retry). `old` is the stored
/// object, `new` the wanted one in the served version; the result is in the stored form.
async fn apply_update(
    ctx: &Ctx,
    part: Part,
    current: &KeyValue,
    old: &Value,
    new: Value,
) -> Result<Option<Updated>, Status> {
    let (new, warnings) = decode_typed(ctx, new)?;
    let mut new = ctx.def.stored(new);
    if let Some(rv) = meta_str(&new, "resourceVersion").filter(|rv| !rv.is_empty())
        && rv.parse::<u64>().ok() != Some(current.mod_revision)
    {
        return Err(Status::conflict(
            &ctx.def.qualified_plural(),
            ctx.name(),
            "the object has been modified; please apply your changes to the latest version and try again",
        ));
    }
    // Server-managed metadata survives every update.
    let old_meta = old
        .get("metadata")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    {
        let meta = meta_mut(&mut new);
        for field in PRESERVED_META {
            match old_meta.get(*field) {
                Some(v) => meta.insert((*field).to_string(), v.clone()),
                None => meta.remove(*field),
            };
        }
    }
    if ctx.def.has_status() {
        match part {
            Part::Main | Part::System => copy_field(old, &mut new, "status"),
            Part::Status => {
                let status = new.get("status").cloned();
                // A server-side apply to the status has worked out its managed fields.
                let managed = new.pointer("/metadata/managedFields").cloned();
                let mut merged = old.clone();
                let root = merged.as_object_mut().expect("object");
                match status {
                    Some(s) => root.insert("status".into(), s),
                    None => root.remove("status"),
                };
                if let Some(managed) = managed {
                    meta_mut(&mut merged).insert("managedFields".into(), managed);
                }
                new = merged;
            }
        }
    }
    let mut ports = None;
    if ctx.def.group.is_empty() && ctx.def.kind == "Service" && part == Part::Main {
        keep_service_allocations(old, &mut new);
        if !ctx.dry_run() {
            // A change of type to NodePort/LoadBalancer, or new ports, get node ports now.
            ports = Some(
                ctx.state
                    .services
                    .update_ports_shared(&ctx.state.storage, old, &mut new)
                    .await?,
            );
        }
    }
    let result = finish_update(ctx, part, current, old, new, &old_meta, warnings).await;
    if let Some(change) = ports {
        let committed = matches!(result, Ok(Some(_)));
        ctx.state
            .services
            .settle_ports(&ctx.state.storage, change, committed)
            .await;
    }
    result
}

/// The rest of [`apply_update`]: defaults, validation, generation, managed fields, the write.
async fn finish_update(
    ctx: &Ctx,
    part: Part,
    current: &KeyValue,
    old: &Value,
    mut new: Value,
    old_meta: &serde_json::Map<String, Value>,
    warnings: Vec<String>,
) -> Result<Option<Updated>, Status> {
    if part == Part::System {
        crate::defaults::default(ctx.def.storage_group(), ctx.def.storage_kind(), &mut new);
    } else {
        default_and_validate(ctx, &mut new, Some(old))?;
    }
    if ctx.def.tracks_generation
        && spec_part(&new, ctx.def.has_status()) != spec_part(old, ctx.def.has_status())
    {
        let g = old_meta.get("generation").and_then(Value::as_i64).unwrap_or(0);
        meta_mut(&mut new).insert("generation".into(), (g + 1).into());
    }
    if part != Part::System {
        crate::apply::record_update(ctx, Some(old), &mut new);
    }
    // The last finalizer of a deleted object gone: the object goes.
    if meta_str(&new, "deletionTimestamp").is_some() && no_finalizers(&new) {
        if ctx.dry_run() {
            return Ok(Some(Updated {
                object: new,
                code: StatusCode::OK,
                warnings,
            }));
        }
        return match ctx
            .state
            .storage
            .delete(&current.key, Some(current.mod_revision))
            .await
        {
            Ok(kv) => Ok(Some(Updated {
                object: from_storage(&to_storage(new), kv.mod_revision).map_err(internal)?,
                code: StatusCode::OK,
                warnings,
            })),
            Err(crate::storage::Error::Conflict { .. }) | Err(crate::storage::Error::NotFound { .. }) => {
                Ok(None)
            }
            Err(e) => Err(storage_status(&ctx.def, ctx.name(), e)),
        };
    }
    let bytes = to_storage(new.clone());
    if bytes == current.value {
        // Nothing changed: no write, no new resourceVersion.
        return Ok(Some(Updated {
            object: old.clone(),
            code: StatusCode::OK,
            warnings,
        }));
    }
    if ctx.dry_run() {
        return Ok(Some(Updated {
            object: new,
            code: StatusCode::OK,
            warnings,
        }));
    }
    match ctx
        .state
        .storage
        .update(&current.key, bytes.clone(), current.mod_revision)
        .await
    {
        Ok(kv) => Ok(Some(Updated {
            object: from_storage(&bytes, kv.mod_revision).map_err(internal)?,
            code: StatusCode::OK,
            warnings,
        })),
        Err(crate::storage::Error::Conflict { .. }) | Err(crate::storage::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(storage_status(&ctx.def, ctx.name(), e)),
    }
}

/// A Service update that leaves out its allocated cluster IPs and node ports keeps them, as
/// kube-apiserver's service REST does.
fn keep_service_allocations(old: &Value, new: &mut Value) {
    let Some(old_spec) = old.get("spec").and_then(Value::as_object) else {
        return;
    };
    let Some(new_spec) = new.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    for field in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
        let missing = match new_spec.get(field) {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.is_empty(),
            Some(Value::Array(a)) => a.is_empty(),
            _ => false,
        };
        if missing && let Some(v) = old_spec.get(field) {
            new_spec.insert(field.into(), v.clone());
        }
    }
    // Node ports are kept only while the service still needs them (kube-apiserver's
    // patchAllocatedValues): a change to ClusterIP gives them up.
    let needs_node_ports = |spec: &serde_json::Map<String, Value>| {
        matches!(
            spec.get("type").and_then(Value::as_str),
            Some("NodePort" | "LoadBalancer")
        )
    };
    if needs_node_ports(old_spec) && !needs_node_ports(new_spec) {
        // kube-apiserver's dropTypeDependentFields: what the old type brought along and the
        // update left unchanged goes with it.
        for field in [
            "externalTrafficPolicy",
            "healthCheckNodePort",
            "allocateLoadBalancerNodePorts",
            "loadBalancerClass",
        ] {
            if new_spec.get(field).is_some() && new_spec.get(field) == old_spec.get(field) {
                new_spec.remove(field);
            }
        }
        let old_node_ports: Vec<Value> = old_spec
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("nodePort").cloned())
            .collect();
        for p in new_spec
            .get_mut("ports")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if p.get("nodePort").is_some_and(|np| old_node_ports.contains(np))
                && let Some(m) = p.as_object_mut()
            {
                m.remove("nodePort");
            }
        }
    }
    if !(needs_node_ports(old_spec) && needs_node_ports(new_spec)) {
        return;
    }
    let old_ports = old_spec
        .get("ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(ports) = new_spec.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports
            .iter_mut()
            .filter(|p| p.get("nodePort").is_none_or(Value::is_null))
        {
            let same = |o: &&Value| {
                o.get("port") == p.get("port")
                    && o.get("protocol").and_then(Value::as_str).unwrap_or("TCP")
                        == p.get("protocol").and_then(Value::as_str).unwrap_or("TCP")
            };
            if let Some(np) = old_ports
                .iter()
                .find(same)
                .and_then(|o| o.get("nodePort"))
                .cloned()
                && let Some(m) = p.as_object_mut()
            {
                m.insert("nodePort".into(), np);
            }
        }
    }
}

/// Whether an object has no finalizers left (for namespaces: neither metadata nor spec ones).
pub fn no_finalizers(obj: &Value) -> bool {
    let empty = |v: Option<&Value>| v.and_then(Value::as_array).is_none_or(Vec::is_empty);
    empty(obj.get("metadata").and_then(|m| m.get("finalizers")))
        && (obj.get("kind").and_then(Value::as_str) != Some("Namespace")
            || empty(obj.get("spec").and_then(|s| s.get("finalizers"))))
}

/// Copy `field` from `from` into `to` (or remove it from `to` when `from` has none).
pub fn copy_field(from: &Value, to: &mut Value, field: &str) {
    let root: &mut Map<String, Value> = to.as_object_mut().expect("object");
    match from.get(field) {
        Some(v) => root.insert(field.into(), v.clone()),
        None => root.remove(field),
    };
}
