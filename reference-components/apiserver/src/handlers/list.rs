//! `GET` a collection: selectors, paging with consistent continue tokens, resourceVersion
//! semantics.
//!
//! | `resourceVersion` | `resourceVersionMatch` | served from |
//! |---|---|---|
//! | unset | - | the watch cache, once it has caught up with storage (a consistent read); with `limit`, storage |
//! | `0` | - / `NotOlderThan` | the watch cache as it is (`limit` ignored, as kube-apiserver does) |
//! | `N` | unset / `NotOlderThan` | the watch cache once it has reached `N` |
//! | `N` | `Exact` | storage at revision `N` (410 once compacted) |
//!
//! A `continue` token carries the revision of the first page and the last key returned, so
//! every page reads the same snapshot.

use std::sync::Arc;

use base64::Engine as _;
use bytes::{BufMut, Bytes, BytesMut};
use http::StatusCode;
use kube_core::Status;
use kube_core::selector::{FieldSelector, Selector};
use serde::{Deserialize, Serialize};

use super::{Ctx, HandlerResult, bytes_response, parse_rv, storage_status};
use crate::registry::ResourceDef;
use crate::storage::{ListOptions, Revision};
use crate::watch_cache::CachedObject;

/// Label and field selectors of a request, parsed and checked against the resource.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    labels: Option<Selector>,
    fields: Option<FieldSelector>,
}

impl Filter {
    /// Parse `labelSelector` and `fieldSelector`; unsupported fields are a 400.
    pub fn from_ctx(ctx: &Ctx) -> Result<Self, Status> {
        let labels = match ctx.param("labelSelector") {
            Some(s) => Some(
                Selector::parse(s)
                    .map_err(|e| Status::bad_request(format!("unable to parse requirement: {e}")))?,
            ),
            None => None,
        };
        let mut fields = match ctx.param("fieldSelector") {
            Some(s) => Some(
                FieldSelector::parse(s)
                    .map_err(|e| Status::bad_request(format!("invalid field selector: {e}")))?,
            ),
            None => None,
        };
        if let Some(fs) = &fields {
            for f in fs.fields() {
                if ctx.def.field_default(f).is_none() {
                    return Err(Status::bad_request(format!("field label not supported: {f}")));
                }
            }
        }
        // A watch of `/pods/{name}?watch=true` is a watch with `metadata.name={name}`.
        if let (Some(name), super::Verb::Watch) = (ctx.info.name.as_deref(), ctx.info.verb) {
            let fs = fields.take().unwrap_or_default();
            fields = Some(fs.equals("metadata.name", name));
        }
        Ok(Self { labels, fields })
    }

    /// Whether there is nothing to filter.
    pub fn is_empty(&self) -> bool {
        self.labels.as_ref().is_none_or(Selector::is_empty)
            && self.fields.as_ref().is_none_or(FieldSelector::is_empty)
    }

    /// Whether the object passes.
    pub fn matches(&self, obj: &CachedObject) -> bool {
        self.labels
            .as_ref()
            .is_none_or(|s| s.matches_with(|key| obj.labels.get(key)))
            && self
                .fields
                .as_ref()
                .is_none_or(|f| f.matches_with(|field| obj.fields.get(field)))
    }
}

#[derive(Serialize, Deserialize)]
struct ContinueToken {
    v: String,
    rv: Revision,
    start: String,
}

fn encode_continue(rv: Revision, last_key: &str) -> String {
    let t = ContinueToken {
        v: "meta.k8s.io/v1".into(),
        rv,
        start: last_key.to_string(),
    };
    base64::engine::general_purpose::URL_SAFE.encode(serde_json::to_vec(&t).expect("token serialises"))
}

