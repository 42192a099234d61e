//! A controller that runs only while its replica leads: one line with kube-leaderelection.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube_client::{Api, Client};
use kube_core::ResourceExt;
use kube_core::params::PostParams;
use kube_leaderelection::{CancellationToken, LeaderElectionConfig, LeaderElector, LeaseLock};
use kube_runtime::controller::{Action, Config, Controller};

const TIMEOUT: Duration = Duration::from_secs(15);

type Log = Arc<Mutex<Vec<(String, String)>>>;

fn cm(name: &str) -> ConfigMap {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(name.into());
    cm
}

/// A replica: an elector whose leadership runs a controller that logs (replica, object).
fn replica(client: &Client, identity: &str, log: &Log) -> CancellationToken {
    let mut config = LeaderElectionConfig::new(LeaseLock::new(
        client.clone(),
        "default",
        "cm-controller",
        identity,
    ));
    config.lease_duration = Duration::from_secs(2);
    config.renew_deadline = Duration::from_secs(1);
    config.retry_period = Duration::from_millis(200);
    config.release_on_cancel = true;
    let (client, id, log) = (client.clone(), identity.to_string(), log.clone());
    let elector = LeaderElector::new(config)
        .expect("valid config")
        // The one line: run the controller with the leadership's cancellation token.
        .on_started_leading(move |leading: CancellationToken| {
            let (id, log) = (id.clone(), log.clone());
            Controller::new(
                Api::<ConfigMap>::namespaced(client.clone(), "default"),
                Config::default(),
            )
            .run(
                move |obj: Arc<ConfigMap>, _: Arc<()>| {
                    let (id, log) = (id.clone(), log.clone());
                    async move {
                        log.lock().unwrap().push((id, obj.name_any()));
                        Ok::<_, std::convert::Infallible>(Action::await_change())
                    }
                },
                Arc::new(()),
                leading,
            )
        });
    let stop = CancellationToken::new();
    let s = stop.clone();
    tokio::spawn(async move { elector.run(s).await });
    stop
}

async fn reconciled_by(log: &Log, name: &str) -> String {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        if let Some((id, _)) = log.lock().unwrap().iter().find(|(_, n)| n == name) {
            return id.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "{name} never reconciled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn only_the_leader_reconciles_and_a_successor_takes_over() {
    let env = support::start().await;
    let api: Api<ConfigMap> = Api::namespaced(env.client.clone(), "default");
    api.create(&PostParams::default(), &cm("a")).await.unwrap();
    let log: Log = Arc::default();
    let one = replica(&env.client, "one", &log);
    let first = reconciled_by(&log, "a").await;
    let two = replica(&env.client, "two", &log);
    let stops = [("one", one), ("two", two)];
    // The other replica stays idle while the leader holds the lease.
    tokio::time::sleep(Duration::from_secs(1)).await;
    api.create(&PostParams::default(), &cm("b")).await.unwrap();
    assert_eq!(reconciled_by(&log, "b").await, first);
    assert!(
        log.lock().unwrap().iter().all(|(id, _)| *id == first),
        "{:?}",
        log.lock().unwrap()
    );

    // The leader steps down (releasing the lease): its controller stops, the other's starts
    // with a cold start of its own.
    let (_, leader_stop) = stops.iter().find(|(id, _)| *id == first).unwrap();
    leader_stop.cancel();
    log.lock().unwrap().clear();
    api.create(&PostParams::default(), &cm("c")).await.unwrap();
    let successor = reconciled_by(&log, "c").await;
    assert_ne!(successor, first);
    assert!(
        log.lock().unwrap().iter().all(|(id, _)| *id == successor),
        "{:?}",
        log.lock().unwrap()
    );
    for (_, stop) in &stops {
        stop.cancel();
    }
}
