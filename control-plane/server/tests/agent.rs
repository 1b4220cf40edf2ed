//! The agent channel: registration, access tokens, long-poll across
//! replicas, status reports and the connection state users see.

mod common;

use std::io::Read as _;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, Method, StatusCode, header};
use common::{TestApp, connect_agent, populate};
use fjord_api::{Intent, IntentDocument, SigningKey};
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn a_registration_token_works_once_and_credentials_only_buy_access_tokens(
    pool: PgPool,
) -> anyhow::Result<()> {
    let app = TestApp::new(pool).await?;
    let acme = populate(&app, "acme").await?;
    let environment_path = format!("/v1/environments/{}", acme.environment_id);
    assert_eq!(
        app.get(&environment_path, &acme.key).await?.body["connection"]["state"],
        "pending"
    );

    let (credential, access) = connect_agent(&app, &acme.registration_token).await?;
    assert!(credential.starts_with("fja_") && access.starts_with("fjt_"));
    let again = app
        .send(
            Method::POST,
            "/v1/agent/register",
            None,
            Some(json!({"registration_token": acme.registration_token})),
            &[],
        )
        .await?;
    again.expect_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    let environment = app.get(&environment_path, &acme.key).await?;
    assert_eq!(environment.body["connection"]["state"], "connected");
    assert_eq!(environment.body["connection"]["agent_version"], "0.1.0");

    // The credential is not an access token, and expired tokens stop working.
    app.send(
        Method::GET,
        "/v1/agent/intents?wait_seconds=0",
        Some(&credential),
        None,
        &[],
    )
    .await?
    .expect_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    sqlx::query("update agent_access_token set expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await?;
    app.send(
        Method::GET,
        "/v1/agent/intents?wait_seconds=0",
        Some(&access),
        None,
        &[],
    )
    .await?
    .expect_problem(StatusCode::UNAUTHORIZED, "unauthenticated");

    // Reinstalling: a new token; registering with it replaces the credential.
    let reissued = app
        .post(
            &format!("{environment_path}/registration-token"),
            &acme.key,
            json!(null),
        )
        .await?;
    let token = reissued.expect(StatusCode::CREATED)["registration_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (new_credential, _) = connect_agent(&app, &token).await?;
    app.send(
        Method::POST,
        "/v1/agent/token",
        Some(&credential),
        None,
        &[],
    )
    .await?
    .expect_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    app.send(
        Method::POST,
        "/v1/agent/token",
        Some(&new_credential),
        None,
        &[],
    )
    .await?
    .expect(StatusCode::CREATED);
    let log = app
        .get(
            "/v1/audit-records?action=environment.agent-register",
            &acme.key,
        )
        .await?;
    let records = log.body["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(records.len(), 2);
    assert_eq!(
        records[0]["actor"],
        format!("agent:{}", acme.environment_id)
    );
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn the_long_poll_answers_at_once_when_newer_exists_and_waits_otherwise(
    pool: PgPool,
) -> anyhow::Result<()> {
    let app = TestApp::new(pool).await?;
    let acme = populate(&app, "acme").await?;
    let (_, access) = connect_agent(&app, &acme.registration_token).await?;

    let started = Instant::now();
    let newer = app
        .send(
            Method::GET,
            "/v1/agent/intents?after=0",
            Some(&access),
            None,
            &[],
        )
        .await?;
    assert_eq!(
        newer.expect(StatusCode::OK)["generation"],
        2,
        "the latest, not the next"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no wait when newer exists"
    );

    let started = Instant::now();
    let none = app
        .send(
            Method::GET,
            "/v1/agent/intents?after=2&wait_seconds=1",
            Some(&access),
            None,
            &[],
        )
        .await?;
    assert_eq!(none.status, StatusCode::NO_CONTENT);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited the bound"
    );
    app.send(
        Method::GET,
        "/v1/agent/intents?after=2&wait_seconds=31",
        Some(&access),
        None,
        &[],
    )
    .await?
    .expect_problem(StatusCode::BAD_REQUEST, "bad-request");
    assert_eq!(
        app.state.intents.environments_watched(),
        0,
        "finished waiters unsubscribe"
    );
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn many_long_pollers_wake_when_another_replica_publishes(pool: PgPool) -> anyhow::Result<()> {
    // Two replicas: separate routers and listeners over one database.
    let replica_a = TestApp::new(pool.clone()).await?;
    let replica_b = TestApp::new(pool).await?;
    let acme = populate(&replica_a, "acme").await?;
    let (_, access) = connect_agent(&replica_a, &acme.registration_token).await?;

    const POLLERS: usize = 1000;
    let mut pollers = Vec::new();
    for _ in 0..POLLERS {
        let replica = replica_b.clone();
        let access = access.clone();
        pollers.push(tokio::spawn(async move {
            replica
                .send(
                    Method::GET,
                    "/v1/agent/intents?after=2&wait_seconds=30",
                    Some(&access),
                    None,
                    &[],
                )
                .await
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while replica_b.state.intents.waiters() < POLLERS {
        anyhow::ensure!(
            Instant::now() < deadline,
            "pollers never all started waiting"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        replica_b.state.intents.environments_watched(),
        1,
        "one watch for all waiters of an environment"
    );
    // Once their first read is done, waiters hold no database connection:
    // only the two listeners do.
    let busy = || replica_b.pool.size() as usize - replica_b.pool.num_idle();
    while busy() > 2 {
        anyhow::ensure!(
            Instant::now() < deadline,
            "{} connections stay busy while {POLLERS} wait",
            busy()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let metrics = replica_b
        .send(Method::GET, "/metrics", None, None, &[])
        .await?;
    let text = metrics.body.as_str().unwrap_or_default().to_owned();
    assert!(
        text.contains(&format!("fjord_intent_waiters {POLLERS}")),
        "{text}"
    );
    assert!(
        pollers.iter().all(|poller| !poller.is_finished()),
        "nothing newer yet: everyone waits"
    );

    let started = Instant::now();
    replica_a
        .patch(
            &format!("/v1/clusters/{}", acme.cluster_id),
            &acme.key,
            json!({"broker_count": 5}),
        )
        .await?
        .expect(StatusCode::OK);
    for poller in pollers {
        let response = poller.await??;
        let intent = response.expect(StatusCode::OK);
        assert_eq!(intent["generation"], 3);
        assert_eq!(intent["document"]["clusters"][0]["broker_count"], 5);
    }
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "woken by the notification, not the timeout: {:?}",
        started.elapsed()
    );
    assert_eq!(replica_b.state.intents.environments_watched(), 0);
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn status_reports_update_what_users_see_and_silence_means_disconnected(
    pool: PgPool,
) -> anyhow::Result<()> {
    let app = TestApp::new(pool).await?;
    let acme = populate(&app, "acme").await?;
    let (_, access) = connect_agent(&app, &acme.registration_token).await?;
    let report = json!({
        "observed_generation": 2,
        "agent_version": "0.1.1",
        "clusters": [{
            "cluster_id": acme.cluster_id, "phase": "ready", "version": "0.1.0", "brokers_ready": 3,
            "conditions": [{"type": "Ready", "status": "True", "reason": "AllBrokersReady"}],
            "metrics": {"bytes_in_per_second": 1024.0}
        }]
    });
    let accepted = app
        .send(
            Method::POST,
            "/v1/agent/status",
            Some(&access),
            Some(report),
            &[],
        )
        .await?;
    assert_eq!(
        accepted.expect(StatusCode::OK)["unknown_cluster_ids"],
        json!([])
    );

    let cluster = app
        .get(&format!("/v1/clusters/{}", acme.cluster_id), &acme.key)
        .await?;
    let status = &cluster.expect(StatusCode::OK)["status"];
    assert_eq!(status["phase"], "ready");
    assert_eq!(status["brokers_ready"], 3);
    assert_eq!(status["conditions"][0]["reason"], "AllBrokersReady");
    assert_eq!(status["metrics"]["bytes_in_per_second"], 1024.0);
    assert_eq!(
        cluster.etag(),
        "\"1\"",
        "reported status is not a change of desired state"
    );

    let environment_path = format!("/v1/environments/{}", acme.environment_id);
    let environment = app.get(&environment_path, &acme.key).await?;
    assert_eq!(environment.body["connection"]["state"], "connected");
    assert_eq!(environment.body["connection"]["observed_generation"], 2);
    assert_eq!(environment.body["connection"]["agent_version"], "0.1.1");

    let bad = app
        .send(
            Method::POST,
            "/v1/agent/status",
            Some(&access),
            Some(json!({"observed_generation": -1})),
            &[],
        )
        .await?;
    bad.expect_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid-body");

    sqlx::query("update environment set agent_last_seen_at = now() - interval '10 minutes'")
        .execute(&app.pool)
        .await?;
    let silent = app.get(&environment_path, &acme.key).await?;
    assert_eq!(silent.body["connection"]["state"], "disconnected");
    Ok(())
}

fn header(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

fn gunzip(gzip: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(gzip).read_to_end(&mut plain)?;
    Ok(plain)
}

/// What an agent does with a received intent body.
fn verify(key: &SigningKey, body: &[u8]) -> anyhow::Result<(Intent, IntentDocument)> {
    let intent: Intent = serde_json::from_slice(body)?;
    let document = common::verify_intent(key, &intent)?;
    Ok((intent, document))
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn agents_accepting_gzip_get_the_same_intent_compressed(pool: PgPool) -> anyhow::Result<()> {
    let app = TestApp::new(pool).await?;
    let acme = populate(&app, "acme").await?;
    let (_, access) = connect_agent(&app, &acme.registration_token).await?;
    let key: SigningKey = serde_json::from_value(
        app.send(Method::GET, "/v1/signing-key", None, None, &[])
            .await?
            .body,
    )?;
    let poll = |accept: Option<&'static str>, path: &'static str| {
        let (app, access) = (app.clone(), access.clone());
        async move {
            let headers: Vec<_> = accept.map(|a| ("accept-encoding", a)).into_iter().collect();
            app.send_raw(Method::GET, path, Some(&access), None, &headers)
                .await
        }
    };
    let latest = "/v1/agent/intents?after=0&wait_seconds=0";

    let (status, headers, plain) = poll(None, latest).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, header::CONTENT_ENCODING), None);
    assert_eq!(header(&headers, header::VARY), Some("Accept-Encoding"));
    let (intent, document) = verify(&key, &plain)?;
    assert_eq!(intent.generation, 2);
    assert_eq!(document, intent.document);

    for accept in ["gzip", "br, gzip;q=0.5", "*"] {
        let (status, headers, gzip) = poll(Some(accept), latest).await?;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            header(&headers, header::CONTENT_ENCODING),
            Some("gzip"),
            "{accept}"
        );
        assert_eq!(header(&headers, header::VARY), Some("Accept-Encoding"));
        assert_eq!(
            header(&headers, header::CONTENT_TYPE),
            Some("application/json")
        );
        assert!(gzip.len() < plain.len(), "compressed: {}", gzip.len());
        let decompressed = gunzip(&gzip)?;
        assert_eq!(decompressed, plain, "byte-identical to the plain body");
        verify(&key, &decompressed)?;
    }
    for accept in ["gzip;q=0", "br, identity", "*;q=0"] {
        let (status, headers, body) = poll(Some(accept), latest).await?;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(header(&headers, header::CONTENT_ENCODING), None, "{accept}");
        assert_eq!(body, plain);
    }

    // A waiter woken by a new generation gets it compressed too.
    let waiter = tokio::spawn(poll(
        Some("gzip"),
        "/v1/agent/intents?after=2&wait_seconds=30",
    ));
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.state.intents.waiters() < 1 {
        anyhow::ensure!(Instant::now() < deadline, "the poller never waited");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.patch(
        &format!("/v1/clusters/{}", acme.cluster_id),
        &acme.key,
        json!({"broker_count": 5}),
    )
    .await?
    .expect(StatusCode::OK);
    let (status, headers, gzip) = waiter.await??;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, header::CONTENT_ENCODING), Some("gzip"));
    let (intent, document) = verify(&key, &gunzip(&gzip)?)?;
    assert_eq!(intent.generation, 3);
    assert_eq!(document.clusters[0].broker_count, 5);

    // Compressed once per generation: generations 2 and 3.
    let metrics = app.send(Method::GET, "/metrics", None, None, &[]).await?;
    let text = metrics.body.as_str().unwrap_or_default().to_owned();
    assert!(
        text.contains("fjord_intent_body_gzip_builds_total 2"),
        "{text}"
    );
    assert!(
        text.contains("fjord_intent_body_gzip_sent_total 4"),
        "{text}"
    );
    Ok(())
}
