//! The Topic controller against the in-memory API server and a real
//! `fjord-broker` process: a topic is created with its configuration (and a
//! refused create says why), partitions are added, and a decrease is refused
//! with a condition, as is a new replication factor; a topic of a cluster
//! that is not Ready waits without touching the brokers. The test plays the cluster controller: it writes the
//! StreamCluster's bootstrap address into its status. See `topic_support`
//! for what it needs.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod topic_support;

use fjord_crd::ConditionStatus;
use fjord_operator::topic::FINALIZER;
use kube::ResourceExt;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;
use topic_support::{
    configs, event_reasons, eventually, harness, kcat_partitions, ready, set_bootstrap,
    set_cluster_status, topic_resource, wait_ready,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_is_created_with_its_declared_configuration() {
    let h = harness(true).await;
    let declared = [
        ("retention.ms", "86400000"),
        ("retention.bytes", "1073741824"),
    ];
    h.topics
        .create(
            &PostParams::default(),
            &topic_resource("orders", 3, &declared),
        )
        .await
        .unwrap();
    wait_ready(&h.topics, "orders").await;

    assert_eq!(kcat_partitions(&h.broker, "orders"), 3);
    let found = configs(&h.broker, "orders", &["retention.ms", "retention.bytes"]).await;
    assert_eq!(
        found.get("retention.ms").map(String::as_str),
        Some("86400000")
    );
    assert_eq!(
        found.get("retention.bytes").map(String::as_str),
        Some("1073741824")
    );

    let topic = h.topics.get("orders").await.unwrap();
    assert!(topic.finalizers().contains(&FINALIZER.to_owned()));
    let status = topic.status.unwrap();
    assert_eq!(status.partitions, Some(3));
    assert!(status.drift.is_empty());
    let managers: Vec<String> = topic
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter(|entry| entry.subresource.as_deref() == Some("status"))
        .filter_map(|entry| entry.manager)
        .collect();
    assert_eq!(
        managers,
        vec!["fjord-operator".to_owned()],
        "status by server-side apply"
    );
    assert!(
        event_reasons(&h.server)
            .await
            .contains(&"Created".to_owned())
    );

    // A topic the brokers refuse to create says why.
    let compacted = topic_resource("changelog", 1, &[("cleanup.policy", "compact")]);
    h.topics
        .create(&PostParams::default(), &compacted)
        .await
        .unwrap();
    let reason = eventually("the create is refused", || async {
        ready(&h.topics, "changelog")
            .await
            .map(|(_, reason)| reason)
    })
    .await;
    assert_eq!(reason, "CreateRefused");
    let message = h
        .topics
        .get("changelog")
        .await
        .unwrap()
        .status
        .unwrap()
        .conditions[0]
        .message
        .clone();
    assert!(message.contains("cleanup.policy"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_are_added_and_a_decrease_is_refused_with_a_condition() {
    let h = harness(true).await;
    h.topics
        .create(&PostParams::default(), &topic_resource("events", 2, &[]))
        .await
        .unwrap();
    wait_ready(&h.topics, "events").await;

    let grow = json!({"spec": {"partitions": 5}});
    h.topics
        .patch("events", &PatchParams::default(), &Patch::Merge(&grow))
        .await
        .unwrap();
    wait_ready(&h.topics, "events").await;
    assert_eq!(kcat_partitions(&h.broker, "events"), 5);
    assert_eq!(
        h.topics
            .get("events")
            .await
            .unwrap()
            .status
            .unwrap()
            .partitions,
        Some(5)
    );

    // A real API server refuses this with the CRD's CEL rule; the operator
    // refuses it too, for servers or paths that do not.
    let shrink = json!({"spec": {"partitions": 1}});
    h.topics
        .patch("events", &PatchParams::default(), &Patch::Merge(&shrink))
        .await
        .unwrap();
    let (status, reason) = eventually("the decrease is refused", || async {
        ready(&h.topics, "events")
            .await
            .filter(|(status, _)| *status == ConditionStatus::False)
    })
    .await;
    assert_eq!(
        (status, reason.as_str()),
        (ConditionStatus::False, "PartitionDecreaseRefused")
    );
    let topic = h.topics.get("events").await.unwrap();
    let degraded = topic
        .status
        .as_ref()
        .unwrap()
        .conditions
        .iter()
        .find(|c| c.condition_type == "Degraded")
        .unwrap()
        .clone();
    assert_eq!(degraded.status, ConditionStatus::True);
    assert!(
        degraded.message.contains("cannot remove partitions"),
        "{}",
        degraded.message
    );
    assert_eq!(kcat_partitions(&h.broker, "events"), 5, "nothing removed");
    assert!(
        event_reasons(&h.server)
            .await
            .contains(&"PartitionDecreaseRefused".to_owned())
    );

    // Back to five partitions, but another replication factor: the brokers
    // cannot reassign replicas, so that is refused as well.
    let refactor = json!({"spec": {"partitions": 5, "replicationFactor": 2}});
    h.topics
        .patch("events", &PatchParams::default(), &Patch::Merge(&refactor))
        .await
        .unwrap();
    let reason = eventually("the new factor is refused", || async {
        ready(&h.topics, "events")
            .await
            .map(|(_, reason)| reason)
            .filter(|reason| reason != "PartitionDecreaseRefused")
    })
    .await;
    assert_eq!(reason, "ReplicationFactorChangeRefused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_waits_without_errors_until_its_cluster_is_ready() {
    let h = harness(false).await;
    let client = h.server.client();
    let address = h.broker.kafka.to_string();
    // The address is published before the brokers serve: not Ready yet.
    set_cluster_status(&client, &address, false).await;
    h.topics
        .create(&PostParams::default(), &topic_resource("clicks", 2, &[]))
        .await
        .unwrap();
    let reason = eventually("the topic waits for its cluster", || async {
        ready(&h.topics, "clicks").await.map(|(_, reason)| reason)
    })
    .await;
    assert_eq!(reason, "ClusterNotReady");
    // Status writes of the cluster while it starts wake the topic; each one
    // finds the cluster not Ready, which is waiting, not a failure.
    for _ in 0..20 {
        set_cluster_status(&client, &address, false).await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let topic = h.topics.get("clicks").await.unwrap();
    let message = topic
        .status
        .unwrap()
        .conditions
        .into_iter()
        .find(|c| c.condition_type == "Ready")
        .unwrap()
        .message;
    assert!(message.contains("is not Ready"), "{message}");
    assert_eq!(h.metrics.errors(), 0);
    let on_brokers = h.broker.admin().await.describe_topic("clicks").await;
    assert_eq!(on_brokers.unwrap(), None);

    set_bootstrap(&client, &address).await;
    wait_ready(&h.topics, "clicks").await;
    assert_eq!(kcat_partitions(&h.broker, "clicks"), 2);
}
