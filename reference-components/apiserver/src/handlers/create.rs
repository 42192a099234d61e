//! `POST` a new object.

use http::StatusCode;
use kube_core::Status;
use serde_json::{Value, json};

use super::write::{
    MAX_BODY, check_identity, decode_typed, default_and_validate, field_validation, parse_body, with_warnings,
};
use super::{Ctx, HandlerResult, internal, storage_status};
use crate::object::{
    at, from_storage, generate_name, meta_mut, meta_str, new_uid, now_rfc3339, to_storage,
    to_storage_with_fields,
};
use crate::unknown_fields::{FieldPath, Segment, render};
use crate::watch_cache::{Described, WatchCache};

/// The create handler.
pub async fn create(ctx: &Ctx) -> HandlerResult {
    let (object, warnings) = match decode_body(ctx) {
        Some((mut obj, unknown)) => {
            check_identity(ctx, &mut obj)?;
            create_decoded(ctx, obj, Decoded::Typed(unknown)).await?
        }
        None => {
            let mut obj = parse_body(ctx)?;
            check_identity(ctx, &mut obj)?;
            create_object(ctx, obj).await?
        }
    };
    Ok(with_warnings(
        super::bytes_response(StatusCode::CREATED, object),
        &warnings,
    ))
}

/// How far the object of a create has been decoded.
enum Decoded {
    /// As parsed: the typed decoding is still to come.
    Raw,
    /// Decoded straight from the body into the typed form and encoded back (its canonical
    /// form), with the paths of the fields the typed form does not know.
    Typed(Vec<FieldPath>),
}

/// A built-in resource's body decoded straight into its typed form, when it decodes: one pass
/// over the body instead of three (parse, typed decoding from the parsed value, the walk that
/// finds unknown fields). `None` sends the request down the general path, which gives every
/// failure its usual status and message; a body that decodes gets the same result either way
/// (tests/create_paths.rs compares them).
fn decode_body(ctx: &Ctx) -> Option<(Value, Vec<FieldPath>)> {
    if ctx.body.len() > MAX_BODY {
        return None;
    }
    let codec = ctx.def.codec?;
    (codec.from_body)(&ctx.body).ok()
}

/// Create `obj` (identity already checked): name, namespace, server-set metadata, status reset,
/// typed decoding, defaults, validation, allocation, storage. Returns the served JSON.
pub async fn create_object(ctx: &Ctx, obj: Value) -> Result<(bytes::Bytes, Vec<String>), Status> {
    create_decoded(ctx, obj, Decoded::Raw).await
}

