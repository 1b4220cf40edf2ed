//! `data "fjord_releases"`: the vendor's release catalog (`GET /v1/releases`).

use fjord_api::Release;
use serde::{Deserialize, Serialize};
use tf_provider::Diagnostics;
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::Value;

use super::{ReadOnly, View};
use crate::client::Client;
use crate::diagnostic::{add_error, add_invalid};
use crate::plan::known;
use crate::schema::{computed, optional, schema};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ReleaseItem {
    #[serde(default)]
    pub(crate) version: Value<String>,
    #[serde(default)]
    pub(crate) channel: Value<String>,
    #[serde(default)]
    pub(crate) deprecated: Value<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ReleasesState {
    #[serde(default)]
    pub(crate) channel: Value<String>,
    #[serde(default)]
    pub(crate) releases: Value<Vec<ReleaseItem>>,
    #[serde(default)]
    pub(crate) latest: Value<String>,
}

/// The `fjord_releases` data source.
pub(crate) type ReleasesDataSource = View<ReleasesState>;

impl ReadOnly for ReleasesState {
    fn schema() -> Schema {
        let item = [
            ("version".to_owned(), AttributeType::String),
            ("channel".to_owned(), AttributeType::String),
            ("deprecated".to_owned(), AttributeType::Bool),
        ]
        .into();
        schema(
            "The vendor's release catalog, oldest first.",
            vec![
                (
                    "channel",
                    optional(
                        AttributeType::String,
                        "Only this channel: `stable`, `rapid` or `preview`.",
                    ),
                ),
                (
                    "releases",
                    computed(
                        AttributeType::List(Box::new(AttributeType::Object(item))),
                        "Every release (of the channel): `version`, `channel` and `deprecated` (a deprecated release cannot be chosen for a cluster).",
                    ),
                ),
                (
                    "latest",
                    computed(
                        AttributeType::String,
                        "The newest release that is not deprecated, null if none.",
                    ),
                ),
            ],
        )
    }

    async fn read(client: &Client, diags: &mut Diagnostics, mut config: Self) -> Option<Self> {
        let path = match known(&config.channel) {
            Some(channel @ ("stable" | "rapid" | "preview")) => {
                format!("/v1/releases?channel={channel}")
            }
            Some(other) => {
                add_invalid(
                    diags,
                    format!("channel must be stable, rapid or preview, got {other:?}"),
                    &["channel"],
                );
                return None;
            }
            None => "/v1/releases".to_owned(),
        };
        let releases = match client.get::<Vec<Release>>(&path).await {
            Ok(answer) => answer.body,
            Err(error) => {
                add_error(
                    diags,
                    "cannot read the release catalog",
                    &error,
                    &["channel"],
                );
                return None;
            }
        };
        config.latest = releases
            .iter()
            .rev()
            .find(|release| !release.deprecated)
            .map_or(Value::Null, |release| Value::Value(release.version.clone()));
        config.releases = Value::Value(
            releases
                .into_iter()
                .map(|release| ReleaseItem {
                    version: Value::Value(release.version),
                    channel: Value::Value(release.channel),
                    deprecated: Value::Value(release.deprecated),
                })
                .collect(),
        );
        Some(config)
    }
}
