//! `DELETE` one object or a collection: preconditions, finalizers, graceful pod deletion,
//! propagation policy.
//!
//! - Preconditions (`uid`, `resourceVersion`) that do not hold: 409 Conflict.
//! - `propagationPolicy: Orphan` adds the `orphan` finalizer, `Foreground` adds
//!   `foregroundDeletion`; the garbage collector acts on them. `Background` (the default)
//!   deletes the object now and leaves dependents to the collector.
//! - An object with finalizers gets `deletionTimestamp` and stays until they are removed.
//! - A pod bound to a node gets a grace period (the request's, else the pod's
//!   `terminationGracePeriodSeconds`): `deletionTimestamp = now + grace`; the kubelet deletes it
//!   with grace 0 once its containers stopped.
//! - A namespace turns `Terminating` and stays while `spec.finalizers` is not empty.

use http::StatusCode;
use kube_core::Status;
use kube_core::params::PropagationPolicy;
use serde::Deserialize;
use serde_json::{Value, json};

use super::list::{Filter, from_cache, list_body, wait_for_cache};
use super::write::no_finalizers;
use super::{Ctx, HandlerResult, bytes_response, internal, storage_status};
use crate::object::{from_storage, meta_mut, meta_str, now_rfc3339, rfc3339_after, to_storage};

/// `DeleteOptions`, from the body and the query (query parameters win, as in Kubernetes).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteOptions {
    grace_period_seconds: Option<i64>,
    propagation_policy: Option<PropagationPolicy>,
    orphan_dependents: Option<bool>,
    preconditions: Option<Preconditions>,
    #[serde(default)]
    dry_run: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Preconditions {
    uid: Option<String>,
    resource_version: Option<String>,
}

impl DeleteOptions {
    /// Read the options of a request.
    pub fn from_ctx(ctx: &Ctx) -> Result<Self, Status> {
        let mut opts: DeleteOptions = if ctx.body.iter().all(u8::is_ascii_whitespace) {
            DeleteOptions::default()
        } else {
            serde_json::from_slice(&ctx.body)
                .map_err(|e| Status::bad_request(format!("invalid DeleteOptions: {e}")))?
        };
        if let Some(g) = ctx.param("gracePeriodSeconds") {
            opts.grace_period_seconds = Some(
                g.parse()
                    .map_err(|_| Status::bad_request(format!("invalid gracePeriodSeconds {g:?}")))?,
            );
        }
        if let Some(p) = ctx.param("propagationPolicy") {
            opts.propagation_policy = Some(
                serde_json::from_value(json!(p))
                    .map_err(|_| Status::bad_request(format!("invalid propagationPolicy {p:?}")))?,
            );
        }
        if let Some(d) = ctx.param("dryRun") {
            opts.dry_run = vec![d.to_string()];
        }
        if let Some(d) = opts.dry_run.iter().find(|d| *d != "All") {
            return Err(super::unsupported_dry_run("DeleteOptions", d));
        }
        if opts.orphan_dependents.is_some() && opts.propagation_policy.is_some() {
            return Err(Status::bad_request(
                "Only one of OrphanDependents and PropagationPolicy may be set",
            ));
        }
        if opts.orphan_dependents == Some(true) {
            opts.propagation_policy = Some(PropagationPolicy::Orphan);
        }
        Ok(opts)
    }

    fn dry_run(&self) -> bool {
        self.dry_run.iter().any(|d| d == "All")
    }
}

/// The delete handler.
pub async fn delete(ctx: &Ctx) -> HandlerResult {
    let opts = DeleteOptions::from_ctx(ctx)?;
    if ctx.def.is("", "Namespace") && matches!(ctx.name(), "default" | "kube-system" | "kube-public") {
        return Err(Status::failure(
            403,
            kube_core::status::reason::FORBIDDEN,
            format!(
                "namespaces \"{}\" is forbidden: this namespace may not be deleted",
                ctx.name()
            ),
        ));
    }
    let (obj, deleted) = delete_object(ctx, &ctx.key(), ctx.name(), &opts).await?;
    let obj = ctx.def.served(obj);
    let returns_object = !deleted || ctx.def.is("", "Pod") || ctx.def.is("", "Namespace");
    if returns_object {
        return Ok(super::json(StatusCode::OK, &obj));
    }
    let status = Status::success().with_details(kube_core::status::StatusDetails {
        name: ctx.name().to_string(),
        group: ctx.def.group.to_string(),
        kind: ctx.def.plural.to_string(),
        uid: meta_str(&obj, "uid").unwrap_or_default().to_string(),
        ..Default::default()
    });
    Ok(super::json(
        StatusCode::OK,
        &serde_json::to_value(&status).map_err(internal)?,
    ))
}

