//! TLS and authentication against a real HTTPS server on 127.0.0.1: trust roots,
//! `insecure-skip-tls-verify`, `tls-server-name`, client certificates (files, data, exec),
//! bearer tokens from token files and exec plugins (caching, expiry, invalidation).

#[path = "support/tls_server.rs"]
mod tls_server;

use std::path::Path;

use base64::Engine as _;
use kube_client::Config;
use kube_client::client::auth::Auth;
use kube_client::client::tls;
use kube_client::config::{AuthInfo, ExecConfig, ExecEnvVar, Kubeconfig, KubeconfigOptions};
use tls_server::{Ca, Identity, Seen, ServerOptions, serve};

const EXEC_V1: &str = "client.authentication.k8s.io/v1";

fn server_options(identity: &Identity) -> ServerOptions<'_> {
    ServerOptions {
        identity,
        require_client_cert_from: None,
        known_clients: Vec::new(),
        reject_authorization: None,
    }
}

fn config_for(addr: std::net::SocketAddr, ca: Option<&Ca>) -> Config {
    let mut config = Config::new(format!("https://{addr}").parse().unwrap());
    config.root_cert = ca.map(|ca| vec![ca.cert_der.clone()]);
    config
}

fn http_client(config: &Config, auth: &Auth) -> reqwest::Client {
    let tls = tls::rustls_config(config, auth.client_cert_resolver()).unwrap();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .unwrap()
}

/// One GET through `auth`, like the client does: header first, then the request.
async fn get(config: &Config, auth: &Auth) -> Result<reqwest::Response, reqwest::Error> {
    let mut request = http_client(config, auth).get(config.cluster_url.to_string());
    if let Some(value) = auth.authorization().await.unwrap() {
        request = request.header(http::header::AUTHORIZATION, value);
    }
    request.send().await
}

