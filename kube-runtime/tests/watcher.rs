//! The watcher against the in-process apiserver: paging, resumption after dropped connections,
//! relisting after 410, bookmarks, selectors, streaming lists.

mod support;

use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use k8s_openapi::api::core::v1::ConfigMap;
use kube_client::Api;
use kube_core::ResourceExt;
use kube_core::params::{DeleteParams, PostParams};
use kube_runtime::watcher::{self, Event};
use reference_apiserver::server::ServerConfig;

const TIMEOUT: Duration = Duration::from_secs(10);

type Events = BoxStream<'static, watcher::Result<Event<ConfigMap>>>;

use support::configmap as cm;

/// The next item, failing the test after a timeout.
async fn next(events: &mut Events) -> watcher::Result<Event<ConfigMap>> {
    tokio::time::timeout(TIMEOUT, events.next())
        .await
        .expect("watcher event in time")
        .expect("the watcher never ends")
}

/// The next event, skipping (and returning) errors.
async fn next_ok(events: &mut Events, errors: &mut Vec<String>) -> Event<ConfigMap> {
    loop {
        match next(events).await {
            Ok(e) => return e,
            Err(e) => errors.push(e.to_string()),
        }
    }
}

fn label(e: &Event<ConfigMap>) -> String {
    let name = |o: &ConfigMap| o.name_any();
    match e {
        Event::Init => "Init".into(),
        Event::InitApply(o) => format!("InitApply({})", name(o)),
        Event::InitDone => "InitDone".into(),
        Event::Apply(o) => format!("Apply({})", name(o)),
        Event::Delete(o) => format!("Delete({})", name(o)),
    }
}

/// Events up to and including the next `InitDone`.
async fn initial_list(events: &mut Events) -> Vec<String> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    loop {
        let e = next_ok(events, &mut errors).await;
        out.push(label(&e));
        if matches!(e, Event::InitDone) {
            return out;
        }
    }
}

fn fast() -> watcher::Config {
    watcher::Config::default().backoff(Some(watcher::BackoffConfig {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(50),
        ..Default::default()
    }))
}

#[tokio::test]
async fn lists_in_pages_then_streams_changes() {
    let env = support::start().await;
    let api: Api<ConfigMap> = Api::namespaced(env.client.clone(), "default");
    for name in ["a", "b", "c"] {
        api.create(&PostParams::default(), &cm(name, &[])).await.unwrap();
    }
    let mut events: Events = watcher::watcher(api.clone(), fast().page_size(2)).boxed();
    assert_eq!(
        initial_list(&mut events).await,
        ["Init", "InitApply(a)", "InitApply(b)", "InitApply(c)", "InitDone"]
    );
    api.create(&PostParams::default(), &cm("d", &[])).await.unwrap();
    let mut changed = cm("a", &[("x", "y")]);
    changed.metadata.resource_version = None;
    api.replace("a", &PostParams::default(), &changed).await.unwrap();
    api.delete("b", &DeleteParams::default()).await.unwrap();
    let mut seen = Vec::new();
    let mut errors = Vec::new();
    for _ in 0..3 {
        seen.push(label(&next_ok(&mut events, &mut errors).await));
    }
    assert_eq!(seen, ["Apply(d)", "Apply(a)", "Delete(b)"]);
    assert!(errors.is_empty(), "{errors:?}");
}

