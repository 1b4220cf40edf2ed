//! `data "fjord_environments"`: the organization's environments
//! (`GET /v1/environments`, every page), optionally one by name.

use async_trait::async_trait;
use fjord_api::{Environment, Page};
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::Value;
use tf_provider::{DataSource, Diagnostics};

use crate::diagnostic::add_error;
use crate::plan::known;
use crate::provider::Shared;
use crate::resources::{Meta, connection_name};
use crate::schema::{computed, optional, schema};

/// Pages read at most (200 each), a bound on a runaway listing.
const PAGES_MAX: usize = 500;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct EnvironmentItem {
    #[serde(default)]
    pub(crate) id: Value<String>,
    #[serde(default)]
    pub(crate) name: Value<String>,
    #[serde(default)]
    pub(crate) region: Value<String>,
    #[serde(default)]
    pub(crate) cloud_account_id: Value<String>,
    #[serde(default)]
    pub(crate) connection_state: Value<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct EnvironmentsState {
    #[serde(default)]
    pub(crate) name: Value<String>,
    #[serde(default)]
    pub(crate) environments: Value<Vec<EnvironmentItem>>,
}

#[derive(Debug)]
pub(crate) struct EnvironmentsDataSource {
    shared: Shared,
}

impl EnvironmentsDataSource {
    pub(crate) fn new(shared: &Shared) -> Self {
        Self {
            shared: shared.clone(),
        }
    }
}

#[async_trait]
impl DataSource for EnvironmentsDataSource {
    type State<'a> = EnvironmentsState;
    type ProviderMetaState<'a> = Meta;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        let item = [
            ("id".to_owned(), AttributeType::String),
            ("name".to_owned(), AttributeType::String),
            ("region".to_owned(), AttributeType::String),
            ("cloud_account_id".to_owned(), AttributeType::String),
            ("connection_state".to_owned(), AttributeType::String),
        ]
        .into();
        Some(schema(
            "The organization's environments, in creation order.",
            vec![
                (
                    "name",
                    optional(AttributeType::String, "Only the environment of this name."),
                ),
                (
                    "environments",
                    computed(
                        AttributeType::List(Box::new(AttributeType::Object(item))),
                        "The environments: `id`, `name`, `region`, `cloud_account_id`, `connection_state` (`pending`, `connected` or `disconnected`).",
                    ),
                ),
            ],
        ))
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        mut config: Self::State<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<Self::State<'a>> {
        let client = self.shared.client(diags)?;
        let mut found = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..PAGES_MAX {
            let path = match &cursor {
                Some(cursor) => format!("/v1/environments?limit=200&cursor={cursor}"),
                None => "/v1/environments?limit=200".to_owned(),
            };
            let page = match client.get::<Page<Environment>>(&path).await {
                Ok(answer) => answer.body,
                Err(error) => {
                    add_error(diags, "cannot list environments", &error, &["name"]);
                    return None;
                }
            };
            found.extend(page.items);
            cursor = page.next_cursor;
            if cursor.is_none() {
                break;
            }
        }
        let wanted = known(&config.name).map(str::to_owned);
        config.environments = Value::Value(
            found
                .into_iter()
                .filter(|environment| {
                    wanted
                        .as_deref()
                        .is_none_or(|name| environment.name == name)
                })
                .map(|environment| EnvironmentItem {
                    id: Value::Value(environment.environment_id.to_string()),
                    name: Value::Value(environment.name),
                    region: Value::Value(environment.region),
                    cloud_account_id: Value::Value(environment.cloud_account_id.to_string()),
                    connection_state: Value::Value(
                        connection_name(environment.connection.state).to_owned(),
                    ),
                })
                .collect(),
        );
        Some(config)
    }
}
