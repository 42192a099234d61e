//! `PATCH` an object: JSON merge, JSON and strategic merge patches, applied to the current
//! object inside the compare-and-swap loop.
//!
//! As in kube-apiserver, the patch applies to the current object *with* its `resourceVersion`,
//! and the patched object's `resourceVersion` is the precondition of the write: a patch that
//! leaves it alone always applies to the latest object; one that sets it (a merge patch with
//! `metadata.resourceVersion`, a JSON patch `replace` of `/metadata/resourceVersion`) gets 409
//! Conflict when it is stale; and a JSON patch may `test` it. Strategic merge patches are for
//! built-in kinds only: custom resources answer 415, as kube-apiserver does.

use kube_core::Status;
use kube_core::patch::{self as p, PatchError};
use serde_json::Value;

use super::write::{MAX_BODY, Part, check_identity, guaranteed_update, with_warnings};
use super::{Ctx, HandlerResult, json};

/// The kinds of patch the server applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Merge,
    Json,
    Strategic,
}

fn unsupported(ctx: &Ctx, content_type: &str) -> Status {
    let mut supported = vec![p::JSON_PATCH, p::MERGE_PATCH];
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
