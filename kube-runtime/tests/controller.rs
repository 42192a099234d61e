//! The controller runtime against the in-process apiserver: owned objects, backoff on errors,
//! one worker per key, requeues, graceful shutdown, metrics.

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube_client::{Api, Client};
use kube_core::params::PostParams;
use kube_core::{Patch, PatchParams, ResourceExt};
use kube_runtime::controller::{Action, Config, Controller};
use kube_runtime::informer::InformerOptions;
use kube_runtime::workqueue::ItemExponentialRateLimiter;
use tokio_util::sync::CancellationToken;

const TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Failed(String);

fn cm(name: &str) -> ConfigMap {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(name.into());
    cm
}

/// What the reconciler saw: calls per object name and when they happened.
#[derive(Default)]
struct Seen {
    calls: Mutex<Vec<(String, Instant)>>,
    in_flight: Mutex<HashSet<String>>,
    overlaps: Mutex<Vec<String>>,
}

impl Seen {
    fn count(&self, name: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _)| n == name)
            .count()
    }
    fn times(&self, name: &str) -> Vec<Instant> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, t)| *t)
            .collect()
    }
}

async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    support::wait_until(what, TIMEOUT, move || {
        let ok = cond();
        async move { ok }
    })
    .await;
}

fn spawn_controller<F, Fut>(
    controller: Controller<ConfigMap>,
    reconcile: F,
    seen: Arc<Seen>,
) -> (CancellationToken, tokio::task::JoinHandle<()>)
where
    F: Fn(Arc<ConfigMap>, Arc<Seen>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Action, Failed>> + Send + 'static,
{
    let stop = CancellationToken::new();
    let handle = tokio::spawn(controller.run(reconcile, seen, stop.clone()));
    (stop, handle)
}

async fn record(obj: &ConfigMap, seen: &Seen) {
    let name = obj.name_any();
    seen.calls.lock().unwrap().push((name.clone(), Instant::now()));
    if !seen.in_flight.lock().unwrap().insert(name.clone()) {
        seen.overlaps.lock().unwrap().push(name.clone());
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    seen.in_flight.lock().unwrap().remove(&name);
}

#[tokio::test]
async fn reconciles_every_object_and_the_owners_of_changed_objects() {
    let env = support::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(env.client.clone(), "default");
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), "default");
    let parent = cms.create(&PostParams::default(), &cm("parent")).await.unwrap();
    cms.create(&PostParams::default(), &cm("other")).await.unwrap();

    let controller =
        Controller::new(cms.clone(), Config::default()).owns(secrets.clone(), InformerOptions::default());
    let seen = Arc::new(Seen::default());
    let (stop, handle) = spawn_controller(
        controller,
        |obj, seen| async move {
            record(&obj, &seen).await;
            Ok(Action::await_change())
        },
        seen.clone(),
    );
    // A cold start reconciles everything once.
    wait_until("both reconciled", || {
        seen.count("parent") == 1 && seen.count("other") == 1
    })
    .await;

    // A change to an owned object reconciles its controller owner (and nothing else).
    let mut secret = Secret::default();
    secret.metadata.name = Some("owned".into());
    secret.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: "parent".into(),
        uid: parent.uid().unwrap(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }]);
    secrets.create(&PostParams::default(), &secret).await.unwrap();
    wait_until("owner reconciled", || seen.count("parent") == 2).await;
    secrets
        .patch(
            "owned",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"data": {"k": "dg=="}})),
        )
        .await
        .unwrap();
    wait_until("owner reconciled again", || seen.count("parent") == 3).await;
    // An unowned secret maps to nothing.
    let mut loose = Secret::default();
    loose.metadata.name = Some("loose".into());
    secrets.create(&PostParams::default(), &loose).await.unwrap();
    // A change to the primary object itself.
    cms.patch(
        "other",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"data": {"a": "b"}})),
    )
    .await
    .unwrap();
    wait_until("other reconciled again", || seen.count("other") == 2).await;
    assert_eq!(seen.count("parent"), 3);
    stop.cancel();
    handle.await.unwrap();
}

