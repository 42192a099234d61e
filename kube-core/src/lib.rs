//! Kubernetes types and semantics without I/O.
//!
//! Start here: [`Resource`] ties a Rust type to its place in the Kubernetes API (group, version,
//! kind, plural, scope, URL path). Every [k8s-openapi](k8s_openapi) type implements it, and so do
//! [`DynamicObject`] (for types known only at run time) and [`CustomObject`] (for your own
//! custom resources). [`ResourceExt`] reads and writes the common metadata.
//!
//! Around that sit the pieces every client and server needs and that need no network:
//!
//! - [`params`]: list, watch, get, create, patch and delete options, rendered exactly as
//!   kube-apiserver reads them, and [`request::Request`], which turns them into HTTP requests.
//! - [`watch::WatchEvent`] and [`Status`]: the watch stream and error shapes of the wire.
//! - [`selector`]: label and field selectors, parsed, matched and converted.
//! - [`patch`]: the four patch kinds, and the functions that apply JSON merge, JSON and
//!   strategic merge patches to objects.
//! - [`crd`]: CustomResourceDefinitions generated from Rust types.
//! - [`quantity`] and [`duration`]: resource quantities and Go durations, as Kubernetes reads
//!   and prints them.
//!
//! ```
//! use k8s_openapi::api::core::v1::Pod;
//! use kube_core::{Resource, ResourceExt};
//!
//! let mut pod = Pod::default();
//! pod.metadata.name = Some("web-0".into());
//! pod.labels_mut().insert("app".into(), "web".into());
//! assert_eq!(Pod::url_path(&(), Some("default")), "/api/v1/namespaces/default/pods");
//! assert_eq!(pod.name_any(), "web-0");
//! ```

pub mod crd;
pub mod duration;
pub mod dynamic;
pub mod gvk;
pub mod object;
pub mod params;
pub mod patch;
pub mod quantity;
pub mod request;
pub mod resource;
pub mod selector;
pub mod status;
pub mod watch;

pub use crd::{CustomObject, CustomResource};
pub use dynamic::{ApiResource, DynamicObject};
pub use gvk::{GroupVersion, GroupVersionKind, GroupVersionResource};
pub use object::{ListMeta, ObjectList, TypeMeta};
pub use params::{DeleteParams, GetParams, ListParams, PatchParams, PostParams, WatchParams};
pub use patch::Patch;
pub use resource::{
    ClusterResourceScope, DynamicResourceScope, NamespaceResourceScope, Resource, ResourceExt,
};
pub use selector::{FieldSelector, Selector};
pub use status::Status;
pub use watch::WatchEvent;

pub use k8s_openapi;