/// Delete (or start deleting) one object. Returns its last state and whether it is gone.
pub async fn delete_object(
    ctx: &Ctx,
    key: &str,
    name: &str,
    opts: &DeleteOptions,
) -> Result<(Value, bool), Status> {
    let dry_run = opts.dry_run() || ctx.dry_run();
    for _attempt in 0..16 {
        let kv = ctx
            .state
            .storage
            .get(key)
            .await
            .map_err(|e| storage_status(&ctx.def, name, e))?
            .ok_or_else(|| Status::not_found(&ctx.def.qualified_plural(), name))?;
        let current = from_storage(&kv.value, kv.mod_revision).map_err(internal)?;
        if let Some(pre) = &opts.preconditions {
            let uid = meta_str(&current, "uid").unwrap_or_default();
            if let Some(want) = pre.uid.as_deref().filter(|u| *u != uid) {
                return Err(Status::conflict(
                    &ctx.def.qualified_plural(),
                    name,
                    &format!("Precondition failed: UID in precondition: {want}, UID in object meta: {uid}"),
                ));
            }
            let rv = kv.mod_revision.to_string();
            if let Some(want) = pre.resource_version.as_deref().filter(|r| *r != rv) {
                return Err(Status::conflict(
                    &ctx.def.qualified_plural(),
                    name,
                    &format!(
                        "Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in object meta: {rv}"
                    ),
                ));
            }
        }
        let mut next = current.clone();
        let mut pending = false;
        let already = meta_str(&current, "deletionTimestamp").is_some();
        {
            let meta = meta_mut(&mut next);
            let finalizers = meta.entry("finalizers").or_insert_with(|| json!([]));
            if let Some(list) = finalizers.as_array_mut() {
                let add = match opts.propagation_policy {
                    Some(PropagationPolicy::Orphan) => Some("orphan"),
                    Some(PropagationPolicy::Foreground) => Some("foregroundDeletion"),
                    _ => None,
                };
                if let Some(f) = add.filter(|f| !list.iter().any(|x| x == f)) {
                    list.push(json!(f));
                }
                if list.is_empty() {
                    meta.remove("finalizers");
                }
            }
        }
        let is_pod = ctx.def.is("", "Pod");
        let is_namespace = ctx.def.is("", "Namespace");
        if ctx.def.is("apiextensions.k8s.io", "CustomResourceDefinition") {
            // Its objects are deleted first, behind the cleanup finalizer.
            crate::apiextensions::prepare_delete(&mut next);
        }
        let grace = if is_pod
            && current
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .is_some_and(|n| !n.is_empty())
        {
            let g = opts
                .grace_period_seconds
                .or_else(|| {
                    current
                        .pointer("/spec/terminationGracePeriodSeconds")
                        .and_then(Value::as_i64)
                })
                .unwrap_or(30);
            // A pod already in a terminal phase needs no grace.
            let phase = current
                .pointer("/status/phase")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if matches!(phase, "Succeeded" | "Failed") {
                0
            } else {
                g.max(0)
            }
        } else {
            0
        };
        if grace > 0 {
            let meta = meta_mut(&mut next);
            let shorter = meta
                .get("deletionGracePeriodSeconds")
                .and_then(Value::as_i64)
                .is_none_or(|g| grace < g);
            if shorter {
                meta.insert("deletionTimestamp".into(), rfc3339_after(grace).into());
                meta.insert("deletionGracePeriodSeconds".into(), grace.into());
            }
            pending = true;
        }
        if !no_finalizers(&next) {
            let meta = meta_mut(&mut next);
            if !meta.contains_key("deletionTimestamp") {
                meta.insert("deletionTimestamp".into(), now_rfc3339().into());
                meta.insert("deletionGracePeriodSeconds".into(), 0.into());
            }
            if is_namespace && let Some(status) = next.get_mut("status").and_then(Value::as_object_mut) {
                status.insert("phase".into(), "Terminating".into());
            }
            pending = true;
        }
        if pending {
            if already && next == current {
                return Ok((current, false));
            }
            if dry_run {
                return Ok((next, false));
            }
            match ctx
                .state
                .storage
                .update(key, to_storage(next.clone()), kv.mod_revision)
                .await
            {
                Ok(new) => {
                    return Ok((
                        from_storage(&to_storage(next), new.mod_revision).map_err(internal)?,
                        false,
                    ));
                }
                Err(crate::storage::Error::Conflict { .. }) => continue,
                Err(e) => return Err(storage_status(&ctx.def, name, e)),
            }
        }
        if dry_run {
            return Ok((current, true));
        }
        match ctx.state.storage.delete(key, Some(kv.mod_revision)).await {
            Ok(gone) => {
                if ctx.def.is("", "Service") {
                    ctx.state
                        .services
                        .release_object_shared(&ctx.state.storage, &current)
                        .await;
                }
                return Ok((
                    from_storage(&kv.value, gone.mod_revision).map_err(internal)?,
                    true,
                ));
            }
            Err(crate::storage::Error::Conflict { .. }) => continue,
            Err(crate::storage::Error::NotFound { .. }) => {
                return Err(Status::not_found(&ctx.def.qualified_plural(), name));
            }
            Err(e) => return Err(storage_status(&ctx.def, name, e)),
        }
    }
    Err(Status::conflict(
        &ctx.def.qualified_plural(),
        name,
        "too many concurrent updates; try again",
    ))
}

/// The deletecollection handler: every matching object, with the same options. Returns the
/// list of what was deleted (or is being deleted).
pub async fn delete_collection(ctx: &Ctx) -> HandlerResult {
    let opts = DeleteOptions::from_ctx(ctx)?;
    let filter = Filter::from_ctx(ctx)?;
    wait_for_cache(ctx).await?;
    let (_, items) = from_cache(ctx, &filter)?;
    let mut out = Vec::with_capacity(items.len());
    for obj in items {
        match delete_object(ctx, &obj.key, &obj.name, &opts).await {
            Ok((last, _)) => out.push(bytes::Bytes::from(
                serde_json::to_vec(&ctx.def.served(last)).map_err(internal)?,
            )),
            Err(s) if s.is_not_found() => {}
            Err(s) => return Err(s),
        }
    }
    let rv = ctx.state.cache.revision();
    Ok(bytes_response(
        StatusCode::OK,
        list_body(&ctx.def, rv, None, None, &out),
    ))
}