#[tokio::test]
async fn resumes_from_the_last_version_after_a_dropped_connection() {
    let env = support::start_proxied(ServerConfig::default()).await;
    let api: Api<ConfigMap> = Api::namespaced(env.client.clone(), "default");
    api.create(&PostParams::default(), &cm("a", &[])).await.unwrap();
    let mut events: Events = watcher::watcher(api.clone(), fast()).boxed();
    initial_list(&mut events).await;
    let b = api.create(&PostParams::default(), &cm("b", &[])).await.unwrap();
    let mut errors = Vec::new();
    assert_eq!(label(&next_ok(&mut events, &mut errors).await), "Apply(b)");

    // The connection drops halfway through the event for `c`.
    env.proxy.break_watches();
    api.create(&PostParams::default(), &cm("c", &[])).await.unwrap();
    api.create(&PostParams::default(), &cm("d", &[])).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        seen.push(label(&next_ok(&mut events, &mut errors).await));
    }
    // Nothing missed, nothing repeated, no relist.
    assert_eq!(seen, ["Apply(c)", "Apply(d)"]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("watch stream failed"), "{errors:?}");
    let requests = env.proxy.requests();
    let lists = requests
        .iter()
        .filter(|r| !r.query.contains("watch=true"))
        .count();
    let watches: Vec<_> = requests
        .iter()
        .filter(|r| r.query.contains("watch=true"))
        .collect();
    assert_eq!(lists, 1 + 4, "one list plus four creates: {requests:?}");
    assert_eq!(watches.len(), 2, "{watches:?}");
    let rv_b = b.resource_version().unwrap();
    assert!(
        watches[1].query.contains(&format!("resourceVersion={rv_b}")),
        "resumed from b's version {rv_b}: {}",
        watches[1].query
    );
}

#[tokio::test]
async fn relists_when_the_version_is_compacted_away() {
    let env = support::start_proxied(ServerConfig {
        watch_history: 2,
        ..Default::default()
    })
    .await;
    let api: Api<ConfigMap> = Api::namespaced(env.client.clone(), "default");
    api.create(&PostParams::default(), &cm("a", &[])).await.unwrap();
    api.create(&PostParams::default(), &cm("b", &[])).await.unwrap();
    let mut events: Events = watcher::watcher(api.clone(), fast()).boxed();
    initial_list(&mut events).await;

    // While the consumer is not polling: the connection drops, `a` goes away unseen, more
    // changes happen, and storage compacts the history the watcher would resume from.
    env.proxy.break_watches();
    api.delete("a", &DeleteParams::default()).await.unwrap();
    for name in ["c", "d", "e", "f"] {
        api.create(&PostParams::default(), &cm(name, &[])).await.unwrap();
    }
    let storage = &env.server.state().storage;
    storage.compact(storage.revision().await.unwrap()).await.unwrap();

    let mut errors = Vec::new();
    // The broken stream surfaces first (the event for `a`'s deletion was cut).
    let mut relist = Vec::new();
    loop {
        let e = next_ok(&mut events, &mut errors).await;
        relist.push(label(&e));
        if matches!(e, Event::InitDone) {
            break;
        }
    }
    assert_eq!(
        relist,
        [
            "Init",
            "InitApply(b)",
            "InitApply(c)",
            "InitApply(d)",
            "InitApply(e)",
            "InitApply(f)",
            "InitDone"
        ],
        "a relist without `a`; errors: {errors:?}"
    );
    // The 410 itself is routine: only the dropped connection is reported.
    assert!(
        errors
            .iter()
            .all(|e| !e.contains("410") && !e.contains("Expired")),
        "{errors:?}"
    );
    // And the watch goes on from the relist.
    api.create(&PostParams::default(), &cm("g", &[])).await.unwrap();
    assert_eq!(label(&next_ok(&mut events, &mut errors).await), "Apply(g)");
}

