//! `PUT` an object.

use super::write::{Part, check_identity, guaranteed_update, parse_body, with_warnings};
use super::{Ctx, HandlerResult, json};

/// The update handler (also serves `PUT .../status` through [`put`]).
pub async fn update(ctx: &Ctx) -> HandlerResult {
    put(ctx, Part::Main).await
}

/// Replace the object (or, for [`Part::Status`], its status).
pub async fn put(ctx: &Ctx, part: Part) -> HandlerResult {
    let mut body = parse_body(ctx)?;
    check_identity(ctx, &mut body)?;
    let updated = guaranteed_update(ctx, part, |_current| Ok(body.clone())).await?;
    Ok(with_warnings(
        json(updated.code, &updated.object),
        &updated.warnings,
    ))
}
