//! Acceptance: the real kubectl 1.35 against the reference apiserver, asserting what a user sees
//! (exit codes, printed fields) and what the server then holds. kubectl runs with its defaults:
//! aggregated discovery, Tables, OpenAPI v3 with server-side field validation, protobuf bodies
//! for typed create commands; nothing is weakened (no `--validate=false`).
//!
//! Each test starts its own in-process server (memory storage, random loopback port). The
//! modules group the commands: [`create`] (typed creates, apply), [`read`] (get in every format,
//! watch, discovery, explain), [`update`] (describe, label, annotate, patch, scale, replace, edit),
//! [`lifecycle`] (delete, finalizers, wait) and [`crd`] (custom resources).

#[path = "../support/kubectl.rs"]
mod kubectl;

mod crd;
mod create;
mod lifecycle;
mod read;
mod update;

use std::time::Duration;

use kubectl::Clients;
use reference_apiserver::testing::TestServer;
use serde_json::Value;

/// A server and kubectl configured for it.
pub async fn start() -> (TestServer, Clients) {
    let server = TestServer::start().await;
    let clients = Clients::new(&server.url());
    (server, clients)
}

/// Parse kubectl's JSON output.
pub fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// kubectl's table output as rows of cells (columns are separated by at least two spaces).
pub fn table(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect()
        })
        .collect()
}

/// The row whose cell `column` (by header) is `value`.
pub fn row<'a>(rows: &'a [Vec<String>], column: &str, value: &str) -> &'a [String] {
    let i = rows[0]
        .iter()
        .position(|h| h == column)
        .unwrap_or_else(|| panic!("no column {column} in {:?}", rows[0]));
    rows.iter()
        .skip(1)
        .find(|r| r.get(i).map(String::as_str) == Some(value))
        .unwrap_or_else(|| panic!("no row with {column}={value} in {rows:?}"))
}

/// A manifest of four documents.
pub const APP: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, tier: front}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports: [{containerPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: web, labels: {app: web}}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config, labels: {app: web}}
data: {greeting: hello}
---
apiVersion: v1
kind: Secret
metadata: {name: web-secret}
type: Opaque
data: {password: czNjcmV0}
"#;

/// Read `lines` into `seen` until `done` holds for the lines so far (within 30 seconds).
pub async fn read_until<R: tokio::io::AsyncBufRead + Unpin>(
    lines: &mut tokio::io::Lines<R>,
    seen: &mut Vec<String>,
    done: impl Fn(&[String]) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !done(seen) {
        match tokio::time::timeout_at(deadline, lines.next_line()).await {
            Ok(Ok(Some(line))) => seen.push(line),
            Ok(Ok(None)) => panic!("kubectl output ended early; saw {seen:?}"),
            Ok(Err(e)) => panic!("read kubectl output: {e}"),
            Err(_) => panic!("kubectl did not print what was expected within 30s; saw {seen:?}"),
        }
    }
}
