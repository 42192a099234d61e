//! Several apiservers on one etcd, as kube-apiserver scales: a write through one is seen by a
//! get, a list and a watch through the other, resourceVersions agree, and a watcher moved from
//! one apiserver to the other resumes from its last resourceVersion without missing or
//! repeating an event. Two in-process apiservers (each with its own etcd connection and watch
//! cache), then two `ref-apiserver --storage etcd` processes and what `etcdctl` sees.

#![cfg(feature = "etcd")]

mod support;

#[path = "support/etcd.rs"]
mod etcd;

use std::process::{Command, Stdio};
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube_client::Api;
use kube_core::params::{DeleteParams, ListParams, PostParams, WatchParams};
use kube_core::{ResourceExt, WatchEvent};
use reference_apiserver::server::ServerConfig;
use reference_apiserver::testing::TestServer;
use serde_json::json;

use etcd::EtcdProcess;
use support::{client, eventually, rv_of};

fn configmap(name: &str, data: &str) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "data": {"v": data},
    }))
    .unwrap()
}

async fn two_apiservers(etcd: &EtcdProcess) -> (TestServer, TestServer) {
    let a = TestServer::start_with(etcd.shared().await, ServerConfig::default()).await;
    let b = TestServer::start_with(etcd.shared().await, ServerConfig::default()).await;
    (a, b)
}

/// The next non-bookmark event within 10 seconds.
async fn next_change<S>(watch: &mut S) -> WatchEvent<ConfigMap>
where
    S: Stream<Item = kube_client::Result<WatchEvent<ConfigMap>>> + Unpin,
{
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), watch.next())
            .await
            .expect("an event within 10s")
            .expect("the watch is open")
            .expect("a well-formed event");
        if !matches!(event, WatchEvent::Bookmark(_)) {
            return event;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_one_apiserver_is_seen_through_the_other() {
    let Some(etcd) = EtcdProcess::start().await else {
        return;
    };
    let (a, b) = two_apiservers(&etcd).await;
    let via_a: Api<ConfigMap> = Api::namespaced(client(&a.url()), "default");
    let via_b: Api<ConfigMap> = Api::namespaced(client(&b.url()), "default");

    let start = via_b.list(&ListParams::default()).await.unwrap();
    let rv0 = start.metadata.resource_version.clone().unwrap();
    let mut watch_b = via_b.watch(&WatchParams::default(), &rv0).await.unwrap().boxed();

    let created = via_a
        .create(&PostParams::default(), &configmap("one", "1"))
        .await
        .unwrap();
    let rv1 = created.resource_version().unwrap();
    // A consistent get and list through B see it at once, at the same resourceVersion.
    assert_eq!(
        via_b.get("one").await.unwrap().resource_version(),
        Some(rv1.clone())
    );
    let listed = via_b.list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].resource_version(), Some(rv1.clone()));
    // Both answer a list at the same store revision.
    let listed_a = via_a.list(&ListParams::default()).await.unwrap();
    assert_eq!(
        listed.metadata.resource_version,
        listed_a.metadata.resource_version
    );
    // A resourceVersion from A is valid on B.
    let at = via_b
        .list(&ListParams::default().match_not_older_than(&rv1))
        .await
        .unwrap();
    assert_eq!(at.items.len(), 1);
    match next_change(&mut watch_b).await {
        WatchEvent::Added(cm) => {
            assert_eq!(
                (cm.name_any(), cm.resource_version()),
                ("one".into(), Some(rv1.clone()))
            )
        }
        other => panic!("expected ADDED, got {other:?}"),
    }

    // The other way round: an update through B reaches a watch through A.
    let mut watch_a = via_a.watch(&WatchParams::default(), &rv1).await.unwrap().boxed();
    let mut changed = created.clone();
    changed.data = Some([("v".to_string(), "2".to_string())].into());
    let updated = via_b
        .replace("one", &PostParams::default(), &changed)
        .await
        .unwrap();
    match next_change(&mut watch_a).await {
        WatchEvent::Modified(cm) => {
            assert_eq!(cm.resource_version(), updated.resource_version());
            assert_eq!(cm.data.unwrap()["v"], "2");
        }
        other => panic!("expected MODIFIED, got {other:?}"),
    }
    // A stale update through A (it carries B's old resourceVersion) conflicts.
    let err = via_a
        .replace("one", &PostParams::default(), &created)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, kube_client::Error::Api(s) if s.code == 409),
        "{err}"
    );

    via_a.delete("one", &DeleteParams::default()).await.unwrap();
    assert!(matches!(
        next_change(&mut watch_b).await,
        WatchEvent::Modified(_) | WatchEvent::Deleted(_)
    ));
    eventually(Duration::from_secs(5), "the delete through A seen by B", || {
        let via_b = via_b.clone();
        async move { via_b.get("one").await.is_err().then_some(()) }
    })
    .await;
}