async fn seen(config: &Config, auth: &Auth) -> Seen {
    let response = get(config, auth).await.expect("request failed");
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn trusts_the_configured_ca_and_negotiates_h2() {
    let ca = Ca::new("test-ca");
    let server = ca.issue("apiserver", &["127.0.0.1"]);
    let addr = serve(server_options(&server)).await;
    let auth = Auth::default();

    let seen = seen(&config_for(addr, Some(&ca)), &auth).await;
    assert_eq!(seen.version, "HTTP/2.0");
    assert_eq!(seen.authorization, None);

    let other = Ca::new("other-ca");
    assert!(
        get(&config_for(addr, Some(&other)), &auth).await.is_err(),
        "wrong CA accepted"
    );
    assert!(
        get(&config_for(addr, None), &auth).await.is_err(),
        "web roots accepted a private CA"
    );
}

#[tokio::test]
async fn insecure_skip_tls_verify_accepts_any_certificate() {
    let ca = Ca::new("test-ca");
    let server = ca.issue("apiserver", &["somewhere.else"]);
    let addr = serve(server_options(&server)).await;
    let mut config = config_for(addr, None);
    config.accept_invalid_certs = true;
    assert_eq!(seen(&config, &Auth::default()).await.version, "HTTP/2.0");
}

#[tokio::test]
async fn tls_server_name_replaces_the_url_host_in_verification() {
    let ca = Ca::new("test-ca");
    let server = ca.issue("apiserver", &["kubernetes.internal"]);
    let addr = serve(server_options(&server)).await;
    let mut config = config_for(addr, Some(&ca));
    assert!(
        get(&config, &Auth::default()).await.is_err(),
        "certificate for another name accepted"
    );
    config.tls_server_name = Some("kubernetes.internal".into());
    assert_eq!(seen(&config, &Auth::default()).await.version, "HTTP/2.0");
    config.tls_server_name = Some("wrong.internal".into());
    assert!(
        get(&config, &Auth::default()).await.is_err(),
        "wrong tls-server-name accepted"
    );
}

#[tokio::test]
async fn client_certificate_from_files_and_data() {
    let ca = Ca::new("test-ca");
    let server = ca.issue("apiserver", &["127.0.0.1"]);
    let alice = ca.issue("alice", &["alice"]);
    let mut options = server_options(&server);
    options.require_client_cert_from = Some(&ca);
    options.known_clients = vec![(alice.cert_der.clone(), "alice".into())];
    let addr = serve(options).await;
    let config = config_for(addr, Some(&ca));

    assert!(
        get(&config, &Auth::default()).await.is_err(),
        "server let a client without certificate in"
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("alice.crt"), &alice.cert_pem).unwrap();
    std::fs::write(dir.path().join("alice.key"), &alice.key_pem).unwrap();
    let files = AuthInfo {
        client_certificate: Some(dir.path().join("alice.crt")),
        client_key: Some(dir.path().join("alice.key")),
        token: Some("with-cert".into()),
        ..Default::default()
    };
    let seen_files = seen(&config, &Auth::new(&files).unwrap()).await;
    assert_eq!(seen_files.client.as_deref(), Some("alice"));
    assert_eq!(seen_files.authorization.as_deref(), Some("Bearer with-cert"));

    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let data = AuthInfo {
        client_certificate_data: Some(b64(&alice.cert_pem)),
        client_key_data: Some(b64(&alice.key_pem)),
        ..Default::default()
    };
    assert_eq!(
        seen(&config, &Auth::new(&data).unwrap()).await.client.as_deref(),
        Some("alice")
    );

    let mallory = Ca::new("rogue-ca").issue("mallory", &["mallory"]);
    let rogue = AuthInfo {
        client_certificate_data: Some(b64(&mallory.cert_pem)),
        client_key_data: Some(b64(&mallory.key_pem)),
        ..Default::default()
    };
    assert!(
        get(&config, &Auth::new(&rogue).unwrap()).await.is_err(),
        "untrusted client certificate accepted"
    );
}

#[tokio::test]
async fn token_file_rotation_is_picked_up() {
    let ca = Ca::new("test-ca");
    let server = ca.issue("apiserver", &["127.0.0.1"]);
    let mut options = server_options(&server);
    options.reject_authorization = Some("Bearer old".into());
    let addr = serve(options).await;
    let config = config_for(addr, Some(&ca));

    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "old\n").unwrap();
    let auth = Auth::new(&AuthInfo {
        token_file: Some(token_file.clone()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(get(&config, &auth).await.unwrap().status(), 401);

    // The kubelet rotates the projected token; after the 401 the client invalidates and retries.
    std::fs::write(&token_file, "rotated-token\n").unwrap();
    assert!(
        auth.invalidate(),
        "a token file can change, so a retry is worthwhile"
    );
    assert_eq!(
        seen(&config, &auth).await.authorization.as_deref(),
        Some("Bearer rotated-token")
    );
}

/// Writes an exec plugin script that counts its runs in `dir/count`, saves
/// `KUBERNETES_EXEC_INFO` to `dir/info.json` and prints `body` (a shell `printf` format; `%s`
/// is the run number). Plugins run as `sh <script>`: executing a file just written can fail
/// with "text file busy" when another test thread forks at that moment.
fn write_plugin(dir: &Path, body: &str) -> String {
    let script = format!(
        "#!/bin/sh\nn=$(cat \"$PLUGIN_DIR/count\" 2>/dev/null || echo 0)\nn=$((n + 1))\necho $n > \"$PLUGIN_DIR/count\"\n\
         printf '%s' \"$KUBERNETES_EXEC_INFO\" > \"$PLUGIN_DIR/info.json\"\nprintf '{body}' \"$n\"\n"
    );
    let path = dir.join("plugin.sh");
    std::fs::write(&path, script).unwrap();
    path.display().to_string()
}

fn runs(dir: &Path) -> u32 {
    std::fs::read_to_string(dir.join("count")).map_or(0, |s| s.trim().parse().unwrap())
}

fn token_output(expiration: &str) -> String {
    format!(
        r#"{{"apiVersion":"{EXEC_V1}","kind":"ExecCredential","status":{{"token":"tok-%s","expirationTimestamp":"{expiration}"}}}}"#
    )
}

#[tokio::test]
async fn exec_token_is_cached_until_invalidated() {
    let ca = Ca::new("test-ca");
    let server = ca.issue("apiserver", &["127.0.0.1"]);
    let mut options = server_options(&server);
    options.reject_authorization = Some("Bearer tok-1".into());
    let addr = serve(options).await;

    let dir = tempfile::tempdir().unwrap();
    let plugin = write_plugin(dir.path(), &token_output("2999-01-01T00:00:00Z"));
    // Through a kubeconfig, so that provideClusterInfo hands the plugin the cluster.
    let yaml = format!(
        r#"
current-context: test
clusters: [{{name: c, cluster: {{server: "https://{addr}", certificate-authority-data: "{ca}"}}}}]
users:
- name: u
  user:
    exec:
      apiVersion: {EXEC_V1}
      command: sh
      args: ["{plugin}"]
      env: [{{name: PLUGIN_DIR, value: "{dir}"}}]
      provideClusterInfo: true
      interactiveMode: Never
contexts: [{{name: test, context: {{cluster: c, user: u}}}}]
"#,
        ca = base64::engine::general_purpose::STANDARD.encode(&ca.cert_pem),
        dir = dir.path().display(),
    );
    let kubeconfig = Kubeconfig::from_yaml(&yaml).unwrap();
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeconfigOptions::default())
        .await
        .unwrap();
    let auth = Auth::new(&config.auth_info).unwrap();

    // The first token is revoked: 401, invalidate, one retry with a fresh token.
    assert_eq!(get(&config, &auth).await.unwrap().status(), 401);
    assert_eq!(runs(dir.path()), 1);
    assert!(auth.invalidate());
    assert_eq!(
        seen(&config, &auth).await.authorization.as_deref(),
        Some("Bearer tok-2")
    );
    assert_eq!(runs(dir.path()), 2);

    // Cached until expiry: more requests, from clones too, do not run the plugin again.
    let clone = auth.clone();
    for _ in 0..3 {
        assert_eq!(
            seen(&config, &clone).await.authorization.as_deref(),
            Some("Bearer tok-2")
        );
    }
    assert_eq!(runs(dir.path()), 2);

    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("info.json")).unwrap()).unwrap();
    assert_eq!(info["kind"], "ExecCredential");
    assert_eq!(info["apiVersion"], EXEC_V1);
    assert_eq!(info["spec"]["interactive"], false);
    assert_eq!(info["spec"]["cluster"]["server"], format!("https://{addr}"));
    let ca_data = info["spec"]["cluster"]["certificate-authority-data"]
        .as_str()
        .unwrap();
    assert_eq!(
        base64::engine::general_purpose::STANDARD.decode(ca_data).unwrap(),
        ca.cert_pem.as_bytes()
    );
}

