//! The controllers this binary can run, started only while this replica
//! leads and stopped when it stops leading.
//!
//! A controller is any `async fn(kube::Client) -> Result<()>` that runs until
//! its future is dropped. [`Controllers::start`] spawns each as a task;
//! [`Running::stop`] aborts them and waits until every task has ended, so
//! when it returns no reconcile of this replica is still in flight (a
//! `kube::runtime::Controller` drops its reconcilers with its stream). A
//! controller that ends on its own while leading is started again after a
//! backoff, and counted.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::runtime::metrics::OperatorMetrics;

type StartFn = Arc<dyn Fn(kube::Client) -> BoxFuture<'static, Result<()>> + Send + Sync>;

/// First and longest wait before a controller that stopped is started again.
const RESTART_BACKOFF_FIRST: Duration = Duration::from_secs(1);
const RESTART_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// The registered controllers, by name, in registration order.
#[derive(Clone, Default)]
pub struct Controllers {
    entries: Vec<(String, StartFn)>,
}

impl std::fmt::Debug for Controllers {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Controllers")
            .field("names", &self.names())
            .finish()
    }
}

impl Controllers {
    /// Registers a controller under `name` (e.g.
    /// `.register("topic", move |client| topic::run(client, config.clone()))`).
    /// The closure is called each time this replica becomes leader.
    #[must_use]
    pub fn register<F, Fut>(mut self, name: &str, start: F) -> Self
    where
        F: Fn(kube::Client) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<()>> + Send + 'static,
    {
        assert!(
            self.entries.iter().all(|(existing, _)| existing != name),
            "controller {name} registered twice"
        );
        let boxed: StartFn =
            Arc::new(move |client| -> BoxFuture<'static, Result<()>> { Box::pin(start(client)) });
        self.entries.push((name.to_owned(), boxed));
        self
    }

    /// The registered names, in order.
    pub fn names(&self) -> Vec<&str> {
        self.entries.iter().map(|(name, _)| name.as_str()).collect()
    }

    /// Keeps only the controllers named in `wanted`; an unknown name is an
    /// error (a typo must not silently run nothing).
    pub fn select(self, wanted: &[String]) -> Result<Self> {
        if let Some(unknown) = wanted
            .iter()
            .find(|name| !self.entries.iter().any(|(known, _)| known == *name))
        {
            return Err(Error::InvalidConfig {
                setting: "controllers",
                reason: format!(
                    "no controller {unknown:?}; known: {}",
                    self.names().join(", ")
                ),
            });
        }
        let entries = self
            .entries
            .into_iter()
            .filter(|(name, _)| wanted.contains(name))
            .collect();
        Ok(Self { entries })
    }

    /// Spawns every controller; each restarts with backoff if it ends.
    pub fn start(&self, client: &kube::Client, metrics: &OperatorMetrics) -> Running {
        let tasks = self
            .entries
            .iter()
            .map(|(name, start)| {
                let task = tokio::spawn(supervise(
                    name.clone(),
                    Arc::clone(start),
                    client.clone(),
                    metrics.clone(),
                ));
                (name.clone(), task)
            })
            .collect();
        Running {
            tasks,
            metrics: metrics.clone(),
        }
    }
}

async fn supervise(name: String, start: StartFn, client: kube::Client, metrics: OperatorMetrics) {
    let counters = metrics.controller(&name);
    let mut backoff = RESTART_BACKOFF_FIRST;
    loop {
        tracing::info!(controller = %name, "controller starting");
        counters.set_running(true);
        let outcome = start(client.clone()).await;
        counters.set_running(false);
        counters.restarted();
        match outcome {
            Ok(()) => {
                let error = Error::ControllerStopped { name: name.clone() };
                tracing::warn!(controller = %name, %error, ?backoff, "controller ended, restarting");
            }
            Err(error) => {
                tracing::error!(controller = %name, %error, ?backoff, "controller failed, restarting");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(RESTART_BACKOFF_MAX);
    }
}

/// Controllers running while this replica leads.
#[derive(Debug)]
pub struct Running {
    tasks: Vec<(String, JoinHandle<()>)>,
    metrics: OperatorMetrics,
}

impl Running {
    /// Aborts every controller and waits until each task has ended.
    pub async fn stop(mut self) {
        let tasks = std::mem::take(&mut self.tasks);
        for (_, task) in &tasks {
            task.abort();
        }
        for (name, task) in tasks {
            // Aborted (the expected end) or panicked: either way it is over.
            if let Err(error) = task.await
                && error.is_panic()
            {
                tracing::error!(controller = %name, %error, "controller panicked");
            }
            self.metrics.controller(&name).set_running(false);
            tracing::info!(controller = %name, "controller stopped");
        }
    }
}

impl Drop for Running {
    /// Dropped without [`Running::stop`] (the elector's future was dropped):
    /// the controllers must not outlive it.
    fn drop(&mut self) {
        for (_, task) in &self.tasks {
            task.abort();
        }
    }
}
