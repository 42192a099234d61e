//! Loading configuration: kubeconfig files (merging, relative paths, every error message),
//! `$KUBECONFIG`, and `Config::infer`.
//!
//! Environment variables are process-global (and setting them needs `unsafe`), so tests that
//! need a particular environment re-run this test binary as a child process with that
//! environment: see [`in_child`].

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use kube_client::Config;
use kube_client::config::{Error, Kubeconfig, KubeconfigOptions};

/// Set in the child process to the directory the parent prepared.
const CHILD_DIR: &str = "KUBE_CLIENT_CONFIG_TEST_DIR";

/// Runs test `name` again in a child process with `env` (and without `remove`), returning
/// `true` in the child (which then does the checks) and `false` in the parent once the
/// child passed.
fn in_child(name: &str, dir: &Path, env: &[(&str, String)], remove: &[&str]) -> bool {
    if std::env::var_os(CHILD_DIR).is_some() {
        return true;
    }
    let mut child = Command::new(std::env::current_exe().unwrap());
    child
        .args([name, "--exact", "--test-threads=1", "--nocapture"])
        .env(CHILD_DIR, dir);
    for (key, value) in env {
        child.env(key, value);
    }
    for key in remove {
        child.env_remove(key);
    }
    let output = child.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "child test {name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    false
}

fn child_dir() -> PathBuf {
    PathBuf::from(std::env::var_os(CHILD_DIR).unwrap())
}

fn ca_pem() -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.self_signed(&key).unwrap().pem()
}

fn der_of(pem: &str) -> Vec<u8> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .to_vec()
}

/// Two kubeconfig files in sibling directories, each with a CA file next to it and
/// relative paths to it. `a` comes first and wins conflicts.
struct TwoFiles {
    _dir: tempfile::TempDir,
    a: PathBuf,
    b: PathBuf,
    ca_a: String,
    ca_b: String,
}

fn two_files() -> TwoFiles {
    let dir = tempfile::tempdir().unwrap();
    let (da, db) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&da).unwrap();
    std::fs::create_dir_all(db.join("certs")).unwrap();
    let (ca_a, ca_b) = (ca_pem(), ca_pem());
    std::fs::write(da.join("ca.crt"), &ca_a).unwrap();
    std::fs::write(db.join("certs/ca.crt"), &ca_b).unwrap();
    std::fs::write(db.join("token"), "token-from-b\n").unwrap();
    let a = da.join("config");
    std::fs::write(
        &a,
        r#"
apiVersion: v1
kind: Config
clusters:
- name: shared
  cluster: {server: "https://a.example:6443", certificate-authority: ca.crt}
users:
- name: alice
  user: {token: alice-token}
contexts:
- name: ctx-a
  context: {cluster: shared, user: alice, namespace: from-a}
"#,
    )
    .unwrap();
    let b = db.join("config");
    std::fs::write(
        &b,
        r#"
apiVersion: v1
kind: Config
current-context: ctx-b
clusters:
- name: shared
  cluster: {server: "https://b-loses.example:6443"}
- name: only-b
  cluster: {server: "https://b.example:6443", certificate-authority: certs/ca.crt}
users:
- name: bob
  user: {tokenFile: token}
contexts:
- name: ctx-a
  context: {cluster: only-b, user: bob, namespace: loses}
- name: ctx-b
  context: {cluster: only-b, user: bob}
"#,
    )
    .unwrap();
    TwoFiles {
        _dir: dir,
        a,
        b,
        ca_a,
        ca_b,
    }
}

