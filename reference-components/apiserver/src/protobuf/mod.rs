//! Protobuf request bodies (`Content-Type: application/vnd.kubernetes.protobuf`).
//!
//! kubectl's typed create commands (`kubectl create namespace`, `create configmap`, `create
//! secret generic`, `create serviceaccount`, `create quota`, `create role`, ...) send protobuf,
//! not JSON: the magic `k8s\0`, then a `runtime.Unknown` envelope whose `typeMeta` names the kind
//! and whose `raw` holds the protobuf-encoded object. [`decode`] turns the kinds in [`corev1`] and
//! [`rbac`] into the JSON the rest of the server handles; other kinds are 415
//! UnsupportedMediaType, and a field this server does not decode is refused rather than dropped
//! ([`wire`]). Responses stay JSON, which kubectl accepts (it sends `Accept:
//! application/vnd.kubernetes.protobuf,application/json`).

pub mod corev1;
pub mod meta;
pub mod rbac;
pub mod wire;

use bytes::Bytes;
use http::{HeaderValue, header};
use kube_core::Status;
use serde_json::Value;

use crate::handlers::{Ctx, Verb};
use crate::negotiation::{PROTOBUF, content_type};
use wire::{Shape, WireError};

/// The four bytes every Kubernetes protobuf body starts with.
pub const MAGIC: &[u8; 4] = b"k8s\0";

/// `runtime.TypeMeta`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TypeMeta {
    /// `group/version` or `v1`.
    #[prost(string, optional, tag = "1")]
    pub api_version: Option<String>,
    /// Kind.
    #[prost(string, optional, tag = "2")]
    pub kind: Option<String>,
}

/// `runtime.Unknown`: the envelope of a protobuf body.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Unknown {
    /// The object's kind.
    #[prost(message, optional, tag = "1")]
    pub type_meta: Option<TypeMeta>,
    /// The encoded object.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub raw: Option<Vec<u8>>,
    /// Encoding of `raw` (unset: none).
    #[prost(string, optional, tag = "3")]
    pub content_encoding: Option<String>,
    /// Serialization of `raw` (unset: protobuf here).
    #[prost(string, optional, tag = "4")]
    pub content_type: Option<String>,
}

static TYPE_META: Shape = Shape {
    name: "TypeMeta",
    fields: &[(1, None), (2, None)],
};
static UNKNOWN: Shape = Shape {
    name: "Unknown",
    fields: &[(1, Some(&TYPE_META)), (2, None), (3, None), (4, None)],
};

/// The kinds [`decode`] understands, as `(apiVersion, kind)`.
pub const KINDS: &[(&str, &str)] = &[
    ("v1", "Namespace"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "ServiceAccount"),
    ("v1", "ResourceQuota"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
];

/// Why a protobuf body was not decoded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The body does not start with `k8s\0`.
    #[error("protobuf body does not start with the Kubernetes magic number")]
    NoMagic,
    /// Not protobuf, or a field this server does not decode.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// prost could not decode it.
    #[error("malformed protobuf: {0}")]
    Decode(#[from] prost::DecodeError),
    /// The envelope asks for an encoding or serialization other than plain protobuf.
    #[error("unsupported protobuf envelope: contentEncoding {encoding:?}, contentType {content_type:?}")]
    Envelope {
        /// `contentEncoding`.
        encoding: String,
        /// `contentType`.
        content_type: String,
    },
    /// A kind this server does not decode from protobuf.
    #[error("{kind} {api_version}")]
    UnsupportedKind {
        /// The envelope's `apiVersion`.
        api_version: String,
        /// The envelope's `kind`.
        kind: String,
    },
}

impl Error {
    /// The `Status` to answer with: 415 for what this server does not decode, 400 for bodies
    /// that are not valid protobuf.
    pub fn status(&self) -> Status {
        let supported = KINDS.iter().map(|(_, k)| *k).collect::<Vec<_>>().join(", ");
        match self {
            Error::UnsupportedKind { .. }
            | Error::Wire(WireError::Unknown { .. })
            | Error::Envelope { .. } => Status::failure(
                415,
                kube_core::status::reason::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "the body of the request was in an unknown format - this server decodes {PROTOBUF} only for {supported} ({self}); send application/json"
                ),
            ),
            _ => Status::bad_request(format!("the body of the request could not be decoded: {self}")),
        }
    }
}

