//! In-cluster configuration: the pod's service account (client-go's `rest.InClusterConfig`).
//!
//! The apiserver address comes from `KUBERNETES_SERVICE_HOST` / `KUBERNETES_SERVICE_PORT`,
//! the credentials from the mounted service account directory: `token` (re-read as the
//! kubelet rotates it), `ca.crt` and `namespace`.

use std::path::Path;

use super::{Config, Error};
use crate::client::tls;

/// Where Kubernetes mounts the service account of a pod.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The environment variable holding the apiserver's host (IPv4, IPv6 or name).
pub const SERVICE_HOST_ENV: &str = "KUBERNETES_SERVICE_HOST";
/// The environment variable holding the apiserver's port.
pub const SERVICE_PORT_ENV: &str = "KUBERNETES_SERVICE_PORT";
/// Overrides the namespace file, as in client-go.
pub const POD_NAMESPACE_ENV: &str = "POD_NAMESPACE";

const OWNER: &str = "in-cluster config";

/// Builds the in-cluster configuration from the service account directory `dir` and the
/// environment variables `env` returns (`std::env::var` in production; a map in tests).
pub fn incluster_from(dir: &Path, env: impl Fn(&str) -> Option<String>) -> Result<Config, Error> {
    let var = |name: &str| env(name).filter(|v| !v.is_empty());
    let (Some(host), Some(port)) = (var(SERVICE_HOST_ENV), var(SERVICE_PORT_ENV)) else {
        return Err(Error::NotInCluster);
    };
    let url = server_url(&host, &port);
    let cluster_url = url.parse::<http::Uri>().map_err(|e| Error::InvalidInClusterUrl {
        url: url.clone(),
        reason: e.to_string(),
    })?;

    let token_path = dir.join("token");
    let token = std::fs::read_to_string(&token_path).map_err(|source| Error::ReadFile {
        owner: OWNER.into(),
        field: "service account token",
        path: token_path.clone(),
        source,
    })?;

    let ca_path = dir.join("ca.crt");
    let ca = std::fs::read(&ca_path).map_err(|source| Error::ReadFile {
        owner: OWNER.into(),
        field: "service account ca.crt",
        path: ca_path.clone(),
        source,
    })?;
    let roots = tls::pem_certificates(&ca, "service account ca.crt").map_err(|source| Error::Tls {
        owner: format!("{OWNER} ({})", ca_path.display()),
        source,
    })?;

    let namespace = var(POD_NAMESPACE_ENV)
        .or_else(|| {
            let text = std::fs::read_to_string(dir.join("namespace")).ok()?;
            Some(text.trim().to_string()).filter(|ns| !ns.is_empty())
        })
        .unwrap_or_else(|| "default".into());

    let mut config = Config::new(cluster_url);
    config.default_namespace = namespace;
    config.root_cert = Some(roots.into_iter().map(|c| c.to_vec()).collect());
    config.auth_info.token = Some(token.trim().to_string());
    config.auth_info.token_file = Some(token_path);
    Ok(config)
}

/// `https://host:port`, with an IPv6 host in brackets.
fn server_url(host: &str, port: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("https://[{host}]:{port}")
    } else {
        format!("https://{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    fn ca_pem() -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.self_signed(&key).unwrap().pem()
    }

    fn service_account(namespace: Option<&str>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "sa-token\n").unwrap();
        std::fs::write(dir.path().join("ca.crt"), ca_pem()).unwrap();
        if let Some(ns) = namespace {
            std::fs::write(dir.path().join("namespace"), ns).unwrap();
        }
        dir
    }

    #[test]
    fn reads_the_service_account() {
        let dir = service_account(Some("kube-system\n"));
        let vars = [(SERVICE_HOST_ENV, "10.96.0.1"), (SERVICE_PORT_ENV, "443")];
        let config = incluster_from(dir.path(), env(&vars)).unwrap();
        assert_eq!(config.cluster_url.to_string(), "https://10.96.0.1:443/");
        assert_eq!(config.default_namespace, "kube-system");
        assert_eq!(config.root_cert.as_ref().map(Vec::len), Some(1));
        assert_eq!(config.auth_info.token.as_deref(), Some("sa-token"));
        assert_eq!(config.auth_info.token_file, Some(dir.path().join("token")));
    }

    #[test]
    fn brackets_ipv6_hosts_and_honours_pod_namespace() {
        let dir = service_account(None);
        let vars = [
            (SERVICE_HOST_ENV, "fd00::1"),
            (SERVICE_PORT_ENV, "6443"),
            (POD_NAMESPACE_ENV, "mine"),
        ];
        let config = incluster_from(dir.path(), env(&vars)).unwrap();
        assert_eq!(config.cluster_url.to_string(), "https://[fd00::1]:6443/");
        assert_eq!(config.default_namespace, "mine");
        let vars = [(SERVICE_HOST_ENV, "fd00::1"), (SERVICE_PORT_ENV, "6443")];
        assert_eq!(
            incluster_from(dir.path(), env(&vars)).unwrap().default_namespace,
            "default"
        );
    }

    #[test]
    fn errors_name_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let err = incluster_from(dir.path(), env(&[(SERVICE_HOST_ENV, "10.0.0.1")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set"
        );
        let vars = [(SERVICE_HOST_ENV, "10.0.0.1"), (SERVICE_PORT_ENV, "443")];
        let err = incluster_from(dir.path(), env(&vars)).unwrap_err().to_string();
        let want = format!(
            "in-cluster config: failed to read service account token file {}/token: ",
            dir.path().display()
        );
        assert!(err.starts_with(&want), "{err}");
        std::fs::write(dir.path().join("token"), "t").unwrap();
        std::fs::write(dir.path().join("ca.crt"), "garbage").unwrap();
        let err = incluster_from(dir.path(), env(&vars)).unwrap_err().to_string();
        assert!(
            err.contains("service account ca.crt does not contain a valid PEM certificate"),
            "{err}"
        );
        let vars = [(SERVICE_HOST_ENV, "bad host"), (SERVICE_PORT_ENV, "443")];
        let err = incluster_from(dir.path(), env(&vars)).unwrap_err().to_string();
        assert!(
            err.starts_with("invalid in-cluster apiserver URL \"https://bad host:443\""),
            "{err}"
        );
    }
}
