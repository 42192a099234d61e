//! Exec credential plugins (client-go's `plugin/pkg/client/auth/exec`).
//!
//! The plugin is run with the configured arguments and environment plus
//! `KUBERNETES_EXEC_INFO`, an `ExecCredential` request (`spec.interactive: false`, and
//! `spec.cluster` when `provideClusterInfo` is set). It prints an `ExecCredential` whose
//! `status` carries a bearer token and/or a PEM client certificate and key, optionally with
//! an `expirationTimestamp`. Caching is done by [`Auth`](crate::client::auth::Auth).

use std::process::{ExitStatus, Stdio};
use std::sync::Arc;

use rustls::sign::CertifiedKey;
use serde::{Deserialize, Serialize};

use super::kubeconfig::{ExecClusterInfo, ExecConfig, ExecInteractiveMode};
use crate::client::tls::{self, TlsError};

/// The environment variable carrying the `ExecCredential` request to the plugin.
pub const EXEC_INFO_ENV: &str = "KUBERNETES_EXEC_INFO";

/// The `ExecCredential` API versions this client speaks.
pub const SUPPORTED_API_VERSIONS: [&str; 2] = [
    "client.authentication.k8s.io/v1",
    "client.authentication.k8s.io/v1beta1",
];

/// How much of the plugin's stderr is kept in an error.
const MAX_STDERR: usize = 4096;

/// Why an exec plugin gave no credentials.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The `exec` entry itself is unusable.
    #[error("exec plugin: {0}")]
    Config(String),
    /// The command does not exist.
    #[error(
        "exec plugin: executable {command} not found (is it installed and on $PATH?){}",
        install_hint.as_deref().map(|h| format!("\n\n{h}")).unwrap_or_default()
    )]
    NotFound {
        /// The command.
        command: String,
        /// The kubeconfig's `installHint`.
        install_hint: Option<String>,
    },
    /// The command could not be started.
    #[error("exec plugin: failed to run {command}: {source}")]
    Spawn {
        /// The command.
        command: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The command exited unsuccessfully.
    #[error(
        "exec plugin: executable {command} failed with {status}{}",
        stderr_suffix(stderr)
    )]
    Failed {
        /// The command.
        command: String,
        /// How it exited.
        status: ExitStatus,
        /// What it printed on stderr (truncated).
        stderr: String,
    },
    /// The output is not an `ExecCredential` or breaks its rules.
    #[error("exec plugin: executable {command} returned an invalid ExecCredential: {reason}")]
    InvalidOutput {
        /// The command.
        command: String,
        /// What is wrong.
        reason: String,
    },
    /// The returned client certificate or key could not be used.
    #[error("exec plugin: executable {command} returned an unusable client certificate: {source}")]
    Certificate {
        /// The command.
        command: String,
        /// The parse error.
        #[source]
        source: TlsError,
    },
}

fn stderr_suffix(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!(": stderr: {stderr}")
    }
}

/// The credential a plugin returned.
#[derive(Clone, Debug, Default)]
pub struct ExecCredentials {
    /// The bearer token, if any.
    pub token: Option<String>,
    /// When the credential expires; `None` means "until the server rejects it".
    pub expiration: Option<jiff::Timestamp>,
    /// The client certificate and key, if any.
    pub client_certificate: Option<Arc<CertifiedKey>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExecCredentialRequest<'a> {
    kind: &'static str,
    api_version: &'a str,
    spec: RequestSpec<'a>,
}

#[derive(Serialize)]
struct RequestSpec<'a> {
    interactive: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<&'a ExecClusterInfo>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecCredentialResponse {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    status: Option<ResponseStatus>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResponseStatus {
    #[serde(default)]
    expiration_timestamp: Option<String>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    client_certificate_data: Option<String>,
    #[serde(default)]
    client_key_data: Option<String>,
}

/// Checks an `exec` entry: a command, a supported `apiVersion`, named env variables, and
/// not `interactiveMode: Always` (this client never gives plugins a terminal).
pub fn validate(config: &ExecConfig) -> Result<(), ExecError> {
    if config.command.is_empty() {
        return Err(ExecError::Config("command must be specified".into()));
    }
    match config.api_version.as_deref() {
        None | Some("") => return Err(ExecError::Config("apiVersion must be specified".into())),
        Some(v) if !SUPPORTED_API_VERSIONS.contains(&v) => {
            return Err(ExecError::Config(format!(
                "unsupported apiVersion {v:?} (supported: {})",
                SUPPORTED_API_VERSIONS.join(", ")
            )));
        }
        Some(_) => {}
    }
    if config.env.iter().any(|e| e.name.is_empty()) {
        return Err(ExecError::Config("env variable name must be specified".into()));
    }
    if config.interactive_mode == Some(ExecInteractiveMode::Always) {
        return Err(ExecError::Config(
            "interactiveMode Always is not supported: this client cannot give the plugin a terminal".into(),
        ));
    }
    Ok(())
}

