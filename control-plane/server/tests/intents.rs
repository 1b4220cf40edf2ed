//! Intents: one signed document per generation of an environment's
//! desired state, with a content hash, kept as history.

mod common;

use axum::http::{Method, StatusCode};
use common::{TestApp, populate, verify_intent};
use fjord_api::{Intent, ObjectHashes, SigningKey};
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn every_change_publishes_a_signed_generation_and_history_is_kept(
    pool: PgPool,
) -> anyhow::Result<()> {
    let app = TestApp::new(pool).await?;
    let acme = populate(&app, "acme").await?;
    let history_path = format!("/v1/environments/{}/intents", acme.environment_id);
    let key: SigningKey = serde_json::from_value(
        app.send(Method::GET, "/v1/signing-key", None, None, &[])
            .await?
            .body,
    )?;
    assert_eq!(key.algorithm, "ed25519");

    let history: Vec<Intent> =
        serde_json::from_value(app.get(&history_path, &acme.key).await?.body)?;
    let generations: Vec<i64> = history.iter().map(|i| i.generation).collect();
    assert_eq!(
        generations,
        [2, 1],
        "cluster created (1), then topic created (2); newest first"
    );
    for intent in &history {
        let document = verify_intent(&key, intent)?;
        assert_eq!(
            document, intent.document,
            "the parsed document is the signed one"
        );
        assert_eq!(document.generation, intent.generation);
        assert_eq!(document.format, "fjord.intent/v2");
        assert_eq!(
            ObjectHashes::of(&document.clusters).root_hex(),
            intent.content_hash
        );
        assert_eq!(intent.key_id, key.key_id);
    }
    let latest = &history[0].document;
    assert_eq!(latest.clusters.len(), 1);
    assert_eq!(latest.clusters[0].broker_count, 3);
    assert_eq!(latest.clusters[0].topics[0].name, "payments");
    assert_eq!(
        latest.clusters[0].topics[0]
            .config
            .get("retention.ms")
            .map(String::as_str),
        Some("86400000")
    );
    assert!(history[1].document.clusters[0].topics.is_empty());

    let mut tampered = history[0].clone();
    tampered.document.clusters[0].broker_count = 1;
    assert!(
        verify_intent(&key, &tampered).is_err(),
        "a changed document fails verification"
    );

    // The same desired state again is not a new generation.
    let cluster_path = format!("/v1/clusters/{}", acme.cluster_id);
    app.patch(&cluster_path, &acme.key, json!({"broker_count": 3}))
        .await?
        .expect(StatusCode::OK);
    // A refused change publishes nothing.
    app.send(
        Method::PATCH,
        &cluster_path,
        Some(&acme.key),
        Some(json!({"broker_count": 9})),
        &[("if-match", "\"99\"")],
    )
    .await?
    .expect_problem(StatusCode::PRECONDITION_FAILED, "precondition-failed");
    let environment = app
        .get(
            &format!("/v1/environments/{}", acme.environment_id),
            &acme.key,
        )
        .await?;
    assert_eq!(environment.body["generation"], 2);

    app.patch(&cluster_path, &acme.key, json!({"broker_count": 5}))
        .await?
        .expect(StatusCode::OK);
    let third: Intent =
        serde_json::from_value(app.get(&format!("{history_path}/3"), &acme.key).await?.body)?;
    assert_eq!(verify_intent(&key, &third)?.clusters[0].broker_count, 5);
    assert_ne!(third.content_hash, history[0].content_hash);
    app.get(&format!("{history_path}/4"), &acme.key)
        .await?
        .expect_problem(StatusCode::NOT_FOUND, "not-found");
    let older: Vec<Intent> = serde_json::from_value(
        app.get(&format!("{history_path}?before=3&limit=1"), &acme.key)
            .await?
            .body,
    )?;
    assert_eq!(older.iter().map(|i| i.generation).collect::<Vec<_>>(), [2]);

    app.delete(&format!("/v1/topics/{}", acme.topic_id), &acme.key)
        .await?
        .expect(StatusCode::NO_CONTENT);
    let fourth: Intent =
        serde_json::from_value(app.get(&format!("{history_path}/4"), &acme.key).await?.body)?;
    assert!(verify_intent(&key, &fourth)?.clusters[0].topics.is_empty());
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn concurrent_changes_in_one_environment_get_consecutive_generations(
    pool: PgPool,
) -> anyhow::Result<()> {
    let app = TestApp::new(pool).await?;
    let acme = populate(&app, "acme").await?;
    let mut creates = Vec::new();
    for index in 0..12 {
        let app = app.clone();
        let key = acme.key.clone();
        let environment_id = acme.environment_id.clone();
        creates.push(tokio::spawn(async move {
            let body = json!({"environment_id": environment_id, "name": format!("c{index}"), "version": "0.1.0", "broker_count": 1, "storage_gib": 1});
            app.post("/v1/clusters", &key, body).await
        }));
    }
    for create in creates {
        create.await??.expect(StatusCode::CREATED);
    }
    let history: Vec<Intent> = serde_json::from_value(
        app.get(
            &format!("/v1/environments/{}/intents?limit=100", acme.environment_id),
            &acme.key,
        )
        .await?
        .body,
    )?;
    let generations: Vec<i64> = history.iter().map(|i| i.generation).collect();
    assert_eq!(
        generations,
        (1..=14).rev().collect::<Vec<_>>(),
        "gap-free, one per change"
    );
    assert_eq!(
        history[0].document.clusters.len(),
        13,
        "the latest holds every cluster"
    );
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn a_large_intent_is_stored_and_read_back_exactly_as_signed(
    pool: PgPool,
) -> anyhow::Result<()> {
    // Large payloads are written to Postgres in parts (see
    // fjord_store::intent::insert); multi-byte text must survive the cuts.
    let app = TestApp::new(pool).await?;
    let acme = populate(&app, "acme").await?;
    let key: SigningKey = serde_json::from_value(
        app.send(Method::GET, "/v1/signing-key", None, None, &[])
            .await?
            .body,
    )?;
    // 9-byte groups of 2-, 3- and 4-byte characters: 990 bytes a value.
    let value = "ø€😀".repeat(110);
    let config: serde_json::Map<String, serde_json::Value> = (0..5)
        .map(|index| (format!("note.{index}"), json!(value)))
        .collect();
    for index in 0..24 {
        app.post("/v1/topics", &acme.key, json!({"cluster_id": acme.cluster_id, "name": format!("large-{index}"), "partitions": 1, "replication_factor": 1, "config": config}))
            .await?
            .expect(StatusCode::CREATED);
    }
    let history: Vec<Intent> = serde_json::from_value(
        app.get(
            &format!("/v1/environments/{}/intents?limit=1", acme.environment_id),
            &acme.key,
        )
        .await?
        .body,
    )?;
    let latest = &history[0];
    assert!(
        serde_json::to_vec(&latest.document)?.len() > 100 * 1024,
        "the payload spans several parts"
    );
    let document = verify_intent(&key, latest)?;
    assert_eq!(document, latest.document);
    assert_eq!(
        ObjectHashes::of(&document.clusters).root_hex(),
        latest.content_hash
    );
    let large: Vec<_> = document.clusters[0]
        .topics
        .iter()
        .filter(|topic| topic.name.starts_with("large-"))
        .collect();
    assert_eq!(large.len(), 24);
    assert!(large.iter().all(|topic| topic.config["note.3"] == value));
    Ok(())
}
