//! The event recorder against the in-process apiserver: both Event APIs, series, aggregation,
//! the spam filter and where Events land.

mod support;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Event as CoreEvent, Namespace, ObjectReference};
use k8s_openapi::api::events::v1::Event as EventsV1Event;
use kube_client::{Api, Client};
use kube_core::Resource;
use kube_core::params::{DeleteParams, ListParams, PostParams};
use kube_runtime::events::{Event, EventType, EventsApi, Published, Recorder, RecorderConfig, Reporter};
use support::*;

const CONTROLLER: &str = "example.com/test-controller";

fn reporter() -> Reporter {
    Reporter {
        controller: CONTROLLER.into(),
        instance: Some("test-controller-0".into()),
    }
}

fn recorder(client: &Client, api: EventsApi) -> Recorder {
    let config = RecorderConfig {
        api,
        ..RecorderConfig::default()
    };
    Recorder::with_config(client.clone(), reporter(), config)
}

async fn config_map(client: &Client, namespace: &str, name: &str) -> ObjectReference {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(name.into());
    let cm = Api::<ConfigMap>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &cm)
        .await
        .expect("configmap created");
    cm.object_ref(&())
}

fn warning(reason: &str, note: &str) -> Event {
    Event {
        type_: EventType::Warning,
        reason: reason.into(),
        note: Some(note.into()),
        action: "Reconcile".into(),
        secondary: None,
    }
}

async fn v1_events(client: &Client, namespace: &str) -> Vec<EventsV1Event> {
    Api::<EventsV1Event>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await
        .expect("list events.k8s.io events")
        .items
}

async fn core_events(client: &Client, namespace: &str) -> Vec<CoreEvent> {
    Api::<CoreEvent>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await
        .expect("list core events")
        .items
}

fn assert_named_after(event_name: &str, object: &str) {
    let suffix = event_name
        .strip_prefix(&format!("{object}."))
        .unwrap_or_else(|| panic!("{event_name} is not named after {object}"));
    assert!(
        !suffix.is_empty() && suffix.chars().all(|c| c.is_ascii_hexdigit()),
        "{event_name}: the suffix is hex"
    );
}

#[tokio::test]
async fn publish_creates_an_events_v1_event() {
    let env = start().await;
    create_namespace(&env.client, "team-a").await;
    let web = config_map(&env.client, "team-a", "web").await;
    let db = config_map(&env.client, "team-a", "db").await;
    let rec = recorder(&env.client, EventsApi::EventsV1);
    let event = Event {
        secondary: Some(db.clone()),
        ..warning("BackendUnreachable", "db did not answer")
    };
    let published = rec.publish(&event, &web).await.unwrap();

    let events = v1_events(&env.client, "team-a").await;
    assert_eq!(events.len(), 1);
    let ev = &events[0];
    let name = ev.metadata.name.clone().unwrap();
    assert_named_after(&name, "web");
    assert_eq!(
        published,
        Published::Created {
            namespace: "team-a".into(),
            name: name.clone()
        }
    );
    assert_eq!(ev.type_.as_deref(), Some("Warning"));
    assert_eq!(ev.reason.as_deref(), Some("BackendUnreachable"));
    assert_eq!(ev.note.as_deref(), Some("db did not answer"));
    assert_eq!(ev.action.as_deref(), Some("Reconcile"));
    assert_eq!(ev.reporting_controller.as_deref(), Some(CONTROLLER));
    assert_eq!(ev.reporting_instance.as_deref(), Some("test-controller-0"));
    assert_eq!(ev.regarding.as_ref(), Some(&web));
    assert_eq!(ev.related.as_ref(), Some(&db));
    assert!(ev.event_time.is_some());
    assert!(ev.series.is_none());

    // The same object through the core/v1 API, as kubectl describe shows it.
    let core = Api::<CoreEvent>::namespaced(env.client.clone(), "team-a")
        .get(&name)
        .await
        .unwrap();
    assert_eq!(core.involved_object, web);
    assert_eq!(core.message.as_deref(), Some("db did not answer"));
    assert_eq!(core.reporting_component.as_deref(), Some(CONTROLLER));
}

