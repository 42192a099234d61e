//! The finalizer helper against the in-process apiserver, with ConfigMaps; and the apiserver's
//! side of finalizers (deletion waits for them).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use k8s_openapi::api::core::v1::ConfigMap;
use kube_client::{Api, Client};
use kube_core::params::{DeleteParams, PatchParams, PostParams};
use kube_core::{Patch, ResourceExt};
use kube_runtime::finalizer::{Error, Event, finalizer};
use serde_json::json;
use support::*;

const OURS: &str = "example.com/cleanup";
const OTHER: &str = "other.example.com/keep";

#[derive(Debug, thiserror::Error)]
#[error("backend failed")]
struct BackendError;

fn api(client: &Client) -> Api<ConfigMap> {
    Api::namespaced(client.clone(), "default")
}

async fn create(api: &Api<ConfigMap>, name: &str, finalizers: &[&str]) -> ConfigMap {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(name.into());
    if !finalizers.is_empty() {
        cm.metadata.finalizers = Some(finalizers.iter().map(|f| f.to_string()).collect());
    }
    api.create(&PostParams::default(), &cm).await.unwrap()
}

async fn set_finalizers(api: &Api<ConfigMap>, name: &str, finalizers: &[&str]) -> ConfigMap {
    let patch = Patch::Merge(json!({"metadata": {"finalizers": finalizers}}));
    api.patch(name, &PatchParams::default(), &patch).await.unwrap()
}

/// Which events the reconciler saw.
#[derive(Default)]
struct Calls {
    apply: AtomicUsize,
    cleanup: AtomicUsize,
}

/// A reconciler whose cleanup fails when `fail_cleanup`; it returns the event's name.
async fn reconcile(
    api: &Api<ConfigMap>,
    cm: ConfigMap,
    calls: &Calls,
    fail_cleanup: bool,
) -> Result<&'static str, Error<BackendError>> {
    finalizer(api, OURS, Arc::new(cm), |event| async move {
        match event {
            Event::Apply(cm) => {
                calls.apply.fetch_add(1, Ordering::SeqCst);
                // The finalizer is on the server before anything is applied.
                let stored = api.get(&cm.name_any()).await.unwrap();
                assert!(stored.finalizers().iter().any(|f| f == OURS));
                assert!(cm.finalizers().iter().any(|f| f == OURS));
                Ok("apply")
            }
            Event::Cleanup(cm) => {
                calls.cleanup.fetch_add(1, Ordering::SeqCst);
                assert!(cm.deletion_timestamp().is_some());
                if fail_cleanup {
                    Err(BackendError)
                } else {
                    Ok("cleanup")
                }
            }
        }
    })
    .await
}

