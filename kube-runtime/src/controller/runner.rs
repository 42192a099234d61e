//! Running a controller: wait for the caches, then reconcile with N workers until shutdown.

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

use kube_core::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Action, Controller};
use crate::reflector::{ObjectKey, Store};
use crate::workqueue::WorkQueue;

impl<K> Controller<K>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Debug + Send + Sync + 'static,
{
    /// Reconcile until `shutdown` fires, then return once the running reconciles have finished
    /// (a reconcile is never cut off halfway). Informers of a factory the controller made
    /// itself stop too; those of a factory passed in [`Config`](super::Config) keep running.
    ///
    /// `reconcile` gets the object as cached and the shared context. Errors are logged and the
    /// object is requeued with per-item exponential backoff; success resets the backoff.
    pub async fn run<Ctx, E, F, Fut>(self, reconcile: F, ctx: Arc<Ctx>, shutdown: CancellationToken)
    where
        Ctx: Send + Sync + 'static,
        E: std::fmt::Display + Send + 'static,
        F: Fn(Arc<K>, Arc<Ctx>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Action, E>> + Send + 'static,
    {
        let Controller {
            name,
            factory,
            own_factory,
            primary,
            queue,
            workers,
            metrics,
            registrations,
            ..
        } = self;
        factory.start();
        tracing::info!(controller = %name, "waiting for caches to sync");
        // Caches synced, and this controller's handlers handed every initial object (so the
        // initial keys are all queued before the workers start, and collapse there).
        let handlers_synced = async {
            for registration in &registrations {
                if !registration.wait_until_synced().await {
                    return false;
                }
            }
            true
        };
        let synced = tokio::select! {
            synced = async { factory.wait_for_cache_sync().await && handlers_synced.await } => synced,
            _ = shutdown.cancelled() => false,
        };
        if synced {
            tracing::info!(controller = %name, workers, "caches synced; reconciling");
            let reconcile = Arc::new(reconcile);
            let mut tasks = JoinSet::new();
            for _ in 0..workers {
                let worker = Worker {
                    name: name.clone(),
                    store: primary.store(),
                    queue: queue.clone(),
                    metrics: metrics.clone(),
                    reconcile: reconcile.clone(),
                    ctx: ctx.clone(),
                    shutdown: shutdown.clone(),
                };
                tasks.spawn(worker.run());
            }
            while let Some(result) = tasks.join_next().await {
                if let Err(e) = result
                    && e.is_panic()
                {
                    tracing::error!(controller = %name, "a worker panicked: {e}");
                }
            }
        }
        for registration in &registrations {
            registration.remove();
        }
        queue.shut_down();
        if own_factory {
            factory.shutdown().await;
        }
        tracing::info!(controller = %name, "stopped");
    }
}

struct Worker<K, Ctx, F> {
    name: String,
    store: Store<K>,
    queue: WorkQueue<ObjectKey>,
    metrics: super::ControllerMetrics,
    reconcile: Arc<F>,
    ctx: Arc<Ctx>,
    shutdown: CancellationToken,
}

impl<K, Ctx, F, Fut, E> Worker<K, Ctx, F>
where
    K: Resource + DeserializeOwned + Send + Sync + 'static,
    F: Fn(Arc<K>, Arc<Ctx>) -> Fut,
    Fut: Future<Output = Result<Action, E>>,
    E: std::fmt::Display,
{
    async fn run(self) {
        loop {
            let key = tokio::select! {
                biased;
                _ = self.shutdown.cancelled() => None,
                key = self.queue.get() => key,
            };
            let Some(key) = key else { return };
            if self.shutdown.is_cancelled() {
                self.queue.done(&key);
                return;
            }
            self.process(&key).await;
            self.queue.done(&key);
        }
    }

    async fn process(&self, key: &ObjectKey) {
        let Some(obj) = self.store.get(key) else {
            // Deleted since it was queued: nothing to reconcile.
            self.queue.forget(key);
            return;
        };
        self.metrics.started();
        let started = Instant::now();
        let result = (self.reconcile)(obj, self.ctx.clone()).await;
        let outcome = match result {
            Ok(action) => {
                self.queue.forget(key);
                match action.requeue_after() {
                    Some(after) => {
                        self.queue.add_after(key.clone(), after);
                        "requeue_after"
                    }
                    None => "success",
                }
            }
            Err(error) => {
                let retries = self.queue.num_requeues(key);
                tracing::warn!(controller = %self.name, object = %key, retries, %error, "reconcile failed; requeueing with backoff");
                self.queue.add_rate_limited(key.clone());
                "error"
            }
        };
        self.metrics.finished(outcome, started.elapsed());
    }
}