async fn create_decoded(
    ctx: &Ctx,
    mut obj: Value,
    decoded: Decoded,
) -> Result<(bytes::Bytes, Vec<String>), Status> {
    if ctx.def.custom.as_ref().is_some_and(|c| c.terminating) {
        return Err(Status::failure(
            405,
            kube_core::status::reason::METHOD_NOT_ALLOWED,
            "create not allowed while custom resource definition is terminating",
        ));
    }
    // The prefix the name was generated from, if it was.
    let mut generated = None;
    {
        let meta = meta_mut(&mut obj);
        if meta
            .get("resourceVersion")
            .and_then(Value::as_str)
            .is_some_and(|rv| !rv.is_empty())
        {
            return Err(Status::bad_request(
                "resourceVersion should not be set on objects to be created",
            ));
        }
        let name = meta
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .map(str::to_string);
        if name.is_none() {
            match meta
                .get("generateName")
                .and_then(Value::as_str)
                .filter(|g| !g.is_empty())
            {
                Some(prefix) => {
                    generated = Some(prefix.to_string());
                    meta.insert("name".into(), generate_name(prefix).into());
                }
                None => {
                    return Err(Status::invalid(
                        &ctx.def.kind,
                        "",
                        vec![kube_core::status::StatusCause {
                            reason: "FieldValueRequired".into(),
                            message: "Required value: name or generateName is required".into(),
                            field: "metadata.name".into(),
                        }],
                    ));
                }
            }
        }
        meta.insert("uid".into(), new_uid().into());
        meta.insert("creationTimestamp".into(), now_rfc3339().into());
        meta.remove("deletionTimestamp");
        meta.remove("deletionGracePeriodSeconds");
        meta.remove("selfLink");
        if ctx.def.tracks_generation {
            meta.insert("generation".into(), 1.into());
        } else {
            meta.remove("generation");
        }
    }
    if ctx.def.namespaced {
        check_namespace(ctx, meta_str(&obj, "name").unwrap_or_default()).await?;
    }
    let status_reset = reset_status(ctx, &mut obj);
    let (obj, warnings) = match decoded {
        Decoded::Raw => decode_typed(ctx, obj)?,
        Decoded::Typed(unknown) => {
            if status_reset {
                canonical_status(ctx, &mut obj)?;
            }
            // The general path finds unknown fields after the status reset, so not in the
            // status the client sent.
            let unknown: Vec<String> = unknown
                .iter()
                .filter(|path| {
                    !(status_reset && matches!(path.first(), Some(Segment::Key(k)) if k == "status"))
                })
                .map(|path| render(path))
                .collect();
            (obj, field_validation(ctx, &unknown)?)
        }
    };
    let mut obj = ctx.def.stored(obj);
    default_and_validate(ctx, &mut obj, None)?;
    // Straight to storage: the managed fields as JSON text, spliced into the stored bytes.
    let direct = !ctx.dry_run() && !ctx.def.converts();
    let fields_text = if direct {
        crate::apply::record_create(ctx, &mut obj)
    } else {
        crate::apply::record_update(ctx, None, &mut obj);
        None
    };
    if ctx.def.is("", "Pod") {
        set_pod_qos(&mut obj);
        set_scheduling_gated(&mut obj);
    }
    let name = meta_str(&obj, "name").unwrap_or_default().to_string();
    let key = ctx.def.key(ctx.namespace(), &name);
    let allocated = if !ctx.def.is("", "Service") {
        None
    } else if ctx.dry_run() {
        Some(ctx.state.services.allocate(&mut obj)?)
    } else {
        // Reserved in storage too: exclusive across apiservers sharing it.
        Some(
            ctx.state
                .services
                .allocate_shared(&ctx.state.storage, &mut obj)
                .await?,
        )
    };
    if ctx.dry_run() {
        if let Some(a) = allocated {
            ctx.state.services.release(&a);
        }
        let served = serde_json::to_vec(&ctx.def.served(obj)).map_err(internal)?;
        return Ok((served.into(), warnings));
    }
    let described = ctx.state.cache.describe(&key, &obj);
    let stored = store_new(
        ctx.state.storage.as_ref(),
        Some(&ctx.state.cache),
        |name| ctx.def.key(ctx.namespace(), name),
        Created {
            key,
            name,
            bytes: match &fields_text {
                Some(fields) => to_storage_with_fields(obj, fields),
                None => to_storage(obj),
            },
            described,
        },
        generated.as_deref(),
        generate_name,
    )
    .await?;
    let Created { name, bytes, .. } = stored.0;
    let result = stored.1;
    match result {
        Ok(kv) if !ctx.def.converts() => Ok((
            crate::object::served_bytes(&bytes, kv.mod_revision).map_err(internal)?,
            warnings,
        )),
        Ok(kv) => {
            let served = ctx
                .def
                .served(from_storage(&bytes, kv.mod_revision).map_err(internal)?);
            Ok((serde_json::to_vec(&served).map_err(internal)?.into(), warnings))
        }
        Err(e) => {
            if let Some(a) = allocated {
                ctx.state.services.release_shared(&ctx.state.storage, &a).await;
            }
            Err(storage_status(&ctx.def, &name, e))
        }
    }
}

/// A new object: its key, name and stored bytes, and what the watch cache indexes of it.
struct Created {
    key: String,
    name: String,
    bytes: bytes::Bytes,
    described: Option<Described>,
}

