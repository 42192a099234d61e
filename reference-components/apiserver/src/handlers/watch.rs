//! `GET ...?watch=true`: a chunked stream of `{"type":..,"object":..}` lines.
//!
//! Semantics as kube-apiserver's:
//! - `resourceVersion` unset or `0`: the current state first, as ADDED events (unset waits for a
//!   consistent view), then changes; `N`: the changes after `N` (410 Expired in an ERROR event
//!   when `N` is older than any history kept).
//! - `sendInitialEvents=true` (with `resourceVersionMatch=NotOlderThan` and bookmarks): the
//!   current state, then a BOOKMARK annotated `k8s.io/initial-events-end: "true"`.
//! - Selectors apply to transitions: an object that stops matching arrives as DELETED, one that
//!   starts matching as ADDED.
//! - Bookmarks every few seconds when `allowWatchBookmarks=true`; the stream ends after
//!   `timeoutSeconds` (default: a random time between 30 and 60 minutes).

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::{BufMut, Bytes, BytesMut};
use futures::StreamExt;
use http::{HeaderValue, StatusCode, header};
use kube_core::Status;
use rand::Rng;

use super::list::Filter;
use super::{Ctx, parse_rv, status_response};
use crate::registry::ResourceDef;
use crate::storage::EventKind;
use crate::watch_cache::{CacheError, CachedEvent, CachedObject, WatchStart};

/// How often a watcher with bookmarks enabled gets one.
pub const BOOKMARK_INTERVAL: Duration = Duration::from_secs(5);