/// The JSON put in `KUBERNETES_EXEC_INFO` for `config`.
pub fn exec_info(config: &ExecConfig) -> String {
    let request = ExecCredentialRequest {
        kind: "ExecCredential",
        api_version: config.api_version.as_deref().unwrap_or(SUPPORTED_API_VERSIONS[0]),
        spec: RequestSpec {
            interactive: false,
            cluster: config.cluster.as_ref().filter(|_| config.provide_cluster_info),
        },
    };
    serde_json::to_string(&request).expect("an ExecCredential request always serialises")
}

/// Runs the plugin once and returns what it printed. The process is killed if the returned
/// future is dropped.
pub async fn run(config: &ExecConfig) -> Result<ExecCredentials, ExecError> {
    validate(config)?;
    let command = config.command.clone();
    let mut cmd = tokio::process::Command::new(&config.command);
    cmd.args(&config.args)
        .envs(config.env.iter().map(|e| (&e.name, &e.value)))
        .env(EXEC_INFO_ENV, exec_info(config))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    tracing::debug!(%command, "running exec credential plugin");
    let output = cmd.output().await.map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => ExecError::NotFound {
            command: command.clone(),
            install_hint: config.install_hint.clone(),
        },
        _ => ExecError::Spawn {
            command: command.clone(),
            source,
        },
    })?;
    let stderr = truncate(String::from_utf8_lossy(&output.stderr).trim());
    if !output.status.success() {
        return Err(ExecError::Failed {
            command,
            status: output.status,
            stderr,
        });
    }
    if !stderr.is_empty() {
        tracing::debug!(%command, %stderr, "exec credential plugin wrote to stderr");
    }
    parse_output(config, &output.stdout)
}

fn parse_output(config: &ExecConfig, stdout: &[u8]) -> Result<ExecCredentials, ExecError> {
    let command = &config.command;
    let invalid = |reason: String| ExecError::InvalidOutput {
        command: command.clone(),
        reason,
    };
    let response: ExecCredentialResponse =
        serde_json::from_slice(stdout).map_err(|e| invalid(format!("decoding stdout: {e}")))?;
    let expected = config.api_version.as_deref().unwrap_or_default();
    if response.api_version.as_deref() != Some(expected) {
        return Err(invalid(format!(
            "the plugin is configured to use API version {expected}, it returned version {}",
            response.api_version.as_deref().unwrap_or("<none>")
        )));
    }
    if let Some(kind) = response.kind.as_deref().filter(|k| *k != "ExecCredential") {
        return Err(invalid(format!("kind is {kind:?}, expected \"ExecCredential\"")));
    }
    let status = response.status.ok_or_else(|| invalid("no status field".into()))?;
    let non_empty = |s: Option<String>| s.filter(|s| !s.is_empty());
    let token = non_empty(status.token);
    let cert = non_empty(status.client_certificate_data);
    let key = non_empty(status.client_key_data);
    if token.is_none() && cert.is_none() && key.is_none() {
        return Err(invalid("no token or client certificate/key pair".into()));
    }
    let client_certificate = match (cert, key) {
        (None, None) => None,
        (Some(cert), Some(key)) => Some(tls::certified_key(cert.as_bytes(), key.as_bytes()).map_err(
            |source| ExecError::Certificate {
                command: command.clone(),
                source,
            },
        )?),
        _ => return Err(invalid("only a client certificate or key, not both".into())),
    };
    let expiration = match non_empty(status.expiration_timestamp) {
        None => None,
        Some(ts) => Some(
            ts.parse::<jiff::Timestamp>()
                .map_err(|e| invalid(format!("expirationTimestamp {ts:?}: {e}")))?,
        ),
    };
    Ok(ExecCredentials {
        token,
        expiration,
        client_certificate,
    })
}

