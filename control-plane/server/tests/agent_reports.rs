//! What agents report beyond contact: their decisions on intents (shown on
//! the environment, audited) and each cluster's status history (bounded).

mod common;

use axum::http::{Method, StatusCode};
use common::{TestApp, connect_agent, populate};
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn an_intent_decision_shows_on_the_environment_and_in_the_audit_log(
    pool: PgPool,
) -> anyhow::Result<()> {
    let app = TestApp::new(pool).await?;
    let acme = populate(&app, "acme").await?;
    let (_, access) = connect_agent(&app, &acme.registration_token).await?;
    let environment_path = format!("/v1/environments/{}", acme.environment_id);
    let before = app.get(&environment_path, &acme.key).await?;
    assert!(
        before.body["connection"]
            .get("last_intent_report")
            .is_none()
    );

    let refused = json!({"generation": 2, "outcome": "refused", "check": "version-not-allowed",
                         "message": "cluster orders version 0.2.0 is not in 0.1.*"});
    let sent = app
        .send(
            Method::POST,
            "/v1/agent/intent-reports",
            Some(&access),
            Some(refused),
            &[],
        )
        .await?;
    assert_eq!(sent.status, StatusCode::NO_CONTENT);
    let environment = app.get(&environment_path, &acme.key).await?;
    let report = &environment.expect(StatusCode::OK)["connection"]["last_intent_report"];
    assert_eq!(report["outcome"], "refused");
    assert_eq!(report["check"], "version-not-allowed");
    assert_eq!(report["generation"], 2);
    assert!(report["reported_at"].is_string());
    assert_eq!(
        environment.etag(),
        before.etag(),
        "a report is not a change of desired state"
    );

    let audit = app
        .get(
            "/v1/audit-records?action=environment.intent-refused",
            &acme.key,
        )
        .await?;
    let record = &audit.expect(StatusCode::OK)["items"][0];
    assert_eq!(record["actor"], format!("agent:{}", acme.environment_id));
    assert_eq!(record["detail"]["check"], "version-not-allowed");
    assert!(
        record["detail"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("0.2.0")
    );

    // Refused or waiting needs a check; the check is a name; API keys and
    // credentials are not agent tokens.
    for (body, problem) in [
        (
            json!({"generation": 2, "outcome": "waiting"}),
            "invalid-body",
        ),
        (
            json!({"generation": 2, "outcome": "refused", "check": "Not A Name"}),
            "invalid-body",
        ),
        (
            json!({"generation": -1, "outcome": "applied"}),
            "invalid-body",
        ),
        (
            json!({"generation": 1, "outcome": "exploded"}),
            "invalid-body",
        ),
    ] {
        app.send(
            Method::POST,
            "/v1/agent/intent-reports",
            Some(&access),
            Some(body),
            &[],
        )
        .await?
        .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, problem);
    }
    app.send(
        Method::POST,
        "/v1/agent/intent-reports",
        Some(&acme.key),
        Some(json!({"generation": 1, "outcome": "applied"})),
        &[],
    )
    .await?
    .expect_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn status_reports_keep_a_bounded_history_users_can_chart(pool: PgPool) -> anyhow::Result<()> {
    let app = TestApp::new(pool).await?;
    let acme = populate(&app, "acme").await?;
    let (_, access) = connect_agent(&app, &acme.registration_token).await?;
    let history_path = format!("/v1/clusters/{}/status-history", acme.cluster_id);
    let empty = app.get(&history_path, &acme.key).await?;
    assert_eq!(empty.expect(StatusCode::OK)["items"], json!([]));

    // A long history already there: the next report keeps the newest 1,000.
    sqlx::query(
        "insert into cluster_status_sample (organization_id, cluster_id, phase, brokers_ready)
         select organization_id, cluster_id, 'creating', 0
         from cluster, generate_series(1, 1005) where cluster_id = $1",
    )
    .bind(acme.cluster_id.parse::<uuid::Uuid>()?)
    .execute(&app.pool)
    .await?;
    for ready in [2, 3] {
        let report = json!({"observed_generation": 2, "clusters": [{
            "cluster_id": acme.cluster_id, "phase": "ready", "version": "0.1.0",
            "brokers_ready": ready, "metrics": {"partitions": 6.0}}]});
        app.send(
            Method::POST,
            "/v1/agent/status",
            Some(&access),
            Some(report),
            &[],
        )
        .await?
        .expect(StatusCode::OK);
    }
    let kept: i64 =
        sqlx::query_scalar("select count(*) from cluster_status_sample where cluster_id = $1")
            .bind(acme.cluster_id.parse::<uuid::Uuid>()?)
            .fetch_one(&app.pool)
            .await?;
    assert_eq!(kept, 1000);

    let history = app
        .get(&format!("{history_path}?limit=3"), &acme.key)
        .await?;
    let items = history.expect(StatusCode::OK)["items"].clone();
    assert_eq!(items.as_array().map(Vec::len), Some(3));
    assert_eq!(items[0]["brokers_ready"], 3, "newest first");
    assert_eq!(items[0]["version"], "0.1.0");
    assert_eq!(items[0]["metrics"]["partitions"], 6.0);
    assert_eq!(items[1]["brokers_ready"], 2);
    assert_eq!(items[2]["phase"], "creating");

    app.get(&format!("{history_path}?limit=0"), &acme.key)
        .await?
        .expect_problem(StatusCode::BAD_REQUEST, "bad-request");
    let other = app.organization("globex").await?;
    app.get(&history_path, &other)
        .await?
        .expect_problem(StatusCode::NOT_FOUND, "not-found");
    Ok(())
}
