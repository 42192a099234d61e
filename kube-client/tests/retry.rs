//! Retries, `Retry-After`, client-side rate limiting and 401 handling, against the reference
//! apiserver behind the fault-injecting proxy in `support`, which injects failures and counts
//! requests.
//!
//! These tests measure real time (tokio's paused clock does not drive real sockets), with
//! generous upper bounds; each takes at most about a second.

mod support;

use std::time::{Duration, Instant};

use http::Method;
use k8s_openapi::api::core::v1::ConfigMap;
use kube_client::{Api, Client, Config, Error};
use kube_core::{Patch, PatchParams, PostParams};
use serde_json::json;
use support::proxy::Fault;
use support::{Server, configmap};

const CFG: &str = "/api/v1/namespaces/default/configmaps/cfg";
const CFGS: &str = "/api/v1/namespaces/default/configmaps";
const NEW: &str = "/registry/configmaps/default/new";

/// A server holding the configmap `cfg`, and an `Api` for configmaps built from `config`.
async fn setup(adjust: impl FnOnce(&mut Config)) -> (Server, Api<ConfigMap>) {
    let server = Server::start().await;
    let mut config = server.config();
    adjust(&mut config);
    let api = Api::namespaced(Client::new(config).unwrap(), "default");
    Api::<ConfigMap>::namespaced(server.unthrottled_client(), "default")
        .create(&PostParams::default(), &configmap("cfg", &[]))
        .await
        .unwrap();
    server.proxy.clear_requests();
    (server, api)
}

fn code(err: &Error) -> Option<u16> {
    err.status().map(|s| s.code)
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_and_retried() {
    let (server, api) = setup(|_| {}).await;
    server
        .proxy
        .inject(Fault::status(429).retry_after(1).on(Method::GET, CFG));

    let start = Instant::now();
    let cm = api.get("cfg").await.unwrap();
    let elapsed = start.elapsed();
    assert_eq!(cm.metadata.name.as_deref(), Some("cfg"));
    assert_eq!(server.proxy.count(&Method::GET, CFG), 2);
    assert!(
        elapsed >= Duration::from_millis(950),
        "Retry-After: 1 must be honoured, waited {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[tokio::test]
async fn a_429_is_retried_for_a_post_too() {
    let (server, api) = setup(|_| {}).await;
    server
        .proxy
        .inject(Fault::status(429).retry_after(0).on(Method::POST, CFGS));

    api.create(&PostParams::default(), &configmap("new", &[]))
        .await
        .unwrap();
    assert_eq!(
        server.proxy.count(&Method::POST, CFGS),
        2,
        "the server refused the first attempt before doing anything"
    );
    assert!(server.stored(NEW).await.is_some());
}

#[tokio::test]
async fn a_503_on_get_or_put_is_retried() {
    let (server, api) = setup(|_| {}).await;
    server
        .proxy
        .inject(Fault::status(503).times(2).on(Method::GET, CFG));
    server.proxy.inject(Fault::status(504).on(Method::PUT, CFG));

    let cm = api.get("cfg").await.unwrap();
    assert_eq!(
        server.proxy.count(&Method::GET, CFG),
        3,
        "two failures, then success"
    );
    api.replace("cfg", &PostParams::default(), &cm).await.unwrap();
    assert_eq!(server.proxy.count(&Method::PUT, CFG), 2);
}

#[tokio::test]
async fn a_503_on_post_or_patch_is_not_retried() {
    let (server, api) = setup(|_| {}).await;
    server.proxy.inject(Fault::status(503).on(Method::POST, CFGS));
    server.proxy.inject(Fault::status(503).on(Method::PATCH, CFG));

    let err = api
        .create(&PostParams::default(), &configmap("new", &[]))
        .await
        .unwrap_err();
    assert_eq!(code(&err), Some(503), "{err:?}");
    assert_eq!(err.status().unwrap().reason, "ServiceUnavailable");
    assert_eq!(
        server.proxy.count(&Method::POST, CFGS),
        1,
        "a POST is not repeated"
    );
    assert!(server.stored(NEW).await.is_none());

    let err = api
        .patch(
            "cfg",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"k": "v"}})),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&err), Some(503));
    assert_eq!(server.proxy.count(&Method::PATCH, CFG), 1);
    let data = api.get("cfg").await.unwrap().data.unwrap_or_default();
    assert!(!data.contains_key("k"), "the patch was not applied: {data:?}");

    // Why: the apiserver may have acted before the 503 was written (here, a gateway gave up
    // after forwarding). Repeating the POST would fail with AlreadyExists, hiding the success.
    server
        .proxy
        .inject(Fault::status(503).after_forwarding().on(Method::POST, CFGS));
    let err = api
        .create(&PostParams::default(), &configmap("new", &[]))
        .await
        .unwrap_err();
    assert_eq!(code(&err), Some(503), "{err:?}");
    assert_eq!(
        server.proxy.count(&Method::POST, CFGS),
        2,
        "one more POST, not two"
    );
    assert!(server.stored(NEW).await.is_some(), "the server did create it");
}

