//! `fjord_cluster`: `/v1/clusters`. Creates and spec changes wait until
//! the environment's agent reports the cluster `ready` at the desired
//! version with every broker ready.

use std::collections::BTreeMap;

use fjord_api::{Cluster, ClusterUpdate};
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics};

use super::crud::stored;
use super::rest::{Apply, Kind, Rest, RestResource, Stored};
use super::{Private, wait_for_cluster};
use crate::client::Answer;
use crate::diagnostic::{add_invalid, error};
use crate::plan::{differs, int32, known, known_map, replace_if};
use crate::schema::{computed, optional_computed, required, schema, string_map};
use crate::timeouts::{self, Phase};

mod state;

pub(crate) use state::ClusterState;
use state::{ATTRIBUTES, BrokerItem, check};

/// The state after a create or spec change (`answer`) once the agent
/// reports the cluster settled. On a failed wait the cluster exists: it
/// stays in the state (Terraform marks it tainted) with the error as
/// `failure`, rather than be lost track of.
async fn settle(
    mut apply: Apply<'_, ClusterState>,
    answer: Answer<Cluster>,
    planned: &ClusterState,
    phase: Phase,
    failure: &str,
) -> (ClusterState, Option<Private>) {
    let since = answer.body.updated_at;
    let to_state = |cluster| ClusterState::from_api(cluster, planned);
    let (mut state, mut private) = stored(apply.private.take(), answer, to_state);
    let timeout = timeouts::of(&planned.timeouts, phase).unwrap_or(timeouts::DEFAULT);
    match wait_for_cluster(apply.client, &state, since, timeout).await {
        Ok(answer) => (state, private) = stored(private, answer, to_state),
        Err(error) => apply.error(failure, &error),
    }
    (state, private)
}

/// The `fjord_cluster` resource.
pub(crate) type ClusterResource = Rest<ClusterState>;

impl RestResource for ClusterState {
    type Api = Cluster;
    const KIND: Kind = Kind::new("/v1/clusters", "cluster", ATTRIBUTES);

    fn read(cluster: Cluster, prior: Self) -> Option<Self> {
        Some(Self::from_api(cluster, &prior))
    }

    fn check(&self) -> Result<(), String> {
        check(self)
    }

    fn plan_create(&mut self) {
        self.phase = Value::Unknown;
        self.bootstrap_address = Value::Unknown;
        self.brokers = Value::Unknown;
        if self.config.is_null() {
            self.config = Value::Value(BTreeMap::new());
        }
        if self.deletion_protection.is_null() {
            self.deletion_protection = Value::Value(false);
        }
    }

    fn replaced(prior: &Self, proposed: &Self, replace: &mut Vec<AttributePath>) {
        replace_if(
            replace,
            "environment_id",
            &prior.environment_id,
            &proposed.environment_id,
        );
        replace_if(replace, "name", &prior.name, &proposed.name);
    }

    /// Storage may only grow; a protected cluster is not replaced; a spec
    /// change moves what the agent reports.
    fn plan_update(
        diags: &mut Diagnostics,
        prior: &Self,
        proposed: &mut Self,
        replace: &[AttributePath],
    ) -> Option<()> {
        if let (Value::Value(before), Value::Value(after)) =
            (prior.storage_gib, proposed.storage_gib)
            && after < before
        {
            add_invalid(
                diags,
                format!("storage_gib may only grow, from {before} (got {after})"),
                ATTRIBUTES,
            );
            return None;
        }
        if !replace.is_empty() && matches!(prior.deletion_protection, Value::Value(true)) {
            error(
                diags,
                "cluster is protected from deletion",
                "this change replaces the cluster (destroys it and creates a new one), and deletion_protection is true",
                Some("deletion_protection"),
            );
            return None;
        }
        if proposed.spec_differs(prior) {
            proposed.phase = Value::Unknown;
            proposed.bootstrap_address = Value::Unknown;
            proposed.brokers = Value::Unknown;
        }
        Some(())
    }

