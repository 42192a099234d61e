//! Subresources: `status`, `scale`, `pods/binding`, `pods/eviction`, `namespaces/finalize`.

use http::StatusCode;
use kube_core::Status;
use serde_json::{Value, json};

use super::delete::{DeleteOptions, delete_object};
use super::write::{Part, guaranteed_update, parse_body, with_warnings};
use super::{Ctx, HandlerResult, Verb, json};
use crate::registry::Subresource;

fn not_found(ctx: &Ctx, sub: &str) -> Status {
    Status::failure(
        404,
        kube_core::status::reason::NOT_FOUND,
        format!(
            "the server could not find the requested resource ({}/{sub})",
            ctx.def.qualified_plural()
        ),
    )
}

fn method_not_allowed(ctx: &Ctx, sub: &str) -> Status {
    Status::failure(
        405,
        kube_core::status::reason::METHOD_NOT_ALLOWED,
        format!(
            "the server does not allow this method on the requested resource ({}/{sub})",
            ctx.def.plural
        ),
    )
}

/// Dispatch a subresource request.
pub async fn handle(ctx: &Ctx, sub: &str) -> HandlerResult {
    let Some(subresource) = ctx.def.subresources.iter().copied().find(|s| s.name() == sub) else {
        return Err(not_found(ctx, sub));
    };
    match (subresource, ctx.info.verb) {
        (Subresource::Status, Verb::Get) => super::get::get(ctx).await,
        (Subresource::Status, Verb::Update) => super::update::put(ctx, Part::Status).await,
        (Subresource::Status, Verb::Patch) => super::patch::patch_part(ctx, Part::Status).await,
        (Subresource::Scale, Verb::Get) => get_scale(ctx).await,
        (Subresource::Scale, Verb::Update | Verb::Patch) => update_scale(ctx).await,
        (Subresource::Binding, Verb::Create) => bind(ctx).await,
        (Subresource::Eviction, Verb::Create) => evict(ctx).await,
        (Subresource::Finalize, Verb::Update) => finalize(ctx).await,
        _ => Err(method_not_allowed(ctx, sub)),
    }
}

/// The value at a simple JSON path (`.spec.replicas`).
fn get_path<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    path.trim_start_matches('.')
        .split('.')
        .try_fold(obj, |v, seg| v.get(seg))
}

/// Set the value at a simple JSON path, creating the objects on the way.
fn set_path(obj: &mut Value, path: &str, value: Value) -> Result<(), Status> {
    let segments: Vec<&str> = path.trim_start_matches('.').split('.').collect();
    let (last, parents) = segments.split_last().expect("split yields one segment at least");
    let mut current = obj;
    for seg in parents {
        let map = current
            .as_object_mut()
            .ok_or_else(|| Status::bad_request(format!("{path}: a parent is not an object")))?;
        current = map.entry(seg.to_string()).or_insert_with(|| json!({}));
    }
    current
        .as_object_mut()
        .ok_or_else(|| Status::bad_request(format!("{path}: a parent is not an object")))?
        .insert(last.to_string(), value);
    Ok(())
}

/// The label selector of a built-in scalable resource, as a string.
fn builtin_selector(obj: &Value) -> String {
    obj.pointer("/spec/selector")
        .map(|s| match s {
            Value::Object(m) if m.contains_key("matchLabels") || m.contains_key("matchExpressions") => {
                let ls: k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector =
                    serde_json::from_value(s.clone()).unwrap_or_default();
                kube_core::Selector::try_from(&ls)
                    .map(|s| s.to_string())
                    .unwrap_or_default()
            }
            // ReplicationControllers use a plain map.
            Value::Object(m) => {
                let mut pairs: Vec<String> = m
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                    .collect();
                pairs.sort();
                pairs.join(",")
            }
            _ => String::new(),
        })
        .unwrap_or_default()
}

