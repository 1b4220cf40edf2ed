//! A rollout whose driving job fails for good is halted with the reason,
//! visible in the API and the audit log, and resumes once the cause is
//! fixed.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::{TestApp, populate};
use serde_json::json;
use sqlx::PgPool;

/// Runs the due job once, with rollouts re-evaluated at once.
async fn tick(app: &TestApp) -> anyhow::Result<bool> {
    let mut state = app.state.clone();
    state.jobs.rollout_tick = Duration::ZERO;
    common::park_cluster_operations(&app.pool).await?;
    fjord_control_plane::jobs::run_once(&state).await
}

/// Makes every intent insert fail, as a database fault would.
async fn break_intents(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::raw_sql(
        "create function refuse_intent() returns trigger language plpgsql as
             $$ begin raise exception 'injected: intent storage unavailable'; end $$;
         create trigger refuse_intent before insert on intent
             for each row execute function refuse_intent();",
    )
    .execute(pool)
    .await?;
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn a_rollout_whose_job_fails_for_good_is_halted_with_the_reason_and_resumes_after_a_fix(
    pool: PgPool,
) -> anyhow::Result<()> {
    let app = TestApp::new(pool.clone()).await?;
    let acme = populate(&app, "acme").await?;
    let created = app
        .post(
            "/v1/rollouts",
            &acme.key,
            json!({"target_version": "0.2.0", "waves": [[acme.cluster_id]], "max_in_flight": 1}),
        )
        .await?;
    let rollout = created.expect(StatusCode::CREATED).clone();
    let rollout_id = rollout["rollout_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let operation_id = rollout["operation_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    break_intents(&pool).await?;
    sqlx::query("update job set max_attempts = 2 where job_id = $1::uuid")
        .bind(&operation_id)
        .execute(&pool)
        .await?;

    assert!(tick(&app).await?, "the first attempt runs");
    let path = format!("/v1/rollouts/{rollout_id}");
    assert_eq!(
        app.get(&path, &acme.key).await?.body["state"],
        "running",
        "one failed attempt is retried, not a halt"
    );
    assert!(!tick(&app).await?, "the retry waits for its backoff");
    sqlx::query("update job set run_after = now() where job_id = $1::uuid")
        .bind(&operation_id)
        .execute(&pool)
        .await?;
    assert!(tick(&app).await?, "the last attempt runs");

    let halted = app.get(&path, &acme.key).await?;
    let halted = halted.expect(StatusCode::OK);
    assert_eq!(halted["state"], "halted");
    let reason = halted["halted_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("failed after 2 attempts")
            && reason.contains("injected: intent storage unavailable"),
        "the reason names the attempts and the cause: {reason}"
    );
    let operation = app
        .get(&format!("/v1/operations/{operation_id}"), &acme.key)
        .await?;
    let operation = operation.expect(StatusCode::OK);
    assert_eq!(operation["state"], "failed");
    assert_eq!(operation["attempts"], 2);
    let audit = app
        .get(
            &format!("/v1/audit-records?action=rollout.halt&object_id={rollout_id}"),
            &acme.key,
        )
        .await?;
    let records = audit.expect(StatusCode::OK)["items"].clone();
    assert_eq!(records.as_array().map(Vec::len), Some(1), "{records}");
    assert_eq!(records[0]["actor"], format!("rollout:{rollout_id}"));
    assert_eq!(records[0]["detail"]["reason"], reason);
    assert_eq!(
        app.get(&format!("/v1/clusters/{}", acme.cluster_id), &acme.key)
            .await?
            .body["version"],
        "0.1.0",
        "nothing changed while intents could not be stored"
    );

    sqlx::raw_sql("drop trigger refuse_intent on intent")
        .execute(&pool)
        .await?;
    let resumed = app
        .post(&format!("{path}/resume"), &acme.key, json!({}))
        .await?;
    let resumed = resumed.expect(StatusCode::OK).clone();
    assert_eq!(resumed["state"], "running");
    assert_eq!(resumed["halted_reason"], serde_json::Value::Null);
    assert_ne!(
        resumed["operation_id"], operation_id,
        "a new operation drives it"
    );
    assert!(tick(&app).await?);
    let now = app.get(&path, &acme.key).await?.body;
    assert_eq!(now["clusters"][0]["state"], "in-progress");
    assert_eq!(
        app.get(&format!("/v1/clusters/{}", acme.cluster_id), &acme.key)
            .await?
            .body["version"],
        "0.2.0",
        "after the fix the rollout starts the cluster"
    );
    Ok(())
}
