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

/// Adds `email` to the organization named `organization` with `role`,
/// creating the user with a generated password if the email is new; returns
/// that password (`None` when the user existed and keeps theirs).
pub async fn create_user(
    pool: &PgPool,
    organization: &str,
    email: &str,
    role: &str,
) -> anyhow::Result<Option<String>> {
    let role = fjord_api::Role::parse(role)
        .with_context(|| format!("role must be admin or viewer, got {role:?}"))?;
    let email = fjord_api::normalize_email(email);
    fjord_api::check_email(&email).map_err(anyhow::Error::msg)?;
    let organization = fjord_store::organization::by_name(pool, organization)
        .await?
        .with_context(|| format!("no organization is named {organization:?}"))?;
    let mut transaction = pool.begin().await?;
    let (user_id, password) = match fjord_store::user::by_email(&mut *transaction, &email).await? {
        Some(user) => (user.user_id, None),
        None => {
            use base64::Engine;
            let bytes = secret::random_bytes()?;
            let password = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes[..18]);
            let hash = crate::session::hash_password(password.clone())
                .await
                .map_err(|error| anyhow::anyhow!("{error}"))?;
            let user =
                fjord_store::user::insert(&mut *transaction, Uuid::now_v7(), &email, &hash).await?;
            (user.user_id, Some(password))
        }
    };
    fjord_store::user::add_member(
        &mut *transaction,
        organization.organization_id,
        user_id,
        role.as_str(),
    )
    .await
    .with_context(|| format!("cannot add {email} to {}", organization.name))?;
    fjord_store::audit::insert(
        &mut *transaction,
        fjord_store::audit::NewAuditRecord {
            organization_id: organization.organization_id,
            actor: "admin-cli",
            action: "user.create",
            object_type: "user",
            object_id: user_id,
            source: None,
            detail: json!({"email": email, "role": role.as_str()}),
        },
    )
    .await?;
    transaction.commit().await?;
    tracing::info!(%user_id, organization = organization.name, "user added");
    Ok(password)
}
