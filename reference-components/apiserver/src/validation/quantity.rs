//! Quantities for validation and defaults: kube-core's parser, with the `Option` the call sites
//! chain on.

pub(crate) use kube_core::quantity::{FORMAT_ERROR, ParsedQuantity as Quantity, parse};
