//! Kubeconfig files.

/// A kubeconfig file (stub).
#[derive(Debug, Clone, Default)]
pub struct Kubeconfig;
/// Options for choosing a context (stub).
#[derive(Debug, Clone, Default)]
pub struct KubeconfigOptions;
/// A user entry (stub).
#[derive(Debug, Clone, Default)]
pub struct AuthInfo;
/// An exec plugin (stub).
#[derive(Debug, Clone, Default)]
pub struct ExecConfig;