#[tokio::test]
async fn publish_creates_a_core_v1_event() {
    let env = start().await;
    create_namespace(&env.client, "team-a").await;
    let web = config_map(&env.client, "team-a", "web").await;
    let rec = recorder(&env.client, EventsApi::CoreV1);
    let event = Event {
        type_: EventType::Normal,
        ..warning("Synced", "all good")
    };
    rec.publish(&event, &web).await.unwrap();

    let events = core_events(&env.client, "team-a").await;
    assert_eq!(events.len(), 1);
    let ev = &events[0];
    assert_named_after(ev.metadata.name.as_deref().unwrap(), "web");
    assert_eq!(ev.involved_object, web);
    assert_eq!(ev.type_.as_deref(), Some("Normal"));
    assert_eq!(ev.reason.as_deref(), Some("Synced"));
    assert_eq!(ev.message.as_deref(), Some("all good"));
    assert_eq!(ev.action.as_deref(), Some("Reconcile"));
    let source = ev.source.as_ref().unwrap();
    assert_eq!(source.component.as_deref(), Some(CONTROLLER));
    assert_eq!(ev.reporting_component.as_deref(), Some(CONTROLLER));
    assert_eq!(ev.reporting_instance.as_deref(), Some("test-controller-0"));
    assert_eq!(ev.count, Some(1));
    assert!(ev.first_timestamp.is_some());
    assert_eq!(ev.first_timestamp, ev.last_timestamp);
    assert!(ev.event_time.is_none(), "a legacy event, as tools/record writes");
}

#[tokio::test]
async fn repeats_become_a_series_in_events_v1() {
    let env = start().await;
    let web = config_map(&env.client, "default", "web").await;
    let rec = recorder(&env.client, EventsApi::EventsV1);
    let event = warning("BackOff", "retrying");
    let first = rec.publish(&event, &web).await.unwrap();
    let Published::Created { name, .. } = first else {
        panic!("{first:?}")
    };
    for count in 2..=5 {
        // A new resourceVersion of the object does not start another series.
        let mut web = web.clone();
        web.resource_version = Some(format!("{count}00"));
        let published = rec.publish(&event, &web).await.unwrap();
        assert_eq!(
            published,
            Published::Repeated {
                namespace: "default".into(),
                name: name.clone(),
                count
            }
        );
    }
    let events = v1_events(&env.client, "default").await;
    assert_eq!(events.len(), 1, "one object for the whole series");
    let series = events[0].series.as_ref().expect("a series");
    assert_eq!(series.count, 5);
    assert!(series.last_observed_time >= *events[0].event_time.as_ref().unwrap());
    assert_eq!(events[0].note.as_deref(), Some("retrying"));

    // A different note is another event.
    rec.publish(&warning("BackOff", "retrying harder"), &web)
        .await
        .unwrap();
    assert_eq!(v1_events(&env.client, "default").await.len(), 2);
}

#[tokio::test]
async fn repeats_become_a_count_in_core_v1() {
    let env = start().await;
    let web = config_map(&env.client, "default", "web").await;
    let rec = recorder(&env.client, EventsApi::CoreV1);
    let event = warning("BackOff", "retrying");
    for _ in 0..5 {
        rec.publish(&event, &web).await.unwrap();
    }
    let events = core_events(&env.client, "default").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].count, Some(5));
    assert!(events[0].last_timestamp >= events[0].first_timestamp);
    assert_eq!(events[0].message.as_deref(), Some("retrying"));
}

#[tokio::test]
async fn concurrent_repeats_count_into_one_event() {
    let env = start().await;
    let web = config_map(&env.client, "default", "web").await;
    let rec = recorder(&env.client, EventsApi::EventsV1);
    let event = warning("BackOff", "retrying");
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (rec, event, web) = (rec.clone(), event.clone(), web.clone());
            tokio::spawn(async move { rec.publish(&event, &web).await.unwrap() })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let events = v1_events(&env.client, "default").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].series.as_ref().unwrap().count, 10);
}

/// Notes of the Events about `object`, with their counts.
fn core_notes(events: &[CoreEvent], object: &str) -> BTreeMap<String, i32> {
    events
        .iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(object))
        .map(|e| (e.message.clone().unwrap_or_default(), e.count.unwrap_or(0)))
        .collect()
}

