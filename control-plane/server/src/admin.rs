//! Vendor-side admin commands: things no tenant API key may do.

use anyhow::Context;
use fjord_api::validate;
use fjord_store::api_key::NewApiKey;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::secret::{self, TokenKind};

/// Creates an organization and its first admin API key, in one
/// transaction; returns the key's secret.
pub async fn create_organization(pool: &PgPool, name: &str) -> anyhow::Result<String> {
    validate::dns_label("organization name", name).map_err(anyhow::Error::msg)?;
    let mut transaction = pool.begin().await?;
    let organization = fjord_store::organization::insert(&mut *transaction, Uuid::now_v7(), name)
        .await
        .with_context(|| format!("cannot create organization {name}"))?;
    let (token, token_hash) = secret::generate(TokenKind::ApiKey)?;
    let key = fjord_store::api_key::insert(
        &mut *transaction,
        &NewApiKey {
            api_key_id: Uuid::now_v7(),
            organization_id: organization.organization_id,
            name: "first admin key",
            scope: "admin",
            token_hash: &token_hash,
        },
    )
    .await?;
    for (action, object_type, object_id) in [
        (
            "organization.create",
            "organization",
            organization.organization_id,
        ),
        ("api-key.create", "api_key", key.api_key_id),
    ] {
        fjord_store::audit::insert(
            &mut *transaction,
            fjord_store::audit::NewAuditRecord {
                organization_id: organization.organization_id,
                actor: "admin-cli",
                action,
                object_type,
                object_id,
                source: None,
                detail: json!({"name": name}),
            },
        )
        .await?;
    }
    transaction.commit().await?;
    tracing::info!(organization_id = %organization.organization_id, name, "organization created");
    Ok(token)
}

/// Adds a release to the catalog.
pub async fn add_release(
    pool: &PgPool,
    version: &str,
    channel: &str,
    notes: &str,
) -> anyhow::Result<()> {
    match fjord_store::release::insert(pool, version, channel, notes).await {
        Ok(_) => tracing::info!(version, channel, "release added"),
        // Adding a release twice is a no-op, so scripts can run it freely.
        Err(error) if error.is_unique_violation() => {
            tracing::info!(version, channel, "release already in the catalog");
        }
        Err(error) => {
            return Err(error)
                .with_context(|| format!("cannot add release {version} to channel {channel}"));
        }
    }
    Ok(())
}
