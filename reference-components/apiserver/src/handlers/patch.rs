//! `PATCH` an object: JSON merge, JSON and strategic merge patches, applied to the current
//! object inside the compare-and-swap loop, and server-side apply ([`crate::apply`]).
//!
//! As in kube-apiserver, the patch applies to the current object *with* its `resourceVersion`,
//! and the patched object's `resourceVersion` is the precondition of the write: a patch that
//! leaves it alone always applies to the latest object; one that sets it (a merge patch with
//! `metadata.resourceVersion`, a JSON patch `replace` of `/metadata/resourceVersion`) gets 409
//! Conflict when it is stale; and a JSON patch may `test` it. Strategic merge patches are for
//! built-in kinds only: custom resources answer 415, as kube-apiserver does.
//!
//! A server-side apply (`application/apply-patch+yaml`) needs a `fieldManager`; it applies to
//! the current object, or creates the object when there is none (create-on-apply).

use http::StatusCode;
use kube_core::Status;
use kube_core::patch::{self as p, PatchError};
use serde_json::Value;

use super::write::{MAX_BODY, Part, check_identity, guaranteed_update, with_warnings};
use super::{Ctx, HandlerResult, bytes_response, json};

/// The kinds of patch the server applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Merge,
    Json,
    Strategic,
}

fn unsupported(ctx: &Ctx, content_type: &str) -> Status {
    let mut supported = vec![p::JSON_PATCH, p::MERGE_PATCH, p::APPLY_PATCH];
    if p::supports_strategic_merge(&ctx.def.api_version(), &ctx.def.kind) {
        supported.push(p::STRATEGIC_MERGE_PATCH);
    }
    Status::failure(
        415,
        kube_core::status::reason::UNSUPPORTED_MEDIA_TYPE,
        format!(
            "the body of the request was in an unknown format - accepted media types include: {}",
            supported.join(", ")
        ),
    )
    .with_details(kube_core::status::StatusDetails {
        name: content_type.into(),
        ..Default::default()
    })
}

/// The patch handler.
pub async fn patch(ctx: &Ctx) -> HandlerResult {
    patch_part(ctx, Part::Main).await
}

/// Patch the object (or its status).
pub async fn patch_part(ctx: &Ctx, part: Part) -> HandlerResult {
    let content_type = ctx
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_string())
        .unwrap_or_default();
    if content_type == p::APPLY_PATCH {
        return apply(ctx, part).await;
    }
    crate::apply::check_patch_options(ctx, false)?;
    let kind = match content_type.as_str() {
        p::MERGE_PATCH => Kind::Merge,
        p::JSON_PATCH => Kind::Json,
        p::STRATEGIC_MERGE_PATCH if p::supports_strategic_merge(&ctx.def.api_version(), &ctx.def.kind) => {
            Kind::Strategic
        }
        other => return Err(unsupported(ctx, other)),
    };
    if ctx.body.len() > MAX_BODY {
        return Err(Status::failure(
            413,
            kube_core::status::reason::REQUEST_ENTITY_TOO_LARGE,
            "Request entity too large",
        ));
    }
    let doc: Value = serde_json::from_slice(&ctx.body)
        .map_err(|e| Status::bad_request(format!("error decoding patch: {e}")))?;
    let json_patch: Option<json_patch::Patch> = match kind {
        Kind::Json => Some(
            serde_json::from_value(doc.clone())
                .map_err(|e| Status::bad_request(format!("error decoding patch: {e}")))?,
        ),
        _ => {
            if !doc.is_object() {
                return Err(Status::bad_request(
                    "error decoding patch: a merge patch must be a JSON object",
                ));
            }
            None
        }
    };
    let api_version = ctx.def.api_version();
    let updated = guaranteed_update(ctx, part, |current| {
        let Some(current) = current else {
            return Err(Status::not_found(&ctx.def.qualified_plural(), ctx.name()));
        };
        let mut target = current.clone();
        let result = match kind {
            Kind::Merge => {
                p::apply_merge_patch(&mut target, &doc);
                Ok(())
            }
            Kind::Json => p::apply_json_patch(&mut target, json_patch.as_ref().expect("parsed above")),
            Kind::Strategic => p::apply_strategic_merge_patch(&mut target, &doc, &api_version, &ctx.def.kind),
        };
        result.map_err(|e| match e {
            PatchError::Invalid(msg) => Status::bad_request(msg),
            other => Status::failure(422, kube_core::status::reason::INVALID, other.to_string()),
        })?;
        if !target.is_object() {
            return Err(Status::bad_request(
                "the patch replaced the object with a non-object",
            ));
        }
        check_identity(ctx, &mut target)?;
        Ok(target)
    })
    .await?;
    Ok(with_warnings(
        json(updated.code, &updated.object),
        &updated.warnings,
    ))
}

/// Server-side apply: to the current object, or create-on-apply when there is none. A race
/// with a create or a delete starts over (a few times).
async fn apply(ctx: &Ctx, part: Part) -> HandlerResult {
    crate::apply::check_patch_options(ctx, true)?;
    let (config, warnings) = crate::apply::parse_config(ctx, part == Part::Status)?;
    let with_config_warnings = |more: &[String]| [warnings.as_slice(), more].concat();
    for _attempt in 0..8 {
        let result = guaranteed_update(ctx, part, |current| {
            let mut obj = crate::apply::apply(ctx, current, &config)?;
            check_identity(ctx, &mut obj)?;
            Ok(obj)
        })
        .await;
        match result {
            Ok(updated) => {
                return Ok(with_warnings(
                    json(updated.code, &updated.object),
                    &with_config_warnings(&updated.warnings),
                ));
            }
            // Only the missing object answers 404 here: create it.
            Err(status) if status.code == 404 && part != Part::Status => {}
            Err(status) => return Err(status),
        }
        let mut obj = crate::apply::apply(ctx, None, &config)?;
        check_identity(ctx, &mut obj)?;
        match super::create::create_object(ctx, obj).await {
            Ok((object, create_warnings)) => {
                return Ok(with_warnings(
                    bytes_response(StatusCode::CREATED, object),
                    &with_config_warnings(&create_warnings),
                ));
            }
            Err(status) if status.is_already_exists() => continue,
            Err(status) => return Err(status),
        }
    }
    Err(Status::conflict(
        &ctx.def.qualified_plural(),
        ctx.name(),
        "too many concurrent writes; try again",
    ))
}
