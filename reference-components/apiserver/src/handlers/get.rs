//! `GET` one object.

use http::StatusCode;

use super::{Ctx, HandlerResult, bytes_response, internal, json, parse_rv, storage_status};
use crate::object::from_storage;
use kube_core::Status;

/// Read one object: from the watch cache for `resourceVersion=0`, else from storage (a
/// consistent read).
pub async fn get(ctx: &Ctx) -> HandlerResult {
    let key = ctx.key();
    if ctx.param("resourceVersion") == Some("0") {
        return match ctx.state.cache.get(&ctx.def.key_prefix(), &key) {
            Some(obj) => Ok(bytes_response(
                StatusCode::OK,
                ctx.def.served_bytes(&obj.served()),
            )),
            None => Err(Status::not_found(&ctx.def.qualified_plural(), ctx.name())),
        };
    }
    if let Some(rv) = ctx.param("resourceVersion") {
        let rv = parse_rv(rv)?;
        ctx.state
            .cache
            .wait_for(rv, std::time::Duration::from_secs(3))
            .await
            .map_err(|_| super::too_large_rv(rv, ctx.state.cache.revision()))?;
    }
    let kv = ctx
        .state
        .storage
        .get(&key)
        .await
        .map_err(|e| storage_status(&ctx.def, ctx.name(), e))?
        .ok_or_else(|| Status::not_found(&ctx.def.qualified_plural(), ctx.name()))?;
    if !ctx.def.converts() {
        let served = crate::object::served_bytes(&kv.value, kv.mod_revision).map_err(internal)?;
        return Ok(bytes_response(StatusCode::OK, served));
    }
    let obj = from_storage(&kv.value, kv.mod_revision).map_err(internal)?;
    Ok(json(StatusCode::OK, &ctx.def.served(obj)))
}
