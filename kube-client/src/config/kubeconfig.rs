//! Kubeconfig files: parsing, loading and merging the way `kubectl` does.
//!
//! The types mirror client-go's `clientcmd/api/v1` with kubeconfig's own field names
//! (`certificate-authority-data`, `tokenFile`, ...). Unknown fields (`extensions`,
//! `auth-provider`, impersonation) are ignored.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};

use super::Error;

/// The environment variable listing kubeconfig files, separated like `$PATH`.
pub const KUBECONFIG_ENV: &str = "KUBECONFIG";

/// A kubeconfig: named clusters, users and contexts, and the context to use by default.
///
/// Built from YAML with [`Kubeconfig::from_yaml`], from a file with [`Kubeconfig::read_from`]
/// (relative paths resolved against the file's directory), or from `$KUBECONFIG` /
/// `~/.kube/config` with [`Kubeconfig::from_env`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Kubeconfig {
    /// Always `Config`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Always `v1`.
    #[serde(rename = "apiVersion", default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `kubectl` preferences (unused by the client).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Option::is_none"
    )]
    pub preferences: Option<Preferences>,
    /// The named clusters.
    #[serde(default, deserialize_with = "null_as_default")]
    pub clusters: Vec<NamedCluster>,
    /// The named users (`users` in the file).
    #[serde(rename = "users", default, deserialize_with = "null_as_default")]
    pub auth_infos: Vec<NamedAuthInfo>,
    /// The named contexts.
    #[serde(default, deserialize_with = "null_as_default")]
    pub contexts: Vec<NamedContext>,
    /// The context used when none is chosen explicitly.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Option::is_none"
    )]
    pub current_context: Option<String>,
    /// The files this kubeconfig was read from, in merge order (empty when built from a string).
    #[serde(skip)]
    pub sources: Vec<PathBuf>,
}

/// `kubectl` preferences.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Preferences {
    /// Whether `kubectl` prints in colour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colors: Option<bool>,
}

/// A cluster entry with its name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NamedCluster {
    /// The name contexts refer to.
    pub name: String,
    /// The cluster.
    #[serde(default, deserialize_with = "null_as_default")]
    pub cluster: Cluster,
}

/// Where an apiserver is and how to trust it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Cluster {
    /// The apiserver URL, e.g. `https://10.0.0.1:6443`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Do not verify the server's certificate.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_skip_tls_verify: bool,
    /// A PEM file of trusted CA certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_authority: Option<PathBuf>,
    /// Base64 of PEM CA certificates; overrides `certificate-authority`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_authority_data: Option<String>,
    /// The name to verify the server certificate against instead of the URL's host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_server_name: Option<String>,
    /// An HTTP(S) proxy for requests to this cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    /// Ask the server not to compress responses.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_compression: bool,
}

/// A user entry with its name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NamedAuthInfo {
    /// The name contexts refer to.
    pub name: String,
    /// The credentials.
    #[serde(rename = "user", default, deserialize_with = "null_as_default")]
    pub auth_info: AuthInfo,
}

