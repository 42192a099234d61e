//! Stores, indexers and shared informers against the in-process apiserver.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube_client::Api;
use kube_core::params::{DeleteParams, PostParams};
use kube_core::{ResourceExt, Selector};
use kube_runtime::informer::{
    EventHandler, HandlerOptions, InformerConfig, InformerOptions, SharedInformer, SharedInformerFactory,
};
use kube_runtime::reflector::{NAMESPACE_INDEX, ObjectKey, StoreConfig, StoreMode};
use kube_runtime::watcher;
use reference_apiserver::server::ServerConfig;
use tokio_util::sync::CancellationToken;

const TIMEOUT: Duration = Duration::from_secs(10);

use support::configmap as cm;

/// Records what a handler was told, as text.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
    fn snapshot(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    fn push(&self, s: String) {
        self.0.lock().unwrap().push(s);
    }
    async fn wait_for(&self, n: usize) -> Vec<String> {
        let this = self.clone();
        support::wait_until(&format!("{n} notifications"), TIMEOUT, move || {
            let this = this.clone();
            async move { this.snapshot().len() >= n }
        })
        .await;
        self.take()
    }
}

impl EventHandler<ConfigMap> for Log {
    fn on_add(&self, obj: &Arc<ConfigMap>, initial: bool) {
        self.push(format!("add {} {initial}", obj.name_any()));
    }
    fn on_update(&self, old: &Arc<ConfigMap>, new: &Arc<ConfigMap>) {
        let same = old.resource_version() == new.resource_version();
        self.push(format!(
            "update {}{}",
            new.name_any(),
            if same { " (resync)" } else { "" }
        ));
    }
    fn on_delete(&self, obj: &Arc<ConfigMap>, unknown: bool) {
        self.push(format!("delete {} {unknown}", obj.name_any()));
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn run(informer: &SharedInformer<ConfigMap>) -> CancellationToken {
    let cancel = CancellationToken::new();
    let (i, c) = (informer.clone(), cancel.clone());
    tokio::spawn(async move { i.run(c).await.unwrap() });
    cancel
}

async fn synced(informer: &SharedInformer<ConfigMap>) {
    tokio::time::timeout(TIMEOUT, informer.wait_until_synced())
        .await
        .expect("synced in time")
        .expect("synced");
}

fn by_app(cm: &ConfigMap) -> Vec<String> {
    cm.labels().get("app").cloned().into_iter().collect()
}

async fn indexers_follow_changes(mode: StoreMode) {
    let env = support::start().await;
    support::create_namespace(&env.client, "other").await;
    let default: Api<ConfigMap> = Api::namespaced(env.client.clone(), "default");
    let other: Api<ConfigMap> = Api::namespaced(env.client.clone(), "other");
    default
        .create(&PostParams::default(), &cm("a", &[("app", "web")]))
        .await
        .unwrap();
    other
        .create(&PostParams::default(), &cm("b", &[("app", "web")]))
        .await
        .unwrap();

    let store_config = StoreConfig {
        mode,
        ..StoreConfig::default()
    }
    .index("app", by_app);
    let informer = SharedInformer::new(
        Api::all(env.client.clone()),
        InformerConfig {
            watcher: watcher::Config::default(),
            store: store_config,
        },
    );
    let store = informer.store();
    assert!(!store.has_synced());
    let _stop = run(&informer).drop_guard();
    synced(&informer).await;
    assert_eq!(store.mode(), mode);
    let names = |v: Vec<Arc<ConfigMap>>| sorted(v.iter().map(|c| c.name_any()).collect());
    assert_eq!(names(store.by_index("app", "web").unwrap()), ["a", "b"]);
    assert_eq!(names(store.list_namespace("other")), ["b"]);

    // Update: `a` moves from web to db; a new `c` joins db; `b` is deleted.
    let mut a = store
        .get(&ObjectKey::namespaced("default", "a"))
        .unwrap()
        .as_ref()
        .clone();
    a.metadata.labels = Some([("app".to_string(), "db".to_string())].into());
    default.replace("a", &PostParams::default(), &a).await.unwrap();
    default
        .create(&PostParams::default(), &cm("c", &[("app", "db")]))
        .await
        .unwrap();
    other.delete("b", &DeleteParams::default()).await.unwrap();
    let s = store.clone();
    support::wait_until("the store to catch up", TIMEOUT, move || {
        let s = s.clone();
        async move { s.len() == 2 && s.index_keys("app", "db").unwrap().len() == 2 }
    })
    .await;
    assert!(store.by_index("app", "web").unwrap().is_empty());
    assert_eq!(names(store.by_index("app", "db").unwrap()), ["a", "c"]);
    assert_eq!(sorted(store.index_values("app").unwrap()), ["db"]);
    assert_eq!(sorted(store.index_values(NAMESPACE_INDEX).unwrap()), ["default"]);
    assert!(store.list_namespace("other").is_empty());
    assert_eq!(
        names(store.list_matching(&Selector::parse("app in (db)").unwrap())),
        ["a", "c"]
    );
    assert!(store.by_index("nope", "x").is_err());

    // An index added while running is filled from what is there, and kept current.
    informer
        .add_index("name-length", |cm: &ConfigMap| {
            vec![cm.name_any().len().to_string()]
        })
        .unwrap();
    assert_eq!(names(store.by_index("name-length", "1").unwrap()), ["a", "c"]);
    default
        .create(&PostParams::default(), &cm("dd", &[]))
        .await
        .unwrap();
    let s = store.clone();
    support::wait_until("dd indexed", TIMEOUT, move || {
        let s = s.clone();
        async move { s.index_keys("name-length", "2").unwrap().len() == 1 }
    })
    .await;
    // Objects read back are the server's.
    let c = store.get(&ObjectKey::namespaced("default", "c")).unwrap();
    assert_eq!(c.data.as_ref().unwrap()["k"], "v");
    assert!(c.resource_version().is_some());
}

#[tokio::test]
async fn indexers_stay_correct_in_compact_mode() {
    indexers_follow_changes(StoreMode::Compact).await;
}

#[tokio::test]
async fn indexers_stay_correct_in_decoded_mode() {
    indexers_follow_changes(StoreMode::Decoded).await;
}

#[tokio::test]
async fn handlers_added_late_first_get_the_current_objects() {
    let env = support::start().await;
    let api: Api<ConfigMap> = Api::namespaced(env.client.clone(), "default");
    api.create(&PostParams::default(), &cm("a", &[])).await.unwrap();
    api.create(&PostParams::default(), &cm("b", &[])).await.unwrap();

    let factory = SharedInformerFactory::new(env.client.clone());
    let informer = factory.informer::<ConfigMap>(InformerOptions::default().namespace("default"));
    let early = Log::default();
    let early_reg = informer.add_handler(early.clone(), HandlerOptions::default());
    factory.start();
    assert!(
        tokio::time::timeout(TIMEOUT, factory.wait_for_cache_sync())
            .await
            .unwrap()
    );
    assert_eq!(sorted(early.wait_for(2).await), ["add a true", "add b true"]);
    support::wait_until("early handler synced", TIMEOUT, || async {
        early_reg.has_synced()
    })
    .await;

    api.create(&PostParams::default(), &cm("c", &[])).await.unwrap();
    assert_eq!(early.wait_for(1).await, ["add c false"]);

    // Added after the sync: the current objects first, flagged initial, then changes.
    let late = Log::default();
    let late_reg = informer.add_handler(late.clone(), HandlerOptions::default());
    assert_eq!(
        sorted(late.wait_for(3).await),
        ["add a true", "add b true", "add c true"]
    );
    support::wait_until("late handler synced", TIMEOUT, || async { late_reg.has_synced() }).await;

    let mut b = informer
        .store()
        .get(&ObjectKey::namespaced("default", "b"))
        .unwrap()
        .as_ref()
        .clone();
    b.data = Some([("k".to_string(), "changed".to_string())].into());
    api.replace("b", &PostParams::default(), &b).await.unwrap();
    api.delete("a", &DeleteParams::default()).await.unwrap();
    let expected = ["update b", "delete a false"];
    assert_eq!(early.wait_for(2).await, expected);
    assert_eq!(late.wait_for(2).await, expected);

    // A removed handler hears nothing more.
    late_reg.remove();
    api.create(&PostParams::default(), &cm("d", &[])).await.unwrap();
    assert_eq!(early.wait_for(1).await, ["add d false"]);
    assert!(late.snapshot().is_empty());
    factory.shutdown().await;
}

#[tokio::test]
async fn the_factory_shares_one_watch_per_resource_and_selectors() {
    let env = support::start_proxied(ServerConfig::default()).await;
    let factory = SharedInformerFactory::new(env.client.clone());
    let one = factory.informer::<ConfigMap>(InformerOptions::default());
    let two = factory.informer::<ConfigMap>(InformerOptions::default());
    let other = factory.informer::<ConfigMap>(InformerOptions::default().labels("app=web"));
    factory.start();
    assert!(
        tokio::time::timeout(TIMEOUT, factory.wait_for_cache_sync())
            .await
            .unwrap()
    );
    let api: Api<ConfigMap> = Api::namespaced(env.client.clone(), "default");
    api.create(&PostParams::default(), &cm("a", &[])).await.unwrap();
    let s = one.store();
    support::wait_until("a cached", TIMEOUT, move || {
        let s = s.clone();
        async move { s.len() == 1 }
    })
    .await;
    assert_eq!(two.store().len(), 1, "the same store");
    assert!(
        other.store().is_empty(),
        "a different selector, a different informer"
    );
    let watches = env
        .proxy
        .requests()
        .into_iter()
        .filter(|r| r.query.contains("watch=true"))
        .count();
    assert_eq!(watches, 2, "one watch per (resource, selectors)");
    // Informers requested after the start run at once.
    let late = factory.informer::<ConfigMap>(InformerOptions::default().namespace("default"));
    assert!(
        tokio::time::timeout(TIMEOUT, late.wait_until_synced())
            .await
            .unwrap()
            .is_ok()
    );
    assert_eq!(late.store().len(), 1);
    factory.shutdown().await;
    assert!(
        late.run(CancellationToken::new()).await.is_err(),
        "an informer runs once"
    );
}

#[tokio::test]
async fn deletions_missed_during_a_relist_are_reported_with_the_last_known_state() {
    let env = support::start_proxied(ServerConfig {
        watch_history: 2,
        ..Default::default()
    })
    .await;
    let api: Api<ConfigMap> = Api::namespaced(env.client.clone(), "default");
    for name in ["a", "b"] {
        api.create(&PostParams::default(), &cm(name, &[])).await.unwrap();
    }
    let mut config = InformerConfig::default();
    config.watcher = config.watcher.backoff(Some(watcher::BackoffConfig {
        initial: Duration::from_millis(300),
        max: Duration::from_millis(300),
        jitter: 0.0,
        ..Default::default()
    }));
    let informer = SharedInformer::new(api.clone(), config);
    let log = Log::default();
    informer.add_handler(log.clone(), HandlerOptions::default());
    let _stop = run(&informer).drop_guard();
    synced(&informer).await;
    assert_eq!(sorted(log.wait_for(2).await), ["add a true", "add b true"]);

    // Fail the informer's watch requests while `a` is deleted, `b` changes and `c` appears,
    // and the history is compacted: the informer must relist.
    env.proxy.inject(
        support::proxy::Fault::status(500)
            .on(http::Method::GET, "/api/v1/namespaces/default/configmaps")
            .times(1000),
    );
    env.proxy.break_watches();
    let a_before = informer
        .store()
        .get(&ObjectKey::namespaced("default", "a"))
        .unwrap();
    api.delete("a", &DeleteParams::default()).await.unwrap();
    let mut b = informer
        .store()
        .get(&ObjectKey::namespaced("default", "b"))
        .unwrap()
        .as_ref()
        .clone();
    b.data = Some([("k".to_string(), "changed".to_string())].into());
    api.replace("b", &PostParams::default(), &b).await.unwrap();
    for name in ["c", "d", "e"] {
        api.create(&PostParams::default(), &cm(name, &[])).await.unwrap();
    }
    let storage = &env.server.state().storage;
    storage.compact(storage.revision().await.unwrap()).await.unwrap();
    env.proxy.clear_faults();

    let got = sorted(log.wait_for(5).await);
    assert_eq!(
        got,
        [
            "add c false",
            "add d false",
            "add e false",
            "delete a true",
            "update b"
        ],
    );
    let _ = a_before;
    assert!(
        informer
            .store()
            .get(&ObjectKey::namespaced("default", "a"))
            .is_none()
    );
    assert_eq!(informer.store().len(), 4);
}

#[tokio::test]
async fn resync_reannounces_every_object() {
    let env = support::start().await;
    let api: Api<ConfigMap> = Api::namespaced(env.client.clone(), "default");
    api.create(&PostParams::default(), &cm("a", &[])).await.unwrap();
    let informer = SharedInformer::new(api.clone(), InformerConfig::default());
    let plain = Log::default();
    let resyncing = Log::default();
    informer.add_handler(plain.clone(), HandlerOptions::default());
    informer.add_handler(
        resyncing.clone(),
        HandlerOptions::default().resync(Duration::from_millis(300)),
    );
    let _stop = run(&informer).drop_guard();
    synced(&informer).await;
    assert_eq!(resyncing.wait_for(1).await, ["add a true"]);
    assert_eq!(plain.wait_for(1).await, ["add a true"]);
    let started = std::time::Instant::now();
    assert_eq!(resyncing.wait_for(1).await, ["update a (resync)"]);
    assert_eq!(resyncing.wait_for(1).await, ["update a (resync)"]);
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert!(plain.snapshot().is_empty(), "{:?}", plain.snapshot());
}

#[tokio::test]
async fn the_transform_runs_before_caching_and_handlers() {
    let env = support::start().await;
    let api: Api<ConfigMap> = Api::namespaced(env.client.clone(), "default");
    let mut big = cm("a", &[]);
    big.metadata.annotations = Some([("huge".to_string(), "x".repeat(10_000))].into());
    api.create(&PostParams::default(), &big).await.unwrap();
    let informer = SharedInformer::new(api.clone(), InformerConfig::default());
    informer
        .set_transform(|cm: &mut ConfigMap| cm.metadata.annotations = None)
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    informer.add_handler(
        kube_runtime::informer::HandlerFns::new().on_add(move |cm: &Arc<ConfigMap>, _| {
            s.lock().unwrap().push(cm.metadata.annotations.is_none());
        }),
        HandlerOptions::default(),
    );
    let _stop = run(&informer).drop_guard();
    synced(&informer).await;
    let cached = informer
        .store()
        .get(&ObjectKey::namespaced("default", "a"))
        .unwrap();
    assert!(cached.metadata.annotations.is_none());
    let s = seen.clone();
    support::wait_until("handler called", TIMEOUT, move || {
        let s = s.clone();
        async move { !s.lock().unwrap().is_empty() }
    })
    .await;
    assert_eq!(*seen.lock().unwrap(), [true]);
    assert!(informer.set_transform(|_| {}).is_err(), "only before the start");
}
