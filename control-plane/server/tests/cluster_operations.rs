//! Creating and deleting a cluster starts an operation users read under
//! `/v1/operations`; it completes when the agent reports the work done, and
//! fails with a clear reason when the agent reports a failure or time runs
//! out.

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::{TestApp, connect_agent, populate};
use serde_json::{Value, json};
use sqlx::PgPool;

/// Checks every queued operation once.
async fn check_all(app: &TestApp, timeout: Duration) -> anyhow::Result<()> {
    let mut state = app.state.clone();
    state.jobs.cluster_poll = Duration::from_secs(3600);
    state.jobs.cluster_operation_timeout = timeout;
    sqlx::query("update job set run_after = now() where state = 'queued'")
        .execute(&app.pool)
        .await?;
    while fjord_control_plane::jobs::run_once(&state).await? {}
    Ok(())
}

/// The operation of `kind` whose target is `cluster_id`.
async fn operation(
    app: &TestApp,
    key: &str,
    kind: &str,
    cluster_id: &str,
) -> anyhow::Result<Value> {
    let listed = app.get("/v1/operations?limit=200", key).await?;
    let found = listed.expect(StatusCode::OK)["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|operation| {
            operation["kind"] == kind && operation["target"]["cluster_id"] == cluster_id
        })
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no {kind} operation for {cluster_id}: {}", listed.body))?;
    let id = found["operation_id"].as_str().unwrap_or_default();
    Ok(app
        .get(&format!("/v1/operations/{id}"), key)
        .await?
        .expect(StatusCode::OK)
        .clone())
}

async fn report(
    app: &TestApp,
    access: &str,
    generation: i64,
    clusters: Value,
) -> anyhow::Result<()> {
    app.send(
        Method::POST,
        "/v1/agent/status",
        Some(access),
        Some(json!({"observed_generation": generation, "clusters": clusters})),
        &[],
    )
    .await?
    .expect(StatusCode::OK);
    Ok(())
}

async fn latest_generation(app: &TestApp, key: &str, environment_id: &str) -> anyhow::Result<i64> {
    let intents = app
        .get(&format!("/v1/environments/{environment_id}/intents"), key)
        .await?;
    Ok(intents.expect(StatusCode::OK)[0]["generation"]
        .as_i64()
        .unwrap_or_default())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn cluster_creation_and_deletion_complete_when_the_agent_reports_them(
    pool: PgPool,
) -> anyhow::Result<()> {
    let app = TestApp::new(pool).await?;
    let acme = populate(&app, "acme").await?;
    let (_, access) = connect_agent(&app, &acme.registration_token).await?;
    let (key, cluster) = (&acme.key, acme.cluster_id.as_str());
    let timeout = Duration::from_secs(600);

    let created = operation(&app, key, "cluster.create", cluster).await?;
    assert_eq!(created["state"], "queued");
    check_all(&app, timeout).await?;
    report(
        &app,
        &access,
        1,
        json!([{"cluster_id": cluster, "phase": "provisioning"}]),
    )
    .await?;
    check_all(&app, timeout).await?;
    assert_eq!(
        operation(&app, key, "cluster.create", cluster).await?["state"],
        "queued",
        "not done before the cluster is ready"
    );
    report(
        &app,
        &access,
        1,
        json!([{"cluster_id": cluster, "phase": "ready", "version": "0.1.0"}]),
    )
    .await?;
    // Done at the report: a deletion before the operation's next check
    // (the loop benchmark deletes within a second of ready) cannot fail it.
    assert_eq!(
        operation(&app, key, "cluster.create", cluster).await?["state"],
        "succeeded"
    );
    check_all(&app, timeout).await?;
    assert_eq!(
        operation(&app, key, "cluster.create", cluster).await?["state"],
        "succeeded"
    );

    app.delete(&format!("/v1/clusters/{cluster}"), key)
        .await?
        .expect(StatusCode::NO_CONTENT);
    let generation = latest_generation(&app, key, &acme.environment_id).await?;
    check_all(&app, timeout).await?;
    report(&app, &access, generation - 1, json!([])).await?;
    check_all(&app, timeout).await?;
    assert_eq!(
        operation(&app, key, "cluster.delete", cluster).await?["state"],
        "queued",
        "not done before the agent applied the intent without the cluster"
    );
    report(&app, &access, generation, json!([])).await?;
    check_all(&app, timeout).await?;
    let deleted = operation(&app, key, "cluster.delete", cluster).await?;
    assert_eq!(deleted["state"], "succeeded", "{deleted}");
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn a_cluster_operation_fails_with_the_reason_on_a_reported_failure_or_a_timeout(
    pool: PgPool,
) -> anyhow::Result<()> {
    let app = TestApp::new(pool).await?;
    let acme = populate(&app, "acme").await?;
    let (_, access) = connect_agent(&app, &acme.registration_token).await?;
    let key = &acme.key;
    let second = app
        .post(
            "/v1/clusters",
            key,
            json!({"environment_id": acme.environment_id, "name": "second",
                   "version": "0.1.0", "broker_count": 1, "storage_gib": 1}),
        )
        .await?;
    let second = second.expect(StatusCode::CREATED)["cluster_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    report(
        &app,
        &access,
        1,
        json!([{"cluster_id": acme.cluster_id, "phase": "failed",
        "conditions": [{"type": "Ready", "status": "False", "reason": "QuotaExceeded",
                        "message": "no capacity for 3 brokers"}]}]),
    )
    .await?;
    check_all(&app, Duration::from_secs(600)).await?;
    let failed = operation(&app, key, "cluster.create", &acme.cluster_id).await?;
    assert_eq!(failed["state"], "failed");
    let error = failed["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("reported the cluster failed") && error.contains("QuotaExceeded"),
        "{error}"
    );
    assert_eq!(failed["attempts"], 1, "a reported failure is not retried");
    assert_eq!(
        operation(&app, key, "cluster.create", &second).await?["state"],
        "queued"
    );

    check_all(&app, Duration::ZERO).await?;
    let timed_out = operation(&app, key, "cluster.create", &second).await?;
    assert_eq!(timed_out["state"], "failed");
    assert_eq!(
        timed_out["last_error"],
        "timed out after 0s: the agent has not reported the cluster yet"
    );
    Ok(())
}
