//! Rollouts driven by jobs: waves in order, at most N in flight, halt on a
//! failed cluster, pause and resume; and the job table's claim semantics.

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::{TestApp, connect_agent, populate};
use fjord_control_plane::AppState;
use fjord_store::job::Outcome;
use serde_json::{Value, json};
use sqlx::PgPool;

/// Runs every due job once, with rollouts re-evaluated at once.
async fn tick(state: &AppState) -> anyhow::Result<()> {
    let mut state = state.clone();
    state.jobs.rollout_tick = Duration::ZERO;
    common::park_cluster_operations(&state.pool).await?;
    // each rollout has one job; a tick runs it once
    fjord_control_plane::jobs::run_once(&state).await?;
    Ok(())
}

async fn report(app: &TestApp, access: &str, clusters: Value) -> anyhow::Result<()> {
    let body = json!({"observed_generation": 1, "clusters": clusters});
    app.send(
        Method::POST,
        "/v1/agent/status",
        Some(access),
        Some(body),
        &[],
    )
    .await?
    .expect(StatusCode::OK);
    Ok(())
}

fn states(rollout: &Value) -> Vec<(String, String)> {
    rollout["clusters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["cluster_id"].as_str().unwrap_or_default().to_owned(),
                c["state"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn state_of(rollout: &Value, cluster: &str) -> String {
    states(rollout)
        .into_iter()
        .find(|(id, _)| id == cluster)
        .map(|(_, s)| s)
        .unwrap_or_default()
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn a_rollout_moves_wave_by_wave_halts_on_failure_and_resumes(
    pool: PgPool,
) -> anyhow::Result<()> {
    let app = TestApp::new(pool).await?;
    let acme = populate(&app, "acme").await?;
    let (_, access) = connect_agent(&app, &acme.registration_token).await?;
    let mut ids = vec![acme.cluster_id.clone()];
    for name in ["b", "c", "d"] {
        let created = app
            .post("/v1/clusters", &acme.key, json!({"environment_id": acme.environment_id, "name": name, "version": "0.1.0", "broker_count": 1, "storage_gib": 1}))
            .await?;
        ids.push(
            created.expect(StatusCode::CREATED)["cluster_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    let (canary, b, c, d) = (&ids[0], &ids[1], &ids[2], &ids[3]);
    let created = app
        .post(
            "/v1/rollouts",
            &acme.key,
            json!({"target_version": "0.2.0", "waves": [[canary], [b, c, d]], "max_in_flight": 2}),
        )
        .await?;
    let rollout = created.expect(StatusCode::CREATED).clone();
    assert_eq!(rollout["state"], "running");
    let path = format!(
        "/v1/rollouts/{}",
        rollout["rollout_id"].as_str().unwrap_or_default()
    );
    let operation = format!(
        "/v1/operations/{}",
        rollout["operation_id"].as_str().unwrap_or_default()
    );
    let version = |id: String| {
        let app = app.clone();
        let key = acme.key.clone();
        async move {
            anyhow::Ok(app.get(&format!("/v1/clusters/{id}"), &key).await?.body["version"].clone())
        }
    };

    tick(&app.state).await?;
    let now = app.get(&path, &acme.key).await?.body;
    assert_eq!(state_of(&now, canary), "in-progress");
    assert_eq!(
        version(canary.clone()).await?,
        "0.2.0",
        "the canary's desired version moved"
    );
    assert_eq!(version(b.clone()).await?, "0.1.0", "the next wave waits");

    tick(&app.state).await?;
    assert_eq!(
        state_of(&app.get(&path, &acme.key).await?.body, b),
        "pending",
        "nothing starts before the canary is ready"
    );

    report(
        &app,
        &access,
        json!([{"cluster_id": canary, "phase": "ready", "version": "0.2.0"}]),
    )
    .await?;
    tick(&app.state).await?;
    let now = app.get(&path, &acme.key).await?.body;
    assert_eq!(state_of(&now, canary), "succeeded");
    let in_flight = [b, c, d]
        .iter()
        .filter(|id| state_of(&now, id) == "in-progress")
        .count();
    assert_eq!(in_flight, 2, "at most max_in_flight: {now}");
    assert_eq!(state_of(&now, d), "pending");

    report(
        &app,
        &access,
        json!([
            {"cluster_id": b, "phase": "failed", "version": "0.1.0"},
            {"cluster_id": c, "phase": "ready", "version": "0.2.0"},
        ]),
    )
    .await?;
    tick(&app.state).await?;
    let halted = app.get(&path, &acme.key).await?;
    let now = halted.body.clone();
    assert_eq!(now["state"], "halted");
    assert!(
        now["halted_reason"]
            .as_str()
            .is_some_and(|r| r.contains(b.as_str())),
        "{now}"
    );
    assert_eq!(
        state_of(&now, d),
        "pending",
        "a halted rollout starts nothing"
    );
    assert_eq!(
        app.get(&operation, &acme.key).await?.body["state"],
        "succeeded",
        "the driver stopped"
    );
    tick(&app.state).await?;
    assert_eq!(version(d.clone()).await?, "0.1.0");

    // The vendor fixes the cluster and resumes; the failed one is retried.
    let resumed = app
        .send(
            Method::POST,
            &format!("{path}/resume"),
            Some(&acme.key),
            None,
            &[("if-match", &halted.etag())],
        )
        .await?;
    let resumed_body = resumed.expect(StatusCode::OK).clone();
    assert_eq!(resumed_body["state"], "running");
    assert_ne!(
        resumed_body["operation_id"], rollout["operation_id"],
        "a new operation drives it"
    );
    report(
        &app,
        &access,
        json!([{"cluster_id": b, "phase": "upgrading", "version": "0.1.0"}]),
    )
    .await?;
    tick(&app.state).await?;
    let now = app.get(&path, &acme.key).await?.body;
    assert_eq!(state_of(&now, b), "in-progress");
    assert_eq!(state_of(&now, d), "in-progress");

    report(
        &app,
        &access,
        json!([
            {"cluster_id": b, "phase": "ready", "version": "0.2.0"},
            {"cluster_id": d, "phase": "ready", "version": "0.2.0"},
        ]),
    )
    .await?;
    tick(&app.state).await?;
    let done = app.get(&path, &acme.key).await?.body;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert!(states(&done).iter().all(|(_, s)| s == "succeeded"));

    let log = app
        .get(
            &format!(
                "/v1/audit-records?actor=rollout:{}&action=cluster.update",
                rollout["rollout_id"].as_str().unwrap_or_default()
            ),
            &acme.key,
        )
        .await?;
    assert_eq!(
        log.body["items"].as_array().map(Vec::len),
        Some(5),
        "canary, b, c, then b again and d"
    );
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn a_paused_rollout_starts_nothing_until_resumed(pool: PgPool) -> anyhow::Result<()> {
    let app = TestApp::new(pool).await?;
    let acme = populate(&app, "acme").await?;
    let created = app
        .post(
            "/v1/rollouts",
            &acme.key,
            json!({"target_version": "0.2.0", "waves": [[acme.cluster_id]], "max_in_flight": 1}),
        )
        .await?;
    let path = format!(
        "/v1/rollouts/{}",
        created.expect(StatusCode::CREATED)["rollout_id"]
            .as_str()
            .unwrap_or_default()
    );
    app.post(&format!("{path}/pause"), &acme.key, json!(null))
        .await?
        .expect(StatusCode::OK);
    app.post(&format!("{path}/pause"), &acme.key, json!(null))
        .await?
        .expect_problem(StatusCode::CONFLICT, "conflict");
    tick(&app.state).await?;
    let cluster = app
        .get(&format!("/v1/clusters/{}", acme.cluster_id), &acme.key)
        .await?;
    assert_eq!(cluster.body["version"], "0.1.0");
    app.post(&format!("{path}/resume"), &acme.key, json!(null))
        .await?
        .expect(StatusCode::OK);
    tick(&app.state).await?;
    let cluster = app
        .get(&format!("/v1/clusters/{}", acme.cluster_id), &acme.key)
        .await?;
    assert_eq!(cluster.body["version"], "0.2.0");

    let bad = app
        .post("/v1/rollouts", &acme.key, json!({"target_version": "0.2.0", "waves": [[acme.cluster_id], [acme.cluster_id]], "max_in_flight": 1}))
        .await?;
    bad.expect_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid-body");
    let empty = app
        .post(
            "/v1/rollouts",
            &acme.key,
            json!({"target_version": "0.2.0", "waves": [], "max_in_flight": 1}),
        )
        .await?;
    empty.expect_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid-body");
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn jobs_run_once_at_a_time_retry_with_backoff_and_resume_after_a_crash(
    pool: PgPool,
) -> anyhow::Result<()> {
    let app = TestApp::new(pool.clone()).await?;
    app.organization("acme").await?;
    let organization_id: uuid::Uuid =
        sqlx::query_scalar("select organization_id from organization")
            .fetch_one(&pool)
            .await?;
    let job = fjord_store::job::enqueue(&pool, organization_id, "test.noop", json!({})).await?;
    let lease = Duration::from_secs(60);

    let (first, second) = tokio::join!(
        fjord_store::job::claim(&pool, lease),
        fjord_store::job::claim(&pool, lease)
    );
    let claims: Vec<_> = [first?, second?].into_iter().flatten().collect();
    assert_eq!(claims.len(), 1, "one claimer wins");
    assert!(
        fjord_store::job::claim(&pool, lease).await?.is_none(),
        "a leased job is not claimed again"
    );

    // The worker dies: its lease runs out and another worker takes over.
    sqlx::query("update job set locked_until = now() - interval '1 second'")
        .execute(&pool)
        .await?;
    let reclaimed = fjord_store::job::claim(&pool, lease)
        .await?
        .ok_or_else(|| anyhow::anyhow!("not reclaimed"))?;
    assert_eq!(reclaimed.job_id, job.job_id);
    assert_eq!(reclaimed.attempts, 2);
    assert!(
        !fjord_store::job::finish(&pool, &claims[0], &Outcome::Succeeded).await?,
        "the dead worker's result is fenced off"
    );

    assert!(fjord_store::job::finish(&pool, &reclaimed, &Outcome::Failed("boom".into())).await?);
    let row = fjord_store::job::get(&pool, organization_id, job.job_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("gone"))?;
    assert_eq!(row.state, "queued");
    assert_eq!(row.last_error.as_deref(), Some("boom"));
    assert!(
        row.run_after > chrono::Utc::now() + chrono::Duration::seconds(2),
        "backs off 2^attempts seconds"
    );
    assert!(
        fjord_store::job::claim(&pool, lease).await?.is_none(),
        "not before its backoff"
    );

    sqlx::query("update job set run_after = now(), attempts = max_attempts - 1")
        .execute(&pool)
        .await?;
    let last = fjord_store::job::claim(&pool, lease)
        .await?
        .ok_or_else(|| anyhow::anyhow!("not claimed"))?;
    fjord_store::job::finish(&pool, &last, &Outcome::Failed("still broken".into())).await?;
    let row = fjord_store::job::get(&pool, organization_id, job.job_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("gone"))?;
    assert_eq!(row.state, "failed", "out of attempts");

    // An unknown kind fails through the runner rather than crashing it.
    fjord_store::job::enqueue(&pool, organization_id, "test.unknown", json!({})).await?;
    assert!(fjord_control_plane::jobs::run_once(&app.state).await?);
    let operations = app
        .get("/v1/operations", &app.organization("globex").await?)
        .await?;
    assert_eq!(
        operations.body["items"],
        json!([]),
        "operations are per organization"
    );
    Ok(())
}