fn scale_of(ctx: &Ctx, obj: &Value) -> Value {
    let meta = obj.get("metadata").cloned().unwrap_or_default();
    // Custom resources say where replicas and the selector are (missing replicas read as 0).
    let (replicas, current, selector) = match ctx.def.custom.as_ref().and_then(|c| c.scale.as_ref()) {
        Some(paths) => (
            get_path(obj, &paths.spec_replicas).cloned().unwrap_or(json!(0)),
            get_path(obj, &paths.status_replicas).cloned().unwrap_or(json!(0)),
            paths
                .label_selector
                .as_deref()
                .and_then(|p| get_path(obj, p))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        ),
        None => (
            obj.pointer("/spec/replicas").cloned().unwrap_or(json!(1)),
            obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            builtin_selector(obj),
        ),
    };
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta.get("name"), "namespace": meta.get("namespace"), "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"), "creationTimestamp": meta.get("creationTimestamp"),
        },
        "spec": {"replicas": replicas},
        "status": {"replicas": current, "selector": selector},
        "__kind": ctx.def.kind.as_ref(),
    })
}

fn strip(mut v: Value) -> Value {
    if let Some(m) = v.as_object_mut() {
        m.remove("__kind");
    }
    v
}

async fn get_scale(ctx: &Ctx) -> HandlerResult {
    let resp = super::get::get(ctx).await?;
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .map_err(super::internal)?;
    let obj: Value = serde_json::from_slice(&bytes).map_err(super::internal)?;
    Ok(json(StatusCode::OK, &strip(scale_of(ctx, &obj))))
}

async fn update_scale(ctx: &Ctx) -> HandlerResult {
    let patch_kind = ctx.info.verb == Verb::Patch;
    let body: Value =
        serde_json::from_slice(&ctx.body).map_err(|e| Status::bad_request(format!("invalid body: {e}")))?;
    let updated = guaranteed_update(ctx, Part::Main, |current| {
        let current = current.ok_or_else(|| Status::not_found(&ctx.def.qualified_plural(), ctx.name()))?;
        let mut scale = strip(scale_of(ctx, current));
        if patch_kind {
            let ct = ctx
                .headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if ct.starts_with(kube_core::patch::JSON_PATCH) {
                let p: json_patch::Patch = serde_json::from_value(body.clone())
                    .map_err(|e| Status::bad_request(format!("error decoding patch: {e}")))?;
                kube_core::patch::apply_json_patch(&mut scale, &p)
                    .map_err(|e| Status::bad_request(e.to_string()))?;
            } else {
                kube_core::patch::apply_merge_patch(&mut scale, &body);
            }
        } else {
            scale = body.clone();
        }
        let replicas = scale
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if replicas < 0 {
            return Err(Status::invalid(
                "Scale",
                ctx.name(),
                vec![kube_core::status::StatusCause {
                    reason: "FieldValueInvalid".into(),
                    message: format!("Invalid value: {replicas}: must be greater than or equal to 0"),
                    field: "spec.replicas".into(),
                }],
            ));
        }
        let mut next = current.clone();
        if let Some(rv) = scale
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
        {
            crate::object::meta_mut(&mut next).insert("resourceVersion".into(), rv.into());
        } else {
            crate::object::meta_mut(&mut next).remove("resourceVersion");
        }
        match ctx.def.custom.as_ref().and_then(|c| c.scale.as_ref()) {
            Some(paths) => set_path(&mut next, &paths.spec_replicas, replicas.into())?,
            None => set_spec_field(&mut next, "replicas", replicas.into())?,
        }
        Ok(next)
    })
    .await?;
    Ok(with_warnings(
        json(StatusCode::OK, &strip(scale_of(ctx, &updated.object))),
        &updated.warnings,
    ))
}

/// Set `spec.{field}`, creating `spec` when absent.
fn set_spec_field(obj: &mut Value, field: &str, value: Value) -> Result<(), Status> {
    obj.as_object_mut()
        .ok_or_else(|| Status::bad_request("the object is not a JSON object"))?
        .entry("spec")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| Status::bad_request("spec is not an object"))?
        .insert(field.into(), value);
    Ok(())
}

fn success(code: u16) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code})
}