fn truncate(s: &str) -> String {
    if s.len() <= MAX_STDERR {
        return s.to_string();
    }
    let mut end = MAX_STDERR;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(version: &str) -> ExecConfig {
        ExecConfig {
            api_version: Some(version.into()),
            command: "plugin".into(),
            ..Default::default()
        }
    }

    #[test]
    fn request_is_non_interactive_and_carries_cluster_info_only_when_asked() {
        let mut c = config("client.authentication.k8s.io/v1");
        c.cluster = Some(ExecClusterInfo {
            server: "https://k:6443".into(),
            ..Default::default()
        });
        let plain: serde_json::Value = serde_json::from_str(&exec_info(&c)).unwrap();
        assert_eq!(
            plain,
            serde_json::json!({"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1",
                "spec": {"interactive": false}})
        );
        c.provide_cluster_info = true;
        let with: serde_json::Value = serde_json::from_str(&exec_info(&c)).unwrap();
        assert_eq!(with["spec"]["cluster"]["server"], "https://k:6443");
    }

    #[test]
    fn parses_v1_and_v1beta1_tokens() {
        for v in SUPPORTED_API_VERSIONS {
            let out = format!(
                r#"{{"kind":"ExecCredential","apiVersion":"{v}","status":{{"token":"t","expirationTimestamp":"2030-01-02T03:04:05Z"}}}}"#
            );
            let creds = parse_output(&config(v), out.as_bytes()).unwrap();
            assert_eq!(creds.token.as_deref(), Some("t"));
            assert_eq!(creds.expiration.unwrap().to_string(), "2030-01-02T03:04:05Z");
        }
    }

    #[test]
    fn rejects_bad_output() {
        let c = config("client.authentication.k8s.io/v1");
        let cases = [
            ("not json", "decoding stdout"),
            (
                r#"{"apiVersion":"client.authentication.k8s.io/v1beta1","status":{"token":"t"}}"#,
                "configured to use API version client.authentication.k8s.io/v1, it returned version client.authentication.k8s.io/v1beta1",
            ),
            (
                r#"{"apiVersion":"client.authentication.k8s.io/v1"}"#,
                "no status field",
            ),
            (
                r#"{"apiVersion":"client.authentication.k8s.io/v1","status":{}}"#,
                "no token or client certificate/key pair",
            ),
            (
                r#"{"apiVersion":"client.authentication.k8s.io/v1","status":{"clientKeyData":"k"}}"#,
                "only a client certificate or key",
            ),
            (
                r#"{"apiVersion":"client.authentication.k8s.io/v1","status":{"token":"t","expirationTimestamp":"soon"}}"#,
                "expirationTimestamp \"soon\"",
            ),
        ];
        for (out, want) in cases {
            let err = parse_output(&c, out.as_bytes()).unwrap_err().to_string();
            assert!(
                err.starts_with("exec plugin: executable plugin returned an invalid ExecCredential"),
                "{err}"
            );
            assert!(err.contains(want), "{err} should contain {want}");
        }
    }

    #[test]
    fn validates_the_entry() {
        let mut c = config("client.authentication.k8s.io/v1alpha1");
        assert!(
            validate(&c)
                .unwrap_err()
                .to_string()
                .contains("unsupported apiVersion")
        );
        c.api_version = None;
        assert_eq!(
            validate(&c).unwrap_err().to_string(),
            "exec plugin: apiVersion must be specified"
        );
        c = config("client.authentication.k8s.io/v1");
        c.interactive_mode = Some(ExecInteractiveMode::Always);
        assert!(
            validate(&c)
                .unwrap_err()
                .to_string()
                .contains("interactiveMode Always")
        );
    }

    #[tokio::test]
    async fn missing_command_shows_the_install_hint() {
        let mut c = config("client.authentication.k8s.io/v1");
        c.command = "/nonexistent/kube-plugin".into();
        c.install_hint = Some("brew install kube-plugin".into());
        let err = run(&c).await.unwrap_err().to_string();
        assert!(
            err.starts_with("exec plugin: executable /nonexistent/kube-plugin not found"),
            "{err}"
        );
        assert!(err.ends_with("\n\nbrew install kube-plugin"), "{err}");
    }

    #[tokio::test]
    async fn failures_include_stderr() {
        let mut c = config("client.authentication.k8s.io/v1");
        c.command = "sh".into();
        c.args = vec!["-c".into(), "echo 'token expired, run login' >&2; exit 3".into()];
        let err = run(&c).await.unwrap_err().to_string();
        assert!(
            err.starts_with("exec plugin: executable sh failed with exit status: 3"),
            "{err}"
        );
        assert!(err.ends_with("stderr: token expired, run login"), "{err}");
    }

    #[tokio::test]
    async fn passes_env_and_exec_info() {
        let mut c = config("client.authentication.k8s.io/v1");
        c.command = "sh".into();
        c.env = vec![super::super::kubeconfig::ExecEnvVar {
            name: "TOK".into(),
            value: "abc".into(),
        }];
        let script = r#"case "$KUBERNETES_EXEC_INFO" in *'"interactive":false'*) ;; *) exit 9;; esac
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}' "$TOK""#;
        c.args = vec!["-c".into(), script.into()];
        let creds = run(&c).await.unwrap();
        assert_eq!(creds.token.as_deref(), Some("abc"));
        assert!(creds.expiration.is_none() && creds.client_certificate.is_none());
    }
}
