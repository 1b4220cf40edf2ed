//! Delta intents: an agent holding generation G that asks with `delta=true`
//! gets the change to G+1, which rebuilds exactly the signed document and
//! verifies against its content hash and signature.

mod common;

use std::io::Read as _;

use axum::http::{HeaderMap, Method, StatusCode, header};
use common::{TestApp, connect_agent, populate, verify_delta};
use ed25519_dalek::VerifyingKey;
use fjord_api::{INTENT_DELTA_JSON, Intent, IntentChange, IntentDelta, SigningKey};
use serde_json::json;
use sqlx::PgPool;

fn media_type(headers: &HeaderMap) -> &str {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

async fn signing_key(app: &TestApp) -> anyhow::Result<VerifyingKey> {
    let key: SigningKey = serde_json::from_value(
        app.send(Method::GET, "/v1/signing-key", None, None, &[])
            .await?
            .body,
    )?;
    common::pinned(&key)
}

/// A poll that must answer at once; returns (status, media type, body).
async fn poll(
    app: &TestApp,
    access: &str,
    query: &str,
    gzip: bool,
) -> anyhow::Result<(StatusCode, String, Vec<u8>)> {
    let headers: &[(&str, &str)] = if gzip {
        &[("accept-encoding", "gzip")]
    } else {
        &[]
    };
    let (status, response_headers, body) = app
        .send_raw(
            Method::GET,
            &format!("/v1/agent/intents?wait_seconds=0&{query}"),
            Some(access),
            None,
            headers,
        )
        .await?;
    let mut plain = body.to_vec();
    if gzip && !body.is_empty() {
        plain.clear();
        flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut plain)?;
    }
    Ok((status, media_type(&response_headers).to_owned(), plain))
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn a_delta_from_the_previous_generation_rebuilds_the_signed_document(
    pool: PgPool,
) -> anyhow::Result<()> {
    let app = TestApp::new(pool).await?;
    let acme = populate(&app, "acme").await?;
    let (_, access) = connect_agent(&app, &acme.registration_token).await?;
    let key = signing_key(&app).await?;
    let (_, _, body) = poll(&app, &access, "after=0&delta=true", false).await?;
    let held: Intent = serde_json::from_slice(&body)?;
    assert_eq!(held.generation, 2, "no delta without a generation");

    app.patch(
        &format!("/v1/clusters/{}", acme.cluster_id),
        &acme.key,
        json!({"config": {"retention.ms": "1000"}}),
    )
    .await?
    .expect(StatusCode::OK);
    let (_, media, full) = poll(&app, &access, "after=2", false).await?;
    assert_eq!(media, "application/json", "no delta unless asked");
    let full: Intent = serde_json::from_slice(&full)?;
    assert_eq!(full.generation, 3);

    for gzip in [false, true] {
        let (status, media, body) = poll(&app, &access, "after=2&delta=true", gzip).await?;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(media, INTENT_DELTA_JSON);
        assert!(
            body.len() < serde_json::to_vec(&full)?.len(),
            "a delta is never larger than the intent"
        );
        let delta: IntentDelta = serde_json::from_slice(&body)?;
        assert_eq!((delta.from_generation, delta.generation), (2, 3));
        assert_eq!(delta.changes.len(), 1, "one cluster changed");
        let document = verify_delta(&key, &held.document, &delta)?;
        assert_eq!(document, full.document);
    }

    // A topic change is one topic put, and chains from the rebuilt document.
    app.patch(
        &format!("/v1/topics/{}", acme.topic_id),
        &acme.key,
        json!({"partitions": 12}),
    )
    .await?
    .expect(StatusCode::OK);
    let (_, media, body) = poll(&app, &access, "after=3&delta=true", true).await?;
    assert_eq!(media, INTENT_DELTA_JSON);
    let delta: IntentDelta = serde_json::from_slice(&body)?;
    assert!(matches!(
        &delta.changes[..],
        [IntentChange::PutTopic { topic, .. }] if topic.partitions == 12
    ));
    let document = verify_delta(&key, &full.document, &delta)?;
    assert_eq!(document.clusters[0].topics[0].partitions, 12);

    // A tampered delta does not verify.
    let mut tampered = delta.clone();
    if let Some(IntentChange::PutTopic { topic, .. }) = tampered.changes.first_mut() {
        topic.partitions = 13;
    }
    assert!(verify_delta(&key, &full.document, &tampered).is_err());
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn agents_behind_by_more_than_one_generation_get_the_full_document(
    pool: PgPool,
) -> anyhow::Result<()> {
    let app = TestApp::new(pool).await?;
    let acme = populate(&app, "acme").await?;
    let (_, access) = connect_agent(&app, &acme.registration_token).await?;
    for brokers in [4, 5] {
        app.patch(
            &format!("/v1/clusters/{}", acme.cluster_id),
            &acme.key,
            json!({"broker_count": brokers}),
        )
        .await?
        .expect(StatusCode::OK);
    }
    // Latest is 4; 2 is in the history, but a delta is only ever 3 → 4.
    for query in [
        "after=2&delta=true",
        "after=1&delta=true",
        "after=0&delta=true",
    ] {
        let (status, media, body) = poll(&app, &access, query, true).await?;
        assert_eq!(status, StatusCode::OK, "{query}");
        assert_eq!(media, "application/json", "{query}");
        let intent: Intent = serde_json::from_slice(&body)?;
        assert_eq!(intent.generation, 4);
    }
    let (_, media, _) = poll(&app, &access, "after=3&delta=true", true).await?;
    assert_eq!(media, INTENT_DELTA_JSON);
    let (status, _, body) = poll(&app, &access, "after=4&delta=true", true).await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(body.is_empty());
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn hostile_poll_parameters_are_problems_not_errors(pool: PgPool) -> anyhow::Result<()> {
    let app = TestApp::new(pool).await?;
    let acme = populate(&app, "acme").await?;
    let (_, access) = connect_agent(&app, &acme.registration_token).await?;
    for query in [
        "after=-1&delta=true",
        "after=abc&delta=true",
        "after=1&delta=maybe",
        "after=99999999999999999999&delta=true",
        "after=1&delta=true&delta=false",
    ] {
        let path = format!("/v1/agent/intents?wait_seconds=0&{query}");
        app.send(Method::GET, &path, Some(&access), None, &[])
            .await?
            .expect_problem(StatusCode::BAD_REQUEST, "bad-request");
    }
    let (status, _, _) = poll(&app, &access, "after=9223372036854775807&delta=true", true).await?;
    assert_eq!(status, StatusCode::NO_CONTENT, "nothing is newer");
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn deltas_stay_within_their_tenant(pool: PgPool) -> anyhow::Result<()> {
    let app = TestApp::new(pool).await?;
    let acme = populate(&app, "acme").await?;
    let globex = populate(&app, "globex").await?;
    let (_, acme_access) = connect_agent(&app, &acme.registration_token).await?;
    let (_, globex_access) = connect_agent(&app, &globex.registration_token).await?;
    for tenant in [&acme, &globex] {
        app.patch(
            &format!("/v1/clusters/{}", tenant.cluster_id),
            &tenant.key,
            json!({"storage_gib": 200}),
        )
        .await?
        .expect(StatusCode::OK);
    }
    for (tenant, access) in [(&acme, &acme_access), (&globex, &globex_access)] {
        let (_, media, body) = poll(&app, access, "after=2&delta=true", true).await?;
        assert_eq!(media, INTENT_DELTA_JSON);
        let delta: IntentDelta = serde_json::from_slice(&body)?;
        assert_eq!(delta.environment_id.to_string(), tenant.environment_id);
        assert!(matches!(
            &delta.changes[..],
            [IntentChange::PutCluster { cluster, .. }] if cluster.cluster_id.to_string() == tenant.cluster_id
        ));
    }
    // Another organization's history stays unreadable.
    app.get(
        &format!("/v1/environments/{}/intents/3", acme.environment_id),
        &globex.key,
    )
    .await?
    .expect_problem(StatusCode::NOT_FOUND, "not-found");
    Ok(())
}