#[tokio::test]
async fn errors_requeue_with_growing_delays_and_success_resets_them() {
    let env = support::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(env.client.clone(), "default");
    cms.create(&PostParams::default(), &cm("flaky")).await.unwrap();
    let controller = Controller::new(
        cms.clone(),
        Config::default().rate_limiter(ItemExponentialRateLimiter::new(
            Duration::from_millis(40),
            Duration::from_secs(10),
        )),
    );
    let metrics = controller.metrics().clone();
    let seen = Arc::new(Seen::default());
    let (stop, handle) = spawn_controller(
        controller,
        |obj, seen| async move {
            record(&obj, &seen).await;
            // Fail five times, then succeed.
            if seen.count("flaky") <= 5 {
                Err(Failed("not yet".into()))
            } else {
                Ok(Action::await_change())
            }
        },
        seen.clone(),
    );
    wait_until("six attempts", || seen.count("flaky") == 6).await;
    let t = seen.times("flaky");
    let gaps: Vec<Duration> = t.windows(2).map(|w| w[1] - w[0]).collect();
    for (i, gap) in gaps.iter().enumerate() {
        let expected = Duration::from_millis(40 << i);
        assert!(
            *gap >= expected,
            "gap {i} was {gap:?}, expected at least {expected:?}: {gaps:?}"
        );
    }
    assert!(gaps[4] < Duration::from_millis(640 + 500), "{gaps:?}");
    // The sixth reconcile may still be finishing: wait for its metric.
    wait_until("the success counted", || metrics.reconciles("success") == 1).await;
    assert_eq!(metrics.errors(), 5);

    // The success forgot the failures: the next change is reconciled at once, and a new
    // failure starts again from the base delay.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(seen.count("flaky"), 6, "no requeue after success");
    stop.cancel();
    handle.await.unwrap();
}