#[tokio::test]
async fn finalizer_is_added_before_apply() {
    let env = start().await;
    let api = api(&env.client);
    let cm = create(&api, "web", &[]).await;
    let calls = Calls::default();
    assert_eq!(reconcile(&api, cm, &calls, false).await.unwrap(), "apply");
    assert_eq!(calls.apply.load(Ordering::SeqCst), 1);
    let stored = api.get("web").await.unwrap();
    assert_eq!(stored.finalizers(), [OURS]);

    // With the finalizer in place, a reconcile only applies: no second entry.
    assert_eq!(reconcile(&api, stored, &calls, false).await.unwrap(), "apply");
    assert_eq!(api.get("web").await.unwrap().finalizers(), [OURS]);
    assert_eq!(calls.cleanup.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn delete_runs_cleanup_then_the_object_goes() {
    let env = start().await;
    let api = api(&env.client);
    let cm = create(&api, "web", &[]).await;
    let calls = Calls::default();
    reconcile(&api, cm, &calls, false).await.unwrap();

    // The apiserver keeps an object with finalizers, marked for deletion.
    let deleted = api.delete("web", &DeleteParams::default()).await.unwrap();
    let pending = deleted.left().expect("deletion waits for the finalizer");
    assert!(pending.deletion_timestamp().is_some());
    let stored = api.get("web").await.unwrap();
    assert!(stored.deletion_timestamp().is_some());

    assert_eq!(reconcile(&api, stored, &calls, false).await.unwrap(), "cleanup");
    assert_eq!(calls.cleanup.load(Ordering::SeqCst), 1);
    assert!(
        api.get_opt("web").await.unwrap().is_none(),
        "gone with its last finalizer"
    );
}

#[tokio::test]
async fn failing_cleanup_keeps_the_finalizer_and_the_object() {
    let env = start().await;
    let api = api(&env.client);
    create(&api, "web", &[OURS]).await;
    api.delete("web", &DeleteParams::default()).await.unwrap();
    let calls = Calls::default();

    let stored = api.get("web").await.unwrap();
    let err = reconcile(&api, stored, &calls, true).await.unwrap_err();
    assert!(matches!(err, Error::CleanupFailed(BackendError)), "{err}");
    let stored = api.get("web").await.unwrap();
    assert_eq!(stored.finalizers(), [OURS]);
    assert!(stored.deletion_timestamp().is_some());

    // The retry succeeds.
    assert_eq!(reconcile(&api, stored, &calls, false).await.unwrap(), "cleanup");
    assert_eq!(calls.cleanup.load(Ordering::SeqCst), 2);
    assert!(api.get_opt("web").await.unwrap().is_none());
}

#[tokio::test]
async fn other_finalizers_are_preserved() {
    let env = start().await;
    let api = api(&env.client);
    let cm = create(&api, "web", &[OTHER]).await;
    let calls = Calls::default();
    reconcile(&api, cm, &calls, false).await.unwrap();
    assert_eq!(api.get("web").await.unwrap().finalizers(), [OTHER, OURS]);

    api.delete("web", &DeleteParams::default()).await.unwrap();
    let stored = api.get("web").await.unwrap();
    assert_eq!(reconcile(&api, stored, &calls, false).await.unwrap(), "cleanup");
    // Our finalizer is gone, the other one holds the object.
    let stored = api.get("web").await.unwrap();
    assert_eq!(stored.finalizers(), [OTHER]);
    assert!(stored.deletion_timestamp().is_some());

    // Being deleted without our finalizer: nothing to do, the reconciler is not called.
    let (applies, cleanups) = (
        calls.apply.load(Ordering::SeqCst),
        calls.cleanup.load(Ordering::SeqCst),
    );
    assert_eq!(reconcile(&api, stored, &calls, false).await.unwrap(), "");
    assert_eq!(calls.apply.load(Ordering::SeqCst), applies);
    assert_eq!(calls.cleanup.load(Ordering::SeqCst), cleanups);

    set_finalizers(&api, "web", &[]).await;
    assert!(api.get_opt("web").await.unwrap().is_none());
}

#[tokio::test]
async fn duplicate_entries_of_our_finalizer_all_go() {
    let env = start().await;
    let api = api(&env.client);
    create(&api, "web", &[OURS, OTHER, OURS]).await;
    api.delete("web", &DeleteParams::default()).await.unwrap();
    let stored = api.get("web").await.unwrap();
    reconcile(&api, stored, &Calls::default(), false).await.unwrap();
    assert_eq!(api.get("web").await.unwrap().finalizers(), [OTHER]);
}

#[tokio::test]
async fn concurrent_change_of_the_list_makes_adding_fail() {
    let env = start().await;
    let api = api(&env.client);
    let stale = create(&api, "web", &[OTHER]).await;
    // Someone else adds theirs after we read the object.
    set_finalizers(&api, "web", &[OTHER, "third.example.com/x"]).await;
    let calls = Calls::default();
    let err = reconcile(&api, stale, &calls, false).await.unwrap_err();
    let Error::AddFinalizer(e) = &err else {
        panic!("{err}")
    };
    assert!(e.is_invalid(), "a failed test: {e}");
    assert_eq!(calls.apply.load(Ordering::SeqCst), 0, "nothing applied");
    assert_eq!(
        api.get("web").await.unwrap().finalizers(),
        [OTHER, "third.example.com/x"],
        "their finalizer survives"
    );
}

#[tokio::test]
async fn concurrent_creation_of_the_list_makes_adding_fail() {
    let env = start().await;
    let api = api(&env.client);
    let stale = create(&api, "web", &[]).await;
    set_finalizers(&api, "web", &[OTHER]).await;
    let err = reconcile(&api, stale, &Calls::default(), false)
        .await
        .unwrap_err();
    let Error::AddFinalizer(e) = &err else {
        panic!("{err}")
    };
    assert!(e.is_conflict(), "a stale resourceVersion: {e}");
    assert_eq!(api.get("web").await.unwrap().finalizers(), [OTHER]);

    // The next reconcile, with the fresh object, succeeds.
    let fresh = api.get("web").await.unwrap();
    reconcile(&api, fresh, &Calls::default(), false).await.unwrap();
    assert_eq!(api.get("web").await.unwrap().finalizers(), [OTHER, OURS]);
}

#[tokio::test]
async fn concurrent_change_of_the_list_makes_removing_fail() {
    let env = start().await;
    let api = api(&env.client);
    create(&api, "web", &[OTHER, OURS]).await;
    api.delete("web", &DeleteParams::default()).await.unwrap();
    let stale = api.get("web").await.unwrap();
    // Someone else removes theirs: ours moves from index 1 to 0.
    set_finalizers(&api, "web", &[OURS]).await;
    let calls = Calls::default();
    let err = reconcile(&api, stale, &calls, false).await.unwrap_err();
    let Error::RemoveFinalizer(e) = &err else {
        panic!("{err}")
    };
    assert!(e.is_invalid(), "a failed test: {e}");
    assert_eq!(api.get("web").await.unwrap().finalizers(), [OURS], "still there");

    // The next reconcile, with the fresh object, succeeds.
    let fresh = api.get("web").await.unwrap();
    reconcile(&api, fresh, &calls, false).await.unwrap();
    assert!(api.get_opt("web").await.unwrap().is_none());
}

#[tokio::test]
async fn unnamed_objects_are_refused() {
    let env = start().await;
    let api = api(&env.client);
    let err = finalizer(&api, OURS, Arc::new(ConfigMap::default()), |_| async {
        Ok::<(), BackendError>(())
    })
    .await
    .unwrap_err();
    assert!(matches!(err, Error::UnnamedObject));
}

/// What the apiserver does with `metadata.finalizers`, which the helper relies on.
#[tokio::test]
async fn apiserver_honours_finalizers_on_delete() {
    let env = start().await;
    let api = api(&env.client);
    create(&api, "web", &[OURS, OTHER]).await;

    // DELETE marks the object and keeps it.
    let deleted = api.delete("web", &DeleteParams::default()).await.unwrap();
    let marked = deleted.left().expect("kept while finalizers remain");
    let stamp = marked.deletion_timestamp().expect("deletionTimestamp set");
    // A second DELETE changes nothing.
    let deleted = api.delete("web", &DeleteParams::default()).await.unwrap();
    let again = deleted.left().expect("still kept");
    assert_eq!(again.deletion_timestamp(), Some(stamp));

    // No new finalizers on an object being deleted.
    let patch = Patch::Merge(json!({"metadata": {"finalizers": [OURS, OTHER, "late.example.com/x"]}}));
    let err = api
        .patch("web", &PatchParams::default(), &patch)
        .await
        .unwrap_err();
    assert!(err.is_invalid(), "{err}");

    // Removing one keeps the object; removing the last one removes it.
    assert_eq!(set_finalizers(&api, "web", &[OTHER]).await.finalizers(), [OTHER]);
    assert!(api.get("web").await.unwrap().deletion_timestamp().is_some());
    set_finalizers(&api, "web", &[]).await;
    assert!(api.get_opt("web").await.unwrap().is_none());
}
