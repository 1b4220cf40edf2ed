//! Each broker's state and the bootstrap address: the agent reports them in
//! `POST /v1/agent/status`, users read them on the cluster, hostile values
//! are refused whole and change nothing.

mod common;

use axum::http::{Method, StatusCode};
use common::{TestApp, connect_agent, populate};
use serde_json::{Value, json};
use sqlx::PgPool;

fn report(cluster_id: &str, brokers: Value, bootstrap: Value) -> Value {
    json!({"observed_generation": 2, "clusters": [{
        "cluster_id": cluster_id, "phase": "upgrading", "version": "0.1.0",
        "brokers_ready": 2, "brokers": brokers, "bootstrap_address": bootstrap}]})
}

fn three_brokers() -> Value {
    json!([
        {"broker_id": 0, "version": "0.2.0", "state": "serving", "ready": true, "rack": "eu-west-1a"},
        {"broker_id": 1, "version": "0.1.0", "state": "maintenance", "ready": true, "rack": "eu-west-1b"},
        {"broker_id": 2, "state": "restarting", "ready": false},
    ])
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn reported_brokers_and_bootstrap_address_show_on_the_cluster(
    pool: PgPool,
) -> anyhow::Result<()> {
    let app = TestApp::new(pool).await?;
    let acme = populate(&app, "acme").await?;
    let (_, access) = connect_agent(&app, &acme.registration_token).await?;
    let cluster_path = format!("/v1/clusters/{}", acme.cluster_id);

    // Before any report: no brokers, no address.
    let fresh = app.get(&cluster_path, &acme.key).await?;
    let status = &fresh.expect(StatusCode::OK)["status"];
    assert_eq!(status["brokers"], json!([]));
    assert!(status.get("bootstrap_address").is_none(), "{status}");

    let bootstrap = "orders-0.orders.fjord.svc:9092, orders-1.orders.fjord.svc:9092";
    let sent = app
        .send(
            Method::POST,
            "/v1/agent/status",
            Some(&access),
            Some(report(&acme.cluster_id, three_brokers(), json!(bootstrap))),
            &[],
        )
        .await?;
    assert_eq!(
        sent.expect(StatusCode::OK)["unknown_cluster_ids"],
        json!([])
    );

    let cluster = app.get(&cluster_path, &acme.key).await?;
    let status = &cluster.expect(StatusCode::OK)["status"];
    assert_eq!(status["brokers"], three_brokers());
    assert_eq!(status["bootstrap_address"], bootstrap);
    assert_eq!(status["brokers_ready"], 2);
    let list = app
        .get(
            &format!("/v1/clusters?environment_id={}", acme.environment_id),
            &acme.key,
        )
        .await?;
    let listed = &list.expect(StatusCode::OK)["items"][0]["status"];
    assert_eq!(listed["brokers"], three_brokers());
    assert_eq!(listed["bootstrap_address"], bootstrap);

    // An agent from before these fields: the report still parses, and the
    // status is what it said (no brokers, no address), not a stale mix.
    let old_agent = json!({"observed_generation": 2, "clusters": [{
        "cluster_id": acme.cluster_id, "phase": "ready", "brokers_ready": 3}]});
    app.send(
        Method::POST,
        "/v1/agent/status",
        Some(&access),
        Some(old_agent),
        &[],
    )
    .await?
    .expect(StatusCode::OK);
    let cluster = app.get(&cluster_path, &acme.key).await?;
    let status = &cluster.expect(StatusCode::OK)["status"];
    assert_eq!(status["phase"], "ready");
    assert_eq!(status["brokers"], json!([]));
    assert!(status.get("bootstrap_address").is_none(), "{status}");

    // Another organization reads nothing, and its agent cannot write here.
    let globex = populate(&app, "globex").await?;
    app.get(&cluster_path, &globex.key)
        .await?
        .expect_problem(StatusCode::NOT_FOUND, "not-found");
    let (_, globex_access) = connect_agent(&app, &globex.registration_token).await?;
    let foreign = app
        .send(
            Method::POST,
            "/v1/agent/status",
            Some(&globex_access),
            Some(report(
                &acme.cluster_id,
                three_brokers(),
                json!("evil:9092"),
            )),
            &[],
        )
        .await?;
    assert_eq!(
        foreign.expect(StatusCode::OK)["unknown_cluster_ids"],
        json!([acme.cluster_id])
    );
    let cluster = app.get(&cluster_path, &acme.key).await?;
    assert!(
        cluster.expect(StatusCode::OK)["status"]
            .get("bootstrap_address")
            .is_none()
    );
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn hostile_broker_reports_are_refused_whole_and_store_nothing(
    pool: PgPool,
) -> anyhow::Result<()> {
    let app = TestApp::new(pool).await?;
    let acme = populate(&app, "acme").await?;
    let (_, access) = connect_agent(&app, &acme.registration_token).await?;
    let cluster_path = format!("/v1/clusters/{}", acme.cluster_id);
    let good = report(&acme.cluster_id, three_brokers(), json!("broker-0:9092"));
    app.send(
        Method::POST,
        "/v1/agent/status",
        Some(&access),
        Some(good),
        &[],
    )
    .await?
    .expect(StatusCode::OK);
    let before = app.get(&cluster_path, &acme.key).await?;
    let before = before.expect(StatusCode::OK).clone();

    let broker = |patch: Value| {
        let mut broker = json!({"broker_id": 0, "state": "serving", "ready": true});
        for (key, value) in patch.as_object().into_iter().flatten() {
            broker[key] = value.clone();
        }
        json!([broker])
    };
    let many: Vec<Value> = (0..257)
        .map(|id| json!({"broker_id": id, "state": "serving", "ready": true}))
        .collect();
    let address = json!("broker-0:9092");
    let cases = [
        (
            "a version of 101 characters",
            broker(json!({"version": "v".repeat(101)})),
            address.clone(),
        ),
        (
            "a state that is not a word",
            broker(json!({"state": "Serving!"})),
            address.clone(),
        ),
        (
            "a state of 64 characters",
            broker(json!({"state": "s".repeat(64)})),
            address.clone(),
        ),
        (
            "a rack of 64 characters",
            broker(json!({"rack": "r".repeat(64)})),
            address.clone(),
        ),
        (
            "an empty rack",
            broker(json!({"rack": ""})),
            address.clone(),
        ),
        (
            "a control character",
            broker(json!({"version": "0.1.0\u{0}"})),
            address.clone(),
        ),
        (
            "a negative id",
            broker(json!({"broker_id": -1})),
            address.clone(),
        ),
        (
            "an id beyond 32 bits",
            broker(json!({"broker_id": 1_u64 << 40})),
            address.clone(),
        ),
        (
            "ready as a word",
            broker(json!({"ready": "yes"})),
            address.clone(),
        ),
        (
            "an unknown broker field",
            broker(json!({"leader": true})),
            address.clone(),
        ),
        ("257 brokers", json!(many), address.clone()),
        (
            "the same id twice",
            json!([{"broker_id": 1, "state": "serving", "ready": true},
                   {"broker_id": 1, "state": "failed", "ready": false}]),
            address.clone(),
        ),
        (
            "an address without a port",
            three_brokers(),
            json!("broker-0"),
        ),
        (
            "a port out of range",
            three_brokers(),
            json!("broker-0:65536"),
        ),
        ("port zero", three_brokers(), json!("broker-0:0")),
        (
            "a host with a space",
            three_brokers(),
            json!("bro ker:9092"),
        ),
        ("an empty entry", three_brokers(), json!("broker-0:9092,")),
        ("a bare IPv6 address", three_brokers(), json!("::1:9092")),
        ("a URL", three_brokers(), json!("http://broker-0:9092")),
        (
            "a newline",
            three_brokers(),
            json!("broker-0:9092\nbroker-1:9092"),
        ),
        (
            "2000 characters",
            three_brokers(),
            json!(format!("{}:9092", "a.".repeat(1000))),
        ),
        (
            "65 entries",
            three_brokers(),
            json!(vec!["b:9092"; 65].join(",")),
        ),
        ("an address that is a number", three_brokers(), json!(9092)),
    ];
    for (what, brokers, bootstrap) in cases {
        let answer = app
            .send(
                Method::POST,
                "/v1/agent/status",
                Some(&access),
                Some(report(&acme.cluster_id, brokers, bootstrap)),
                &[],
            )
            .await?;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{what}: {:?}",
            answer.body
        );
        answer.expect_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid-body");
        let after = app.get(&cluster_path, &acme.key).await?;
        assert_eq!(
            after.expect(StatusCode::OK),
            &before,
            "{what} changed the cluster"
        );
    }
    let samples: i64 =
        sqlx::query_scalar("select count(*) from cluster_status_sample where cluster_id = $1")
            .bind(acme.cluster_id.parse::<uuid::Uuid>()?)
            .fetch_one(&app.pool)
            .await?;
    assert_eq!(samples, 1, "only the good report is in the history");

    // An absurd ready count is refused too.
    let mut absurd = report(&acme.cluster_id, three_brokers(), json!("broker-0:9092"));
    absurd["clusters"][0]["brokers_ready"] = json!(-3);
    app.send(
        Method::POST,
        "/v1/agent/status",
        Some(&access),
        Some(absurd),
        &[],
    )
    .await?
    .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid-body");
    Ok(())
}