fn decode_continue(token: &str, prefix: &str) -> Result<(Revision, String), Status> {
    let bad = || Status::bad_request("continue key is not valid: ".to_string() + token);
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .map_err(|_| bad())?;
    let t: ContinueToken = serde_json::from_slice(&raw).map_err(|_| bad())?;
    if t.v != "meta.k8s.io/v1" || !t.start.starts_with(prefix) {
        return Err(bad());
    }
    Ok((t.rv, t.start))
}

/// Write a list body: `{"kind":..,"apiVersion":..,"metadata":{..},"items":[..]}`.
pub fn list_body<T: ListItem>(
    def: &ResourceDef,
    rv: Revision,
    cont: Option<&str>,
    remaining: Option<u64>,
    items: &[T],
) -> Bytes {
    let mut meta = serde_json::json!({"resourceVersion": rv.to_string()});
    if let Some(c) = cont {
        meta["continue"] = c.into();
    }
    if let Some(r) = remaining.filter(|r| *r > 0) {
        meta["remainingItemCount"] = r.into();
    }
    let size: usize = items.iter().map(|i| i.len_hint() + 1).sum();
    let mut out = BytesMut::with_capacity(size + 200);
    out.put_slice(
        format!(
            r#"{{"kind":"{}","apiVersion":"{}","metadata":"#,
            def.list_kind(),
            def.api_version()
        )
        .as_bytes(),
    );
    out.put_slice(&serde_json::to_vec(&meta).expect("metadata serialises"));
    out.put_slice(br#","items":["#);
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.put_u8(b',');
        }
        item.write(def, &mut out);
    }
    out.put_slice(b"]}");
    out.freeze()
}

/// An item of a list body: served JSON, or a cached object written out in its served form.
pub trait ListItem {
    /// About how many bytes it writes.
    fn len_hint(&self) -> usize;
    /// Appends the item as `def` serves it.
    fn write(&self, def: &ResourceDef, out: &mut BytesMut);
}

impl ListItem for Bytes {
    fn len_hint(&self) -> usize {
        self.len()
    }
    fn write(&self, _: &ResourceDef, out: &mut BytesMut) {
        out.put_slice(self);
    }
}

impl ListItem for Arc<CachedObject> {
    fn len_hint(&self) -> usize {
        self.served_len()
    }
    fn write(&self, def: &ResourceDef, out: &mut BytesMut) {
        write_served(def, self, out);
    }
}

/// Appends `obj` as `def` serves it: straight from the cached bytes unless the version converts.
pub fn write_served(def: &ResourceDef, obj: &CachedObject, out: &mut BytesMut) {
    if def.converts() {
        out.put_slice(&def.served_bytes(&obj.served()));
    } else {
        obj.write_served(out);
    }
}

/// The objects of the request's scope that match `filter`, from the watch cache.
pub fn from_cache(ctx: &Ctx, filter: &Filter) -> Result<(Revision, Vec<Arc<CachedObject>>), Status> {
    let (rv, items) = ctx
        .state
        .cache
        .list(&ctx.def.key_prefix(), &ctx.def.list_prefix(ctx.namespace()))
        .map_err(super::cache_status)?;
    Ok((rv, items.into_iter().filter(|o| filter.matches(o)).collect()))
}

/// Wait until the cache may serve a read with the request's resourceVersion semantics.
pub async fn wait_for_cache(ctx: &Ctx) -> Result<(), Status> {
    match ctx.param("resourceVersion") {
        Some("0") => Ok(()),
        Some(rv) => {
            let rv = parse_rv(rv)?;
            ctx.state
                .cache
                .wait_for(rv, std::time::Duration::from_secs(3))
                .await
                .map_err(super::cache_status)
        }
        None => ctx
            .state
            .cache
            .wait_consistent()
            .await
            .map(|_| ())
            .map_err(super::cache_status),
    }
}

