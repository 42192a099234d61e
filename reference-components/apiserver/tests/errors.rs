//! Bad input gets the Status Kubernetes answers with, and never changes stored data.

use http::Request;
use kube_client::{Client, Config};
use reference_apiserver::testing::TestServer;
use serde_json::{Value, json};

async fn setup() -> (TestServer, Client) {
    let server = TestServer::start().await;
    let mut config = Config::new(server.url().parse().unwrap());
    config.qps = None;
    config.max_retries = 0;
    (server, Client::new(config).unwrap())
}

async fn send(
    client: &Client,
    method: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Result<Value, kube_core::Status> {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .body(body)
        .unwrap();
    client
        .request::<Value>(req)
        .await
        .map_err(|e| e.status().cloned().unwrap_or_else(|| panic!("{e}")))
}

async fn expect(
    client: &Client,
    method: &str,
    path: &str,
    body: &[u8],
    code: u16,
    reason: &str,
    needle: &str,
) {
    let s = send(client, method, path, "application/json", body.to_vec())
        .await
        .unwrap_err();
    assert_eq!(
        (s.code, s.reason.as_str()),
        (code, reason),
        "{method} {path}: {}",
        s.message
    );
    assert!(
        s.message.contains(needle),
        "{:?} does not contain {needle:?}",
        s.message
    );
    assert_eq!(s.kind, "Status");
}

#[tokio::test]
async fn malformed_requests() {
    let (_s, c) = setup().await;
    let cms = "/api/v1/namespaces/default/configmaps";
    expect(
        &c,
        "POST",
        cms,
        b"{\"metadata\":",
        400,
        "BadRequest",
        "json parse error",
    )
    .await;
    expect(&c, "POST", cms, b"[1,2]", 400, "BadRequest", "expected an object").await;
    expect(
        &c,
        "POST",
        cms,
        br#"{"apiVersion":"v2","kind":"ConfigMap","metadata":{"name":"a"}}"#,
        400,
        "BadRequest",
        "does not match the expected API version",
    )
    .await;
    expect(
        &c,
        "POST",
        cms,
        br#"{"kind":"Secret","metadata":{"name":"a"}}"#,
        400,
        "BadRequest",
        "does not match the expected kind",
    )
    .await;
    expect(
        &c,
        "POST",
        cms,
        br#"{"metadata":{"name":"a"},"data":{"k":5}}"#,
        400,
        "BadRequest",
        "cannot be handled as a ConfigMap",
    )
    .await;
    expect(
        &c,
        "POST",
        cms,
        br#"{"metadata":{"name":"a","namespace":"other"}}"#,
        400,
        "BadRequest",
        "does not match the namespace",
    )
    .await;
    expect(
        &c,
        "POST",
        cms,
        br#"{"metadata":{"name":"Not_Valid"}}"#,
        422,
        "Invalid",
        "metadata.name",
    )
    .await;
    expect(
        &c,
        "POST",
        cms,
        br#"{"metadata":{}}"#,
        422,
        "Invalid",
        "name or generateName is required",
    )
    .await;
    expect(
        &c,
        "POST",
        cms,
        br#"{"metadata":{"name":"a","resourceVersion":"5"}}"#,
        400,
        "BadRequest",
        "resourceVersion should not be set",
    )
    .await;
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    expect(
        &c,
        "POST",
        cms,
        deep.as_bytes(),
        400,
        "BadRequest",
        "json parse error",
    )
    .await;
    let huge = format!(
        r#"{{"metadata":{{"name":"big"}},"data":{{"k":"{}"}}}}"#,
        "x".repeat(4 * 1024 * 1024)
    );
    expect(
        &c,
        "POST",
        cms,
        huge.as_bytes(),
        413,
        "RequestEntityTooLarge",
        "too large",
    )
    .await;
    expect(
        &c,
        "GET",
        "/api/v1/namespaces/default/configmaps/none",
        b"",
        404,
        "NotFound",
        "configmaps \"none\" not found",
    )
    .await;
    expect(
        &c,
        "GET",
        "/api/v1/nothings",
        b"",
        404,
        "NotFound",
        "could not find",
    )
    .await;
    expect(
        &c,
        "POST",
        "/api/v1/namespaces/default/pods/x/logs",
        b"{}",
        404,
        "NotFound",
        "could not find",
    )
    .await;
    // An unserved group-version is kube-apiserver's plain-text 404.
    expect(
        &c,
        "GET",
        "/apis/example.com/v1/widgets",
        b"",
        404,
        "NotFound",
        "404 page not found",
    )
    .await;
    // Namespaces do not serve deletecollection.
    expect(
        &c,
        "DELETE",
        "/api/v1/namespaces",
        b"",
        405,
        "MethodNotAllowed",
        "does not allow this method",
    )
    .await;

    // Name in the body differs from the URL.
    send(
        &c,
        "POST",
        cms,
        "application/json",
        br#"{"metadata":{"name":"a"},"data":{"k":"v"}}"#.to_vec(),
    )
    .await
    .unwrap();
    expect(
        &c,
        "PUT",
        &format!("{cms}/a"),
        br#"{"metadata":{"name":"b"}}"#,
        400,
        "BadRequest",
        "does not match the name on the URL",
    )
    .await;
    let s = send(
        &c,
        "PATCH",
        &format!("{cms}/a"),
        "application/apply-patch+yaml",
        b"{}".to_vec(),
    )
    .await
    .unwrap_err();
    // Server-side apply is served (tests/apply.rs); without a fieldManager it is invalid.
    assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));
    let s = send(
        &c,
        "PATCH",
        &format!("{cms}/a"),
        "application/merge-patch+json",
        b"not json".to_vec(),
    )
    .await
    .unwrap_err();
    assert_eq!(s.code, 400);
    // Strict field validation.
    let s = send(
        &c,
        "POST",
        &format!("{cms}?fieldValidation=Strict"),
        "application/json",
        br#"{"metadata":{"name":"strict"},"data":{},"bogus":1}"#.to_vec(),
    )
    .await
    .unwrap_err();
    assert_eq!(s.code, 400);
    assert!(s.message.contains("unknown field \"bogus\""), "{}", s.message);

    // None of it changed what is stored.
    let stored = send(&c, "GET", &format!("{cms}/a"), "application/json", vec![])
        .await
        .unwrap();
    assert_eq!(stored["data"], json!({"k": "v"}));
    let list = send(&c, "GET", cms, "application/json", vec![]).await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn discovery_documents() {
    let (_s, c) = setup().await;
    let core = send(&c, "GET", "/api/v1", "application/json", vec![])
        .await
        .unwrap();
    let pods = core["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "pods")
        .unwrap();
    assert_eq!(pods["shortNames"], json!(["po"]));
    assert_eq!(pods["namespaced"], json!(true));
    assert!(
        core["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "pods/binding")
    );
    let groups = send(&c, "GET", "/apis", "application/json", vec![])
        .await
        .unwrap();
    let names: Vec<&str> = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    for g in [
        "apps",
        "coordination.k8s.io",
        "rbac.authorization.k8s.io",
        "discovery.k8s.io",
        "networking.k8s.io",
    ] {
        assert!(names.contains(&g), "{g} missing from {names:?}");
    }
    let apps = send(&c, "GET", "/apis/apps/v1", "application/json", vec![])
        .await
        .unwrap();
    assert!(
        apps["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "deployments/scale" && r["kind"] == "Scale")
    );
    let version = c.apiserver_version().await.unwrap();
    assert_eq!((version.major.as_str(), version.minor.as_str()), ("1", "35"));
    let metrics = c
        .request_text(Request::get("/metrics").body(vec![]).unwrap())
        .await
        .unwrap();
    assert!(metrics.contains("apiserver_request_total"), "{metrics}");
}

#[tokio::test]
async fn past_the_inflight_limit_requests_get_429_with_retry_after() {
    let storage = reference_apiserver::storage::open(
        reference_apiserver::storage::StorageKind::Memory,
        std::path::Path::new(""),
    )
    .unwrap();
    let config = reference_apiserver::server::ServerConfig {
        max_inflight: 1,
        ..Default::default()
    };
    let server = TestServer::start_with(storage, config).await;
    let mut cfg = Config::new(server.url().parse().unwrap());
    cfg.qps = None;
    cfg.max_retries = 0;
    let c = Client::new(cfg).unwrap();
    // A read of a revision the server has not reached waits (up to 3 s) and holds the only slot.
    let slow = {
        let c = c.clone();
        tokio::spawn(async move {
            send(
                &c,
                "GET",
                "/api/v1/namespaces/default/configmaps?resourceVersion=999999",
                "application/json",
                vec![],
            )
            .await
        })
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(3);
    let status = loop {
        match send(&c, "GET", "/api/v1/namespaces", "application/json", vec![]).await {
            Err(s) if s.code == 429 => break s,
            _ if tokio::time::Instant::now() > deadline => panic!("never saw a 429"),
            _ => tokio::task::yield_now().await,
        }
    };
    assert_eq!(status.reason, "TooManyRequests");
    assert_eq!(status.details.unwrap().retry_after_seconds, Some(1));
    let slow = slow.await.unwrap().unwrap_err();
    assert_eq!(
        (slow.code, slow.reason.as_str()),
        (504, "Timeout"),
        "{}",
        slow.message
    );
    // Watches are long-running and do not hold a slot.
    let cms: kube_client::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube_client::Api::namespaced(c.clone(), "default");
    let _watch = cms
        .watch(&kube_core::params::WatchParams::default(), "0")
        .await
        .unwrap();
    send(&c, "GET", "/api/v1/namespaces", "application/json", vec![])
        .await
        .unwrap();
}
