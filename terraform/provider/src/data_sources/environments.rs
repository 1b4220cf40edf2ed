//! `data "fjord_environments"`: the organization's environments
//! (`GET /v1/environments`, every page), optionally one by name.

use fjord_api::{Environment, Page};
use serde::{Deserialize, Serialize};
use tf_provider::Diagnostics;
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::Value;

use super::{ReadOnly, View};
use crate::client::Client;
use crate::diagnostic::add_error;
use crate::plan::known;
use crate::resources::connection_name;
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

/// The `fjord_environments` data source.
pub(crate) type EnvironmentsDataSource = View<EnvironmentsState>;

impl ReadOnly for EnvironmentsState {
    fn schema() -> Schema {
        let item = [
            ("id".to_owned(), AttributeType::String),
            ("name".to_owned(), AttributeType::String),
            ("region".to_owned(), AttributeType::String),
            ("cloud_account_id".to_owned(), AttributeType::String),
            ("connection_state".to_owned(), AttributeType::String),
        ]
        .into();
        schema(
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
        )
    }

    async fn read(client: &Client, diags: &mut Diagnostics, mut config: Self) -> Option<Self> {
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
