//! Reads in the representation the client negotiated: get, list and watch responses turned into
//! Tables or PartialObjectMetadata after the handlers produced the objects.

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use bytes::{BufMut, Bytes, BytesMut};
use futures::StreamExt;
use http::{HeaderValue, StatusCode, header};
use kube_core::Status;
use serde_json::{Map, Value, json};

use super::{IncludeObject, Printer, build, partial_metadata};
use crate::handlers::{Ctx, Verb};
use crate::negotiation::{self, Representation};
use crate::registry::ResourceDef;

/// How a get, list or watch presents its objects, when not as themselves.
#[derive(Debug, Clone)]
pub struct View {
    def: Arc<ResourceDef>,
    printer: Printer,
    representation: Representation,
    include: IncludeObject,
    list: bool,
}

impl View {
    /// The view a request asks for: `None` for the objects themselves (and for writes and the
    /// subresources without a Table: all but `status` and `scale`); 406 for an `Accept` the server cannot satisfy, 400 for a bad
    /// `includeObject`.
    pub fn of(ctx: &Ctx) -> Result<Option<View>, Status> {
        if !matches!(ctx.info.verb, Verb::Get | Verb::List | Verb::Watch) {
            return Ok(None);
        }
        let printer = match ctx.info.subresource.as_deref() {
            None => Printer::of(&ctx.def),
            Some(sub) => match Printer::of_subresource(&ctx.def, sub) {
                Some(p) => p,
                None => return Ok(None),
            },
        };
        let representation = negotiation::representation(&ctx.headers)?;
        if representation == Representation::Object {
            return Ok(None);
        }
        Ok(Some(View {
            def: ctx.def.clone(),
            printer,
            representation,
            include: IncludeObject::parse(ctx.param("includeObject"))?,
            list: ctx.info.verb == Verb::List,
        }))
    }

    fn media_type(&self) -> String {
        match self.representation {
            Representation::Table(v) => format!("application/json;as=Table;v={v};g=meta.k8s.io"),
            _ if self.list => "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io".into(),
            _ => "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io".into(),
        }
    }

    /// One object, or a list, in this view.
    pub fn convert(&self, value: Value, headers: bool) -> Value {
        let (objects, meta) = if self.list {
            let meta = value
                .get("metadata")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let items = match value.get("items") {
                Some(Value::Array(items)) => items.clone(),
                _ => Vec::new(),
            };
            (items, meta)
        } else {
            let mut meta = Map::new();
            if let Some(rv) = value.pointer("/metadata/resourceVersion") {
                meta.insert("resourceVersion".into(), rv.clone());
            }
            (vec![value], meta)
        };
        match self.representation {
            Representation::Table(version) => build(
                &self.def,
                &self.printer,
                version,
                &objects,
                meta,
                self.include,
                headers,
            ),
            _ if self.list => json!({
                "kind": "PartialObjectMetadataList",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": meta,
                "items": objects.iter().map(partial_metadata).collect::<Vec<_>>(),
            }),
            _ => objects.first().map(partial_metadata).unwrap_or(Value::Null),
        }
    }

    /// A get or list response in this view (errors pass through).
    pub async fn respond(&self, resp: Response) -> Response {
        if !resp.status().is_success() {
            return resp;
        }
        let (mut parts, body) = resp.into_parts();
        let converted = match axum::body::to_bytes(body, usize::MAX).await {
            Ok(bytes) => serde_json::from_slice::<Value>(&bytes).map(|v| self.convert(v, true)),
            Err(e) => return crate::handlers::status_response(&crate::handlers::internal(e)),
        };
        match converted {
            Ok(v) => {
                let body = serde_json::to_vec(&v).expect("JSON values serialise");
                if let Ok(media) = HeaderValue::from_str(&self.media_type()) {
                    parts.headers.insert(header::CONTENT_TYPE, media);
                }
                parts.headers.remove(header::CONTENT_LENGTH);
                Response::from_parts(parts, Body::from(body))
            }
            Err(e) => crate::handlers::status_response(&crate::handlers::internal(e)),
        }
    }

    /// One watch event line (without its newline) in this view: objects converted, the first
    /// Table with column definitions and later ones without (as kube-apiserver sends them),
    /// errors unchanged.
    fn event(&self, line: &[u8], first: &mut bool) -> Bytes {
        let Ok(mut event) = serde_json::from_slice::<Value>(line) else {
            return Bytes::copy_from_slice(line);
        };
        let kind = event["type"].as_str().unwrap_or_default().to_string();
        let object = event["object"].take();
        let converted = match (kind.as_str(), self.representation) {
            ("ERROR", _) => object,
            ("BOOKMARK", Representation::Table(version)) => json!({
                "kind": "Table",
                "apiVersion": format!("meta.k8s.io/{version}"),
                "metadata": {"resourceVersion": object.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null)},
                "rows": [],
            }),
            _ => {
                let v = View {
                    list: false,
                    ..self.clone()
                };
                let converted = v.convert(object, *first);
                *first = false;
                converted
            }
        };
        let out = json!({"type": kind, "object": converted});
        Bytes::from(serde_json::to_vec(&out).expect("JSON values serialise"))
    }

    /// A watch response in this view: each line converted as it streams.
    pub fn respond_watch(self, resp: Response) -> Response {
        if resp.status() != StatusCode::OK {
            return resp;
        }
        let (mut parts, body) = resp.into_parts();
        let mut buffer = BytesMut::new();
        let mut first = true;
        let stream = body
            .into_data_stream()
            .map(move |chunk| {
                let chunk = chunk?;
                buffer.extend_from_slice(&chunk);
                let mut out = BytesMut::new();
                while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
                    let line = buffer.split_to(end + 1);
                    out.extend_from_slice(&self.event(&line[..end], &mut first));
                    out.put_u8(b'\n');
                }
                Ok::<Bytes, axum::Error>(out.freeze())
            })
            .filter(|chunk| std::future::ready(!matches!(chunk, Ok(b) if b.is_empty())));
        parts.headers.remove(header::CONTENT_LENGTH);
        Response::from_parts(parts, Body::from_stream(stream))
    }
}