#[tokio::test]
async fn bookmarks_move_the_resume_point() {
    let env = support::start_proxied(ServerConfig::default()).await;
    let watched: Api<ConfigMap> = Api::namespaced(env.client.clone(), "default");
    support::create_namespace(&env.client, "other").await;
    let other: Api<ConfigMap> = Api::namespaced(env.client.clone(), "other");
    let mut events: Events = watcher::watcher(watched.clone(), fast()).boxed();
    initial_list(&mut events).await;
    // Changes the watcher never sees as events...
    let mut last = String::new();
    for i in 0..3 {
        last = other
            .create(&PostParams::default(), &cm(&format!("o{i}"), &[]))
            .await
            .unwrap()
            .resource_version()
            .unwrap();
    }
    let last: u64 = last.parse().unwrap();
    // ...reach it as a bookmark (sent every 5 s), which it remembers: after a dropped
    // connection it resumes from there rather than from its list's version.
    let pump = tokio::spawn(async move {
        let mut errors = Vec::new();
        loop {
            let e = next_ok(&mut events, &mut errors).await;
            if let Event::Apply(o) = e {
                return o.name_any();
            }
        }
    });
    tokio::time::sleep(Duration::from_secs(6)).await;
    env.proxy.break_watches();
    watched
        .create(&PostParams::default(), &cm("x", &[]))
        .await
        .unwrap();
    assert_eq!(tokio::time::timeout(TIMEOUT, pump).await.unwrap().unwrap(), "x");
    let watches: Vec<_> = env
        .proxy
        .requests()
        .into_iter()
        .filter(|r| r.query.contains("watch=true"))
        .collect();
    assert_eq!(watches.len(), 2, "{watches:?}");
    let resumed: u64 = watches[1]
        .query
        .split('&')
        .find_map(|kv| kv.strip_prefix("resourceVersion="))
        .expect("a resourceVersion")
        .parse()
        .unwrap();
    assert!(
        resumed >= last,
        "resumed from {resumed}, bookmark was at least {last}"
    );
    assert!(watches[0].query.contains("allowWatchBookmarks=true"));
}

#[tokio::test]
async fn selectors_filter_the_list_and_the_watch() {
    let env = support::start().await;
    let api: Api<ConfigMap> = Api::namespaced(env.client.clone(), "default");
    api.create(&PostParams::default(), &cm("web1", &[("app", "web")]))
        .await
        .unwrap();
    api.create(&PostParams::default(), &cm("db1", &[("app", "db")]))
        .await
        .unwrap();
    let mut events: Events = watcher::watcher(api.clone(), fast().labels("app=web")).boxed();
    assert_eq!(
        initial_list(&mut events).await,
        ["Init", "InitApply(web1)", "InitDone"]
    );
    api.create(&PostParams::default(), &cm("db2", &[("app", "db")]))
        .await
        .unwrap();
    api.create(&PostParams::default(), &cm("web2", &[("app", "web")]))
        .await
        .unwrap();
    let mut errors = Vec::new();
    assert_eq!(label(&next_ok(&mut events, &mut errors).await), "Apply(web2)");

    let mut by_name: Events = watcher::watcher(api.clone(), fast().fields("metadata.name=db1")).boxed();
    assert_eq!(
        initial_list(&mut by_name).await,
        ["Init", "InitApply(db1)", "InitDone"]
    );
}

#[tokio::test]
async fn streaming_list_delivers_the_initial_state_as_events() {
    let env = support::start().await;
    let api: Api<ConfigMap> = Api::namespaced(env.client.clone(), "default");
    for name in ["a", "b"] {
        api.create(&PostParams::default(), &cm(name, &[])).await.unwrap();
    }
    let mut events: Events = watcher::watcher(api.clone(), fast().streaming_list()).boxed();
    let mut initial = initial_list(&mut events).await;
    initial[1..3].sort();
    assert_eq!(initial, ["Init", "InitApply(a)", "InitApply(b)", "InitDone"]);
    api.create(&PostParams::default(), &cm("c", &[])).await.unwrap();
    let mut errors = Vec::new();
    assert_eq!(label(&next_ok(&mut events, &mut errors).await), "Apply(c)");
}

#[tokio::test]
async fn failures_are_reported_and_retried_with_backoff() {
    let env = support::start_proxied(ServerConfig::default()).await;
    let api: Api<ConfigMap> = Api::namespaced(env.client.clone(), "default");
    api.create(&PostParams::default(), &cm("a", &[])).await.unwrap();
    env.proxy.inject(support::proxy::Fault::status(500).times(3));
    let mut events: Events = watcher::watcher(api.clone(), fast()).boxed();
    let mut errors = Vec::new();
    let first = next_ok(&mut events, &mut errors).await;
    assert_eq!(label(&first), "Init");
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors[0].starts_with("initial list failed"), "{errors:?}");
}
