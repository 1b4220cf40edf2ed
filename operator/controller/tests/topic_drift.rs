//! The Topic controller against the in-memory API server and a real
//! `fjord-broker` process: drift made through Kafka is repaired while
//! undeclared settings stay, a rejected value shows as drift, a topic waits
//! for its cluster's bootstrap address, unreachable brokers are retried with
//! backoff until they answer, and deleting the resource deletes the topic. See `topic_support` for what it needs.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod topic_support;

use std::collections::BTreeMap;

use fjord_crd::ConditionStatus;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use topic_support::{
    configs, event_reasons, eventually, free_address, harness, kcat_partitions, ready,
    set_bootstrap, topic_resource, wait_ready,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_repaired_undeclared_settings_stay_and_rejected_values_show_as_drift() {
    let h = harness(true).await;
    h.topics
        .create(
            &PostParams::default(),
            &topic_resource("audit", 1, &[("retention.ms", "86400000")]),
        )
        .await
        .unwrap();
    wait_ready(&h.topics, "audit").await;

    // Someone changes the topic behind the operator's back, through Kafka.
    let mut admin = h.broker.admin().await;
    let changed = BTreeMap::from([
        ("retention.ms".to_owned(), "1000".to_owned()),
        ("segment.bytes".to_owned(), "1048576".to_owned()),
    ]);
    admin.set_configs("audit", &changed).await.unwrap();

    eventually("the declared value is restored", || async {
        let found = configs(&h.broker, "audit", &["retention.ms"]).await;
        (found.get("retention.ms").map(String::as_str) == Some("86400000")).then_some(())
    })
    .await;
    let found = configs(&h.broker, "audit", &["segment.bytes"]).await;
    assert_eq!(
        found.get("segment.bytes").map(String::as_str),
        Some("1048576"),
        "an undeclared setting is left alone"
    );
    assert!(
        event_reasons(&h.server)
            .await
            .contains(&"ConfigDriftRepaired".to_owned())
    );

    // A value the brokers refuse stays as drift in the status.
    let bad = json!({"spec": {"config": {"retention.ms": "forever"}}});
    h.topics
        .patch("audit", &PatchParams::default(), &Patch::Merge(&bad))
        .await
        .unwrap();
    let reason = eventually("the value is rejected", || async {
        ready(&h.topics, "audit")
            .await
            .filter(|(status, _)| *status == ConditionStatus::False)
            .map(|(_, reason)| reason)
    })
    .await;
    assert_eq!(reason, "ConfigRejected");
    let drift = h.topics.get("audit").await.unwrap().status.unwrap().drift;
    assert_eq!(
        drift.get("retention.ms").map(String::as_str),
        Some("86400000")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_waits_for_its_cluster_and_deleting_the_resource_deletes_the_topic() {
    let h = harness(false).await;
    h.topics
        .create(&PostParams::default(), &topic_resource("payments", 2, &[]))
        .await
        .unwrap();
    let reason = eventually("the topic waits", || async {
        ready(&h.topics, "payments").await.map(|(_, reason)| reason)
    })
    .await;
    assert_eq!(reason, "ClusterNotReady");
    assert_eq!(
        h.broker
            .admin()
            .await
            .describe_topic("payments")
            .await
            .unwrap(),
        None
    );

    // The cluster becomes reachable: its watch wakes the topic.
    set_bootstrap(&h.server.client(), &h.broker.kafka.to_string()).await;
    wait_ready(&h.topics, "payments").await;
    assert_eq!(kcat_partitions(&h.broker, "payments"), 2);

    h.topics
        .delete("payments", &DeleteParams::default())
        .await
        .unwrap();
    eventually("the resource goes once the topic is deleted", || async {
        h.topics
            .get_opt("payments")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    assert_eq!(
        h.broker
            .admin()
            .await
            .describe_topic("payments")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_brokers_are_reported_and_retried_until_they_answer() {
    let h = harness(false).await;
    // The cluster names an address nothing listens on.
    set_bootstrap(&h.server.client(), &free_address().to_string()).await;
    h.topics
        .create(&PostParams::default(), &topic_resource("metrics", 1, &[]))
        .await
        .unwrap();
    let reason = eventually("the brokers are reported unreachable", || async {
        ready(&h.topics, "metrics").await.map(|(_, reason)| reason)
    })
    .await;
    assert_eq!(reason, "BrokersUnreachable");
    eventually("the failures are counted", || async {
        (h.metrics.errors() >= 2).then_some(())
    })
    .await;

    // The brokers answer at the address the cluster now gives.
    set_bootstrap(&h.server.client(), &h.broker.kafka.to_string()).await;
    wait_ready(&h.topics, "metrics").await;
    assert_eq!(kcat_partitions(&h.broker, "metrics"), 1);
}