fn context(name: &str) -> KubeconfigOptions {
    KubeconfigOptions {
        context: Some(name.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn merging_keeps_first_definitions_and_resolves_paths_per_file() {
    let files = two_files();
    let merged = Kubeconfig::read_paths([&files.a, &files.b]).unwrap();
    assert_eq!(merged.sources, [files.a.clone(), files.b.clone()]);
    assert_eq!(
        merged.current_context.as_deref(),
        Some("ctx-b"),
        "a sets none, so b's wins"
    );
    assert_eq!(merged.clusters.len(), 2);
    assert_eq!(merged.contexts.len(), 2);

    // ctx-a and cluster "shared" come from a; the CA path is relative to a's directory.
    let a = Config::from_custom_kubeconfig(merged.clone(), &context("ctx-a"))
        .await
        .unwrap();
    assert_eq!(a.cluster_url.to_string(), "https://a.example:6443/");
    assert_eq!(a.default_namespace, "from-a");
    assert_eq!(a.root_cert, Some(vec![der_of(&files.ca_a)]));
    assert_eq!(a.auth_info.token.as_deref(), Some("alice-token"));

    // The current context comes from b, with paths relative to b's directory.
    let b = Config::from_custom_kubeconfig(merged, &KubeconfigOptions::default())
        .await
        .unwrap();
    assert_eq!(b.cluster_url.to_string(), "https://b.example:6443/");
    assert_eq!(b.default_namespace, "default");
    assert_eq!(b.root_cert, Some(vec![der_of(&files.ca_b)]));
    assert_eq!(
        b.auth_info.token_file,
        Some(files.b.parent().unwrap().join("token"))
    );

    // In the other order b wins the conflicts.
    let reversed = Kubeconfig::read_paths([&files.b, &files.a]).unwrap();
    let a_ctx = Config::from_custom_kubeconfig(reversed, &context("ctx-a"))
        .await
        .unwrap();
    assert_eq!(a_ctx.default_namespace, "loses");
}

#[tokio::test]
async fn kubeconfig_env_lists_files_to_merge() {
    let files = two_files();
    let missing = files.a.parent().unwrap().join("missing");
    let list = std::env::join_paths([&missing, &files.a, &files.b])
        .unwrap()
        .into_string()
        .unwrap();
    if !in_child(
        "kubeconfig_env_lists_files_to_merge",
        files.a.parent().unwrap(),
        &[("KUBECONFIG", list)],
        &[],
    ) {
        return;
    }
    let dir = child_dir();
    let config = Config::from_kubeconfig(&context("ctx-a")).await.unwrap();
    assert_eq!(config.cluster_url.to_string(), "https://a.example:6443/");
    assert_eq!(
        config.root_cert,
        Some(vec![der_of(
            &std::fs::read_to_string(dir.join("ca.crt")).unwrap()
        )])
    );
    let current = Config::infer().await.unwrap();
    assert_eq!(current.cluster_url.to_string(), "https://b.example:6443/");
}

#[tokio::test]
async fn home_kubeconfig_is_the_default() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".kube")).unwrap();
    std::fs::write(
        dir.path().join(".kube/config"),
        "current-context: c\nclusters: [{name: k, cluster: {server: 'https://home:6443'}}]\n\
         contexts: [{name: c, context: {cluster: k, namespace: mine}}]\n",
    )
    .unwrap();
    let home = dir.path().display().to_string();
    if !in_child(
        "home_kubeconfig_is_the_default",
        dir.path(),
        &[("HOME", home)],
        &["KUBECONFIG"],
    ) {
        return;
    }
    let config = Config::infer().await.unwrap();
    assert_eq!(config.cluster_url.to_string(), "https://home:6443/");
    assert_eq!(config.default_namespace, "mine");
}

#[tokio::test]
async fn infer_reports_both_causes() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let env = [("KUBECONFIG", missing.display().to_string())];
    let remove = ["KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"];
    if !in_child("infer_reports_both_causes", dir.path(), &env, &remove) {
        return;
    }
    let err = Config::infer().await.unwrap_err();
    assert!(matches!(err, Error::Infer { .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "no usable configuration: kubeconfig: no kubeconfig found (looked for {}); in-cluster: not running \
             in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set",
            child_dir().join("nope").display()
        )
    );
}

#[tokio::test]
async fn exec_commands_with_a_slash_are_relative_to_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    std::fs::write(
        &path,
        "current-context: c\nclusters: [{name: k, cluster: {server: 'https://k:6443'}}]\n\
         users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: bin/plugin}}},\n\
                 {name: v, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: kubelogin}}}]\n\
         contexts: [{name: c, context: {cluster: k, user: u}}]\n",
    )
    .unwrap();
    let kubeconfig = Kubeconfig::read_from(&path).unwrap();
    let u = Config::from_custom_kubeconfig(kubeconfig.clone(), &KubeconfigOptions::default())
        .await
        .unwrap();
    assert_eq!(
        u.auth_info.exec.unwrap().command,
        dir.path().join("bin/plugin").display().to_string()
    );
    let options = KubeconfigOptions {
        user: Some("v".into()),
        ..Default::default()
    };
    let v = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .unwrap();
    assert_eq!(v.auth_info.exec.unwrap().command, "kubelogin");
}

#[tokio::test]
async fn client_certificate_paths_are_made_absolute() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["me".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::create_dir_all(dir.path().join("pki")).unwrap();
    std::fs::write(dir.path().join("pki/me.crt"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("pki/me.key"), key.serialize_pem()).unwrap();
    let path = dir.path().join("config");
    std::fs::write(
        &path,
        "current-context: c\nclusters: [{name: k, cluster: {server: 'k:6443'}}]\n\
         users: [{name: u, user: {client-certificate: pki/me.crt, client-key: pki/me.key}}]\n\
         contexts: [{name: c, context: {cluster: k, user: u}}]\n",
    )
    .unwrap();
    let kubeconfig = Kubeconfig::read_from(&path).unwrap();
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeconfigOptions::default())
        .await
        .unwrap();
    assert_eq!(
        config.auth_info.client_certificate,
        Some(dir.path().join("pki/me.crt"))
    );
    assert_eq!(config.auth_info.client_key, Some(dir.path().join("pki/me.key")));
    assert_eq!(
        config.cluster_url.to_string(),
        "https://k:6443/",
        "TLS settings make https the default"
    );
}

