//! The verbs: get, list, create, replace, patch, delete, deletecollection, watch.

use std::fmt::Debug;

use either::Either;
use futures::{Stream, StreamExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use kube_core::params::{DeleteParams, GetParams, ListParams, PatchParams, PostParams, WatchParams};
use kube_core::{ObjectList, Patch, Status, WatchEvent};

use super::Api;
use crate::error::{Error, Result};

fn body<T: Serialize>(data: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(data).map_err(|e| Error::BuildRequest(kube_core::request::Error::Serialize(e)))
}

impl<K> Api<K>
where
    K: Clone + DeserializeOwned + Debug,
{
    /// Read one object.
    pub async fn get(&self, name: &str) -> Result<K> {
        self.get_with(name, &GetParams::default()).await
    }

    /// Read one object with options (e.g. [`GetParams::any`] to accept cached state).
    pub async fn get_with(&self, name: &str, gp: &GetParams) -> Result<K> {
        self.client.request(self.request.get(name, gp)?).await
    }

    /// Read one object, `None` when it does not exist.
    pub async fn get_opt(&self, name: &str) -> Result<Option<K>> {
        match self.get(name).await {
            Ok(obj) => Ok(Some(obj)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// List one page of objects (all of them unless `lp.limit` is set).
    pub async fn list(&self, lp: &ListParams) -> Result<ObjectList<K>> {
        self.client.request(self.request.list(lp)?).await
    }

    /// List every object, page by page (`limit`, default 500, and `continue`), as a stream of
    /// objects. A `410 Expired` continue token is an error: restart the listing.
    pub fn list_stream(&self, lp: &ListParams) -> impl Stream<Item = Result<K>> + Send + '_
    where
        K: Send + 'static,
    {
        let mut first = lp.clone();
        first.limit = Some(first.limit.unwrap_or(500));
        futures::stream::try_unfold(Some(first), move |next| async move {
            let Some(lp) = next else { return Ok(None) };
            let page = self.list(&lp).await?;
            let next = page.continue_token().map(|token| {
                let mut lp = lp.clone();
                lp.continue_token = Some(token.to_string());
                lp.resource_version = None;
                lp.version_match = None;
                lp
            });
            Ok(Some((
                futures::stream::iter(page.items.into_iter().map(Ok)),
                next,
            )))
        })
        .map(|page: Result<_>| match page {
            Ok(items) => items.left_stream(),
            Err(e) => futures::stream::once(async move { Err(e) }).right_stream(),
        })
        .flatten()
    }

    /// Create an object.
    pub async fn create(&self, pp: &PostParams, data: &K) -> Result<K>
    where
        K: Serialize,
    {
        self.client.request(self.request.create(pp, body(data)?)?).await
    }

    /// Replace an object. With `metadata.resourceVersion` set this is compare-and-swap: a stale
    /// version gives `409 Conflict`.
    pub async fn replace(&self, name: &str, pp: &PostParams, data: &K) -> Result<K>
    where
        K: Serialize,
    {
        self.client
            .request(self.request.replace(name, pp, body(data)?)?)
            .await
    }

    /// Patch an object with any of the four patch kinds.
    pub async fn patch<P: Serialize + Debug>(
        &self,
        name: &str,
        pp: &PatchParams,
        patch: &Patch<P>,
    ) -> Result<K> {
        self.client.request(self.request.patch(name, pp, patch)?).await
    }

    /// Delete an object. `Left` is the object when deletion is pending (finalizers, graceful
    /// deletion), `Right` a `Status` when it is gone at once.
    pub async fn delete(&self, name: &str, dp: &DeleteParams) -> Result<Either<K, Status>> {
        self.client.request_status(self.request.delete(name, dp)?).await
    }

    /// Delete every object matching `lp`. `Left` is the list of deleted objects.
    pub async fn delete_collection(
        &self,
        dp: &DeleteParams,
        lp: &ListParams,
    ) -> Result<Either<ObjectList<K>, Status>> {
        self.client
            .request_status(self.request.delete_collection(dp, lp)?)
            .await
    }

    /// Watch for changes after `resource_version` (from a list, or `"0"`/`""`). The stream ends
    /// when the server closes the watch (its timeout); an `ERROR` event (e.g. 410 Expired) is
    /// delivered as an event, and a broken connection as an `Err`.
    pub async fn watch(
        &self,
        wp: &WatchParams,
        resource_version: &str,
    ) -> Result<impl Stream<Item = Result<WatchEvent<K>>> + Send + use<K>>
    where
        K: Send + 'static,
    {
        self.client
            .request_events(self.request.watch(wp, resource_version)?)
            .await
    }
}
