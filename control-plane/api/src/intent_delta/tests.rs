use chrono::Utc;
use uuid::Uuid;

use super::*;

pub(crate) fn topic(name: &str, partitions: i32) -> IntentTopic {
    IntentTopic {
        topic_id: Uuid::now_v7(),
        name: name.to_owned(),
        partitions,
        replication_factor: 3,
        config: ConfigMap::from([("retention.ms".to_owned(), "86400000".to_owned())]),
    }
}

pub(crate) fn cluster(name: &str, topics: Vec<IntentTopic>) -> IntentCluster {
    IntentCluster {
        cluster_id: Uuid::now_v7(),
        name: name.to_owned(),
        version: "0.1.0".to_owned(),
        broker_count: 3,
        storage_gib: 100,
        config: ConfigMap::new(),
        topics,
    }
}

fn document(clusters: Vec<IntentCluster>) -> IntentDocument {
    IntentDocument {
        format: crate::INTENT_FORMAT.to_owned(),
        organization_id: Uuid::now_v7(),
        environment_id: Uuid::now_v7(),
        generation: 4,
        content_hash: "old".to_owned(),
        clusters,
    }
}

fn next(from: &IntentDocument, edit: impl FnOnce(&mut Vec<IntentCluster>)) -> IntentDocument {
    let mut to = from.clone();
    edit(&mut to.clusters);
    to.generation += 1;
    to.content_hash = "new".to_owned();
    to
}

fn delta(from: &IntentDocument, to: &IntentDocument) -> IntentDelta {
    IntentDelta {
        environment_id: to.environment_id,
        from_generation: from.generation,
        generation: to.generation,
        content_hash: to.content_hash.clone(),
        signature: String::new(),
        key_id: String::new(),
        changes: diff(from, to),
        created_at: Utc::now(),
    }
}

fn sample() -> IntentDocument {
    let topics = (0..50)
        .map(|index| topic(&format!("topic-{index:03}"), 6))
        .collect();
    document(vec![
        cluster("billing", vec![topic("invoices", 3)]),
        cluster("orders", topics),
    ])
}

/// Asserts the delta rebuilds `to` exactly, down to its serialised bytes,
/// and returns its changes.
#[track_caller]
fn round_trip(from: &IntentDocument, to: &IntentDocument) -> Vec<IntentChange> {
    let delta = delta(from, to);
    let rebuilt = from.apply(&delta).expect("the delta applies");
    assert_eq!(&rebuilt, to);
    assert_eq!(
        serde_json::to_vec(&rebuilt).expect("serialises"),
        serde_json::to_vec(to).expect("serialises")
    );
    delta.changes
}

#[test]
fn changing_one_cluster_or_topic_is_one_change() {
    let from = sample();
    let to = next(&from, |clusters| {
        clusters[1]
            .config
            .insert("retention.ms".to_owned(), "1".to_owned());
    });
    let changes = round_trip(&from, &to);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert!(matches!(changes[0], IntentChange::PutCluster { .. }));
    let delta_bytes = serde_json::to_vec(&delta(&from, &to)).expect("serialises");
    let full_bytes = serde_json::to_vec(&to).expect("serialises");
    assert!(delta_bytes.len() * 10 < full_bytes.len());

    let to = next(&from, |clusters| clusters[1].topics[7].partitions = 12);
    let changes = round_trip(&from, &to);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert!(matches!(
        &changes[0],
        IntentChange::PutTopic { topic, .. } if topic.partitions == 12
    ));
    assert!(round_trip(&from, &next(&from, |_| {})).is_empty());
}

#[test]
fn inserts_and_removals_land_where_the_new_document_has_them() {
    let from = sample();
    let to = next(&from, |clusters| {
        clusters[1].topics.remove(10);
        clusters[1].topics.insert(0, topic("a-first", 1));
        clusters[1].topics.insert(20, topic("topic-0195", 1));
        clusters[1].topics.push(topic("zz-last", 1));
        clusters[1].topics.push(topic("zz-very-last", 1));
        clusters.remove(0);
        clusters.insert(0, cluster("analytics", vec![topic("clicks", 2)]));
        clusters.push(cluster(
            "shipping",
            vec![topic("parcels", 2), topic("vans", 1)],
        ));
    });
    round_trip(&from, &to);
    // Back again: removes what was added, restores what was removed.
    let mut back = from.clone();
    back.generation = to.generation + 1;
    round_trip(&to, &back);
    // From nothing and to nothing.
    round_trip(&next(&from, Vec::clear), &from);
    round_trip(&from, &next(&from, Vec::clear));
}

#[test]
fn a_delta_for_another_document_does_not_apply() {
    let from = sample();
    let to = next(&from, |clusters| clusters[0].topics[0].partitions = 9);
    let delta = delta(&from, &to);
    assert_eq!(
        to.apply(&delta),
        Err(DeltaError::WrongGeneration { have: 5, from: 4 })
    );
    let mut elsewhere = from.clone();
    elsewhere.environment_id = Uuid::now_v7();
    assert_eq!(elsewhere.apply(&delta), Err(DeltaError::WrongEnvironment));
    // The same generation of a document without that cluster.
    let mut other = from.clone();
    other.clusters.remove(0);
    let cluster_id = from.clusters[0].cluster_id;
    assert_eq!(
        other.apply(&delta),
        Err(DeltaError::UnknownObject(cluster_id))
    );
    let mut hostile = delta.clone();
    let nowhere = Uuid::now_v7();
    hostile.changes = vec![IntentChange::PutTopic {
        cluster_id,
        topic: topic("x", 1),
        before: Some(nowhere),
    }];
    assert_eq!(
        from.apply(&hostile),
        Err(DeltaError::UnknownObject(nowhere))
    );
    hostile.changes = vec![IntentChange::RemoveTopic {
        cluster_id,
        topic_id: nowhere,
    }];
    assert_eq!(
        from.apply(&hostile),
        Err(DeltaError::UnknownObject(nowhere))
    );
}

#[test]
fn changes_serialise_with_an_op_tag() {
    let change = IntentChange::RemoveTopic {
        cluster_id: Uuid::nil(),
        topic_id: Uuid::nil(),
    };
    let json = serde_json::to_value(&change).expect("serialises");
    assert_eq!(json["op"], "remove_topic");
    let back: IntentChange = serde_json::from_value(json).expect("parses");
    assert_eq!(back, change);
}