/// The list handler.
pub async fn list(ctx: &Ctx) -> HandlerResult {
    let filter = Filter::from_ctx(ctx)?;
    let limit = match ctx.param("limit") {
        Some(l) => l
            .parse::<usize>()
            .map_err(|_| Status::bad_request(format!("invalid limit {l:?}")))?,
        None => 0,
    };
    let rv_param = ctx.param("resourceVersion");
    let exact = match ctx.param("resourceVersionMatch") {
        None => false,
        Some("Exact") => true,
        Some("NotOlderThan") => false,
        Some(other) => {
            return Err(Status::bad_request(format!(
                "resourceVersionMatch: Unsupported value: \"{other}\": supported values: \"Exact\", \"NotOlderThan\""
            )));
        }
    };
    if ctx.param("resourceVersionMatch").is_some() && rv_param.is_none() {
        return Err(Status::bad_request(
            "resourceVersionMatch is forbidden unless resourceVersion is provided",
        ));
    }
    let cont = ctx.param("continue");
    if cont.is_some() && ctx.param("resourceVersionMatch").is_some() {
        return Err(Status::bad_request(
            "resourceVersionMatch is forbidden when continue is provided",
        ));
    }
    if exact && rv_param == Some("0") {
        return Err(Status::bad_request(
            "resourceVersionMatch \"Exact\" is forbidden for resourceVersion \"0\"",
        ));
    }
    let prefix = ctx.def.list_prefix(ctx.namespace());
    let from_storage = cont.is_some() || exact || (limit > 0 && rv_param != Some("0"));
    if !from_storage {
        wait_for_cache(ctx).await?;
        let (rv, items) = from_cache(ctx, &filter)?;
        return Ok(bytes_response(
            StatusCode::OK,
            list_body(&ctx.def, rv, None, None, &items),
        ));
    }

    // From storage: a consistent snapshot across pages.
    let (revision, mut start_after) = match cont {
        Some(token) => {
            if rv_param.is_some() {
                return Err(Status::bad_request(
                    "specifying resource version is not allowed when using continue",
                ));
            }
            let (rv, start) = decode_continue(token, &prefix)?;
            (Some(rv), Some(start))
        }
        None if exact => (Some(parse_rv(rv_param.unwrap_or_default())?), None),
        None => (None, None),
    };
    let mut revision = revision;
    let mut out: Vec<Arc<CachedObject>> = Vec::new();
    let want = if limit == 0 { usize::MAX } else { limit };
    let chunk = if limit == 0 { None } else { Some(limit.max(100)) };
    let resource_prefix = ctx.def.key_prefix();
    let (rv, next, remaining) = loop {
        let opts = ListOptions {
            limit: chunk,
            start_after: start_after.clone(),
            revision,
        };
        let page = ctx.state.storage.list(&prefix, &opts).await.map_err(|e| match e {
            crate::storage::Error::Expired { .. } if cont.is_some() => Status::expired(
                "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
            ),
            e => storage_status(&ctx.def, "", e),
        })?;
        revision = Some(page.revision);
        let n = page.items.len();
        let mut stop_at = None;
        for (i, kv) in page.items.iter().enumerate() {
            let Some(obj) = ctx
                .state
                .cache
                .decode(&resource_prefix, &kv.key, &kv.value, kv.mod_revision)
            else {
                continue;
            };
            if filter.matches(&obj) {
                out.push(obj);
                if out.len() == want {
                    stop_at = Some(i);
                    break;
                }
            }
        }
        if let Some(i) = stop_at {
            let left = (n - i - 1) as u64 + page.remaining;
            break (page.revision, (left > 0).then(|| page.items[i].key.clone()), left);
        }
        if page.remaining == 0 || n == 0 {
            break (page.revision, None, 0);
        }
        start_after = Some(page.items[n - 1].key.clone());
    };
    let token = next.map(|k| encode_continue(rv, &k));
    let remaining = if filter.is_empty() && token.is_some() {
        Some(remaining)
    } else {
        None
    };
    Ok(bytes_response(
        StatusCode::OK,
        list_body(&ctx.def, rv, token.as_deref(), remaining, &out),
    ))
}