async fn bind(ctx: &Ctx) -> HandlerResult {
    let binding = parse_body(ctx)?;
    let node = binding
        .pointer("/target/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if node.is_empty() {
        return Err(Status::invalid(
            "Binding",
            ctx.name(),
            vec![kube_core::status::StatusCause {
                reason: "FieldValueRequired".into(),
                message: "Required value".into(),
                field: "target.name".into(),
            }],
        ));
    }
    // The binding's uid and resourceVersion, when set, are preconditions on the pod (a binding
    // meant for a pod that was deleted and created again under the same name must not land).
    let want_uid = binding
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty());
    let want_rv = binding
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty());
    guaranteed_update(ctx, Part::System, |current| {
        let current = current.ok_or_else(|| Status::not_found("pods", ctx.name()))?;
        let meta = |field: &str| current.pointer(&format!("/metadata/{field}")).and_then(Value::as_str).unwrap_or_default();
        if let Some(want) = want_uid.filter(|want| *want != meta("uid")) {
            return Err(Status::conflict(
                "pods",
                ctx.name(),
                &format!("Precondition failed: UID in precondition: {want}, UID in object meta: {}", meta("uid")),
            ));
        }
        if let Some(want) = want_rv.filter(|want| *want != meta("resourceVersion")) {
            return Err(Status::conflict(
                "pods",
                ctx.name(),
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in object meta: {}",
                    meta("resourceVersion")
                ),
            ));
        }
        if current.pointer("/metadata/deletionTimestamp").is_some() {
            return Err(Status::conflict(
                "pods",
                ctx.name(),
                "pod is being deleted, cannot be assigned to a host",
            ));
        }
        if let Some(bound) = current
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        {
            return Err(Status::conflict(
                "pods",
                ctx.name(),
                &format!("pod {} is already assigned to node \"{bound}\"", ctx.name()),
            ));
        }
        // Reject binding a pod that is not ready to be scheduled.
        if current
            .pointer("/spec/schedulingGates")
            .and_then(Value::as_array)
            .is_some_and(|gates| !gates.is_empty())
        {
            return Err(Status::conflict(
                "pods",
                ctx.name(),
                &format!("pod {} has non-empty .spec.schedulingGates", ctx.name()),
            ));
        }
        let mut next = current.clone();
        crate::object::meta_mut(&mut next).remove("resourceVersion");
        next["spec"]["nodeName"] = json!(node);
        Ok(next)
    })
    .await?;
    // The PodScheduled condition, written as the status subresource would.
    let now = crate::object::now_rfc3339();
    let _ = guaranteed_update(ctx, Part::Status, |current| {
        let mut next = current.cloned().ok_or_else(|| Status::not_found("pods", ctx.name()))?;
        crate::object::meta_mut(&mut next).remove("resourceVersion");
        let status = next.as_object_mut().expect("object").entry("status").or_insert_with(|| json!({}));
        let conditions = status.as_object_mut().expect("status object").entry("conditions").or_insert_with(|| json!([]));
        if let Some(list) = conditions.as_array_mut() {
            list.retain(|c| c.get("type").and_then(Value::as_str) != Some("PodScheduled"));
            list.push(json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now}));
        }
        Ok(next)
    })
    .await;
    Ok(json(StatusCode::CREATED, &success(201)))
}

async fn evict(ctx: &Ctx) -> HandlerResult {
    let eviction = parse_body(ctx)?;
    let mut opts = DeleteOptions::default();
    if let Some(d) = eviction.get("deleteOptions").filter(|d| !d.is_null()) {
        opts = serde_json::from_value(d.clone())
            .map_err(|e| Status::bad_request(format!("invalid deleteOptions: {e}")))?;
    }
    delete_object(ctx, &ctx.key(), ctx.name(), &opts).await?;
    Ok(json(StatusCode::CREATED, &success(201)))
}

async fn finalize(ctx: &Ctx) -> HandlerResult {
    let body = parse_body(ctx)?;
    let finalizers = body.pointer("/spec/finalizers").cloned().unwrap_or(json!([]));
    let updated = guaranteed_update(ctx, Part::Main, |current| {
        let mut next = current
            .cloned()
            .ok_or_else(|| Status::not_found("namespaces", ctx.name()))?;
        crate::object::meta_mut(&mut next).remove("resourceVersion");
        set_spec_field(&mut next, "finalizers", finalizers.clone())?;
        Ok(next)
    })
    .await?;
    Ok(json(StatusCode::OK, &updated.object))
}
