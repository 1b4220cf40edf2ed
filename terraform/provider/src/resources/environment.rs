//! `fjord_environment`: `/v1/environments`. The one-time registration
//! token exists only in the create's answer; the state keeps it (sensitive)
//! so the operator's install can take it.

use fjord_api::{
    ConnectionState, Environment, EnvironmentCreate, EnvironmentCreated, EnvironmentUpdate,
    validate,
};
use serde::{Deserialize, Serialize};
use tf_provider::AttributePath;
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::Value;

use super::rest::{Apply, Kind, Rest, RestResource, Stored};
use crate::plan::{differs, known, replace_if, uuid};
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

/// The `fjord_environment` resource.
pub(crate) type EnvironmentResource = Rest<EnvironmentState>;

impl RestResource for EnvironmentState {
    type Api = Environment;
    const KIND: Kind = Kind::new("/v1/environments", "environment", ATTRIBUTES);

    /// The API never shows the registration token again: the state keeps
    /// the one it has.
    fn read(environment: Environment, prior: Self) -> Option<Self> {
        let token = prior.registration_token;
        Some(Self::from_api(environment, token))
    }

    fn check(&self) -> Result<(), String> {
        if let Some(name) = known(&self.name) {
            validate::dns_label("name", name)?;
        }
        if let Some(region) = known(&self.region) {
            validate::region("region", region)?;
        }
        if known(&self.cloud_account_id).is_some() {
            uuid("cloud_account_id", &self.cloud_account_id)?;
        }
        Ok(())
    }

    fn plan_create(&mut self) {
        self.registration_token = Value::Unknown;
        self.connection_state = Value::Unknown;
    }

    fn replaced(prior: &Self, proposed: &Self, replace: &mut Vec<AttributePath>) {
        replace_if(
            replace,
            "cloud_account_id",
            &prior.cloud_account_id,
            &proposed.cloud_account_id,
        );
        replace_if(replace, "region", &prior.region, &proposed.region);
    }

    fn id(&mut self) -> &mut Value<String> {
        &mut self.id
    }

    async fn create(mut apply: Apply<'_, Self>, planned: Self) -> Stored<Self> {
        let cloud_account_id = uuid("cloud_account_id", &planned.cloud_account_id);
        let cloud_account_id = apply.checked(cloud_account_id)?;
        let body = EnvironmentCreate {
            name: known(&planned.name)?.to_owned(),
            cloud_account_id,
            region: known(&planned.region)?.to_owned(),
        };
        let answer = apply.create::<_, EnvironmentCreated>(&body).await?;
        Some(apply.stored(answer, |created: EnvironmentCreated| {
            let token = Value::Value(created.registration_token);
            Self::from_api(created.environment, token)
        }))
    }

    /// Only the name changes in place.
    async fn update(mut apply: Apply<'_, Self>, prior: Self, planned: Self) -> Stored<Self> {
        if !differs(&prior.name, &planned.name) {
            return Some((prior, apply.private));
        }
        let body = EnvironmentUpdate {
            name: known(&planned.name)?.to_owned(),
        };
        let answer = apply.update::<_, Environment>(&prior.id, &body).await?;
        Some(apply.stored(answer, |environment| {
            Self::from_api(environment, prior.registration_token)
        }))
    }

    fn schema() -> Schema {
        schema(
            "A customer Kubernetes cluster in a cloud account and region, run by one Fjord agent.",
            vec![
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
                (
                    "id",
                    computed(AttributeType::String, "The environment's id."),
                ),
            ],
        )
    }
}
