//! `fjord_cluster`: `/v1/clusters`. Creates and spec changes wait until
//! the environment's agent reports the cluster `ready` at the desired
//! version with every broker ready.

use std::collections::BTreeMap;

use async_trait::async_trait;
use fjord_api::{Cluster, ClusterUpdate};
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics, Resource};

use super::crud::{self, checked, stored};
use super::{Meta, Private, wait_for_cluster};
use crate::client::{Answer, Client};
use crate::diagnostic::{add_error, add_invalid};
use crate::plan::{differs, idempotency_key, int32, known, known_map, replace_if};
use crate::provider::Shared;
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
    client: &Client,
    diags: &mut Diagnostics,
    answer: Answer<Cluster>,
    private: Option<Private>,
    planned: &ClusterState,
    phase: Phase,
    failure: &str,
) -> (ClusterState, Option<Private>) {
    let since = answer.body.updated_at;
    let to_state = |cluster| ClusterState::from_api(cluster, planned);
    let (mut state, mut private) = stored(private, answer, to_state);
    let timeout = timeouts::of(&planned.timeouts, phase).unwrap_or(timeouts::DEFAULT);
    match wait_for_cluster(client, &state, since, timeout).await {
        Ok(answer) => (state, private) = stored(private, answer, to_state),
        Err(error) => add_error(diags, failure, &error, ATTRIBUTES),
    }
    (state, private)
}

#[derive(Debug)]
pub(crate) struct ClusterResource {
    shared: Shared,
}

impl ClusterResource {
    pub(crate) fn new(shared: &Shared) -> Self {
        Self {
            shared: shared.clone(),
        }
    }
}

#[async_trait]
impl Resource for ClusterResource {
    type State<'a> = ClusterState;
    type PrivateState<'a> = Option<Private>;
    type ProviderMetaState<'a> = Meta;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(schema(
            "A Fjord streaming cluster in an environment. Creates and changes of version, size or configuration wait until the environment's agent reports the cluster `ready`.",
            vec![
                ("id", computed(AttributeType::String, "The cluster's id.")),
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
            ],
        ))
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: Self::State<'a>) -> Option<()> {
        checked(diags, check(&config), ATTRIBUTES)
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let client = self.shared.client(diags)?;
        let id = known(&state.id)?.to_owned();
        let path = format!("/v1/clusters/{id}");
        // Gone: Terraform plans to create it again.
        crud::read::<Cluster, _>(
            client,
            diags,
            &path,
            "cannot read the cluster",
            ATTRIBUTES,
            private,
            |cluster| Some(ClusterState::from_api(cluster, &state)),
        )
        .await
    }

    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        mut proposed: Self::State<'a>,
        _config: Self::State<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        checked(diags, check(&proposed), ATTRIBUTES)?;
        proposed.id = Value::Unknown;
        proposed.phase = Value::Unknown;
        proposed.bootstrap_address = Value::Unknown;
        proposed.brokers = Value::Unknown;
        if proposed.config.is_null() {
            proposed.config = Value::Value(BTreeMap::new());
        }
        if proposed.deletion_protection.is_null() {
            proposed.deletion_protection = Value::Value(false);
        }
        Some((proposed, Some(Private::for_create(idempotency_key()))))
    }

    async fn plan_update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State<'a>,
        mut proposed: Self::State<'a>,
        _config: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>, Vec<AttributePath>)> {
        checked(diags, check(&proposed), ATTRIBUTES)?;
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
        let mut replace = Vec::new();
        replace_if(
            &mut replace,
            "environment_id",
            &prior.environment_id,
            &proposed.environment_id,
        );
        replace_if(&mut replace, "name", &prior.name, &proposed.name);
        if !replace.is_empty() && matches!(prior.deletion_protection, Value::Value(true)) {
            crate::diagnostic::error(
                diags,
                "cluster is protected from deletion",
                "this change replaces the cluster (destroys it and creates a new one), and deletion_protection is true",
                Some("deletion_protection"),
            );
            return None;
        }
        if proposed.spec_differs(&prior) {
            proposed.phase = Value::Unknown;
            proposed.bootstrap_address = Value::Unknown;
            proposed.brokers = Value::Unknown;
        }
        Some((proposed, private, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<Self::PrivateState<'a>> {
        if matches!(prior.deletion_protection, Value::Value(true)) {
            crate::diagnostic::error(
                diags,
                "cluster is protected from deletion",
                format!(
                    "cluster {} has deletion_protection = true; set it to false and apply before destroying it",
                    known(&prior.name).unwrap_or("?")
                ),
                Some("deletion_protection"),
            );
            return None;
        }
        Some(private)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned: Self::State<'a>,
        _config: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let client = self.shared.client(diags)?;
        let body = checked(diags, planned.create_body(), ATTRIBUTES)?;
        let created = crud::create::<_, Cluster>(
            client,
            diags,
            "/v1/clusters",
            &body,
            &private,
            "cannot create the cluster",
            ATTRIBUTES,
        )
        .await?;
        Some(
            settle(
                client,
                diags,
                created,
                private,
                &planned,
                Phase::Create,
                "the cluster did not become ready",
            )
            .await,
        )
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State<'a>,
        planned: Self::State<'a>,
        _config: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let client = self.shared.client(diags)?;
        if !planned.spec_differs(&prior) {
            // Only provider-side settings changed (protection, timeouts).
            let mut state = planned;
            state.phase = prior.phase;
            state.bootstrap_address = prior.bootstrap_address;
            state.brokers = prior.brokers;
            return Some((state, private));
        }
        let id = known(&prior.id)?.to_owned();
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
        let path = format!("/v1/clusters/{id}");
        let updated = crud::update::<_, Cluster>(
            client,
            diags,
            &path,
            &body,
            &private,
            "cannot update the cluster",
            ATTRIBUTES,
        )
        .await?;
        Some(
            settle(
                client,
                diags,
                updated,
                private,
                &planned,
                Phase::Update,
                "the cluster did not settle",
            )
            .await,
        )
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<()> {
        let client = self.shared.client(diags)?;
        let id = known(&prior.id)?.to_owned();
        let path = format!("/v1/clusters/{id}");
        crud::delete(
            client,
            diags,
            &path,
            private,
            "cannot delete the cluster",
            ATTRIBUTES,
        )
        .await
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let state = ClusterState {
            id: Value::Value(id),
            ..Default::default()
        };
        crud::import(self, diags, state, "no such cluster").await
    }
}
