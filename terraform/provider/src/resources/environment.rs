//! `fjord_environment`: `/v1/environments`. The one-time registration
//! token exists only in the create's answer; the state keeps it (sensitive)
//! so the operator's install can take it.

use async_trait::async_trait;
use fjord_api::{
    ConnectionState, Environment, EnvironmentCreate, EnvironmentCreated, EnvironmentUpdate,
    validate,
};
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics, Resource};

use super::crud::{self, checked, stored};
use super::{Meta, Private};
use crate::plan::{differs, idempotency_key, known, replace_if, uuid};
use crate::provider::Shared;
use crate::schema::{computed, required, schema, sensitive};

const ATTRIBUTES: &[&str] = &["name", "cloud_account_id", "region"];

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct EnvironmentState {
    #[serde(default)]
    pub(crate) id: Value<String>,
    #[serde(default)]
    pub(crate) cloud_account_id: Value<String>,
    #[serde(default)]
    pub(crate) name: Value<String>,
    #[serde(default)]
    pub(crate) region: Value<String>,
    #[serde(default)]
    pub(crate) registration_token: Value<String>,
    #[serde(default)]
    pub(crate) connection_state: Value<String>,
}

/// How a connection state reads in the state (as the API spells it).
pub(crate) fn connection_name(state: ConnectionState) -> &'static str {
    match state {
        ConnectionState::Pending => "pending",
        ConnectionState::Connected => "connected",
        ConnectionState::Disconnected => "disconnected",
    }
}

impl EnvironmentState {
    fn from_api(environment: Environment, token: Value<String>) -> Self {
        Self {
            id: Value::Value(environment.environment_id.to_string()),
            cloud_account_id: Value::Value(environment.cloud_account_id.to_string()),
            name: Value::Value(environment.name),
            region: Value::Value(environment.region),
            // Only known from the create; an imported environment has none.
            registration_token: match token {
                Value::Unknown => Value::Null,
                other => other,
            },
            connection_state: Value::Value(
                connection_name(environment.connection.state).to_owned(),
            ),
        }
    }
}

fn check(config: &EnvironmentState) -> Result<(), String> {
    if let Some(name) = known(&config.name) {
        validate::dns_label("name", name)?;
    }
    if let Some(region) = known(&config.region) {
        validate::region("region", region)?;
    }
    if known(&config.cloud_account_id).is_some() {
        uuid("cloud_account_id", &config.cloud_account_id)?;
    }
    Ok(())
}

#[derive(Debug)]
pub(crate) struct EnvironmentResource {
    shared: Shared,
}

impl EnvironmentResource {
    pub(crate) fn new(shared: &Shared) -> Self {
        Self {
            shared: shared.clone(),
        }
    }
}

#[async_trait]
impl Resource for EnvironmentResource {
    type State<'a> = EnvironmentState;
    type PrivateState<'a> = Option<Private>;
    type ProviderMetaState<'a> = Meta;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(schema(
            "A customer Kubernetes cluster in a cloud account and region, run by one Fjord agent.",
            vec![
                (
                    "id",
                    computed(AttributeType::String, "The environment's id."),
                ),
                (
                    "cloud_account_id",
                    required(
                        AttributeType::String,
                        "The `fjord_cloud_account` it runs in. Changing it replaces the environment.",
                    ),
                ),
                (
                    "name",
                    required(
                        AttributeType::String,
                        "DNS-1123 label, unique in the organization; may be renamed in place.",
                    ),
                ),
                (
                    "region",
                    required(
                        AttributeType::String,
                        "e.g. `eu-west-1`. Changing it replaces the environment.",
                    ),
                ),
                (
                    "registration_token",
                    sensitive(computed(
                        AttributeType::String,
                        "The one-time token the operator's install registers with (only known to the Terraform state that created the environment; null after an import).",
                    )),
                ),
                (
                    "connection_state",
                    computed(
                        AttributeType::String,
                        "`pending` until the agent registers, then `connected` or `disconnected`.",
                    ),
                ),
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
        let path = format!("/v1/environments/{id}");
        crud::read::<Environment, _>(
            client,
            diags,
            &path,
            "cannot read the environment",
            ATTRIBUTES,
            private,
            |environment| {
                Some(EnvironmentState::from_api(
                    environment,
                    state.registration_token,
                ))
            },
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
        proposed.registration_token = Value::Unknown;
        proposed.connection_state = Value::Unknown;
        Some((proposed, Some(Private::for_create(idempotency_key()))))
    }

    async fn plan_update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State<'a>,
        proposed: Self::State<'a>,
        _config: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>, Vec<AttributePath>)> {
        checked(diags, check(&proposed), ATTRIBUTES)?;
        let mut replace = Vec::new();
        replace_if(
            &mut replace,
            "cloud_account_id",
            &prior.cloud_account_id,
            &proposed.cloud_account_id,
        );
        replace_if(&mut replace, "region", &prior.region, &proposed.region);
        Some((proposed, private, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<Self::PrivateState<'a>> {
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
        let cloud_account_id = uuid("cloud_account_id", &planned.cloud_account_id);
        let cloud_account_id = checked(diags, cloud_account_id, ATTRIBUTES)?;
        let body = EnvironmentCreate {
            name: known(&planned.name)?.to_owned(),
            cloud_account_id,
            region: known(&planned.region)?.to_owned(),
        };
        let answer = crud::create::<_, EnvironmentCreated>(
            client,
            diags,
            "/v1/environments",
            &body,
            &private,
            "cannot create the environment",
            ATTRIBUTES,
        )
        .await?;
        Some(stored(private, answer, |created: EnvironmentCreated| {
            let token = Value::Value(created.registration_token);
            EnvironmentState::from_api(created.environment, token)
        }))
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
        if !differs(&prior.name, &planned.name) {
            return Some((prior, private));
        }
        let id = known(&prior.id)?.to_owned();
        let body = EnvironmentUpdate {
            name: known(&planned.name)?.to_owned(),
        };
        let path = format!("/v1/environments/{id}");
        let answer = crud::update::<_, Environment>(
            client,
            diags,
            &path,
            &body,
            &private,
            "cannot update the environment",
            ATTRIBUTES,
        )
        .await?;
        Some(stored(private, answer, |environment| {
            EnvironmentState::from_api(environment, prior.registration_token)
        }))
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
        let path = format!("/v1/environments/{id}");
        crud::delete(
            client,
            diags,
            &path,
            private,
            "cannot delete the environment",
            ATTRIBUTES,
        )
        .await
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let state = EnvironmentState {
            id: Value::Value(id),
            ..Default::default()
        };
        crud::import(self, diags, state, "no such environment").await
    }
}