#[tokio::test]
async fn max_retries_is_respected() {
    let (server, api) = setup(|c| c.max_retries = 2).await;
    server
        .proxy
        .inject(Fault::status(503).retry_after(0).times(100).on(Method::GET, CFG));
    let err = api.get("cfg").await.unwrap_err();
    assert_eq!(code(&err), Some(503));
    assert_eq!(
        server.proxy.count(&Method::GET, CFG),
        3,
        "one attempt and two retries"
    );

    let (server, api) = setup(|c| c.max_retries = 0).await;
    server.proxy.inject(Fault::status(429).retry_after(0).times(100));
    let err = api.get("cfg").await.unwrap_err();
    assert!(err.is_too_many_requests(), "{err:?}");
    assert_eq!(
        err.status()
            .unwrap()
            .details
            .as_ref()
            .unwrap()
            .retry_after_seconds,
        Some(0)
    );
    assert_eq!(
        server.proxy.count(&Method::GET, CFG),
        1,
        "max_retries 0 turns retries off"
    );
}

#[tokio::test]
async fn connection_refused_is_an_http_error_after_the_retries() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let api_with = |retries: u32| {
        let mut config = Config::new(url.parse().unwrap());
        config.max_retries = retries;
        Api::<ConfigMap>::namespaced(Client::new(config).unwrap(), "default")
    };

    let start = Instant::now();
    let err = api_with(0).get("cfg").await.unwrap_err();
    assert!(
        matches!(&err, Error::Http { url, .. } if url.contains(&format!("127.0.0.1:{port}"))),
        "{err:?}"
    );
    assert!(
        start.elapsed() < Duration::from_millis(500),
        "no retries: fails at once, took {:?}",
        start.elapsed()
    );

    // Three retries with backoff from 100ms: at least 100 + 200 + 400ms.
    let start = Instant::now();
    let err = api_with(3).get("cfg").await.unwrap_err();
    let elapsed = start.elapsed();
    assert!(matches!(err, Error::Http { .. }), "{err:?}");
    assert!(
        elapsed >= Duration::from_millis(650),
        "retried with backoff, took {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

async fn time_gets(api: &Api<ConfigMap>, n: usize) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        api.get("cfg").await.unwrap();
    }
    start.elapsed()
}

#[tokio::test]
async fn client_side_rate_limit_spaces_requests() {
    let (server, api) = setup(|c| {
        c.qps = Some(20.0);
        c.burst = 1;
    })
    .await;
    let elapsed = time_gets(&api, 21).await;
    assert!(
        elapsed >= Duration::from_millis(950),
        "21 requests at 20 qps after a burst of 1: {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert_eq!(server.proxy.count(&Method::GET, CFG), 21);
}

#[tokio::test]
async fn without_qps_or_within_the_burst_nothing_is_throttled() {
    let (_server, unlimited) = setup(|c| {
        c.qps = None;
        c.burst = 1;
    })
    .await;
    let elapsed = time_gets(&unlimited, 21).await;
    assert!(
        elapsed < Duration::from_millis(900),
        "qps None turns the limiter off: {elapsed:?}"
    );

    let (_server, defaults) = setup(|_| {}).await;
    let elapsed = time_gets(&defaults, 21).await;
    assert!(
        elapsed < Duration::from_millis(900),
        "21 requests fit the default burst: {elapsed:?}"
    );
}

#[tokio::test]
async fn a_401_with_a_static_token_is_returned_without_retry() {
    let (server, wrong) = setup(|c| c.auth_info.token = Some("wrong".into())).await;
    server.proxy.require_token(Some("right"));

    let err = wrong.get("cfg").await.unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
    assert_eq!(err.status().unwrap().message, "Unauthorized");
    assert_eq!(
        server.proxy.count(&Method::GET, CFG),
        1,
        "a static token cannot change: no retry"
    );

    let mut config = server.config();
    config.auth_info.token = Some("right".into());
    let right: Api<ConfigMap> = Api::namespaced(Client::new(config).unwrap(), "default");
    right.get("cfg").await.unwrap();
    let seen = server.proxy.requests().last().unwrap().authorization.clone();
    assert_eq!(seen.as_deref(), Some("Bearer right"));
}