/// Store `new`. A name generated from `prefix` that is taken is generated again (with `next`),
/// up to [`GENERATE_NAME_RETRIES`] times, as kube-apiserver's RetryGenerateName does: with 5
/// random characters, collisions start within a few thousand names. Returns the object as last
/// tried and the storage's answer. The `cache` is told of each attempt (so that it need not
/// parse the stored bytes again) and of each failure.
async fn store_new(
    storage: &dyn crate::storage::Storage,
    cache: Option<&WatchCache>,
    key_of: impl Fn(&str) -> String,
    mut new: Created,
    prefix: Option<&str>,
    mut next: impl FnMut(&str) -> String,
) -> Result<(Created, crate::storage::Result<crate::storage::KeyValue>), Status> {
    let expect = |new: &mut Created| {
        if let (Some(cache), Some(described)) = (cache, new.described.take()) {
            cache.expect(&new.key, &new.bytes, described);
        }
    };
    let failed = |new: &Created| {
        if let Some(cache) = cache {
            cache.forget(&new.key, &new.bytes);
        }
    };
    expect(&mut new);
    let mut result = storage.create(&new.key, new.bytes.clone()).await;
    if let Some(prefix) = prefix {
        for _ in 0..GENERATE_NAME_RETRIES {
            if !matches!(result, Err(crate::storage::Error::AlreadyExists { .. })) {
                break;
            }
            failed(&new);
            new.name = next(prefix);
            new.key = key_of(&new.name);
            let mut obj: Value = serde_json::from_slice(&new.bytes).map_err(internal)?;
            meta_mut(&mut obj).insert("name".into(), new.name.clone().into());
            new.described = cache.and_then(|c| c.describe(&new.key, &obj));
            new.bytes = to_storage(obj);
            expect(&mut new);
            result = storage.create(&new.key, new.bytes.clone()).await;
        }
    }
    if result.is_err() {
        failed(&new);
    }
    Ok((new, result))
}

/// How many times a create whose generated name is taken tries another one.
const GENERATE_NAME_RETRIES: usize = 7;

/// The namespace must exist and not be terminating.
pub async fn check_namespace(ctx: &Ctx, name: &str) -> Result<(), Status> {
    let ns = ctx.namespace().unwrap_or_default();
    let key = format!("/registry/namespaces/{ns}");
    // The watch cache answers for namespaces that exist and are active (the common case, with no
    // storage read or JSON parsing); a miss or a terminating one is checked against storage.
    if let Some(cached) = ctx.state.cache.get("/registry/namespaces/", &key)
        && cached.fields.get("status.phase") == Some("Active")
    {
        return Ok(());
    }
    let kv = ctx.state.storage.get(&key).await.map_err(internal)?;
    let Some(kv) = kv else {
        return Err(Status::not_found("namespaces", ns));
    };
    let obj: Value = serde_json::from_slice(&kv.value).map_err(internal)?;
    if at(&obj, "/metadata/deletionTimestamp").is_some() {
        // kube-apiserver's NamespaceLifecycle admission, word for word.
        return Err(Status::failure(
            403,
            kube_core::status::reason::FORBIDDEN,
            format!(
                "{} \"{}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                ctx.def.qualified_plural(),
                name
            ),
        )
        .with_details(kube_core::status::StatusDetails {
            name: name.to_string(),
            group: ctx.def.group.to_string(),
            kind: ctx.def.plural.to_string(),
            causes: vec![kube_core::status::StatusCause {
                reason: "NamespaceTerminating".into(),
                message: format!("namespace {ns} is being terminated"),
                field: "metadata.namespace".into(),
            }],
            ..Default::default()
        }));
    }
    Ok(())
}

/// What a new object's status starts as, per resource (kube-apiserver's `PrepareForCreate`).
/// Returns whether the status was replaced.
fn reset_status(ctx: &Ctx, obj: &mut Value) -> bool {
    if !ctx.def.has_status() {
        return false;
    }
    let root = obj.as_object_mut().expect("object");
    if ctx.def.is_custom() {
        // A custom resource starts without status; its controller writes it.
        root.remove("status");
        return true;
    }
    let status = match (ctx.def.group.as_ref(), ctx.def.kind.as_ref()) {
        ("", "Node") => return false,
        ("", "Pod") => json!({"phase": "Pending"}),
        ("", "Namespace") => json!({"phase": "Active"}),
        ("", "PersistentVolume" | "PersistentVolumeClaim") => json!({"phase": "Pending"}),
        _ => json!({}),
    };
    root.insert("status".into(), status);
    true
}

/// The reset status of an object in typed form, encoded as the typed decoding encodes it (a
/// required field of the status type appears with its zero value, as the general path's
/// decoding after the reset makes it).
fn canonical_status(ctx: &Ctx, obj: &mut Value) -> Result<(), Status> {
    let Some(codec) = ctx.def.codec else {
        return Ok(());
    };
    let root = obj.as_object_mut().expect("object");
    let status = root.remove("status").unwrap_or(Value::Null);
    let mut typed = (codec.roundtrip)(&json!({ "status": status })).map_err(internal)?;
    if let Some(status) = typed.as_object_mut().and_then(|t| t.remove("status")) {
        root.insert("status".into(), status);
    }
    Ok(())
}

