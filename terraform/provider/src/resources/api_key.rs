//! `fjord_api_key`: `/v1/api-keys`. A key cannot change: any change
//! replaces it. Destroying it revokes it; a revoked key reads as gone.

use async_trait::async_trait;
use fjord_api::{ApiKey, ApiKeyCreate, ApiKeyCreated, Scope, validate};
use http::Method;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics, Resource};

use super::crud::{self, checked, stored};
use super::{Meta, Private};
use crate::client::Headers;
use crate::diagnostic::add_error;
use crate::plan::{idempotency_key, known, replace_if};
use crate::provider::Shared;
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

fn check(config: &ApiKeyState) -> Result<Option<Scope>, String> {
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

#[derive(Debug)]
pub(crate) struct ApiKeyResource {
    shared: Shared,
}

impl ApiKeyResource {
    pub(crate) fn new(shared: &Shared) -> Self {
        Self {
            shared: shared.clone(),
        }
    }
}

#[async_trait]
impl Resource for ApiKeyResource {
    type State<'a> = ApiKeyState;
    type PrivateState<'a> = Option<Private>;
    type ProviderMetaState<'a> = Meta;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(schema(
            "An API key of the organization. Destroying it revokes it.",
            vec![
                ("id", computed(AttributeType::String, "The key's id.")),
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
            ],
        ))
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: Self::State<'a>) -> Option<()> {
        checked(diags, check(&config), ATTRIBUTES).map(|_| ())
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
        let path = format!("/v1/api-keys/{id}");
        crud::read::<ApiKey, _>(
            client,
            diags,
            &path,
            "cannot read the API key",
            ATTRIBUTES,
            private,
            |key: ApiKey| {
                // A revoked key is gone for good: plan a new one.
                key.revoked_at
                    .is_none()
                    .then(|| ApiKeyState::from_api(key, state.secret))
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
        proposed.secret = Value::Unknown;
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
        replace_if(&mut replace, "name", &prior.name, &proposed.name);
        replace_if(&mut replace, "scope", &prior.scope, &proposed.scope);
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
        let scope = checked(diags, check(&planned), ATTRIBUTES)??;
        let body = ApiKeyCreate {
            name: known(&planned.name)?.to_owned(),
            scope,
        };
        let answer = crud::create::<_, ApiKeyCreated>(
            client,
            diags,
            "/v1/api-keys",
            &body,
            &private,
            "cannot create the API key",
            ATTRIBUTES,
        )
        .await?;
        Some(stored(private, answer, |created: ApiKeyCreated| {
            ApiKeyState::from_api(created.api_key, Value::Value(created.secret))
        }))
    }

    async fn update<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: Self::State<'a>,
        planned: Self::State<'a>,
        _config: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        // Every configurable attribute replaces the key; nothing to send.
        Some((planned, private))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State<'a>,
        _private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<()> {
        let client = self.shared.client(diags)?;
        let id = known(&prior.id)?.to_owned();
        let path = format!("/v1/api-keys/{id}/revoke");
        // Revoking twice is harmless; a key already gone is revoked enough.
        match client
            .send::<(), ApiKey>(Method::POST, &path, None, Headers::default())
            .await
        {
            Ok(_) => Some(()),
            Err(error) if error.status() == Some(404) => Some(()),
            Err(error) => {
                add_error(diags, "cannot revoke the API key", &error, ATTRIBUTES);
                None
            }
        }
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let state = ApiKeyState {
            id: Value::Value(id),
            ..Default::default()
        };
        crud::import(self, diags, state, "no such API key, or it is revoked").await
    }
}
