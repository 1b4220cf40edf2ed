//! Bad requests come back as problem+json that say what is wrong, and
//! nothing is half-written.

mod common;

use axum::http::{Method, StatusCode};
use common::{TestApp, populate};
use serde_json::{Value, json};
use sqlx::PgPool;

type TestResult = anyhow::Result<()>;

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn bad_requests_are_problems_that_say_what_is_wrong(pool: PgPool) -> TestResult {
    let app = TestApp::new(pool).await?;
    let acme = populate(&app, "acme").await?;
    let cluster = |changes: Value| {
        let mut body = json!({"environment_id": acme.environment_id, "name": "c2", "version": "0.1.0",
                              "broker_count": 3, "storage_gib": 10});
        if let (Some(body), Some(changes)) = (body.as_object_mut(), changes.as_object()) {
            body.extend(changes.clone());
        }
        body
    };
    let cases: Vec<(Value, StatusCode, &str, &str)> = vec![
        (
            cluster(json!({"colour": "red"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "unknown field",
        ),
        (
            cluster(json!({"broker_count": "three"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "broker_count",
        ),
        (
            cluster(json!({"broker_count": 0})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "broker_count must be between 1 and 64",
        ),
        (
            cluster(json!({"storage_gib": 1_000_000})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "storage_gib",
        ),
        (
            cluster(json!({"name": "Orders_1"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "DNS-1123",
        ),
        (
            cluster(json!({"name": "a".repeat(64)})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "1 to 63 characters",
        ),
        (
            cluster(json!({"version": "9.9.9"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "release catalog",
        ),
        (
            cluster(json!({"environment_id": "0190a000-0000-7000-8000-000000000000"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "environment_id",
        ),
        (
            cluster(json!({"name": "orders"})),
            StatusCode::CONFLICT,
            "conflict",
            "already exists",
        ),
    ];
    for (body, status, kind, message) in cases {
        let response = app.post("/v1/clusters", &acme.key, body.clone()).await?;
        let problem = response.expect_problem(status, kind);
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains(message),
            "{body}: detail {detail:?} should mention {message:?}"
        );
    }
    let clusters = app.get("/v1/clusters", &acme.key).await?;
    assert_eq!(
        clusters.body["items"].as_array().map(Vec::len),
        Some(1),
        "nothing was half-written"
    );

    let syntax = app
        .send(
            Method::POST,
            "/v1/clusters",
            Some(&acme.key),
            None,
            &[("content-type", "application/json")],
        )
        .await?;
    syntax.expect_problem(StatusCode::BAD_REQUEST, "bad-request");
    let no_type = app
        .send(Method::POST, "/v1/clusters", Some(&acme.key), None, &[])
        .await?;
    no_type.expect_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type");
    app.get("/v1/clusters/not-a-uuid", &acme.key)
        .await?
        .expect_problem(StatusCode::BAD_REQUEST, "bad-request");
    app.get("/v1/clusters?cursor=garbage", &acme.key)
        .await?
        .expect_problem(StatusCode::BAD_REQUEST, "bad-request");
    app.get("/v1/clusters?limit=0", &acme.key)
        .await?
        .expect_problem(StatusCode::BAD_REQUEST, "bad-request");
    // An unknown method is 405 even with an Idempotency-Key used before.
    let token_path = format!(
        "/v1/environments/{}/registration-token",
        acme.environment_id
    );
    app.send(
        Method::POST,
        &token_path,
        Some(&acme.key),
        None,
        &[("idempotency-key", "k")],
    )
    .await?
    .expect(StatusCode::CREATED);
    let put = app
        .send(
            Method::PUT,
            &token_path,
            Some(&acme.key),
            None,
            &[("idempotency-key", "k")],
        )
        .await?;
    assert_eq!(put.status, StatusCode::METHOD_NOT_ALLOWED, "{}", put.body);
    app.get("/v1/nothing-here", &acme.key)
        .await?
        .expect_problem(StatusCode::NOT_FOUND, "not-found");
    let topic = app
        .post("/v1/topics", &acme.key, json!({"cluster_id": acme.cluster_id, "name": "t", "partitions": 1, "replication_factor": 4}))
        .await?;
    topic.expect_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid-body");
    let role = app
        .post("/v1/cloud-accounts", &acme.key, json!({"name": "x", "aws_account_id": "123456789012", "role_arn": "arn:aws:iam::999999999999:role/x"}))
        .await?;
    role.expect_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid-body");
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn text_postgres_cannot_store_is_a_client_error_not_a_server_error(
    pool: PgPool,
) -> TestResult {
    let app = TestApp::new(pool).await?;
    let acme = populate(&app, "acme").await?;
    app.get("/v1/audit-records?actor=a%00b", &acme.key)
        .await?
        .expect_problem(StatusCode::BAD_REQUEST, "bad-request");
    app.get("/v1/releases?channel=%00", &acme.key)
        .await?
        .expect_problem(StatusCode::BAD_REQUEST, "bad-request");
    let stable = app.get("/v1/releases?channel=stable", &acme.key).await?;
    assert_eq!(stable.expect(StatusCode::OK)[0]["version"], "0.1.0");
    let name = app
        .post(
            "/v1/api-keys",
            &acme.key,
            json!({"name": "nul\u{0}", "scope": "admin"}),
        )
        .await?;
    name.expect_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid-body");
    let version = app
        .patch(
            &format!("/v1/clusters/{}", acme.cluster_id),
            &acme.key,
            json!({"version": "0.\u{0}.1"}),
        )
        .await?;
    version.expect_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid-body");
    let rollout = app
        .post(
            "/v1/rollouts",
            &acme.key,
            json!({"target_version": "\u{0}", "waves": [[acme.cluster_id]], "max_in_flight": 1}),
        )
        .await?;
    rollout.expect_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid-body");
    let config = app
        .patch(
            &format!("/v1/topics/{}", acme.topic_id),
            &acme.key,
            json!({"config": {"cleanup.policy": "\u{0}"}}),
        )
        .await?;
    config.expect_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid-body");
    Ok(())
}
