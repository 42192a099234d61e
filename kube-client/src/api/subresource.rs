//! Subresources: `status`, `scale`, pod `binding` and `eviction`, and any other by name.

use std::fmt::Debug;

use k8s_openapi::api::autoscaling::v1::Scale;
use k8s_openapi::api::core::v1::{Binding, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use serde::de::DeserializeOwned;

use kube_core::params::{DeleteParams, PatchParams, PostParams};
use kube_core::{Patch, Status};

use super::Api;
use crate::error::{Error, Result};

fn body<T: Serialize>(data: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(data).map_err(|e| Error::BuildRequest(kube_core::request::Error::Serialize(e)))
}

impl<K> Api<K>
where
    K: Clone + DeserializeOwned + Debug,
{
    /// `GET` any subresource, decoded as `T`.
    pub async fn get_subresource<T: DeserializeOwned>(&self, subresource: &str, name: &str) -> Result<T> {
        self.client
            .request(self.request.get_subresource(subresource, name)?)
            .await
    }

    /// `PUT` any subresource.
    pub async fn replace_subresource<T: DeserializeOwned, B: Serialize>(
        &self,
        subresource: &str,
        name: &str,
        pp: &PostParams,
        data: &B,
    ) -> Result<T> {
        self.client
            .request(
                self.request
                    .replace_subresource(subresource, name, pp, body(data)?)?,
            )
            .await
    }

    /// `PATCH` any subresource.
    pub async fn patch_subresource<T: DeserializeOwned, P: Serialize + Debug>(
        &self,
        subresource: &str,
        name: &str,
        pp: &PatchParams,
        patch: &Patch<P>,
    ) -> Result<T> {
        self.client
            .request(self.request.patch_subresource(subresource, name, pp, patch)?)
            .await
    }

    /// `POST` to any subresource (`binding`, `eviction`, `token`, ...).
    pub async fn create_subresource<T: DeserializeOwned, B: Serialize>(
        &self,
        subresource: &str,
        name: &str,
        pp: &PostParams,
        data: &B,
    ) -> Result<T> {
        self.client
            .request(
                self.request
                    .create_subresource(subresource, name, pp, body(data)?)?,
            )
            .await
    }

    /// Read the object through its `status` subresource.
    pub async fn get_status(&self, name: &str) -> Result<K> {
        self.get_subresource("status", name).await
    }

    /// Replace the status (the rest of the object is ignored by the server).
    pub async fn replace_status(&self, name: &str, pp: &PostParams, data: &K) -> Result<K>
    where
        K: Serialize,
    {
        self.replace_subresource("status", name, pp, data).await
    }

    /// Patch the status.
    pub async fn patch_status<P: Serialize + Debug>(
        &self,
        name: &str,
        pp: &PatchParams,
        patch: &Patch<P>,
    ) -> Result<K> {
        self.patch_subresource("status", name, pp, patch).await
    }

    /// Read the `scale` subresource.
    pub async fn get_scale(&self, name: &str) -> Result<Scale> {
        self.get_subresource("scale", name).await
    }

    /// Replace the `scale` subresource.
    pub async fn replace_scale(&self, name: &str, pp: &PostParams, scale: &Scale) -> Result<Scale> {
        self.replace_subresource("scale", name, pp, scale).await
    }

    /// Patch the `scale` subresource, e.g. `{"spec":{"replicas":3}}`.
    pub async fn patch_scale<P: Serialize + Debug>(
        &self,
        name: &str,
        pp: &PatchParams,
        patch: &Patch<P>,
    ) -> Result<Scale> {
        self.patch_subresource("scale", name, pp, patch).await
    }
}

/// Options for a pod eviction.
#[derive(Debug, Clone, Default)]
pub struct EvictParams {
    /// Options for the delete the eviction performs.
    pub delete_options: Option<DeleteParams>,
    /// Options for the eviction request itself (dry run).
    pub post_options: PostParams,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Eviction {
    api_version: &'static str,
    kind: &'static str,
    metadata: ObjectMeta,
    #[serde(skip_serializing_if = "Option::is_none")]
    delete_options: Option<serde_json::Value>,
}

impl Api<Pod> {
    /// Bind a pod to a node (`pods/{name}/binding`), as a scheduler does.
    pub async fn bind(&self, name: &str, node_name: &str) -> Result<Status> {
        self.bind_uid(name, None, node_name).await
    }

    /// [`bind`](Self::bind) only if the pod of that name still has this `uid` (else `409
    /// Conflict`), as kube-scheduler's default binder sends it: a binding decided for a pod that
    /// was deleted and created again under the same name (a StatefulSet's, say) does not land
    /// on its successor.
    pub async fn bind_with_uid(&self, name: &str, uid: &str, node_name: &str) -> Result<Status> {
        self.bind_uid(name, Some(uid), node_name).await
    }

    async fn bind_uid(&self, name: &str, uid: Option<&str>, node_name: &str) -> Result<Status> {
        let binding = Binding {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                namespace: self.namespace.clone(),
                uid: uid.map(str::to_owned),
                ..ObjectMeta::default()
            },
            target: ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Node".into()),
                name: Some(node_name.to_string()),
                ..ObjectReference::default()
            },
        };
        self.create_subresource("binding", name, &PostParams::default(), &binding)
            .await
    }

    /// Evict a pod (`pods/{name}/eviction`), respecting PodDisruptionBudgets. A refusal comes
    /// back as `429 TooManyRequests`.
    pub async fn evict(&self, name: &str, ep: &EvictParams) -> Result<Status> {
        let delete_options = match &ep.delete_options {
            Some(dp) => Some(
                serde_json::from_slice(&dp.to_body())
                    .map_err(|e| Error::BuildRequest(kube_core::request::Error::Serialize(e)))?,
            ),
            None => None,
        };
        let eviction = Eviction {
            api_version: "policy/v1",
            kind: "Eviction",
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                namespace: self.namespace.clone(),
                ..ObjectMeta::default()
            },
            delete_options,
        };
        self.create_subresource("eviction", name, &ep.post_options, &eviction)
            .await
    }
}
