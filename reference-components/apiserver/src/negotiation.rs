//! Content negotiation: which representation of a resource a request's `Accept` header asks
//! for, and whether a request body is protobuf.
//!
//! Kubernetes clients name representations with media-type parameters: kubectl asks for
//! `application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json`
//! (a Table if the server can, plain JSON otherwise), metadata informers for
//! `as=PartialObjectMetadata`, discovery for `as=APIGroupDiscoveryList`. The first entry the
//! server can produce wins, as in kube-apiserver's `negotiation.NegotiateOutputMediaType`; `q`
//! weights are not used by any of these clients and are ignored.

use http::HeaderMap;
use kube_core::Status;

/// The protobuf media type (`application/vnd.kubernetes.protobuf`).
pub const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

/// One entry of an `Accept` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRange {
    /// `type/subtype`, lower-cased (`application/json`, `*/*`).
    pub essence: String,
    /// Parameters in order, names lower-cased.
    pub params: Vec<(String, String)>,
}

impl MediaRange {
    /// A parameter's value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether JSON satisfies this range (`application/json`, `application/*`, `*/*`).
    pub fn accepts_json(&self) -> bool {
        matches!(
            self.essence.as_str(),
            "application/json" | "application/*" | "*/*"
        )
    }
}

/// Parse an `Accept` header value into its media ranges, in order.
pub fn parse_accept(header: &str) -> Vec<MediaRange> {
    header
        .split(',')
        .filter_map(|entry| {
            let mut parts = entry.split(';');
            let essence = parts.next()?.trim().to_ascii_lowercase();
            if essence.is_empty() {
                return None;
            }
            let params = parts
                .filter_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    Some((
                        k.trim().to_ascii_lowercase(),
                        v.trim().trim_matches('"').to_string(),
                    ))
                })
                .collect();
            Some(MediaRange { essence, params })
        })
        .collect()
}

/// The media ranges of a request's `Accept` header (empty when absent).
pub fn accept(headers: &HeaderMap) -> Vec<MediaRange> {
    headers
        .get_all(http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(parse_accept)
        .collect()
}

/// How a read (get, list or watch) represents objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Representation {
    /// The objects themselves (the default).
    Object,
    /// A `meta.k8s.io` Table of the given version (`v1` or `v1beta1`).
    Table(&'static str),
    /// `meta.k8s.io/v1` PartialObjectMetadata (PartialObjectMetadataList for lists).
    PartialObjectMetadata,
}

fn meta_version(range: &MediaRange) -> Option<&'static str> {
    if range.param("g") != Some("meta.k8s.io") {
        return None;
    }
    match range.param("v") {
        Some("v1") => Some("v1"),
        Some("v1beta1") => Some("v1beta1"),
        _ => None,
    }
}

/// The representation the `Accept` header asks for: the first entry the server can produce.
/// An `Accept` with entries but none the server can produce is 406 NotAcceptable; no `Accept`
/// (or `*/*`) means the object itself.
pub fn representation(headers: &HeaderMap) -> Result<Representation, Status> {
    let ranges = accept(headers);
    if ranges.is_empty() {
        return Ok(Representation::Object);
    }
    for range in &ranges {
        match range.param("as") {
            None if range.accepts_json() || range.essence == PROTOBUF => {
                return Ok(Representation::Object);
            }
            Some("Table") if range.accepts_json() => {
                if let Some(v) = meta_version(range) {
                    return Ok(Representation::Table(v));
                }
            }
            Some("PartialObjectMetadata" | "PartialObjectMetadataList")
                if range.accepts_json() && meta_version(range) == Some("v1") =>
            {
                return Ok(Representation::PartialObjectMetadata);
            }
            _ => {}
        }
    }
    Err(Status::failure(
        406,
        kube_core::status::reason::NOT_ACCEPTABLE,
        format!(
            "only the following media types are accepted: application/json, application/json;as=Table;v=v1;g=meta.k8s.io, application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io (asked for {})",
            headers
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
        ),
    ))
}

/// The aggregated-discovery version (`v2` or `v2beta1`) the `Accept` header prefers, or `None`
/// when it prefers the plain discovery documents.
pub fn aggregated_discovery(headers: &HeaderMap) -> Option<&'static str> {
    for range in accept(headers) {
        if !range.accepts_json() {
            continue;
        }
        match range.param("as") {
            None => return None,
            Some("APIGroupDiscoveryList") if range.param("g") == Some("apidiscovery.k8s.io") => {
                match range.param("v") {
                    Some("v2") => return Some("v2"),
                    Some("v2beta1") => return Some("v2beta1"),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    None
}

/// The essence of the request's `Content-Type` (`application/json`, ...), lower-cased.
pub fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(accept: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(http::header::ACCEPT, accept.parse().unwrap());
        h
    }

    #[test]
    fn kubectl_get_asks_for_a_table_first() {
        let h = headers(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json",
        );
        assert_eq!(representation(&h).unwrap(), Representation::Table("v1"));
        let h = headers("application/json;as=Table;v=v1beta1;g=meta.k8s.io");
        assert_eq!(representation(&h).unwrap(), Representation::Table("v1beta1"));
    }

    #[test]
    fn plain_json_protobuf_and_wildcards_are_the_object() {
        for accept in [
            "application/json",
            "*/*",
            "application/vnd.kubernetes.protobuf,application/json",
            "application/json, */*",
        ] {
            assert_eq!(
                representation(&headers(accept)).unwrap(),
                Representation::Object,
                "{accept}"
            );
        }
        assert_eq!(representation(&HeaderMap::new()).unwrap(), Representation::Object);
    }

    #[test]
    fn metadata_only_and_unknown_representations() {
        let h = headers("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json");
        assert_eq!(representation(&h).unwrap(), Representation::PartialObjectMetadata);
        let h = headers("application/json;as=Table;v=v9;g=meta.k8s.io");
        assert_eq!(representation(&h).unwrap_err().code, 406);
        let h = headers("text/html");
        assert_eq!(representation(&h).unwrap_err().code, 406);
    }

    #[test]
    fn aggregated_discovery_follows_the_order_of_accept() {
        let kubectl = headers(
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json",
        );
        assert_eq!(aggregated_discovery(&kubectl), Some("v2"));
        let beta = headers("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList");
        assert_eq!(aggregated_discovery(&beta), Some("v2beta1"));
        assert_eq!(aggregated_discovery(&headers("application/json, */*")), None);
        assert_eq!(aggregated_discovery(&HeaderMap::new()), None);
    }
}
