//! The provider block: where the API is and the key to call it with.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::Value;
use tf_provider::{Diagnostics, DynamicDataSource, DynamicResource, Provider};

use crate::client::Client;
use crate::schema::{optional, schema, sensitive};
use crate::{data_sources, resources};

/// Read when `endpoint` is not set.
pub const ENDPOINT_ENV: &str = "FJORD_ENDPOINT";
/// Read when `api_key` is not set.
pub const API_KEY_ENV: &str = "FJORD_API_KEY";
/// How often waits poll when `poll_interval_seconds` is not set.
const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);

/// The configured client, shared by every resource and data source.
/// Terraform configures the provider before it calls any of them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Shared(Arc<OnceLock<Client>>);

impl Shared {
    /// The client, or an error diagnostic if the provider is not configured.
    pub(crate) fn client(&self, diags: &mut Diagnostics) -> Option<&Client> {
        let client = self.0.get();
        if client.is_none() {
            crate::diagnostic::error(diags, "the fjord provider is not configured", "", None);
        }
        client
    }
}

#[derive(Debug, Default)]
pub struct FjordProvider {
    shared: Shared,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ProviderConfig {
    #[serde(default)]
    pub endpoint: Value<String>,
    #[serde(default)]
    pub api_key: Value<String>,
    #[serde(default)]
    pub poll_interval_seconds: Value<i64>,
}

/// The attribute `name` as set, or else the environment variable
/// `variable`; an error on the attribute when neither holds a value.
fn from_setting_or_env(
    diags: &mut Diagnostics,
    setting: &Value<String>,
    variable: &str,
    name: &'static str,
) -> Option<String> {
    let value = match setting {
        Value::Value(value) if !value.is_empty() => Some(value.clone()),
        _ => std::env::var(variable)
            .ok()
            .filter(|value| !value.is_empty()),
    };
    if value.is_none() {
        crate::diagnostic::error(
            diags,
            format!("{name} is not set and {variable} is empty"),
            "",
            Some(name),
        );
    }
    value
}

#[async_trait]
impl Provider for FjordProvider {
    type Config<'a> = ProviderConfig;
    type MetaState<'a> = Value<tf_provider::value::StructEmpty>;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(schema(
            "The Fjord control plane's REST API.",
            vec![
                (
                    "endpoint",
                    optional(
                        AttributeType::String,
                        "Base URL of the API, e.g. `https://api.fjord.example`. Default: the `FJORD_ENDPOINT` environment variable.",
                    ),
                ),
                (
                    "api_key",
                    sensitive(optional(
                        AttributeType::String,
                        "An API key (`fjk_…`). Default: the `FJORD_API_KEY` environment variable, which keeps the key out of the configuration.",
                    )),
                ),
                (
                    "poll_interval_seconds",
                    optional(
                        AttributeType::Number,
                        "How often waits for clusters and rollouts ask the API, 1 to 60 seconds; default 5.",
                    ),
                ),
            ],
        ))
    }

    async fn configure<'a>(
        &self,
        diags: &mut Diagnostics,
        _terraform_version: String,
        config: Self::Config<'a>,
    ) -> Option<()> {
        let endpoint = from_setting_or_env(diags, &config.endpoint, ENDPOINT_ENV, "endpoint")?;
        let api_key = from_setting_or_env(diags, &config.api_key, API_KEY_ENV, "api_key")?;
        let poll_interval = match config.poll_interval_seconds {
            Value::Value(seconds @ 1..=60) => Duration::from_secs(seconds.unsigned_abs()),
            Value::Value(other) => {
                crate::diagnostic::error(
                    diags,
                    format!("poll_interval_seconds must be 1 to 60, got {other}"),
                    "",
                    Some("poll_interval_seconds"),
                );
                return None;
            }
            _ => DEFAULT_POLL_INTERVAL,
        };
        match Client::new(&endpoint, &api_key, poll_interval) {
            Ok(client) => {
                // Terraform configures once per provider process.
                let _ = self.shared.0.set(client);
                Some(())
            }
            Err(error) => {
                crate::diagnostic::error(
                    diags,
                    "invalid provider settings",
                    error.to_string(),
                    Some("endpoint"),
                );
                None
            }
        }
    }

    fn get_resources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicResource>>> {
        Some(resources::all(&self.shared))
    }

    fn get_data_sources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicDataSource>>> {
        Some(data_sources::all(&self.shared))
    }
}