/// One line of a watch stream: `{"type":KIND,"object":...}`, the object written by `object`
/// (about `len` bytes).
fn event_line_with(kind: &str, len: usize, object: impl FnOnce(&mut BytesMut)) -> Bytes {
    let mut b = BytesMut::with_capacity(len + 32);
    b.put_slice(br#"{"type":""#);
    b.put_slice(kind.as_bytes());
    b.put_slice(br#"","object":"#);
    object(&mut b);
    b.put_slice(b"}\n");
    b.freeze()
}

fn event_line(kind: &str, object: &[u8]) -> Bytes {
    event_line_with(kind, object.len(), |b| b.put_slice(object))
}

/// The event line of a cached object, written straight from its cached bytes.
fn object_event_line(def: &ResourceDef, kind: &str, obj: &CachedObject) -> Bytes {
    event_line_with(kind, obj.served_len(), |b| super::list::write_served(def, obj, b))
}

fn bookmark(ctx: &Ctx, rv: u64, initial_end: bool) -> Bytes {
    let mut meta = serde_json::json!({"resourceVersion": rv.to_string()});
    if initial_end {
        meta["annotations"] = serde_json::json!({"k8s.io/initial-events-end": "true"});
    }
    let obj = serde_json::json!({"kind": ctx.def.kind.as_ref(), "apiVersion": ctx.def.api_version(), "metadata": meta});
    event_line(
        "BOOKMARK",
        &serde_json::to_vec(&obj).expect("bookmark serialises"),
    )
}

fn error_line(status: &Status) -> Bytes {
    event_line("ERROR", &serde_json::to_vec(status).expect("status serialises"))
}

/// What a watcher sees of an event, after namespace and selector filtering.
fn translate(def: &ResourceDef, ev: &CachedEvent, ns_prefix: &str, filter: &Filter) -> Option<Bytes> {
    if !ev.obj.key.starts_with(ns_prefix) {
        return None;
    }
    let now = filter.matches(&ev.obj);
    let before = ev.prev.as_ref().is_some_and(|p| filter.matches(p));
    let kind = match ev.kind {
        EventKind::Create if now => "ADDED",
        EventKind::Update if now && before => "MODIFIED",
        EventKind::Update if now => "ADDED",
        EventKind::Update if before => "DELETED",
        EventKind::Delete if before || (ev.prev.is_none() && now) => "DELETED",
        _ => return None,
    };
    Some(object_event_line(def, kind, &ev.obj))
}

/// The watch handler.
pub async fn watch(ctx: super::Ctx) -> Response {
    match start(ctx).await {
        Ok(resp) => resp,
        Err(status) => status_response(&status),
    }
}

async fn start(ctx: Ctx) -> Result<Response, Status> {
    let filter = Filter::from_ctx(&ctx)?;
    let bookmarks = ctx.param("allowWatchBookmarks") == Some("true");
    let send_initial = ctx.param("sendInitialEvents") == Some("true");
    let rv_param = ctx.param("resourceVersion").map(str::to_string);
    if send_initial {
        if ctx.param("resourceVersionMatch") != Some("NotOlderThan") {
            return Err(Status::invalid(
                "ListOptions",
                "",
                vec![kube_core::status::StatusCause {
                    reason: "FieldValueForbidden".into(),
                    message: "Forbidden: sendInitialEvents is forbidden for watch unless resourceVersionMatch is set to NotOlderThan".into(),
                    field: "sendInitialEvents".into(),
                }],
            ));
        }
        if !bookmarks {
            return Err(Status::invalid(
                "ListOptions",
                "",
                vec![kube_core::status::StatusCause {
                    reason: "FieldValueForbidden".into(),
                    message: "Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true"
                        .into(),
                    field: "allowWatchBookmarks".into(),
                }],
            ));
        }
    }
    let start = match (rv_param.as_deref(), send_initial) {
        (None, _) => {
            ctx.state
                .cache
                .wait_consistent()
                .await
                .map_err(super::cache_status)?;
            WatchStart::Initial
        }
        (Some("0"), _) => WatchStart::Initial,
        (Some(rv), true) => {
            let rv = parse_rv(rv)?;
            ctx.state
                .cache
                .wait_for(rv, Duration::from_secs(3))
                .await
                .map_err(|_| super::too_large_rv(rv, ctx.state.cache.revision()))?;
            WatchStart::Initial
        }
        (Some(rv), false) => WatchStart::After(parse_rv(rv)?),
    };
    let timeout = match ctx.param("timeoutSeconds") {
        Some(t) => Duration::from_secs(
            t.parse::<u64>()
                .map_err(|_| Status::bad_request(format!("invalid timeoutSeconds {t:?}")))?,
        ),
        None => Duration::from_secs(rand::rng().random_range(1800..3600)),
    };
    let ns_prefix = ctx.def.list_prefix(ctx.namespace());
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, Infallible>>(64);
    let watchers = ctx.state.metrics.watchers(&ctx.def);

    match ctx.state.cache.watch(&ctx.def.key_prefix(), start).await {
        Err(CacheError::Expired { requested, oldest }) => {
            let status = Status::expired(format!("too old resource version: {requested} ({oldest})"));
            let _ = tx.send(Ok(error_line(&status))).await;
        }
        Err(CacheError::TooLarge { requested, current }) => {
            return Err(super::too_large_rv(requested, current));
        }
        Err(e) => return Err(super::cache_status(e)),
        Ok(watch) => {
            let initial_end = matches!(start, WatchStart::Initial) && send_initial;
            tokio::spawn(async move {
                let _watching = watchers;
                let crate::watch_cache::Watch { at, initial, events } = watch;
                let mut position = match start {
                    WatchStart::After(rv) => rv,
                    WatchStart::Initial => at,
                };
                for ev in &initial {
                    position = position.max(ev.rv());
                    if let Some(line) = translate(&ctx.def, ev, &ns_prefix, &filter)
                        && tx.send(Ok(line)).await.is_err()
                    {
                        return;
                    }
                }
                if initial_end && tx.send(Ok(bookmark(&ctx, at, true))).await.is_err() {
                    return;
                }
                let shutdown = ctx.state.shutdown.clone();
                // A custom resource's watches end when its CRD is gone.
                let removed = ctx
                    .def
                    .custom
                    .as_ref()
                    .map(|c| c.removed.clone())
                    .unwrap_or_default();
                let mut events = std::pin::pin!(events);
                let deadline = tokio::time::sleep(timeout);
                tokio::pin!(deadline);
                let mut ticker = tokio::time::interval_at(
                    tokio::time::Instant::now() + BOOKMARK_INTERVAL,
                    BOOKMARK_INTERVAL,
                );
                loop {
                    tokio::select! {
                        ev = events.next() => match ev {
                            Some(Ok(ev)) => {
                                position = position.max(ev.rv());
                                if let Some(line) = translate(&ctx.def, &ev, &ns_prefix, &filter)
                                    && tx.send(Ok(line)).await.is_err()
                                {
                                    return;
                                }
                            }
                            Some(Err(e)) => {
                                let status = match e {
                                    CacheError::Expired { .. } => {
                                        Status::expired("too old resource version: the watcher fell behind")
                                    }
                                    other => super::cache_status(other),
                                };
                                let _ = tx.send(Ok(error_line(&status))).await;
                                return;
                            }
                            None => return,
                        },
                        _ = ticker.tick(), if bookmarks => {
                            if tx.send(Ok(bookmark(&ctx, position, false))).await.is_err() {
                                return;
                            }
                        }
                        _ = &mut deadline => return,
                        _ = shutdown.cancelled() => return,
                        _ = removed.cancelled() => return,
                    }
                }
            });
        }
    }
    let body = Body::from_stream(tokio_stream_from(rx));
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    Ok(resp)
}

fn tokio_stream_from<T: Send + 'static>(
    rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send {
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|v| (v, rx)) })
}
