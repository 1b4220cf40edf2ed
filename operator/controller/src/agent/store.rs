//! What the agent keeps in its own namespace: the credential Secret, the
//! pinned key, the last applied intent (state ConfigMap), the intent waiting
//! for approval (pending ConfigMap), and the guardrails it reads from its
//! Namespace's annotations.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;
use uuid::Uuid;

use super::config::{PinnedKey, names};
use crate::{Error, Result};

/// The agent's credential and whose it is.
#[derive(Debug, Clone)]
pub(crate) struct Credential {
    pub(crate) credential: String,
    pub(crate) environment_id: Uuid,
}

/// The agent's objects in its namespace.
#[derive(Debug, Clone)]
pub(crate) struct AgentStore {
    namespace: String,
    secrets: Api<Secret>,
    config_maps: Api<ConfigMap>,
    namespaces: Api<Namespace>,
}

fn secret_value(secret: &Secret, key: &str) -> Option<String> {
    let from_data = secret
        .data
        .as_ref()
        .and_then(|data| data.get(key))
        .and_then(|value| String::from_utf8(value.0.clone()).ok());
    from_data
        .or_else(|| {
            secret
                .string_data
                .as_ref()
                .and_then(|data| data.get(key).cloned())
        })
        .map(|value| value.trim().to_owned())
}

fn missing(object: &str, key: &str) -> Error {
    Error::Stored {
        object: object.to_owned(),
        detail: format!("has no key {key}"),
    }
}

impl AgentStore {
    pub(crate) fn new(client: Client, namespace: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
            secrets: Api::namespaced(client.clone(), namespace),
            config_maps: Api::namespaced(client.clone(), namespace),
            namespaces: Api::all(client),
        }
    }

    pub(crate) async fn credential(&self) -> Result<Option<Credential>> {
        let Some(secret) = self.secrets.get_opt(names::CREDENTIAL_SECRET).await? else {
            return Ok(None);
        };
        let object = names::CREDENTIAL_SECRET;
        let credential = secret_value(&secret, "agent-credential")
            .ok_or_else(|| missing(object, "agent-credential"))?;
        let environment_id = secret_value(&secret, "environment-id")
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| missing(object, "environment-id"))?;
        Ok(Some(Credential {
            credential,
            environment_id,
        }))
    }

    /// Stores the credential; registration must not go on unless this succeeded.
    pub(crate) async fn save_credential(
        &self,
        credential: &str,
        environment_id: Uuid,
        organization_id: Uuid,
    ) -> Result<()> {
        let data = [
            ("agent-credential", credential.to_owned()),
            ("environment-id", environment_id.to_string()),
            ("organization-id", organization_id.to_string()),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), ByteString(value.into_bytes())))
        .collect();
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(names::CREDENTIAL_SECRET.to_owned()),
                namespace: Some(self.namespace.clone()),
                labels: Some(managed_labels()),
                ..ObjectMeta::default()
            },
            data: Some(data),
            ..Secret::default()
        };
        self.secrets
            .patch(
                names::CREDENTIAL_SECRET,
                &PatchParams::apply(names::FIELD_MANAGER).force(),
                &Patch::Apply(&secret),
            )
            .await?;
        Ok(())
    }

    /// The one-time token from Secret `fjord-agent-registration`.
    pub(crate) async fn registration_token(&self) -> Result<Option<String>> {
        let secret = self.secrets.get_opt(names::REGISTRATION_SECRET).await?;
        Ok(secret.and_then(|secret| secret_value(&secret, "token")))
    }

    /// The pinned key from Secret `fjord-agent-signing-key`.
    pub(crate) async fn pinned_key(&self) -> Result<Option<PinnedKey>> {
        let Some(secret) = self.secrets.get_opt(names::SIGNING_KEY_SECRET).await? else {
            return Ok(None);
        };
        let object = names::SIGNING_KEY_SECRET;
        Ok(Some(PinnedKey {
            public_key: secret_value(&secret, "public-key")
                .ok_or_else(|| missing(object, "public-key"))?,
            key_id: secret_value(&secret, "key-id").ok_or_else(|| missing(object, "key-id"))?,
        }))
    }

    /// The stored last applied intent (the JSON of a full `Intent`).
    pub(crate) async fn applied_intent(&self) -> Result<Option<String>> {
        let config_map = self.config_maps.get_opt(names::STATE_CONFIG_MAP).await?;
        Ok(config_map
            .and_then(|config_map| config_map.data)
            .and_then(|mut data| data.remove("intent.json")))
    }

    /// Creates the state ConfigMap when missing, so Events have an object.
    pub(crate) async fn ensure_state(&self) -> Result<ConfigMap> {
        if let Some(existing) = self.config_maps.get_opt(names::STATE_CONFIG_MAP).await? {
            return Ok(existing);
        }
        let config_map = ConfigMap {
            metadata: ObjectMeta {
                name: Some(names::STATE_CONFIG_MAP.to_owned()),
                namespace: Some(self.namespace.clone()),
                labels: Some(managed_labels()),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        };
        match self
            .config_maps
            .create(&PostParams::default(), &config_map)
            .await
        {
            Ok(created) => Ok(created),
            Err(kube::Error::Api(status)) if status.code == 409 => {
                Ok(self.config_maps.get(names::STATE_CONFIG_MAP).await?)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Records `intent_json` (generation `generation`) as applied.
    pub(crate) async fn save_applied(&self, generation: i64, intent_json: &str) -> Result<()> {
        let patch = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": names::STATE_CONFIG_MAP, "namespace": self.namespace,
                         "labels": managed_labels()},
            "data": {
                "generation": generation.to_string(),
                "applied-at": chrono::Utc::now().to_rfc3339(),
                "intent.json": intent_json,
            },
        });
        self.config_maps
            .patch(
                names::STATE_CONFIG_MAP,
                &PatchParams::apply(names::FIELD_MANAGER).force(),
                &Patch::Apply(&patch),
            )
            .await?;
        Ok(())
    }

    /// Shows the intent waiting for approval, with its diff.
    pub(crate) async fn save_pending(
        &self,
        generation: i64,
        diff: &str,
        reason: &str,
    ) -> Result<()> {
        let mut labels = managed_labels();
        labels.insert(names::PENDING_LABEL.to_owned(), "true".to_owned());
        let patch = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": names::PENDING_CONFIG_MAP, "namespace": self.namespace,
                         "labels": labels},
            "data": {"generation": generation.to_string(), "diff": diff, "reason": reason},
        });
        self.config_maps
            .patch(
                names::PENDING_CONFIG_MAP,
                &PatchParams::apply(names::FIELD_MANAGER).force(),
                &Patch::Apply(&patch),
            )
            .await?;
        Ok(())
    }

    pub(crate) async fn clear_pending(&self) -> Result<()> {
        match self
            .config_maps
            .delete(names::PENDING_CONFIG_MAP, &DeleteParams::default())
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// The annotations of the agent's Namespace: its guardrails.
    pub(crate) async fn guardrail_annotations(&self) -> Result<BTreeMap<String, String>> {
        let namespace = self.namespaces.get(&self.namespace).await?;
        Ok(namespace.metadata.annotations.unwrap_or_default())
    }
}

fn managed_labels() -> BTreeMap<String, String> {
    [(
        names::MANAGED_BY_LABEL.to_owned(),
        names::MANAGED_BY_VALUE.to_owned(),
    )]
    .into()
}