/// One acknowledged write, or one watch event: `(resourceVersion, type, name)`. A delete of a
/// ConfigMap answers a `Status` without a resourceVersion: `None` in the writer's record.
type Change = (Option<u64>, &'static str, String);

fn change_of(event: &WatchEvent<ConfigMap>) -> Option<Change> {
    let (kind, cm) = match event {
        WatchEvent::Added(cm) => ("ADDED", cm),
        WatchEvent::Modified(cm) => ("MODIFIED", cm),
        WatchEvent::Deleted(cm) => ("DELETED", cm),
        _ => return None,
    };
    Some((Some(rv_of(cm.resource_version().as_deref())), kind, cm.name_any()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_moved_between_apiservers_misses_and_repeats_nothing() {
    let Some(etcd) = EtcdProcess::start().await else {
        return;
    };
    let (a, b) = two_apiservers(&etcd).await;
    let apis: Vec<Api<ConfigMap>> = [&a, &b]
        .iter()
        .map(|s| Api::namespaced(client(&s.url()), "default"))
        .collect();
    let rv0 = apis[0]
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();

    // The writer alternates between the apiservers: creates, updates, deletes.
    let writer = {
        let apis = apis.clone();
        tokio::spawn(async move {
            let mut acked: Vec<Change> = Vec::new();
            for i in 0..120usize {
                let api = &apis[i % 2];
                let name = format!("cm-{i}");
                let cm = api
                    .create(&PostParams::default(), &configmap(&name, "0"))
                    .await
                    .unwrap();
                acked.push((
                    Some(rv_of(cm.resource_version().as_deref())),
                    "ADDED",
                    name.clone(),
                ));
                if i % 3 == 0 {
                    let mut cm = cm;
                    cm.data = Some([("v".to_string(), "1".to_string())].into());
                    let cm = apis[(i + 1) % 2]
                        .replace(&name, &PostParams::default(), &cm)
                        .await
                        .unwrap();
                    acked.push((
                        Some(rv_of(cm.resource_version().as_deref())),
                        "MODIFIED",
                        name.clone(),
                    ));
                }
                if i % 5 == 0 {
                    api.delete(&name, &DeleteParams::default()).await.unwrap();
                    acked.push((None, "DELETED", name.clone()));
                }
            }
            acked
        })
    };

    // The watcher moves to the other apiserver after every 25 events, from its last
    // resourceVersion (bookmarks count too, as they do for client-go).
    let mut seen: Vec<Change> = Vec::new();
    let mut last = rv0;
    let mut on = 0;
    let mut moves = 0;
    let total = loop {
        let mut watch = apis[on]
            .watch(&WatchParams::default(), &last)
            .await
            .unwrap()
            .boxed();
        let mut here = 0;
        let done = loop {
            let event = tokio::time::timeout(Duration::from_secs(10), watch.next()).await;
            let Ok(Some(event)) = event else {
                // The writer is done and everything was seen, or the watch ended: resume.
                break writer.is_finished();
            };
            let event = event.expect("a well-formed event");
            if let WatchEvent::Bookmark(b) = &event {
                last = b.metadata.resource_version.clone();
                continue;
            }
            if let WatchEvent::Error(e) = &event {
                // 503: the apiserver lost etcd for a moment; resume, as the SDK's watcher does.
                assert_eq!(e.code, 503, "watch error after moving {moves} times: {e:?}");
                break writer.is_finished();
            }
            let change = change_of(&event).unwrap();
            last = change.0.unwrap().to_string();
            seen.push(change);
            here += 1;
            if here == 25 {
                break false;
            }
        };
        if done {
            break writer.await.unwrap();
        }
        on = 1 - on;
        moves += 1;
    };
    assert!(moves >= 4, "the watcher moved only {moves} times");
    // One writer, one write at a time: its acknowledgements are in revision order, and the
    // watcher must have seen exactly them, in that order.
    assert!(
        seen.windows(2).all(|w| w[0].0 < w[1].0),
        "events out of order or repeated"
    );
    assert_eq!(seen.len(), total.len(), "missing or repeated events");
    for (seen, acked) in seen.iter().zip(&total) {
        assert_eq!((seen.1, &seen.2), (acked.1, &acked.2));
        assert!(
            acked.0.is_none() || acked.0 == seen.0,
            "{acked:?} seen as {seen:?}"
        );
    }
}

/// A `ref-apiserver --storage etcd` process; killed when dropped.
struct Apiserver(std::process::Child, String);

impl Drop for Apiserver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn apiserver_process(etcd: &EtcdProcess, extra: &[&str]) -> Apiserver {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let child = Command::new(support::BINARY)
        .args(["--listen", &addr.to_string(), "--storage", "etcd"])
        .args(["--etcd-servers", &etcd.url()])
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn ref-apiserver");
    let mut server = Apiserver(child, format!("http://{addr}"));
    let probe = client(&server.1);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !support::healthz(&probe).await {
        if let Some(status) = server.0.try_wait().expect("poll ref-apiserver") {
            panic!("ref-apiserver exited with {status}: built without `--features etcd`?");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "ref-apiserver on etcd did not answer /healthz in 30s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ref_apiserver_processes_share_one_etcd_that_etcdctl_can_read() {
    let Some(etcd) = EtcdProcess::start().await else {
        return;
    };
    let one = apiserver_process(&etcd, &["--etcd-compaction-interval", "1m"]).await;
    let two = apiserver_process(&etcd, &[]).await;
    let via_one: Api<ConfigMap> = Api::namespaced(client(&one.1), "default");
    let via_two: Api<ConfigMap> = Api::namespaced(client(&two.1), "default");
    let created = via_one
        .create(&PostParams::default(), &configmap("shared", "x"))
        .await
        .unwrap();
    let read = via_two.get("shared").await.unwrap();
    assert_eq!(read.resource_version(), created.resource_version());

    // etcdctl shows the object as JSON under /registry/, at the same revision.
    let shown = etcd.etcdctl(&["get", "--prefix", "/registry/configmaps/default/"]);
    let mut lines = shown.lines();
    assert_eq!(lines.next(), Some("/registry/configmaps/default/shared"));
    let stored: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(stored["metadata"]["name"], "shared");
    assert_eq!(stored["data"]["v"], "x");
    let json = etcd.etcdctl(&["get", "/registry/configmaps/default/shared", "-w", "json"]);
    let rv = created.resource_version().unwrap();
    assert!(json.contains(&format!("\"mod_revision\":{rv}")), "{json}");
    let namespaces = etcd.etcdctl(&["get", "--prefix", "--keys-only", "/registry/namespaces/"]);
    assert!(
        namespaces.contains("/registry/namespaces/kube-system"),
        "{namespaces}"
    );

    assert_eq!(via_one.list(&ListParams::default()).await.unwrap().items.len(), 1);

    // An apiserver under a prefix keeps its keys there. (Writes outside an apiserver's
    // `{prefix}/registry/` stall its consistent reads until its next write: see the etcd
    // section of the book. So the first two stop before it writes.)
    drop((one, two));
    let other = apiserver_process(&etcd, &["--etcd-prefix", "/other"]).await;
    let via_other: Api<ConfigMap> = Api::namespaced(client(&other.1), "default");
    assert!(via_other.get("shared").await.is_err());
    via_other
        .create(&PostParams::default(), &configmap("elsewhere", "y"))
        .await
        .unwrap();
    let keys = etcd.etcdctl(&["get", "--prefix", "--keys-only", "/other/registry/configmaps/"]);
    assert_eq!(keys.trim(), "/other/registry/configmaps/default/elsewhere");
    assert_eq!(
        via_other.list(&ListParams::default()).await.unwrap().items.len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_addresses_are_unique_across_apiservers() {
    use k8s_openapi::api::core::v1::Service;
    use std::collections::HashSet;

    let Some(etcd) = EtcdProcess::start().await else {
        return;
    };
    // A small range, so that both apiservers pick from the same few addresses.
    let config = ServerConfig {
        service_cidr: "127.97.0.0/26".parse().unwrap(),
        ..Default::default()
    };
    let a = TestServer::start_with(etcd.shared().await, config.clone()).await;
    let b = TestServer::start_with(etcd.shared().await, config).await;
    let apis: Vec<Api<Service>> = [&a, &b]
        .iter()
        .map(|s| Api::namespaced(client(&s.url()), "default"))
        .collect();
    let service = |name: &str, ty: &str| -> Service {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"type": ty, "ports": [{"port": 80}]},
        }))
        .unwrap()
    };
    // 40 services created concurrently, alternating between the apiservers.
    let creates = (0..40).map(|i| {
        let api = apis[i % 2].clone();
        let svc = service(
            &format!("s{i}"),
            if i % 4 == 0 { "NodePort" } else { "ClusterIP" },
        );
        async move { api.create(&PostParams::default(), &svc).await.unwrap() }
    });
    let created: Vec<Service> = futures::stream::iter(creates).buffer_unordered(8).collect().await;
    let ips: HashSet<String> = created
        .iter()
        .map(|s| s.spec.as_ref().unwrap().cluster_ip.clone().unwrap())
        .collect();
    assert_eq!(ips.len(), 40, "every service got its own cluster IP");
    let ports: Vec<i32> = created
        .iter()
        .flat_map(|s| s.spec.as_ref().unwrap().ports.clone().unwrap())
        .filter_map(|p| p.node_port)
        .collect();
    assert_eq!(ports.len(), 10);
    assert_eq!(
        ports.iter().collect::<HashSet<_>>().len(),
        10,
        "unique node ports"
    );

    // An address held through one apiserver is refused through the other...
    let s0 = created.iter().find(|s| s.name_any() == "s0").unwrap();
    let taken = s0.spec.as_ref().unwrap().cluster_ip.clone().unwrap();
    let mut wants: Service = service("wants", "ClusterIP");
    wants.spec.as_mut().unwrap().cluster_ip = Some(taken.clone());
    let err = apis[1].create(&PostParams::default(), &wants).await.unwrap_err();
    assert!(
        matches!(&err, kube_client::Error::Api(s) if s.code == 422 && s.message.contains("already allocated")),
        "{err}"
    );
    // ...and free again once that service is deleted, whichever apiserver deleted it.
    apis[0].delete("s0", &DeleteParams::default()).await.unwrap();
    let got = apis[1].create(&PostParams::default(), &wants).await.unwrap();
    assert_eq!(got.spec.unwrap().cluster_ip.unwrap(), taken);
}