#[tokio::test]
async fn expired_exec_tokens_are_refreshed_and_concurrent_callers_share_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = write_plugin(dir.path(), &token_output("2000-01-01T00:00:00Z"));
    let info = AuthInfo {
        exec: Some(ExecConfig {
            api_version: Some(EXEC_V1.into()),
            command: "sh".into(),
            args: vec![plugin],
            env: vec![ExecEnvVar {
                name: "PLUGIN_DIR".into(),
                value: dir.path().display().to_string(),
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    let auth = Auth::new(&info).unwrap();
    let first = auth.authorization().await.unwrap().unwrap();
    let second = auth.authorization().await.unwrap().unwrap();
    assert_eq!(
        (first.to_str().unwrap(), second.to_str().unwrap()),
        ("Bearer tok-1", "Bearer tok-2")
    );

    // A credential without expiry is cached; concurrent first calls run the plugin once.
    let dir = tempfile::tempdir().unwrap();
    let body =
        format!(r#"{{"apiVersion":"{EXEC_V1}","kind":"ExecCredential","status":{{"token":"tok-%s"}}}}"#);
    let plugin = write_plugin(dir.path(), &body);
    let mut info = info;
    let exec = info.exec.as_mut().unwrap();
    exec.args = vec![plugin];
    exec.env[0].value = dir.path().display().to_string();
    let auth = Auth::new(&info).unwrap();
    let calls = (0..4).map(|_| {
        let auth = auth.clone();
        tokio::spawn(async move { auth.authorization().await.unwrap().unwrap() })
    });
    for call in calls {
        assert_eq!(call.await.unwrap().to_str().unwrap(), "Bearer tok-1");
    }
    assert_eq!(runs(dir.path()), 1);
}

#[tokio::test]
async fn exec_plugin_client_certificates_are_used_for_tls() {
    let ca = Ca::new("test-ca");
    let server = ca.issue("apiserver", &["127.0.0.1"]);
    let bob = ca.issue("bob", &["bob"]);
    let mut options = server_options(&server);
    options.require_client_cert_from = Some(&ca);
    options.known_clients = vec![(bob.cert_der.clone(), "bob".into())];
    let addr = serve(options).await;
    let config = config_for(addr, Some(&ca));

    let dir = tempfile::tempdir().unwrap();
    let credential = serde_json::json!({
        "apiVersion": EXEC_V1,
        "kind": "ExecCredential",
        "status": {"clientCertificateData": bob.cert_pem, "clientKeyData": bob.key_pem},
    });
    std::fs::write(dir.path().join("credential.json"), credential.to_string()).unwrap();
    let plugin = dir.path().join("plugin.sh");
    std::fs::write(&plugin, "#!/bin/sh\ncat \"$(dirname \"$0\")/credential.json\"\n").unwrap();

    let info = AuthInfo {
        exec: Some(ExecConfig {
            api_version: Some(EXEC_V1.into()),
            command: "sh".into(),
            args: vec![plugin.display().to_string()],
            ..Default::default()
        }),
        ..Default::default()
    };
    let auth = Auth::new(&info).unwrap();
    assert_eq!(auth.client_certificate_generation(), 0);
    // authorization() runs the plugin (no header: the plugin returned only a certificate).
    let seen = seen(&config, &auth).await;
    assert_eq!(seen.client.as_deref(), Some("bob"));
    assert_eq!(seen.authorization, None);
    assert_eq!(auth.client_certificate_generation(), 1);
    assert!(auth.client_certificate().await.unwrap().is_some());
}

#[tokio::test]
async fn a_rotated_exec_certificate_opens_new_connections() {
    let ca = Ca::new("test-ca");
    let server = ca.issue("apiserver", &["127.0.0.1"]);
    let bob = ca.issue("bob", &["bob"]);
    let alice = ca.issue("alice", &["alice"]);
    let mut options = server_options(&server);
    options.require_client_cert_from = Some(&ca);
    options.known_clients = vec![
        (bob.cert_der.clone(), "bob".into()),
        (alice.cert_der.clone(), "alice".into()),
    ];
    let addr = serve(options).await;

    // A plugin whose credential is always expired, so every request runs it: odd runs return
    // bob's certificate, even runs alice's.
    let dir = tempfile::tempdir().unwrap();
    for (name, id) in [("1", &bob), ("0", &alice)] {
        let credential = serde_json::json!({
            "apiVersion": EXEC_V1,
            "kind": "ExecCredential",
            "status": {
                "clientCertificateData": id.cert_pem,
                "clientKeyData": id.key_pem,
                "expirationTimestamp": "2000-01-01T00:00:00Z",
            },
        });
        std::fs::write(
            dir.path().join(format!("credential-{name}.json")),
            credential.to_string(),
        )
        .unwrap();
    }
    let plugin = dir.path().join("plugin.sh");
    std::fs::write(
        &plugin,
        "#!/bin/sh\nd=\"$(dirname \"$0\")\"\nn=$(cat \"$d/count\" 2>/dev/null || echo 0)\nn=$((n + 1))\necho $n > \"$d/count\"\ncat \"$d/credential-$((n % 2)).json\"\n",
    )
    .unwrap();
    let mut config = config_for(addr, Some(&ca));
    config.auth_info = AuthInfo {
        exec: Some(ExecConfig {
            api_version: Some(EXEC_V1.into()),
            command: "sh".into(),
            args: vec![plugin.display().to_string()],
            ..Default::default()
        }),
        ..Default::default()
    };
    let client = kube_client::Client::new(config).unwrap();
    let mut clients = Vec::new();
    for _ in 0..4 {
        let request = http::Request::get("/").body(Vec::new()).unwrap();
        let seen: serde_json::Value = client.request(request).await.unwrap();
        clients.push(seen["client"].as_str().unwrap().to_string());
    }
    // Each rotation is presented on a fresh connection, not the pooled one of the old
    // certificate.
    assert_eq!(clients, ["bob", "alice", "bob", "alice"]);
}

#[tokio::test]
async fn exec_failures_are_reported_with_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("fail.sh");
    std::fs::write(&plugin, "#!/bin/sh\necho 'please run: cloud login' >&2\nexit 1\n").unwrap();
    let info = AuthInfo {
        exec: Some(ExecConfig {
            api_version: Some(EXEC_V1.into()),
            command: "sh".into(),
            args: vec![plugin.display().to_string()],
            install_hint: Some("install the cloud CLI".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let err = Auth::new(&info)
        .unwrap()
        .authorization()
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "exec plugin: executable sh failed with exit status: 1: stderr: please run: cloud login"
    );
}