/// A pod created with scheduling gates starts `PodScheduled=False, reason SchedulingGated`
/// (`applySchedulingGatedCondition`), so that it shows as `SchedulingGated` until its gates go.
fn set_scheduling_gated(pod: &mut Value) {
    let gated = at(pod, "/spec/schedulingGates")
        .and_then(Value::as_array)
        .is_some_and(|g| !g.is_empty());
    let Some(status) = pod.get_mut("status").and_then(Value::as_object_mut) else {
        return;
    };
    let conditions = status.entry("conditions").or_insert_with(|| json!([]));
    let Some(list) = conditions.as_array_mut() else {
        return;
    };
    if !gated || list.iter().any(|c| c["type"] == "PodScheduled") {
        if list.is_empty() {
            status.remove("conditions");
        }
        return;
    }
    list.push(json!({
        "type": "PodScheduled",
        "status": "False",
        "reason": "SchedulingGated",
        "message": "Scheduling is blocked due to non-empty scheduling gates",
        "lastProbeTime": null,
        "lastTransitionTime": crate::object::now_rfc3339(),
    }));
}

/// `status.qosClass` from the containers' requests and limits.
fn set_pod_qos(pod: &mut Value) {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|f| pod.get("spec")?.get(f)?.as_array())
        .flatten()
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in &containers {
        let requests = at(c, "/resources/requests").and_then(Value::as_object);
        let limits = at(c, "/resources/limits").and_then(Value::as_object);
        for r in ["cpu", "memory"] {
            let req = requests.and_then(|m| m.get(r));
            let lim = limits.and_then(|m| m.get(r));
            if req.is_some() || lim.is_some() {
                any = true;
            }
            // A limit without a request defaults the request to the limit.
            if lim.is_none() || req.is_some_and(|q| Some(q) != lim) {
                guaranteed = false;
            }
        }
    }
    let class = if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    };
    if let Some(status) = pod.get_mut("status").and_then(Value::as_object_mut) {
        status.insert("qosClass".into(), class.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{MemoryStorage, Storage};

    fn created(name: &str) -> Created {
        Created {
            key: format!("/registry/pods/ns/{name}"),
            name: name.into(),
            bytes: to_storage(json!({"metadata": {"name": name, "generateName": "web-"}})),
            described: None,
        }
    }

    #[tokio::test]
    async fn a_taken_generated_name_is_generated_again_up_to_seven_times() {
        let storage = MemoryStorage::new();
        let key_of = |name: &str| format!("/registry/pods/ns/{name}");
        for taken in ["web-aaaaa", "web-bbbbb"] {
            storage
                .create(&key_of(taken), to_storage(json!({})))
                .await
                .unwrap();
        }
        // Taken, taken, then free: the third name is stored, with its name in the object.
        let mut names = ["web-bbbbb", "web-ccccc"].into_iter();
        let (new, result) = store_new(&storage, None, key_of, created("web-aaaaa"), Some("web-"), |_| {
            names.next().unwrap().to_string()
        })
        .await
        .unwrap();
        assert!(result.is_ok());
        assert_eq!(
            (new.name.as_str(), new.key.as_str()),
            ("web-ccccc", "/registry/pods/ns/web-ccccc")
        );
        let stored: Value =
            serde_json::from_slice(&storage.get(&new.key).await.unwrap().unwrap().value).unwrap();
        assert_eq!(stored["metadata"]["name"], "web-ccccc");

        // Always taken: 1 + 7 attempts, then the conflict is the answer.
        let mut tries = 0;
        let (_, result) = store_new(&storage, None, key_of, created("web-aaaaa"), Some("web-"), |_| {
            tries += 1;
            "web-bbbbb".to_string()
        })
        .await
        .unwrap();
        assert!(matches!(result, Err(crate::storage::Error::AlreadyExists { .. })));
        assert_eq!(tries, GENERATE_NAME_RETRIES);

        // A name the client chose is never replaced.
        let (new, result) = store_new(
            &storage,
            None,
            key_of,
            created("web-aaaaa"),
            None,
            |_| unreachable!(),
        )
        .await
        .unwrap();
        assert!(result.is_err());
        assert_eq!(new.name, "web-aaaaa");
    }
}