fn decode_as<M: prost::Message + Default>(
    raw: &[u8],
    shape: &Shape,
    to_json: fn(&M) -> Value,
) -> Result<Value, Error> {
    wire::check(raw, shape)?;
    Ok(to_json(&M::decode(raw)?))
}

/// Decode a protobuf body (magic, envelope, object) into the object's JSON.
pub fn decode(body: &[u8]) -> Result<Value, Error> {
    let envelope = body.strip_prefix(MAGIC.as_slice()).ok_or(Error::NoMagic)?;
    wire::check(envelope, &UNKNOWN)?;
    let unknown = <Unknown as prost::Message>::decode(envelope)?;
    let encoding = unknown.content_encoding.unwrap_or_default();
    let content_type = unknown.content_type.unwrap_or_default();
    if !encoding.is_empty() || !(content_type.is_empty() || content_type == PROTOBUF) {
        return Err(Error::Envelope {
            encoding,
            content_type,
        });
    }
    let type_meta = unknown.type_meta.unwrap_or_default();
    let api_version = type_meta.api_version.unwrap_or_default();
    let kind = type_meta.kind.unwrap_or_default();
    let raw = unknown.raw.unwrap_or_default();
    match (api_version.as_str(), kind.as_str()) {
        ("v1", "Namespace") => decode_as(&raw, &corev1::NAMESPACE, corev1::Namespace::to_json),
        ("v1", "ConfigMap") => decode_as(&raw, &corev1::CONFIG_MAP, corev1::ConfigMap::to_json),
        ("v1", "Secret") => decode_as(&raw, &corev1::SECRET, corev1::Secret::to_json),
        ("v1", "ServiceAccount") => {
            decode_as(&raw, &corev1::SERVICE_ACCOUNT, corev1::ServiceAccount::to_json)
        }
        ("v1", "ResourceQuota") => decode_as(&raw, &corev1::RESOURCE_QUOTA, corev1::ResourceQuota::to_json),
        ("rbac.authorization.k8s.io/v1", "Role") => decode_as(&raw, &rbac::ROLE, rbac::Role::to_json),
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => {
            decode_as(&raw, &rbac::CLUSTER_ROLE, rbac::ClusterRole::to_json)
        }
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => {
            decode_as(&raw, &rbac::BINDING, rbac::Binding::role_binding)
        }
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
            decode_as(&raw, &rbac::BINDING, rbac::Binding::cluster_role_binding)
        }
        _ => Err(Error::UnsupportedKind { api_version, kind }),
    }
}

/// Replace a protobuf request body with its JSON, before the handlers read it: creates and
/// updates are decoded; any other request with a protobuf body is 415.
pub fn json_body(ctx: &mut Ctx) -> Result<(), Status> {
    if content_type(&ctx.headers) != PROTOBUF {
        return Ok(());
    }
    if !matches!(ctx.info.verb, Verb::Create | Verb::Update) {
        if ctx.body.is_empty() {
            return Ok(());
        }
        return Err(Status::failure(
            415,
            kube_core::status::reason::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "the body of the request was in an unknown format - {PROTOBUF} is accepted for create and update only"
            ),
        ));
    }
    let value = decode(&ctx.body).map_err(|e| e.status())?;
    ctx.body = Bytes::from(serde_json::to_vec(&value).expect("JSON values serialise"));
    ctx.headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(())
}

#[cfg(test)]
mod tests;
