//! A real control plane on a fresh Postgres database (two replicas: one the
//! agent talks to, which tests stop and start; one for the user's API calls)
//! and the in-memory Kubernetes API server, also served over HTTP for kubectl.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

pub mod control_plane;
mod kubernetes;
pub mod setup;
pub mod tls;

use std::future::Future;
use std::time::Duration;

pub use control_plane::{ControlPlane, User};
pub use kubernetes::Kubernetes;

/// Polls `condition` until it returns `Some`, failing the test with
/// `what` after `timeout` (generous: the machine is shared).
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut condition: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = condition().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How long conditions may take here.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Agent settings for tests: short waits so a test takes seconds.
pub fn agent_config(url: &str, namespace: &str) -> fjord_operator::agent::Config {
    let mut config = fjord_operator::agent::Config::new(url, namespace);
    config.long_poll_wait = Duration::from_secs(2);
    config.tick = Duration::from_millis(200);
    config.status_interval = Duration::from_millis(500);
    config.backoff = fjord_operator::agent::BackoffPolicy {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(1),
    };
    config
}

/// A running agent; stopped (its task aborted) on drop.
#[derive(Debug)]
pub struct RunningAgent(tokio::task::JoinHandle<Result<(), fjord_operator::Error>>);

impl RunningAgent {
    pub fn start(client: kube::Client, config: fjord_operator::agent::Config) -> Self {
        Self(tokio::spawn(fjord_operator::agent::run(client, config)))
    }

    /// Whether it stopped, and how.
    pub fn finished(&self) -> bool {
        self.0.is_finished()
    }
}

impl Drop for RunningAgent {
    fn drop(&mut self) {
        self.0.abort();
    }
}
