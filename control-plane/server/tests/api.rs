//! The REST API through the router: resources, idempotency, ETags,
//! pagination, scopes, audit.

mod common;

use axum::http::{Method, StatusCode};
use common::{TestApp, populate};
use serde_json::json;
use sqlx::PgPool;

type TestResult = anyhow::Result<()>;

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn cluster_updates_need_the_current_etag_and_are_audited(pool: PgPool) -> TestResult {
    let app = TestApp::new(pool).await?;
    let acme = populate(&app, "acme").await?;
    let path = format!("/v1/clusters/{}", acme.cluster_id);

    let read = app.get(&path, &acme.key).await?;
    read.expect(StatusCode::OK);
    let etag = read.etag();
    assert_eq!(etag, "\"1\"");

    let stale = app
        .send(
            Method::PATCH,
            &path,
            Some(&acme.key),
            Some(json!({"broker_count": 5})),
            &[("if-match", "\"7\"")],
        )
        .await?;
    stale.expect_problem(StatusCode::PRECONDITION_FAILED, "precondition-failed");
    assert_eq!(
        app.get(&path, &acme.key).await?.body["broker_count"],
        3,
        "a failed update changes nothing"
    );

    let updated = app
        .send(
            Method::PATCH,
            &path,
            Some(&acme.key),
            Some(json!({"broker_count": 5, "version": "0.2.0"})),
            &[("if-match", &etag)],
        )
        .await?;
    let body = updated.expect(StatusCode::OK);
    assert_eq!(body["broker_count"], 5);
    assert_eq!(body["version"], "0.2.0");
    assert_eq!(updated.etag(), "\"2\"");

    let again = app
        .send(
            Method::PATCH,
            &path,
            Some(&acme.key),
            Some(json!({"broker_count": 4})),
            &[("if-match", &etag)],
        )
        .await?;
    again.expect_problem(StatusCode::PRECONDITION_FAILED, "precondition-failed");

    let audit = app
        .send(
            Method::GET,
            &format!("/v1/audit-records?object_id={}", acme.cluster_id),
            Some(&acme.key),
            None,
            &[("x-forwarded-for", "203.0.113.9")],
        )
        .await?;
    let records = audit.expect(StatusCode::OK)["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let actions: Vec<&str> = records
        .iter()
        .filter_map(|r| r["action"].as_str())
        .collect();
    assert_eq!(actions, ["cluster.create", "cluster.update"]);
    assert!(records.iter().all(|r| {
        r["actor"]
            .as_str()
            .is_some_and(|a| a.starts_with("api-key:"))
    }));
    assert_eq!(records[1]["detail"]["broker_count"], 5);
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn the_audit_log_records_where_a_change_came_from_and_filters(pool: PgPool) -> TestResult {
    let app = TestApp::new(pool).await?;
    let key = app.organization("acme").await?;
    app.send(
        Method::POST,
        "/v1/api-keys",
        Some(&key),
        Some(json!({"name": "robot", "scope": "admin"})),
        &[("x-forwarded-for", "203.0.113.9, 10.0.0.1")],
    )
    .await?
    .expect(StatusCode::CREATED);
    let log = app
        .get(
            "/v1/audit-records?action=api-key.create&object_type=api_key",
            &key,
        )
        .await?;
    let items = log.expect(StatusCode::OK)["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        items.len(),
        2,
        "the first key (admin-cli) and the new one: {items:?}"
    );
    assert_eq!(items[0]["actor"], "admin-cli");
    assert_eq!(items[1]["source"], "203.0.113.9");
    let none = app
        .get("/v1/audit-records?since=2999-01-01T00:00:00Z", &key)
        .await?;
    assert_eq!(none.expect(StatusCode::OK)["items"], json!([]));
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn an_idempotency_key_replays_the_first_response_and_refuses_another_body(
    pool: PgPool,
) -> TestResult {
    let app = TestApp::new(pool).await?;
    let acme = populate(&app, "acme").await?;
    let body = json!({"cluster_id": acme.cluster_id, "name": "events", "partitions": 3, "replication_factor": 3});
    let first = app
        .send(
            Method::POST,
            "/v1/topics",
            Some(&acme.key),
            Some(body.clone()),
            &[("idempotency-key", "k-1")],
        )
        .await?;
    first.expect(StatusCode::CREATED);
    let second = app
        .send(
            Method::POST,
            "/v1/topics",
            Some(&acme.key),
            Some(body.clone()),
            &[("idempotency-key", "k-1")],
        )
        .await?;
    assert_eq!(second.status, StatusCode::CREATED);
    assert_eq!(second.body, first.body, "the replay is the stored response");
    assert_eq!(second.etag(), first.etag());
    assert_eq!(
        second
            .headers
            .get("idempotent-replayed")
            .map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );

    let topics = app
        .get(
            &format!("/v1/topics?cluster_id={}", acme.cluster_id),
            &acme.key,
        )
        .await?;
    assert_eq!(
        topics.body["items"].as_array().map(Vec::len),
        Some(2),
        "payments and one events"
    );
    let audit = app
        .get("/v1/audit-records?action=topic.create", &acme.key)
        .await?;
    assert_eq!(
        audit.body["items"].as_array().map(Vec::len),
        Some(2),
        "one audit record per real change"
    );

    let mut other = body.clone();
    other["partitions"] = json!(9);
    // Stored responses expire (housekeeping); the key then runs anew.
    fjord_control_plane::jobs::housekeeping(&app.state).await?;
    let kept = app
        .send(
            Method::POST,
            "/v1/topics",
            Some(&acme.key),
            Some(body.clone()),
            &[("idempotency-key", "k-1")],
        )
        .await?;
    assert_eq!(
        kept.body, first.body,
        "a fresh response survives housekeeping"
    );
    let reused = app
        .send(
            Method::POST,
            "/v1/topics",
            Some(&acme.key),
            Some(other),
            &[("idempotency-key", "k-1")],
        )
        .await?;
    reused.expect_problem(StatusCode::UNPROCESSABLE_ENTITY, "idempotency-key-reused");

    // After the retention, housekeeping forgets the key.
    sqlx::query("update idempotency_record set created_at = now() - interval '2 days'")
        .execute(&app.pool)
        .await?;
    fjord_control_plane::jobs::housekeeping(&app.state).await?;
    let mut later = body.clone();
    later["name"] = json!("events-2");
    app.send(
        Method::POST,
        "/v1/topics",
        Some(&acme.key),
        Some(later),
        &[("idempotency-key", "k-1")],
    )
    .await?
    .expect(StatusCode::CREATED);

    // Keys are per organization: another tenant's identical key is independent.
    let globex = populate(&app, "globex").await?;
    let mut theirs = body.clone();
    theirs["cluster_id"] = json!(globex.cluster_id);
    let independent = app
        .send(
            Method::POST,
            "/v1/topics",
            Some(&globex.key),
            Some(theirs),
            &[("idempotency-key", "k-1")],
        )
        .await?;
    independent.expect(StatusCode::CREATED);
    assert_ne!(independent.body["topic_id"], first.body["topic_id"]);
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn read_only_and_revoked_keys_change_nothing(pool: PgPool) -> TestResult {
    let app = TestApp::new(pool).await?;
    let acme = populate(&app, "acme").await?;
    let created = app
        .post(
            "/v1/api-keys",
            &acme.key,
            json!({"name": "viewer", "scope": "read-only"}),
        )
        .await?;
    let viewer = created.expect(StatusCode::CREATED)["secret"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let viewer_id = created.body["api_key"]["api_key_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(viewer.starts_with("fjk_"));

    app.get("/v1/clusters", &viewer)
        .await?
        .expect(StatusCode::OK);
    let refused = app
        .post("/v1/topics", &viewer, json!({"cluster_id": acme.cluster_id, "name": "x", "partitions": 1, "replication_factor": 1}))
        .await?;
    refused.expect_problem(StatusCode::FORBIDDEN, "forbidden");
    app.delete(&format!("/v1/clusters/{}", acme.cluster_id), &viewer)
        .await?
        .expect_problem(StatusCode::FORBIDDEN, "forbidden");

    let listed = app
        .get(&format!("/v1/api-keys/{viewer_id}"), &acme.key)
        .await?;
    assert!(
        listed.body.get("secret").is_none(),
        "the secret is shown once"
    );
    let revoked = app
        .send(
            Method::POST,
            &format!("/v1/api-keys/{viewer_id}/revoke"),
            Some(&acme.key),
            None,
            &[],
        )
        .await?;
    assert!(revoked.expect(StatusCode::OK)["revoked_at"].is_string());
    let listed = app
        .get(&format!("/v1/api-keys/{viewer_id}"), &acme.key)
        .await?;
    assert!(
        listed.body["revoked_at"].is_string(),
        "a revoked key stays visible"
    );
    app.get("/v1/clusters", &viewer)
        .await?
        .expect_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    app.send(Method::GET, "/v1/clusters", None, None, &[])
        .await?
        .expect_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    app.get("/v1/clusters", "fjk_madeup")
        .await?
        .expect_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn lists_page_with_an_opaque_cursor(pool: PgPool) -> TestResult {
    let app = TestApp::new(pool).await?;
    let acme = populate(&app, "acme").await?;
    for index in 0..4 {
        app.post("/v1/topics", &acme.key, json!({"cluster_id": acme.cluster_id, "name": format!("t{index}"), "partitions": 1, "replication_factor": 1}))
            .await?
            .expect(StatusCode::CREATED);
    }
    let mut seen = Vec::new();
    let mut path = "/v1/topics?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let page = app.get(&path, &acme.key).await?;
        let body = page.expect(StatusCode::OK).clone();
        pages += 1;
        for item in body["items"].as_array().cloned().unwrap_or_default() {
            seen.push(item["name"].as_str().unwrap_or_default().to_owned());
        }
        match body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/topics?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        ["payments", "t0", "t1", "t2", "t3"],
        "creation order, no repeats"
    );
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn parents_in_use_cannot_be_deleted(pool: PgPool) -> TestResult {
    let app = TestApp::new(pool).await?;
    let acme = populate(&app, "acme").await?;
    app.delete(
        &format!("/v1/cloud-accounts/{}", acme.cloud_account_id),
        &acme.key,
    )
    .await?
    .expect_problem(StatusCode::CONFLICT, "conflict");
    app.delete(
        &format!("/v1/environments/{}", acme.environment_id),
        &acme.key,
    )
    .await?
    .expect_problem(StatusCode::CONFLICT, "conflict");
    app.delete(&format!("/v1/clusters/{}", acme.cluster_id), &acme.key)
        .await?
        .expect(StatusCode::NO_CONTENT);
    app.get(&format!("/v1/topics/{}", acme.topic_id), &acme.key)
        .await?
        .expect_problem(StatusCode::NOT_FOUND, "not-found");
    app.delete(
        &format!("/v1/environments/{}", acme.environment_id),
        &acme.key,
    )
    .await?
    .expect(StatusCode::NO_CONTENT);
    app.delete(
        &format!("/v1/cloud-accounts/{}", acme.cloud_account_id),
        &acme.key,
    )
    .await?
    .expect(StatusCode::NO_CONTENT);
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn concurrent_retries_with_one_idempotency_key_make_one_change(pool: PgPool) -> TestResult {
    let app = TestApp::new(pool).await?;
    let acme = populate(&app, "acme").await?;
    let body = json!({"cluster_id": acme.cluster_id, "name": "twins", "partitions": 1, "replication_factor": 1});
    let mut requests = Vec::new();
    for _ in 0..8 {
        let app = app.clone();
        let key = acme.key.clone();
        let body = body.clone();
        requests.push(tokio::spawn(async move {
            app.send(
                Method::POST,
                "/v1/topics",
                Some(&key),
                Some(body),
                &[("idempotency-key", "twin")],
            )
            .await
        }));
    }
    let mut bodies = Vec::new();
    for request in requests {
        let response = request.await??;
        bodies.push(response.expect(StatusCode::CREATED).clone());
    }
    assert!(
        bodies
            .iter()
            .all(|b| b["topic_id"] == bodies[0]["topic_id"]),
        "every caller sees the one topic"
    );
    let audit = app
        .get("/v1/audit-records?action=topic.create", &acme.key)
        .await?;
    assert_eq!(
        audit.body["items"].as_array().map(Vec::len),
        Some(2),
        "payments and one twins"
    );
    Ok(())
}