#[tokio::test]
async fn similar_events_are_combined_after_ten_in_core_v1() {
    let env = start().await;
    let web = config_map(&env.client, "default", "web").await;
    let rec = recorder(&env.client, EventsApi::CoreV1);
    for i in 1..=12 {
        rec.publish(&warning("SyncFailed", &format!("attempt {i} failed")), &web)
            .await
            .unwrap();
    }
    let notes = core_notes(&core_events(&env.client, "default").await, "web");
    let mut want: BTreeMap<String, i32> = (1..=9).map(|i| (format!("attempt {i} failed"), 1)).collect();
    // The 10th, 11th and 12th are one Event; its message is the latest.
    want.insert("(combined from similar events): attempt 12 failed".into(), 3);
    assert_eq!(notes, want);

    // A known message still counts into its own Event.
    rec.publish(&warning("SyncFailed", "attempt 4 failed"), &web)
        .await
        .unwrap();
    let notes = core_notes(&core_events(&env.client, "default").await, "web");
    assert_eq!(notes["attempt 4 failed"], 2);
    // Another reason is not similar.
    rec.publish(&warning("Other", "attempt 13 failed"), &web)
        .await
        .unwrap();
    let notes = core_notes(&core_events(&env.client, "default").await, "web");
    assert_eq!(notes["attempt 13 failed"], 1);
}

#[tokio::test]
async fn similar_events_are_combined_after_ten_in_events_v1() {
    let env = start().await;
    let web = config_map(&env.client, "default", "web").await;
    let rec = recorder(&env.client, EventsApi::EventsV1);
    for i in 1..=12 {
        rec.publish(&warning("SyncFailed", &format!("attempt {i} failed")), &web)
            .await
            .unwrap();
    }
    let events = v1_events(&env.client, "default").await;
    assert_eq!(events.len(), 10);
    let combined: Vec<_> = events
        .iter()
        .filter(|e| e.note.as_deref().unwrap_or_default().starts_with("(combined"))
        .collect();
    assert_eq!(combined.len(), 1);
    // The note is immutable in events.k8s.io/v1: it stays the first combined one.
    assert_eq!(
        combined[0].note.as_deref(),
        Some("(combined from similar events): attempt 10 failed")
    );
    assert_eq!(combined[0].series.as_ref().unwrap().count, 3);
}

#[tokio::test]
async fn spam_filter_drops_after_a_burst_of_25_per_object() {
    let env = start().await;
    let web = config_map(&env.client, "default", "web").await;
    let db = config_map(&env.client, "default", "db").await;
    let rec = recorder(&env.client, EventsApi::CoreV1);
    // 25 different reasons: 25 Events, none aggregated.
    for i in 0..25 {
        let p = rec
            .publish(&warning(&format!("Reason{i}"), "x"), &web)
            .await
            .unwrap();
        assert!(matches!(p, Published::Created { .. }), "{i}: {p:?}");
    }
    // The 26th write about web is dropped, new event or repeat alike; not an error.
    let p = rec.publish(&warning("Reason25", "x"), &web).await.unwrap();
    assert_eq!(p, Published::Dropped);
    let p = rec.publish(&warning("Reason0", "x"), &web).await.unwrap();
    assert_eq!(p, Published::Dropped);
    let events = core_events(&env.client, "default").await;
    assert_eq!(events.len(), 25);
    assert!(events.iter().all(|e| e.count == Some(1)));

    // Another object has its own budget.
    let p = rec.publish(&warning("Reason0", "x"), &db).await.unwrap();
    assert!(matches!(p, Published::Created { .. }), "{p:?}");
    assert_eq!(core_events(&env.client, "default").await.len(), 26);

    // So does another recorder of the same controller (client-go keeps one per broadcaster).
    let other = recorder(&env.client, EventsApi::CoreV1);
    let p = other.publish(&warning("Reason25", "x"), &web).await.unwrap();
    assert!(matches!(p, Published::Created { .. }), "{p:?}");
}

#[tokio::test]
async fn spam_filter_bounds_repeats_too() {
    let env = start().await;
    let web = config_map(&env.client, "default", "web").await;
    let rec = recorder(&env.client, EventsApi::EventsV1);
    let event = warning("BackOff", "retrying");
    let mut dropped = 0;
    for _ in 0..30 {
        if rec.publish(&event, &web).await.unwrap() == Published::Dropped {
            dropped += 1;
        }
    }
    assert_eq!(dropped, 5);
    let events = v1_events(&env.client, "default").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].series.as_ref().unwrap().count, 25);
}