    fn plan_destroy(&self, diags: &mut Diagnostics) -> Option<()> {
        if matches!(self.deletion_protection, Value::Value(true)) {
            error(
                diags,
                "cluster is protected from deletion",
                format!(
                    "cluster {} has deletion_protection = true; set it to false and apply before destroying it",
                    known(&self.name).unwrap_or("?")
                ),
                Some("deletion_protection"),
            );
            return None;
        }
        Some(())
    }

    fn id(&mut self) -> &mut Value<String> {
        &mut self.id
    }

    async fn create(mut apply: Apply<'_, Self>, planned: Self) -> Stored<Self> {
        let body = apply.checked(planned.create_body())?;
        let created = apply.create::<_, Cluster>(&body).await?;
        let failure = "the cluster did not become ready";
        Some(settle(apply, created, &planned, Phase::Create, failure).await)
    }

    async fn update(mut apply: Apply<'_, Self>, prior: Self, planned: Self) -> Stored<Self> {
        if !planned.spec_differs(&prior) {
            // Only provider-side settings changed (protection, timeouts).
            let mut state = planned;
            state.phase = prior.phase;
            state.bootstrap_address = prior.bootstrap_address;
            state.brokers = prior.brokers;
            return Some((state, apply.private));
        }
        let changed = |a: &Value<i64>, b: &Value<i64>, name| {
            if differs(a, b) {
                int32(name, b).ok()
            } else {
                None
            }
        };
        let body = ClusterUpdate {
            version: differs(&prior.version, &planned.version)
                .then(|| known(&planned.version).map(str::to_owned))
                .flatten(),
            broker_count: changed(&prior.broker_count, &planned.broker_count, "broker_count"),
            storage_gib: changed(&prior.storage_gib, &planned.storage_gib, "storage_gib"),
            config: if differs(&prior.config, &planned.config) {
                known_map(&planned.config)
            } else {
                None
            },
        };
        let updated = apply.update::<_, Cluster>(&prior.id, &body).await?;
        let failure = "the cluster did not settle";
        Some(settle(apply, updated, &planned, Phase::Update, failure).await)
    }

    fn schema() -> Schema {
        schema(
            "A Fjord streaming cluster in an environment. Creates and changes of version, size or configuration wait until the environment's agent reports the cluster `ready`.",
            vec![
                (
                    "environment_id",
                    required(
                        AttributeType::String,
                        "The environment the cluster runs in. Changing it replaces the cluster.",
                    ),
                ),
                (
                    "name",
                    required(
                        AttributeType::String,
                        "DNS-1123 label, unique in the environment. Changing it replaces the cluster.",
                    ),
                ),
                (
                    "version",
                    required(
                        AttributeType::String,
                        "A release version from `data.fjord_releases`; changing it upgrades the cluster in place, broker by broker.",
                    ),
                ),
                (
                    "broker_count",
                    required(AttributeType::Number, "Brokers, 1 to 64."),
                ),
                (
                    "storage_gib",
                    required(
                        AttributeType::Number,
                        "Storage per broker in GiB, 1 to 65536; may only grow.",
                    ),
                ),
                (
                    "config",
                    optional_computed(
                        string_map(),
                        "Kafka-style cluster configuration. Omitted: left as the server holds it; `{}` clears it.",
                    ),
                ),
                (
                    "deletion_protection",
                    optional_computed(
                        AttributeType::Bool,
                        "When true, Terraform refuses to destroy the cluster. Default false.",
                    ),
                ),
                (
                    "phase",
                    computed(
                        AttributeType::String,
                        "What the agent last reported: `pending`, `creating`, `ready`, `upgrading`, `degraded` or `failed`.",
                    ),
                ),
                (
                    "bootstrap_address",
                    computed(
                        AttributeType::String,
                        "Where Kafka clients connect, `host:port[,host:port...]`, as the agent last reported it; null until then.",
                    ),
                ),
                (
                    "brokers",
                    computed(
                        BrokerItem::attribute_type(),
                        "Each broker as the agent last reported it, by id: `broker_id`, `version` (null until the broker answers), `state` (`pending`, `starting`, `serving`, `maintenance`, `restarting`, `decommissioning` or `failed`), `ready` and `rack` (null without rack awareness).",
                    ),
                ),
                ("timeouts", timeouts::attribute()),
                ("id", computed(AttributeType::String, "The cluster's id.")),
            ],
        )
    }
}
