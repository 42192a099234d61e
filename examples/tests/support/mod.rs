//! What the example tests share: the in-process apiserver with the `configmapgen` CRD
//! established, and polling with a deadline.

#![allow(dead_code)] // each test binary uses its own part

use std::time::Duration;

use examples::configmapgen::ConfigMapGeneratorSpec;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube_client::{Api, Client, Config};
use kube_core::CustomResource;
use kube_core::params::PostParams;
use reference_apiserver::testing::TestServer;

/// How long any one wait may take.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// Poll `check` until it returns `Some`, or fail after [`TIMEOUT`].
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    eventually_within(TIMEOUT, what, check).await
}

/// Poll `check` until it returns `Some`, or fail after `within`.
pub async fn eventually_within<T, F, Fut>(within: Duration, what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    reference_apiserver::testing::eventually(within, what, check).await
}

/// An in-process apiserver with the `ConfigMapGenerator` CRD (generated from the Rust types)
/// established, and an unthrottled client for it.
pub async fn server_with_crd() -> (TestServer, Client) {
    let server = TestServer::start().await;
    let mut config = Config::new(server.url().parse().unwrap());
    config.qps = None;
    let client = Client::new(config).unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &ConfigMapGeneratorSpec::crd())
        .await
        .unwrap();
    let crd_name = format!(
        "{}.{}",
        ConfigMapGeneratorSpec::PLURAL,
        ConfigMapGeneratorSpec::GROUP
    );
    eventually("the CRD to be established", || {
        let crds = crds.clone();
        let crd_name = crd_name.clone();
        async move {
            let crd = crds.get(&crd_name).await.ok()?;
            crd.status?
                .conditions?
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
                .then_some(())
        }
    })
    .await;
    (server, client)
}
