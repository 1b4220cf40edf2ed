//! The agent against a real control plane (Postgres from `DATABASE_URL`,
//! default the local server) and the in-memory Kubernetes API server:
//! registration, applying, the REST API's changes and deletions, an outage
//! of the control plane, a restart, tampered intents. The guardrails:
//! `agent_guardrails.rs`.
//!
//! `FJORD_AGENT_OUTAGE_SECONDS` (default 3) sets how long the control plane
//! stays away in the outage test; the soak variant sets 60.

mod agent_support;

use std::time::Duration;

use agent_support::setup::setup;
use agent_support::{PATIENCE, eventually};
use fjord_crd::{Topic, TopicSpec};
use fjord_operator::agent::names;
use kube::api::{Patch, PatchParams, PostParams};
use reqwest::Method;
use serde_json::json;

fn outage() -> Duration {
    let seconds = std::env::var("FJORD_AGENT_OUTAGE_SECONDS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(3);
    Duration::from_secs(seconds)
}

#[tokio::test]
async fn the_agent_registers_follows_the_api_and_rides_out_an_outage() {
    let mut setup = setup().await;
    let _agent = setup.agent();

    // Registration: the credential lands in a Secret, for this environment.
    let kube = &setup.kube;
    let credential = eventually("the credential Secret", PATIENCE, || async move {
        kube.secrets()
            .get_opt(names::CREDENTIAL_SECRET)
            .await
            .unwrap()
    })
    .await;
    let data = credential.data.unwrap();
    assert_eq!(data["environment-id"].0, setup.environment_id.as_bytes());
    assert!(data["agent-credential"].0.starts_with(b"fja_"));

    // The intent becomes labelled resources applied by `fjord-agent`.
    setup.topic_with_partitions(6).await;
    let cluster = setup.kube.clusters().get("orders").await.unwrap();
    assert_eq!(cluster.spec.version, "0.1.0");
    assert_eq!(cluster.spec.brokers, 3);
    assert_eq!(cluster.spec.storage.size, "100Gi");
    assert_eq!(
        cluster.metadata.labels.as_ref().unwrap()[names::CLUSTER_ID_LABEL],
        setup.cluster_id
    );
    let managers: Vec<_> = cluster
        .metadata
        .managed_fields
        .unwrap()
        .into_iter()
        .filter_map(|f| f.manager)
        .collect();
    assert!(managers.contains(&"fjord-agent".to_owned()), "{managers:?}");
    let topic = setup.kube.topics().get("payments").await.unwrap();
    assert_eq!(topic.spec.cluster_ref, "orders");
    assert_eq!(topic.spec.config["retention.ms"], "86400000");
    assert_eq!(
        topic.metadata.labels.unwrap()[names::TOPIC_ID_LABEL],
        setup.topic_id
    );
    let report = setup.intent_report("applied").await;
    assert_eq!(report["generation"], 2);

    // A customer's own Topic, without the agent's label.
    let own = Topic::new(
        "customer-owned",
        TopicSpec {
            cluster_ref: "orders".to_owned(),
            partitions: 1,
            replication_factor: 1,
            ..TopicSpec::default()
        },
    );
    setup
        .kube
        .topics()
        .create(&PostParams::default(), &own)
        .await
        .unwrap();

    // What the controller would write; the vendor sees it and keeps history.
    let status = json!({"status": {
        "phase": "Ready", "readyBrokers": 3, "currentVersion": "0.1.0",
        "bootstrapAddress": "127.0.0.1:19999",
        "brokers": [
            {"id": 0, "pod": "orders-0", "version": "0.1.0", "state": "Serving", "rack": "zone-a"},
            {"id": 1, "pod": "orders-1", "version": "0.1.0", "state": "Maintenance"},
            {"id": 2, "pod": "orders-2", "state": "Starting"},
        ],
    }});
    setup
        .kube
        .clusters()
        .patch_status("orders", &PatchParams::default(), &Patch::Merge(status))
        .await
        .unwrap();
    let cluster_path = format!("/v1/clusters/{}", setup.cluster_id);
    let (user, cluster_path) = (&setup.user, &cluster_path);
    let cluster = eventually("the cluster's reported status", PATIENCE, || async move {
        let cluster = user
            .expect(Method::GET, cluster_path, None, 200)
            .await
            .unwrap();
        let status = &cluster["status"];
        (status["phase"] == "ready"
            && status["brokers_ready"] == 3
            && status["observed_version"] == "0.1.0"
            && status["bootstrap_address"] == "127.0.0.1:19999")
            .then_some(cluster)
    })
    .await;
    // Each broker as the operator wrote it, in the control plane's words.
    assert_eq!(
        cluster["status"]["brokers"],
        json!([
            {"broker_id": 0, "version": "0.1.0", "state": "serving", "ready": true, "rack": "zone-a"},
            {"broker_id": 1, "version": "0.1.0", "state": "maintenance", "ready": true},
            {"broker_id": 2, "state": "starting", "ready": false},
        ]),
        "{cluster}"
    );
    let history = setup
        .user
        .expect(
            Method::GET,
            &format!("{cluster_path}/status-history?limit=5"),
            None,
            200,
        )
        .await
        .unwrap();
    let samples = history["items"].as_array().unwrap();
    assert!(!samples.is_empty() && samples.len() <= 5, "{history}");
    assert_eq!(samples[0]["metrics"]["brokers_declared"], 3.0);
    assert_eq!(samples[0]["metrics"]["partitions"], 6.0);

    // A PATCH through the REST API updates the resource.
    let topic_path = format!("/v1/topics/{}", setup.topic_id);
    setup.patch(&topic_path, json!({"partitions": 12})).await;
    setup.topic_with_partitions(12).await;
    setup.connection_state("connected").await;

    // The control plane away: nothing is torn down; the vendor sees the
    // environment disconnected; a change made meanwhile arrives after.
    setup.control.cut_agent_off().await;
    let started = tokio::time::Instant::now();
    setup.patch(&topic_path, json!({"partitions": 24})).await;
    setup.connection_state("disconnected").await;
    tokio::time::sleep(outage().saturating_sub(started.elapsed())).await;
    let (clusters, topics) = setup.kube.resource_names().await.unwrap();
    assert_eq!(clusters, ["orders"]);
    assert_eq!(topics.len(), 2, "{topics:?}");
    assert_eq!(
        kube.topics().get("payments").await.unwrap().spec.partitions,
        12
    );
    let away = started.elapsed();
    setup.control.reconnect_agent().await.unwrap();
    setup.topic_with_partitions(24).await;
    setup.connection_state("connected").await;
    assert!(away >= outage());

    // Deletions remove what the agent created, and only that.
    setup
        .user
        .expect(Method::DELETE, &topic_path, None, 204)
        .await
        .unwrap();
    let kube = &setup.kube;
    eventually("the topic removed", PATIENCE, || async move {
        kube.topics()
            .get_opt("payments")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    setup
        .user
        .expect(Method::DELETE, cluster_path, None, 204)
        .await
        .unwrap();
    let kube = &setup.kube;
    eventually("the cluster removed", PATIENCE, || async move {
        kube.clusters()
            .get_opt("orders")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    let (_, topics) = setup.kube.resource_names().await.unwrap();
    assert_eq!(
        topics,
        ["customer-owned"],
        "an unlabelled resource is never deleted"
    );

    let events = setup.kube.events().await.unwrap();
    assert!(
        events
            .iter()
            .any(|(reason, note)| reason == "IntentApplied"
                && note.contains("deleted Topic/payments")),
        "{events:?}"
    );
    let audit = setup
        .user
        .expect(
            Method::GET,
            "/v1/audit-records?action=environment.intent-applied",
            None,
            200,
        )
        .await
        .unwrap();
    assert!(audit["items"].as_array().unwrap().len() >= 4, "{audit}");
    setup.control.finish().await.unwrap();
}

#[tokio::test]
async fn a_restarted_agent_resumes_from_its_stored_generation_without_the_control_plane() {
    let mut setup = setup().await;
    let agent = setup.agent();
    setup.topic_with_partitions(6).await;
    let kube = &setup.kube;
    let state = eventually("the stored generation 2", PATIENCE, || async move {
        let state = kube
            .config_maps()
            .get_opt(names::STATE_CONFIG_MAP)
            .await
            .unwrap()?;
        let data = state.data?;
        (data.get("generation")? == "2").then_some(data)
    })
    .await;
    assert!(
        state["intent.json"].contains("\"signature\""),
        "the signed intent is kept"
    );
    let applied = |events: &[(String, String)]| {
        events
            .iter()
            .filter(|(reason, _)| reason == "IntentApplied")
            .cloned()
            .collect::<Vec<_>>()
    };
    let before = eventually("the event of generation 2", PATIENCE, || async move {
        let events = applied(&kube.events().await.unwrap());
        events
            .iter()
            .any(|(_, note)| note.starts_with("generation 2"))
            .then_some(events)
    })
    .await;

    // Stopped, then started while the control plane is away: the clusters
    // stay, nothing is re-applied.
    drop(agent);
    setup.control.cut_agent_off().await;
    let restarted = setup.agent();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !restarted.finished(),
        "an unreachable control plane is no reason to stop"
    );
    let (clusters, topics) = setup.kube.resource_names().await.unwrap();
    assert_eq!(
        (clusters, topics),
        (vec!["orders".to_owned()], vec!["payments".to_owned()])
    );

    // Back: it polls after its stored generation and applies only what is new.
    setup.control.reconnect_agent().await.unwrap();
    setup
        .patch(
            &format!("/v1/topics/{}", setup.topic_id),
            json!({"partitions": 12}),
        )
        .await;
    setup.topic_with_partitions(12).await;
    let after = applied(&setup.kube.events().await.unwrap());
    assert_eq!(after.len(), before.len() + 1, "{before:?} then {after:?}");
    assert!(
        after
            .iter()
            .any(|(_, note)| note.starts_with("generation 3")),
        "{after:?}"
    );
    setup.control.finish().await.unwrap();
}

#[tokio::test]
async fn a_tampered_intent_is_refused_and_the_vendor_sees_which_check() {
    let setup = setup().await;
    // The stored document altered after signing (as a man in the middle or a
    // compromised database would).
    let environment_id: uuid::Uuid = setup.environment_id.parse().unwrap();
    let changed = sqlx::query(
        "update intent set payload = convert_to(replace(convert_from(payload, 'UTF8'),
             '\"partitions\":6', '\"partitions\":600'), 'UTF8')
         where environment_id = $1 and generation = 2
           and position('\"partitions\":6' in convert_from(payload, 'UTF8')) > 0",
    )
    .bind(environment_id)
    .execute(&setup.control.pool)
    .await
    .unwrap();
    assert_eq!(changed.rows_affected(), 1);
    let _agent = setup.agent();

    let report = setup.intent_report("refused").await;
    assert_eq!(report["check"], "content-hash", "{report}");
    assert_eq!(report["generation"], 2);
    let events = setup.kube.events().await.unwrap();
    assert!(
        events
            .iter()
            .any(|(reason, note)| reason == "IntentRefused" && note.contains("content-hash")),
        "{events:?}"
    );
    let (clusters, topics) = setup.kube.resource_names().await.unwrap();
    assert!(
        clusters.is_empty() && topics.is_empty(),
        "nothing of a tampered intent is applied"
    );
    let audit = setup
        .user
        .expect(
            Method::GET,
            "/v1/audit-records?action=environment.intent-refused",
            None,
            200,
        )
        .await
        .unwrap();
    assert_eq!(
        audit["items"][0]["detail"]["check"], "content-hash",
        "{audit}"
    );

    // The next honest generation verifies and applies.
    setup
        .patch(
            &format!("/v1/topics/{}", setup.topic_id),
            json!({"partitions": 12}),
        )
        .await;
    setup.topic_with_partitions(12).await;
    setup.intent_report("applied").await;
    setup.control.finish().await.unwrap();
}
