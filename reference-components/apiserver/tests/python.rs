//! Acceptance: the official Python `kubernetes` client against the reference apiserver. Each
//! test runs one script of `tests/python/` (which asserts and exits non-zero on failure) against
//! its own in-process server.

#[path = "support/kubectl.rs"]
mod kubectl;

use std::path::PathBuf;

use kubectl::Clients;
use reference_apiserver::testing::TestServer;

async fn run_script(name: &str) {
    let server = TestServer::start().await;
    let clients = Clients::new(&server.url());
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(name);
    let out = clients.python(&script, &[]).await;
    assert!(out.success(), "python {name} failed: {out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_create_read_list_watch_patch_replace_delete() {
    run_script("pods.py").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_map() {
    run_script("configmaps.py").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_objects() {
    run_script("custom_objects.py").await;
}