/// Credentials of one user (client-go's `AuthInfo`). The client authenticates with the
/// first of: client certificate (TLS), token / `tokenFile`, basic auth, exec plugin; with `as`
/// (and `as-uid`, `as-groups`, `as-user-extra`) it then acts as another user through
/// Kubernetes' impersonation headers.
///
/// `Debug` hides secrets (tokens, passwords, key data).
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct AuthInfo {
    /// A PEM client certificate file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate: Option<PathBuf>,
    /// Base64 of a PEM client certificate; overrides `client-certificate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate_data: Option<String>,
    /// A PEM private key file (PKCS#1 RSA, PKCS#8 or SEC1 EC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key: Option<PathBuf>,
    /// Base64 of a PEM private key; overrides `client-key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key_data: Option<String>,
    /// A bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// A file holding a bearer token, re-read when it changes (`tokenFile`).
    #[serde(rename = "tokenFile", default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// Basic-auth user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Basic-auth password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// An exec credential plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecConfig>,
    /// The user to act as (`as`; `Impersonate-User`). The authenticated user needs the
    /// `impersonate` verb on it.
    #[serde(rename = "as", default, skip_serializing_if = "Option::is_none")]
    pub impersonate: Option<String>,
    /// The UID to act as (`as-uid`; `Impersonate-Uid`).
    #[serde(rename = "as-uid", default, skip_serializing_if = "Option::is_none")]
    pub impersonate_uid: Option<String>,
    /// The groups to act as (`as-groups`; one `Impersonate-Group` header each).
    #[serde(rename = "as-groups", default, skip_serializing_if = "Option::is_none")]
    pub impersonate_groups: Option<Vec<String>>,
    /// Extra fields of the user to act as (`as-user-extra`; `Impersonate-Extra-<key>`).
    #[serde(rename = "as-user-extra", default, skip_serializing_if = "Option::is_none")]
    pub impersonate_user_extra: Option<std::collections::BTreeMap<String, Vec<String>>>,
}

impl fmt::Debug for AuthInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hide = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("AuthInfo")
            .field("client_certificate", &self.client_certificate)
            .field(
                "client_certificate_data",
                &self.client_certificate_data.as_ref().map(|_| "<data>"),
            )
            .field("client_key", &self.client_key)
            .field("client_key_data", &hide(&self.client_key_data))
            .field("token", &hide(&self.token))
            .field("token_file", &self.token_file)
            .field("username", &self.username)
            .field("password", &hide(&self.password))
            .field("exec", &self.exec)
            .field("impersonate", &self.impersonate)
            .field("impersonate_uid", &self.impersonate_uid)
            .field("impersonate_groups", &self.impersonate_groups)
            .field("impersonate_user_extra", &self.impersonate_user_extra)
            .finish()
    }
}

/// An exec credential plugin: a command that prints an `ExecCredential` JSON object.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecConfig {
    /// The `ExecCredential` version: `client.authentication.k8s.io/v1` or `.../v1beta1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// The program; a relative path containing `/` is resolved against the kubeconfig's
    /// directory, a bare name is looked up in `$PATH`.
    #[serde(default)]
    pub command: String,
    /// Arguments.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub args: Vec<String>,
    /// Extra environment variables (added to the client's own environment).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub env: Vec<ExecEnvVar>,
    /// Shown when the command cannot be found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_hint: Option<String>,
    /// Pass the cluster's details in `KUBERNETES_EXEC_INFO` (`spec.cluster`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub provide_cluster_info: bool,
    /// `Never`, `IfAvailable` or `Always`. This client never runs plugins interactively, so
    /// `Always` fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interactive_mode: Option<ExecInteractiveMode>,
    /// The cluster passed to the plugin when `provide_cluster_info` is set; filled in by
    /// [`Config::from_kubeconfig`](crate::Config::from_kubeconfig).
    #[serde(skip)]
    pub cluster: Option<ExecClusterInfo>,
}

/// An environment variable for an exec plugin.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExecEnvVar {
    /// The variable's name.
    pub name: String,
    /// Its value.
    #[serde(default)]
    pub value: String,
}

/// Whether an exec plugin may talk to the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExecInteractiveMode {
    /// Never interactive.
    Never,
    /// Interactive only when a terminal is available (never, for this client).
    IfAvailable,
    /// Must be interactive: unsupported by this client.
    Always,
}

/// The cluster details given to an exec plugin (`spec.cluster` of the `ExecCredential`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ExecClusterInfo {
    /// The apiserver URL.
    pub server: String,
    /// The TLS server name override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_server_name: Option<String>,
    /// Whether server certificate verification is off.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_skip_tls_verify: bool,
    /// Base64 of the PEM CA bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_authority_data: Option<String>,
    /// The proxy URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    /// Whether response compression is off.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_compression: bool,
}

