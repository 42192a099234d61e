//! [`Api<K>`]: typed access to one kind of resource, in one namespace or across all.

mod core;
mod subresource;

use std::fmt::Debug;
use std::marker::PhantomData;

use kube_core::Resource;
use kube_core::request::Request;

use crate::Client;

pub use self::subresource::EvictParams;

/// Typed access to the objects of kind `K`.
///
/// `K` is any [`Resource`]: a k8s-openapi type, a [`CustomObject`](kube_core::CustomObject),
/// or [`DynamicObject`](kube_core::DynamicObject) with its [`ApiResource`](kube_core::ApiResource)
/// (use the `*_with` constructors for it).
#[derive(Clone)]
pub struct Api<K> {
    pub(crate) request: Request,
    pub(crate) client: Client,
    pub(crate) namespace: Option<String>,
    _marker: PhantomData<fn() -> K>,
}

impl<K> Debug for Api<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("url_path", &self.request.url_path)
            .finish_non_exhaustive()
    }
}

impl<K: Resource> Api<K>
where
    K::DynamicType: Default,
{
    /// Every object of the kind: cluster-scoped kinds, or a namespaced kind across all
    /// namespaces (list and watch only make sense then).
    pub fn all(client: Client) -> Self {
        Self::all_with(client, &K::DynamicType::default())
    }

    /// The objects in one namespace.
    pub fn namespaced(client: Client, namespace: &str) -> Self {
        Self::namespaced_with(client, namespace, &K::DynamicType::default())
    }

    /// The objects in the client's default namespace.
    pub fn default_namespaced(client: Client) -> Self {
        Self::default_namespaced_with(client, &K::DynamicType::default())
    }
}

impl<K: Resource> Api<K> {
    /// [`Api::all`] for a type that needs run-time type information.
    pub fn all_with(client: Client, dt: &K::DynamicType) -> Self {
        Self::build(client, None, dt)
    }

    /// [`Api::namespaced`] for a type that needs run-time type information.
    pub fn namespaced_with(client: Client, namespace: &str, dt: &K::DynamicType) -> Self {
        Self::build(client, Some(namespace.to_string()), dt)
    }

    /// [`Api::default_namespaced`] for a type that needs run-time type information.
    pub fn default_namespaced_with(client: Client, dt: &K::DynamicType) -> Self {
        let ns = client.default_namespace().to_string();
        Self::build(client, Some(ns), dt)
    }

    fn build(client: Client, namespace: Option<String>, dt: &K::DynamicType) -> Self {
        let namespace = namespace.filter(|_| K::is_namespaced(dt));
        Self {
            request: Request::new(K::url_path(dt, namespace.as_deref())),
            client,
            namespace,
            _marker: PhantomData,
        }
    }

    /// The namespace this handle is scoped to, if any.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The client behind this handle.
    pub fn into_client(self) -> Client {
        self.client
    }

    /// The collection URL path.
    pub fn resource_url(&self) -> &str {
        &self.request.url_path
    }
}
