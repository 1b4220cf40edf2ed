//! The provider's API client against a live control plane: what a retried
//! create and a stale update do.

mod common;

use common::stack::Stack;
use fjord_api::{CloudAccount, CloudAccountCreate, CloudAccountUpdate, Page};
use http::Method;
use sqlx::PgPool;
use terraform_provider_fjord::{Error, Headers};

fn account() -> CloudAccountCreate {
    CloudAccountCreate {
        name: "acme-prod".into(),
        aws_account_id: "123456789012".into(),
        role_arn: "arn:aws:iam::123456789012:role/fjord-control".into(),
    }
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn a_create_sent_again_with_its_idempotency_key_makes_one_object(
    pool: PgPool,
) -> anyhow::Result<()> {
    let (_stack, client) = Stack::with_client(pool).await?;
    let headers = Headers {
        idempotency_key: Some("terraform-plan-1"),
        if_match: None,
    };
    let first = client
        .send::<_, CloudAccount>(
            Method::POST,
            "/v1/cloud-accounts",
            Some(&account()),
            headers.clone(),
        )
        .await?;
    // The answer was lost; the retry carries the same key.
    let again = client
        .send::<_, CloudAccount>(
            Method::POST,
            "/v1/cloud-accounts",
            Some(&account()),
            headers,
        )
        .await?;
    assert_eq!(first.body.cloud_account_id, again.body.cloud_account_id);
    let listed = client
        .get::<Page<CloudAccount>>("/v1/cloud-accounts")
        .await?;
    assert_eq!(listed.body.items.len(), 1, "one account, not two");
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn an_update_based_on_a_stale_etag_is_refused_not_applied(
    pool: PgPool,
) -> anyhow::Result<()> {
    let (stack, client) = Stack::with_client(pool).await?;
    let created = client
        .send::<_, CloudAccount>(
            Method::POST,
            "/v1/cloud-accounts",
            Some(&account()),
            Headers::default(),
        )
        .await?;
    let stale = created.etag.clone();
    assert!(stale.is_some(), "creates answer with an ETag");
    let path = format!("/v1/cloud-accounts/{}", created.body.cloud_account_id);
    // Someone else changes the role in between.
    let (status, _) = stack
        .call(
            Method::PATCH,
            &path,
            Some(serde_json::json!({"role_arn": "arn:aws:iam::123456789012:role/other"})),
        )
        .await?;
    assert_eq!(status, 200);
    let ours = CloudAccountUpdate {
        role_arn: "arn:aws:iam::123456789012:role/ours".into(),
    };
    let headers = Headers {
        idempotency_key: None,
        if_match: stale.as_deref(),
    };
    let refused = client
        .send::<_, CloudAccount>(Method::PATCH, &path, Some(&ours), headers)
        .await;
    assert!(
        matches!(&refused, Err(Error::Problem { problem }) if problem.status == 412),
        "{refused:?}"
    );
    let now = client.get::<CloudAccount>(&path).await?;
    assert_eq!(
        now.body.role_arn, "arn:aws:iam::123456789012:role/other",
        "their change stands"
    );
    Ok(())
}