#[tokio::test]
async fn events_about_cluster_scoped_objects_land_in_default() {
    let env = start().await;
    create_namespace(&env.client, "team-a").await;
    let ns = Api::<Namespace>::all(env.client.clone())
        .get("team-a")
        .await
        .unwrap();
    let reference = ns.object_ref(&());
    assert_eq!(reference.namespace, None);
    for api in [EventsApi::EventsV1, EventsApi::CoreV1] {
        let p = recorder(&env.client, api)
            .publish(&warning("Terminating", &format!("{api:?}")), &reference)
            .await
            .unwrap();
        let Published::Created { namespace, name } = p else {
            panic!("{p:?}")
        };
        assert_eq!(namespace, "default");
        assert_named_after(&name, "team-a");
    }
    let events = core_events(&env.client, "default").await;
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.involved_object == reference));
    assert!(core_events(&env.client, "team-a").await.is_empty());
}

#[tokio::test]
async fn an_expired_event_is_created_again() {
    let env = start().await;
    let web = config_map(&env.client, "default", "web").await;
    let rec = recorder(&env.client, EventsApi::CoreV1);
    let event = warning("BackOff", "retrying");
    let Published::Created { name, .. } = rec.publish(&event, &web).await.unwrap() else {
        panic!("created")
    };
    Api::<CoreEvent>::namespaced(env.client.clone(), "default")
        .delete(&name, &DeleteParams::default())
        .await
        .unwrap();
    let p = rec.publish(&event, &web).await.unwrap();
    let Published::Created { name: again, .. } = p else {
        panic!("{p:?}")
    };
    assert_ne!(again, name);
    let p = rec.publish(&event, &web).await.unwrap();
    assert!(
        matches!(p, Published::Repeated { count: 2, ref name, .. } if *name == again),
        "{p:?}"
    );
}

#[tokio::test]
async fn errors_are_typed() {
    let env = start().await;
    let rec = recorder(&env.client, EventsApi::EventsV1);
    let unnamed = ObjectReference::default();
    let err = rec.publish(&warning("R", "x"), &unnamed).await.unwrap_err();
    assert!(matches!(err, kube_runtime::events::Error::UnnamedObject));

    // The apiserver refuses an events.k8s.io Event without an action.
    let web = config_map(&env.client, "default", "web").await;
    let event = Event {
        action: String::new(),
        ..warning("R", "x")
    };
    let err = rec.publish(&event, &web).await.unwrap_err();
    assert!(matches!(err, kube_runtime::events::Error::Create { .. }), "{err}");
    assert!(err.client_error().unwrap().is_invalid(), "{err}");
    assert!(std::error::Error::source(&err).is_some());
}

#[tokio::test]
async fn spam_filter_refills_one_event_per_five_minutes_of_tokio_time() {
    let env = start().await;
    let web = config_map(&env.client, "default", "web").await;
    let rec = recorder(&env.client, EventsApi::EventsV1);
    let event = warning("BackOff", "retrying");
    for _ in 0..25 {
        rec.publish(&event, &web).await.unwrap();
    }
    assert_eq!(rec.publish(&event, &web).await.unwrap(), Published::Dropped);

    // The recorder measures its windows on tokio's clock: jump it forward (no I/O meanwhile).
    tokio::time::pause();
    tokio::time::advance(std::time::Duration::from_secs(299)).await;
    tokio::time::resume();
    assert_eq!(rec.publish(&event, &web).await.unwrap(), Published::Dropped);
    tokio::time::pause();
    tokio::time::advance(std::time::Duration::from_secs(1)).await;
    tokio::time::resume();
    let p = rec.publish(&event, &web).await.unwrap();
    // 25 written, 2 dropped but counted, and this one.
    assert!(matches!(p, Published::Repeated { count: 28, .. }), "{p:?}");
    assert_eq!(rec.publish(&event, &web).await.unwrap(), Published::Dropped);
    let events = v1_events(&env.client, "default").await;
    assert_eq!(events[0].series.as_ref().unwrap().count, 28);
}
