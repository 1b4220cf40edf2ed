//! The common start of the agent's tests: a control plane with one
//! organization and environment, a cluster `orders` (0.1.0) with topic
//! `payments`, and the agent's Secrets installed.

use fjord_operator::agent::names;
use reqwest::Method;
use serde_json::Value;

use super::{ControlPlane, Kubernetes, PATIENCE, RunningAgent, User, agent_config, eventually};

pub const NAMESPACE: &str = "fjord-system";

/// A control plane with one organization and environment, and a cluster
/// `orders` (0.1.0) with topic `payments`; the agent's Secrets installed.
pub struct Setup {
    pub control: ControlPlane,
    pub kube: Kubernetes,
    pub user: User,
    pub environment_id: String,
    pub cluster_id: String,
    pub topic_id: String,
}

pub async fn setup() -> Setup {
    let control = ControlPlane::start().await.unwrap();
    let kube = Kubernetes::start().await.unwrap();
    let user = control.user("acme").await.unwrap();
    let (environment_id, token) = user.environment("eu").await.unwrap();
    let (public_key, key_id) = user.signing_key().await.unwrap();
    kube.secret(
        names::SIGNING_KEY_SECRET,
        &[("public-key", &public_key), ("key-id", &key_id)],
    )
    .await
    .unwrap();
    kube.secret(names::REGISTRATION_SECRET, &[("token", &token)])
        .await
        .unwrap();
    let (cluster_id, topic_id) = user
        .cluster(&environment_id, "orders", "0.1.0")
        .await
        .unwrap();
    Setup {
        control,
        kube,
        user,
        environment_id,
        cluster_id,
        topic_id,
    }
}

impl Setup {
    pub fn agent(&self) -> RunningAgent {
        let config = agent_config(&self.control.agent_replica.url(), NAMESPACE);
        RunningAgent::start(self.kube.client.clone(), config)
    }

    /// The Topic `payments` once it has `partitions`.
    pub async fn topic_with_partitions(&self, partitions: u32) {
        eventually(
            &format!("topic payments with {partitions} partitions"),
            PATIENCE,
            || async move {
                let topic = self.kube.topics().get_opt("payments").await.unwrap()?;
                (topic.spec.partitions == partitions).then_some(())
            },
        )
        .await;
    }

    /// The environment's latest intent report once it is `outcome`.
    pub async fn intent_report(&self, outcome: &str) -> Value {
        eventually(
            &format!("an intent report {outcome}"),
            PATIENCE,
            || async move {
                let view = self
                    .user
                    .environment_view(&self.environment_id)
                    .await
                    .unwrap();
                let report = view["connection"]["last_intent_report"].clone();
                (report["outcome"] == outcome).then_some(report)
            },
        )
        .await
    }

    pub async fn patch(&self, path: &str, body: Value) {
        self.user
            .expect(Method::PATCH, path, Some(body), 200)
            .await
            .unwrap();
    }

    pub async fn connection_state(&self, state: &str) {
        eventually(
            &format!("the environment {state}"),
            PATIENCE,
            || async move {
                let view = self
                    .user
                    .environment_view(&self.environment_id)
                    .await
                    .unwrap();
                (view["connection"]["state"] == state).then_some(())
            },
        )
        .await;
    }
}

/// The pending intent's data once it is for `generation`.
pub async fn pending(
    setup: &Setup,
    generation: &str,
) -> std::collections::BTreeMap<String, String> {
    eventually(
        &format!("generation {generation} pending"),
        PATIENCE,
        || async move {
            let pending = setup
                .kube
                .config_maps()
                .get_opt(names::PENDING_CONFIG_MAP)
                .await
                .unwrap()?;
            let data = pending.data?;
            (data.get("generation")? == generation).then_some(data)
        },
    )
    .await
}