/// A context entry with its name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NamedContext {
    /// The name used by `current-context` and `--context`.
    pub name: String,
    /// The context.
    #[serde(default, deserialize_with = "null_as_default")]
    pub context: Context,
}

/// A cluster, a user and a namespace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Context {
    /// The cluster's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The user's name; none means no credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The default namespace; none means `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Which context, cluster and user to use instead of the kubeconfig's choices (kubectl's
/// `--context`, `--cluster`, `--user`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KubeconfigOptions {
    /// The context; default `current-context`.
    pub context: Option<String>,
    /// The cluster; default the context's.
    pub cluster: Option<String>,
    /// The user; default the context's.
    pub user: Option<String>,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl Kubeconfig {
    /// Parses a kubeconfig document. Relative paths stay as written (they are resolved
    /// against the current directory when a [`Config`](crate::Config) is built).
    pub fn from_yaml(text: &str) -> Result<Self, Error> {
        parse(text, None)
    }

    /// Reads one kubeconfig file; relative paths in it are resolved against its directory.
    pub fn read_from(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = absolute(path.as_ref());
        let text = std::fs::read_to_string(&path).map_err(|source| Error::ReadKubeconfig {
            path: path.clone(),
            source,
        })?;
        let mut config = parse(&text, Some(&path))?;
        if let Some(dir) = path.parent() {
            config.resolve_paths(dir);
        }
        config.sources = vec![path];
        Ok(config)
    }

    /// Reads and merges several kubeconfig files like `kubectl` does with `$KUBECONFIG`:
    /// files that do not exist are skipped, the first file to define a cluster, user or
    /// context wins, and so does the first `current-context`. Fails if none exists.
    pub fn read_paths<P: AsRef<Path>>(paths: impl IntoIterator<Item = P>) -> Result<Self, Error> {
        let mut tried = Vec::new();
        let mut merged: Option<Kubeconfig> = None;
        for path in paths {
            let path = absolute(path.as_ref());
            if path.as_os_str().is_empty() || tried.contains(&path) {
                continue;
            }
            tried.push(path.clone());
            if !path.exists() {
                tracing::debug!(path = %path.display(), "kubeconfig file does not exist, skipping");
                continue;
            }
            let next = Self::read_from(&path)?;
            merged = Some(match merged {
                None => next,
                Some(first) => first.merge(next),
            });
        }
        merged.ok_or(Error::NoKubeconfig { paths: tried })
    }

    /// Loads the kubeconfig from the files in `$KUBECONFIG` (merged), or else from
    /// `~/.kube/config`.
    pub fn from_env() -> Result<Self, Error> {
        match std::env::var_os(KUBECONFIG_ENV) {
            Some(list) if !list.is_empty() => Self::read_paths(std::env::split_paths(&list)),
            _ => Self::read_paths(default_path()),
        }
    }

    /// Merges `other` into `self`; entries and settings already in `self` win.
    pub fn merge(mut self, other: Kubeconfig) -> Self {
        fn add<T>(into: &mut Vec<T>, from: Vec<T>, name: impl Fn(&T) -> &str) {
            for item in from {
                if !into.iter().any(|have| name(have) == name(&item)) {
                    into.push(item);
                }
            }
        }
        add(&mut self.clusters, other.clusters, |c| &c.name);
        add(&mut self.auth_infos, other.auth_infos, |u| &u.name);
        add(&mut self.contexts, other.contexts, |c| &c.name);
        if self.current_context.as_deref().is_none_or(str::is_empty) {
            self.current_context = other.current_context;
        }
        self.preferences = self.preferences.or(other.preferences);
        self.kind = self.kind.or(other.kind);
        self.api_version = self.api_version.or(other.api_version);
        self.sources.extend(other.sources);
        self
    }

    /// The cluster entry named `name`.
    pub fn cluster(&self, name: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.name == name).map(|c| &c.cluster)
    }

    /// The user entry named `name`.
    pub fn auth_info(&self, name: &str) -> Option<&AuthInfo> {
        self.auth_infos
            .iter()
            .find(|u| u.name == name)
            .map(|u| &u.auth_info)
    }

    /// The context entry named `name`.
    pub fn context(&self, name: &str) -> Option<&Context> {
        self.contexts.iter().find(|c| c.name == name).map(|c| &c.context)
    }

    /// Where this kubeconfig came from, for error messages: its files joined with `:`, or
    /// `<in-memory>`.
    pub fn origin(&self) -> String {
        if self.sources.is_empty() {
            return "<in-memory>".into();
        }
        let paths: Vec<String> = self.sources.iter().map(|p| p.display().to_string()).collect();
        paths.join(":")
    }

    /// Makes every relative file path (CA, client certificate and key, token file, and an
    /// exec command containing `/`) relative to `dir`, like client-go's `ResolveLocalPaths`.
    pub fn resolve_paths(&mut self, dir: &Path) {
        for named in &mut self.clusters {
            resolve(&mut named.cluster.certificate_authority, dir);
        }
        for named in &mut self.auth_infos {
            named.auth_info.resolve_paths(dir);
        }
    }
}

