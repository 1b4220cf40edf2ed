//! `fjord_api_key`: `/v1/api-keys`. A key cannot change: any change
//! replaces it. Destroying it revokes it; a revoked key reads as gone.

use fjord_api::{ApiKey, ApiKeyCreate, ApiKeyCreated, Scope, validate};
use http::Method;
use serde::{Deserialize, Serialize};
use tf_provider::AttributePath;
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::Value;

use super::rest::{Apply, Kind, Rest, RestResource, Stored};
use crate::client::Headers;
use crate::plan::{known, replace_if};
use crate::schema::{computed, required, schema, sensitive};

const ATTRIBUTES: &[&str] = &["name", "scope"];

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ApiKeyState {
    #[serde(default)]
    pub(crate) id: Value<String>,
    #[serde(default)]
    pub(crate) name: Value<String>,
    #[serde(default)]
    pub(crate) scope: Value<String>,
    #[serde(default)]
    pub(crate) secret: Value<String>,
}

impl ApiKeyState {
    fn from_api(key: ApiKey, secret: Value<String>) -> Self {
        Self {
            id: Value::Value(key.api_key_id.to_string()),
            name: Value::Value(key.name),
            scope: Value::Value(key.scope.as_str().to_owned()),
            secret: match secret {
                Value::Unknown => Value::Null,
                other => other,
            },
        }
    }
}

/// Checks what is known of a configuration the way the API will, and
/// returns the scope, once known, as the API spells it for the create.
fn scope(config: &ApiKeyState) -> Result<Option<Scope>, String> {
    if let Some(name) = known(&config.name) {
        validate::display_name("name", name)?;
    }
    match known(&config.scope) {
        Some(scope) => Scope::parse(scope)
            .map(Some)
            .ok_or_else(|| format!("scope must be \"admin\" or \"read-only\", got {scope:?}")),
        None => Ok(None),
    }
}

/// The `fjord_api_key` resource.
pub(crate) type ApiKeyResource = Rest<ApiKeyState>;

impl RestResource for ApiKeyState {
    type Api = ApiKey;
    const KIND: Kind = Kind::new("/v1/api-keys", "API key", ATTRIBUTES);

    /// A revoked key is gone for good: plan a new one. The secret is only
    /// in the create's answer: the state keeps the one it has.
    fn read(key: ApiKey, prior: Self) -> Option<Self> {
        key.revoked_at
            .is_none()
            .then(|| Self::from_api(key, prior.secret))
    }

    fn check(&self) -> Result<(), String> {
        scope(self).map(|_| ())
    }

    fn plan_create(&mut self) {
        self.secret = Value::Unknown;
    }

    fn replaced(prior: &Self, proposed: &Self, replace: &mut Vec<AttributePath>) {
        replace_if(replace, "name", &prior.name, &proposed.name);
        replace_if(replace, "scope", &prior.scope, &proposed.scope);
    }

    fn id(&mut self) -> &mut Value<String> {
        &mut self.id
    }

    async fn create(mut apply: Apply<'_, Self>, planned: Self) -> Stored<Self> {
        let scope = apply.checked(scope(&planned))??;
        let body = ApiKeyCreate {
            name: known(&planned.name)?.to_owned(),
            scope,
        };
        let answer = apply.create::<_, ApiKeyCreated>(&body).await?;
        Some(apply.stored(answer, |created: ApiKeyCreated| {
            Self::from_api(created.api_key, Value::Value(created.secret))
        }))
    }

    /// Every configurable attribute replaces the key; nothing to send.
    async fn update(apply: Apply<'_, Self>, _prior: Self, planned: Self) -> Stored<Self> {
        Some((planned, apply.private))
    }

    /// Revokes the key. Revoking twice is harmless; a key already gone is
    /// revoked enough.
    async fn destroy(mut apply: Apply<'_, Self>, prior: Self) -> Option<()> {
        let id = known(&prior.id)?.to_owned();
        let path = format!("/v1/api-keys/{id}/revoke");
        match apply
            .client
            .send::<(), ApiKey>(Method::POST, &path, None, Headers::default())
            .await
        {
            Ok(_) => Some(()),
            Err(error) if error.status() == Some(404) => Some(()),
            Err(error) => {
                apply.error("cannot revoke the API key", &error);
                None
            }
        }
    }

    fn missing() -> String {
        "no such API key, or it is revoked".to_owned()
    }

    fn schema() -> Schema {
        schema(
            "An API key of the organization. Destroying it revokes it.",
            vec![
                (
                    "name",
                    required(
                        AttributeType::String,
                        "What the key is for, 1 to 100 characters. Changing it replaces the key.",
                    ),
                ),
                (
                    "scope",
                    required(
                        AttributeType::String,
                        "`admin` (read and change) or `read-only`. Changing it replaces the key.",
                    ),
                ),
                (
                    "secret",
                    sensitive(computed(
                        AttributeType::String,
                        "Send as `Authorization: Bearer <secret>`. Only known to the state that created the key.",
                    )),
                ),
                ("id", computed(AttributeType::String, "The key's id.")),
            ],
        )
    }
}