#[tokio::test]
async fn one_key_is_never_reconciled_by_two_workers_at_once() {
    let env = support::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(env.client.clone(), "default");
    let names: Vec<String> = (0..4).map(|i| format!("cm{i}")).collect();
    for name in &names {
        cms.create(&PostParams::default(), &cm(name)).await.unwrap();
    }
    let controller = Controller::new(cms.clone(), Config::default().workers(8));
    let seen = Arc::new(Seen::default());
    let last_seen: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let last = last_seen.clone();
    let (stop, handle) = spawn_controller(
        controller,
        move |obj, seen| {
            let last = last.clone();
            async move {
                record(&obj, &seen).await;
                let value = obj
                    .data
                    .as_ref()
                    .and_then(|d| d.get("n").cloned())
                    .unwrap_or_default();
                last.lock().unwrap().insert(obj.name_any(), value);
                Ok(Action::await_change())
            }
        },
        seen.clone(),
    );
    // Many quick changes to few objects, from several writers at once.
    let mut writers = Vec::new();
    for name in names.clone() {
        let cms = cms.clone();
        writers.push(tokio::spawn(async move {
            for n in 1..=30 {
                cms.patch(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(serde_json::json!({"data": {"n": n.to_string()}})),
                )
                .await
                .unwrap();
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    wait_until("every object reconciled at its final state", || {
        let last = last_seen.lock().unwrap();
        names
            .iter()
            .all(|n| last.get(n).map(String::as_str) == Some("30"))
    })
    .await;
    assert!(
        seen.overlaps.lock().unwrap().is_empty(),
        "{:?}",
        seen.overlaps.lock().unwrap()
    );
    // Bursts collapse: far fewer reconciles than changes.
    let total = seen.calls.lock().unwrap().len();
    assert!(total < 4 * 31, "{total} reconciles for {} changes", 4 * 31);
    stop.cancel();
    handle.await.unwrap();
}

#[tokio::test]
async fn requeue_after_reconciles_again_without_changes() {
    let env = support::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(env.client.clone(), "default");
    cms.create(&PostParams::default(), &cm("poll")).await.unwrap();
    let controller = Controller::new(cms.clone(), Config::default());
    let metrics = controller.metrics().clone();
    let seen = Arc::new(Seen::default());
    let (stop, handle) = spawn_controller(
        controller,
        |obj, seen| async move {
            record(&obj, &seen).await;
            Ok(Action::requeue(Duration::from_millis(150)))
        },
        seen.clone(),
    );
    wait_until("three polls", || seen.count("poll") >= 3).await;
    let t = seen.times("poll");
    assert!(t[2] - t[1] >= Duration::from_millis(150));
    assert!(
        metrics.reconciles("requeue_after") >= 2,
        "the first two have finished"
    );
    stop.cancel();
    handle.await.unwrap();
}

#[tokio::test]
async fn shutdown_lets_running_reconciles_finish() {
    let env = support::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(env.client.clone(), "default");
    for i in 0..20 {
        cms.create(&PostParams::default(), &cm(&format!("slow{i}")))
            .await
            .unwrap();
    }
    let controller = Controller::new(cms.clone(), Config::default().workers(2));
    let started = Arc::new(Mutex::new(0usize));
    let finished = Arc::new(Mutex::new(0usize));
    let (s, f) = (started.clone(), finished.clone());
    let stop = CancellationToken::new();
    let handle = tokio::spawn(controller.run(
        move |_obj: Arc<ConfigMap>, _ctx: Arc<()>| {
            let (s, f) = (s.clone(), f.clone());
            async move {
                *s.lock().unwrap() += 1;
                tokio::time::sleep(Duration::from_millis(300)).await;
                *f.lock().unwrap() += 1;
                Ok::<_, Failed>(Action::await_change())
            }
        },
        Arc::new(()),
        stop.clone(),
    ));
    wait_until("two reconciles running", || *started.lock().unwrap() == 2).await;
    stop.cancel();
    tokio::time::timeout(TIMEOUT, handle).await.unwrap().unwrap();
    // Both running reconciles completed; no new one started after the signal.
    assert_eq!(*started.lock().unwrap(), 2);
    assert_eq!(*finished.lock().unwrap(), 2);
}

#[tokio::test]
async fn controllers_can_share_a_factory() {
    let env = support::start().await;
    let client: Client = env.client.clone();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&PostParams::default(), &cm("shared")).await.unwrap();
    let factory = kube_runtime::informer::SharedInformerFactory::new(client.clone());
    let a = Controller::new(cms.clone(), Config::default().name("a").factory(&factory));
    let b = Controller::new(cms.clone(), Config::default().name("b").factory(&factory));
    assert_eq!(a.store().len(), 0);
    let seen_a = Arc::new(Seen::default());
    let seen_b = Arc::new(Seen::default());
    let reconcile = |obj: Arc<ConfigMap>, seen: Arc<Seen>| async move {
        record(&obj, &seen).await;
        Ok::<_, Failed>(Action::await_change())
    };
    let (stop_a, ha) = spawn_controller(a, reconcile, seen_a.clone());
    let (stop_b, hb) = spawn_controller(b, reconcile, seen_b.clone());
    wait_until("both controllers reconciled", || {
        seen_a.count("shared") == 1 && seen_b.count("shared") == 1
    })
    .await;
    // Stopping one leaves the shared informer (and the other controller) running.
    stop_a.cancel();
    ha.await.unwrap();
    cms.patch(
        "shared",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"data": {"x": "y"}})),
    )
    .await
    .unwrap();
    wait_until("b still reconciles", || seen_b.count("shared") == 2).await;
    assert_eq!(seen_a.count("shared"), 1);
    stop_b.cancel();
    hb.await.unwrap();
    factory.shutdown().await;
}

#[tokio::test]
async fn watches_maps_other_objects_to_keys() {
    let env = support::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(env.client.clone(), "default");
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), "default");
    cms.create(&PostParams::default(), &cm("target")).await.unwrap();
    // Secrets name the ConfigMap they affect in a label.
    let controller = Controller::new(cms.clone(), Config::default()).watches(
        secrets.clone(),
        |secret: &Secret| {
            secret
                .labels()
                .get("for")
                .map(|name| kube_runtime::reflector::ObjectKey::namespaced("default", name.clone()))
                .into_iter()
                .collect()
        },
        InformerOptions::default(),
    );
    let seen = Arc::new(Seen::default());
    let (stop, handle) = spawn_controller(
        controller,
        |obj, seen| async move {
            record(&obj, &seen).await;
            Ok(Action::await_change())
        },
        seen.clone(),
    );
    wait_until("cold start", || seen.count("target") == 1).await;
    let mut secret = Secret::default();
    secret.metadata.name = Some("s".into());
    secret.metadata.labels = Some([("for".to_string(), "target".to_string())].into());
    secrets.create(&PostParams::default(), &secret).await.unwrap();
    wait_until("mapped secret triggers its target", || seen.count("target") == 2).await;
    // A key for an object that does not exist is dropped without a reconcile.
    let mut stray = Secret::default();
    stray.metadata.name = Some("stray".into());
    stray.metadata.labels = Some([("for".to_string(), "missing".to_string())].into());
    secrets.create(&PostParams::default(), &stray).await.unwrap();
    secrets
        .delete("s", &kube_core::params::DeleteParams::default())
        .await
        .unwrap();
    wait_until("deletion triggers too", || seen.count("target") == 3).await;
    assert_eq!(seen.count("missing"), 0);
    stop.cancel();
    handle.await.unwrap();
}