/// Builds the config of context `c` from `yaml` written to a file, returning the error text.
async fn error_of(dir: &Path, yaml: &str) -> String {
    let path = dir.join("config");
    std::fs::write(&path, yaml).unwrap();
    let kubeconfig = match Kubeconfig::read_from(&path) {
        Ok(k) => k,
        Err(err) => return err.to_string(),
    };
    Config::from_custom_kubeconfig(kubeconfig, &context("c"))
        .await
        .unwrap_err()
        .to_string()
}

#[tokio::test]
async fn every_error_names_its_culprit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = d.join("config").display().to_string();
    let ok_cluster = "clusters: [{name: k, cluster: {server: 'https://k:6443'}}]\n";
    let ctx = "contexts: [{name: c, context: {cluster: k, user: u}}]\n";
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);

    let cases: Vec<(String, String)> = vec![
        ("clusters: [oops".into(), format!("failed to parse kubeconfig {path}: ")),
        (format!("{ok_cluster}contexts: []"), format!(r#"context "c" not found in kubeconfig {path}"#)),
        (
            "contexts: [{name: c, context: {cluster: k9}}]".into(),
            format!(r#"cluster "k9" (context "c") not found in kubeconfig {path}"#),
        ),
        (
            format!("{ok_cluster}contexts: [{{name: c, context: {{}}}}]"),
            format!(r#"context "c" has no cluster in kubeconfig {path}"#),
        ),
        (format!("{ok_cluster}{ctx}"), format!(r#"user "u" (context "c") not found in kubeconfig {path}"#)),
        (
            format!("clusters: [{{name: k, cluster: {{}}}}]\n{ctx}users: [{{name: u, user: {{}}}}]"),
            r#"cluster "k" has no server URL"#.into(),
        ),
        (
            format!("clusters: [{{name: k, cluster: {{server: 'https://k:6443:1'}}}}]\n{ctx}users: [{{name: u}}]"),
            r#"cluster "k" has invalid server URL "https://k:6443:1": "#.into(),
        ),
        (
            format!("clusters: [{{name: k, cluster: {{server: 'https://k', proxy-url: 'ftp://p'}}}}]\n{ctx}users: [{{name: u}}]"),
            r#"cluster "k" has invalid proxy-url "ftp://p": unsupported scheme "ftp""#.into(),
        ),
        (
            format!("clusters: [{{name: k, cluster: {{server: 'https://k', certificate-authority: missing.crt}}}}]\n{ctx}users: [{{name: u}}]"),
            format!(
                r#"cluster "k": failed to read certificate-authority file {}: No such file or directory (os error 2)"#,
                d.join("missing.crt").display()
            ),
        ),
        (
            format!("clusters: [{{name: k, cluster: {{server: 'https://k', certificate-authority-data: '!!'}}}}]\n{ctx}users: [{{name: u}}]"),
            r#"cluster "k": certificate-authority-data is not valid base64: "#.into(),
        ),
        (
            format!(
                "clusters: [{{name: k, cluster: {{server: 'https://k', certificate-authority-data: '{}'}}}}]\n{ctx}users: [{{name: u}}]",
                b64("not pem")
            ),
            r#"cluster "k": certificate-authority-data does not contain a valid PEM certificate"#.into(),
        ),
        (
            format!("{ok_cluster}{ctx}users: [{{name: u, user: {{client-certificate: me.crt}}}}]"),
            format!(
                r#"user "u": failed to read client-certificate file {}: No such file or directory (os error 2)"#,
                d.join("me.crt").display()
            ),
        ),
        (
            format!("{ok_cluster}{ctx}users: [{{name: u, user: {{client-certificate-data: '{}'}}}}]", b64("x")),
            r#"user "u": client-certificate is set but client-key is missing"#.into(),
        ),
        (
            format!("{ok_cluster}{ctx}users: [{{name: u, user: {{token: t, username: me}}}}]"),
            r#"user "u": more than one authentication method found (token and username/password); only one is allowed"#.into(),
        ),
        (
            format!("{ok_cluster}{ctx}users: [{{name: u, user: {{exec: {{command: x}}}}}}]"),
            r#"user "u": exec plugin: apiVersion must be specified"#.into(),
        ),
        (
            format!("{ok_cluster}{ctx}users: [{{name: u, user: {{exec: {{apiVersion: client.authentication.k8s.io/v1}}}}}}]"),
            r#"user "u": exec plugin: command must be specified"#.into(),
        ),
    ];
    for (yaml, want) in cases {
        let got = error_of(d, &yaml).await;
        assert!(got.starts_with(&want), "for\n{yaml}\nwant: {want}\ngot:  {got}");
    }

    let unreadable = d.join("no-such-kubeconfig");
    let err = Kubeconfig::read_from(&unreadable).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("failed to read kubeconfig {}: ", unreadable.display())),
        "{err}"
    );
    let err = Kubeconfig::read_paths([&unreadable]).unwrap_err().to_string();
    assert_eq!(
        err,
        format!("no kubeconfig found (looked for {})", unreadable.display())
    );
    let empty = Config::from_custom_kubeconfig(Kubeconfig::default(), &KubeconfigOptions::default()).await;
    assert_eq!(
        empty.unwrap_err().to_string(),
        "no context chosen and current-context is not set in kubeconfig <in-memory>"
    );
}