impl AuthInfo {
    /// Makes the relative file paths of this entry relative to `dir`.
    pub fn resolve_paths(&mut self, dir: &Path) {
        resolve(&mut self.client_certificate, dir);
        resolve(&mut self.client_key, dir);
        resolve(&mut self.token_file, dir);
        if let Some(exec) = &mut self.exec {
            let command = Path::new(&exec.command);
            if exec.command.contains('/') && command.is_relative() {
                exec.command = dir.join(command).display().to_string();
            }
        }
    }
}

fn resolve(path: &mut Option<PathBuf>, dir: &Path) {
    if let Some(p) = path
        && !p.as_os_str().is_empty()
        && p.is_relative()
    {
        *p = dir.join(&*p);
    }
}

/// `path` made absolute against the current directory (unchanged if that fails).
pub(crate) fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

fn default_path() -> Option<PathBuf> {
    home::home_dir().map(|home| home.join(".kube").join("config"))
}

fn parse(text: &str, path: Option<&Path>) -> Result<Kubeconfig, Error> {
    if text.trim().is_empty() {
        return Ok(Kubeconfig::default());
    }
    yaml_serde::from_str(text).map_err(|source| Error::ParseKubeconfig {
        path: path.map_or_else(|| "<in-memory>".into(), |p| p.display().to_string()),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
apiVersion: v1
kind: Config
current-context: dev
preferences: {}
extensions:
- name: ignored
  extension: {a: b}
clusters:
- name: c1
  cluster:
    server: https://10.0.0.1:6443
    certificate-authority: ca.crt
    insecure-skip-tls-verify: true
    tls-server-name: kubernetes
    proxy-url: http://proxy:3128
users:
- name: u1
  user:
    token: secret-token
    tokenFile: tok
    client-certificate: /abs/cert.pem
    client-key: key.pem
- name: u2
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./bin/plugin
      args: [get-token, --x]
      env:
      - name: FOO
        value: bar
      installHint: install it
      provideClusterInfo: true
      interactiveMode: Never
- name: u3
  user: null
contexts:
- name: dev
  context:
    cluster: c1
    user: u1
    namespace: team
"#;

    #[test]
    fn parses_kubeconfig_field_names() {
        let k = Kubeconfig::from_yaml(SAMPLE).unwrap();
        assert_eq!(k.current_context.as_deref(), Some("dev"));
        let c = k.cluster("c1").unwrap();
        assert_eq!(c.server.as_deref(), Some("https://10.0.0.1:6443"));
        assert!(c.insecure_skip_tls_verify);
        assert_eq!(c.tls_server_name.as_deref(), Some("kubernetes"));
        assert_eq!(c.proxy_url.as_deref(), Some("http://proxy:3128"));
        let u1 = k.auth_info("u1").unwrap();
        assert_eq!(u1.token.as_deref(), Some("secret-token"));
        assert_eq!(u1.token_file.as_deref(), Some(Path::new("tok")));
        let exec = k.auth_info("u2").unwrap().exec.as_ref().unwrap();
        assert_eq!(exec.args, ["get-token", "--x"]);
        assert_eq!(
            exec.env[0],
            ExecEnvVar {
                name: "FOO".into(),
                value: "bar".into()
            }
        );
        assert_eq!(exec.install_hint.as_deref(), Some("install it"));
        assert!(exec.provide_cluster_info);
        assert_eq!(exec.interactive_mode, Some(ExecInteractiveMode::Never));
        assert_eq!(k.auth_info("u3"), Some(&AuthInfo::default()));
        assert_eq!(k.context("dev").unwrap().namespace.as_deref(), Some("team"));
    }

    #[test]
    fn resolves_relative_paths_against_a_directory() {
        let mut k = Kubeconfig::from_yaml(SAMPLE).unwrap();
        k.resolve_paths(Path::new("/etc/kube"));
        assert_eq!(
            k.cluster("c1").unwrap().certificate_authority.as_deref(),
            Some(Path::new("/etc/kube/ca.crt"))
        );
        let u1 = k.auth_info("u1").unwrap();
        assert_eq!(u1.client_certificate.as_deref(), Some(Path::new("/abs/cert.pem")));
        assert_eq!(u1.client_key.as_deref(), Some(Path::new("/etc/kube/key.pem")));
        assert_eq!(u1.token_file.as_deref(), Some(Path::new("/etc/kube/tok")));
        let exec = k.auth_info("u2").unwrap().exec.as_ref().unwrap();
        assert_eq!(exec.command, "/etc/kube/./bin/plugin");
    }

    #[test]
    fn bare_exec_commands_stay_path_lookups() {
        let mut info = AuthInfo {
            exec: Some(ExecConfig {
                command: "aws".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        info.resolve_paths(Path::new("/etc/kube"));
        assert_eq!(info.exec.unwrap().command, "aws");
    }

    #[test]
    fn merge_keeps_first_entries_and_first_current_context() {
        let a = Kubeconfig::from_yaml(
            "clusters: [{name: c, cluster: {server: 'https://a'}}]\ncontexts: [{name: x, context: {cluster: c}}]",
        )
        .unwrap();
        let b = Kubeconfig::from_yaml(
            "current-context: y\nclusters: [{name: c, cluster: {server: 'https://b'}}, {name: d, cluster: {}}]",
        )
        .unwrap();
        let m = a.merge(b);
        assert_eq!(m.cluster("c").unwrap().server.as_deref(), Some("https://a"));
        assert!(m.cluster("d").is_some());
        assert_eq!(m.current_context.as_deref(), Some("y"));
        assert_eq!(m.contexts.len(), 1);
    }

    #[test]
    fn empty_document_is_an_empty_kubeconfig() {
        assert_eq!(Kubeconfig::from_yaml("\n").unwrap(), Kubeconfig::default());
        let k = Kubeconfig::from_yaml("clusters: null\nusers: ~\ncontexts: []").unwrap();
        assert!(k.clusters.is_empty() && k.auth_infos.is_empty());
    }

    #[test]
    fn debug_hides_secrets() {
        let info = AuthInfo {
            token: Some("s3cr3t".into()),
            password: Some("hunter2".into()),
            ..Default::default()
        };
        let text = format!("{info:?}");
        assert!(!text.contains("s3cr3t") && !text.contains("hunter2"), "{text}");
    }

    #[test]
    fn invalid_yaml_names_the_source() {
        let err = Kubeconfig::from_yaml("clusters: {not: a list}").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("failed to parse kubeconfig <in-memory>"),
            "{err}"
        );
    }
}
