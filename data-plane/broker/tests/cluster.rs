//! Three real brokers in cluster mode on loopback: replicated topics,
//! Metadata from the controller, `acks=all` through a leader's death, and
//! the operator's probes (cluster health, pre-restart probe, maintenance).
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod harness;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use bytes::{Buf, BufMut, BytesMut};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{
    ApiKey, BrokerId, FetchRequest, FetchResponse, RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use harness::cluster::{BrokerCluster, http};
use serde_json::{Value, json};

fn confluent(cluster: &BrokerCluster, args: &[&str]) -> Value {
    harness::run_client("confluent", &cluster.bootstrap(), args)
}

/// Waits until every partition of `topic` has a leader and `isr` in-sync
/// replicas; returns the partitions.
fn wait_in_sync(cluster: &BrokerCluster, topic: &str, partitions: usize, isr: usize) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let described = confluent(cluster, &["partitions", topic]);
        let ready = described.as_object().is_some_and(|all| {
            all.len() == partitions
                && all.values().all(|p| {
                    p["leader"].as_i64().unwrap_or(-1) > 0
                        && p["isr"].as_array().map_or(0, Vec::len) == isr
                })
        });
        if ready {
            return described;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{topic} not in sync: {described}"
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

/// The error code of a Fetch v4 of `topic`-0 sent straight to `broker`.
fn fetch_error(broker: SocketAddr, topic: &str) -> i16 {
    let version = 4;
    let request = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_bytes(1024)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_string(topic.to_owned())))
                .with_partitions(vec![
                    FetchPartition::default()
                        .with_partition(0)
                        .with_partition_max_bytes(1024),
                ]),
        ]);
    let header = RequestHeader::default()
        .with_request_api_key(ApiKey::Fetch as i16)
        .with_request_api_version(version)
        .with_correlation_id(7);
    let mut buffer = BytesMut::new();
    buffer.put_i32(0);
    header
        .encode(&mut buffer, ApiKey::Fetch.request_header_version(version))
        .unwrap();
    request.encode(&mut buffer, version).unwrap();
    let length = i32::try_from(buffer.len() - 4).unwrap();
    buffer[..4].copy_from_slice(&length.to_be_bytes());
    let mut stream = TcpStream::connect(broker).unwrap();
    stream.write_all(&buffer).unwrap();
    let mut length = [0u8; 4];
    stream.read_exact(&mut length).unwrap();
    let mut payload = vec![0u8; usize::try_from(i32::from_be_bytes(length)).unwrap()];
    stream.read_exact(&mut payload).unwrap();
    let mut bytes = bytes::Bytes::from(payload);
    ResponseHeader::decode(&mut bytes, ApiKey::Fetch.response_header_version(version)).unwrap();
    let response = FetchResponse::decode(&mut bytes, version).unwrap();
    assert!(!bytes.has_remaining());
    response.responses[0].partitions[0].error_code
}

/// Every value read back exactly once per partition, in produced order.
fn assert_exactly_once(read: &Value, total: usize) {
    let mut seen = BTreeMap::new();
    for (partition, values) in read.as_object().unwrap() {
        let values: Vec<i64> = values
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        let mut sorted = values.clone();
        sorted.sort_unstable();
        assert_eq!(values, sorted, "partition {partition} out of order");
        for value in values {
            *seen.entry(value).or_insert(0) += 1;
        }
    }
    let duplicated: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicated.is_empty(), "duplicated: {duplicated:?}");
    let missing: Vec<_> = (0..total as i64)
        .filter(|v| !seen.contains_key(v))
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged but lost: {} values, first {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
}

#[test]
fn a_replicated_topic_keeps_every_acknowledged_record_when_a_leader_is_killed() {
    let mut cluster = BrokerCluster::start(3);
    let described = confluent(&cluster, &["cluster"]);
    assert_eq!(
        described["brokers"].as_array().unwrap().len(),
        3,
        "{described}"
    );
    assert!(described["controller_id"].as_i64().unwrap() >= 1);

    assert_eq!(
        confluent(&cluster, &["create-replicated", "orders", "3", "3"]),
        "ok"
    );
    let refused = confluent(&cluster, &["create-replicated", "too-wide", "1", "4"]);
    assert_eq!(refused["code"], 38, "INVALID_REPLICATION_FACTOR: {refused}");
    let partitions = wait_in_sync(&cluster, "orders", 3, 3);
    for partition in partitions.as_object().unwrap().values() {
        assert_eq!(partition["replicas"], json!([1, 2, 3]));
    }

    // Followers do not serve clients; the leader does.
    let leader = partitions["0"]["leader"].as_u64().unwrap() as u32;
    for member in &cluster.members {
        // 6: NOT_LEADER_OR_FOLLOWER.
        let expected = if member.id == leader { 0 } else { 6 };
        assert_eq!(
            fetch_error(member.kafka, "orders"),
            expected,
            "broker {}",
            member.id
        );
    }

    // Idempotent producer, acks=all.
    assert_eq!(
        confluent(&cluster, &["produce-keyed", "orders", "3000"]),
        "ok"
    );
    cluster.kill(leader);
    // The survivors elect new leaders and keep taking writes.
    assert_eq!(
        confluent(&cluster, &["produce-keyed", "orders", "3000", "3000"]),
        "ok"
    );
    let read = confluent(&cluster, &["consume-partitions", "orders", "3", "6000"]);
    assert_exactly_once(&read, 6000);

    // The killed broker comes back, catches up and is in sync again.
    cluster.restart(leader);
    wait_in_sync(&cluster, "orders", 3, 3);
    let health = cluster.wait_for("a healthy cluster", |health| health["healthy"] == true);
    assert_eq!(health["under_replicated"], json!([]));
    // Leader balancing hands each partition back to its preferred replica
    // (placement spreads those over the brokers).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let partitions = confluent(&cluster, &["partitions", "orders"]);
        let preferred = partitions
            .as_object()
            .unwrap()
            .values()
            .all(|p| p["leader"] == p["preferred"]);
        if preferred {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "leaders not balanced: {partitions}"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

#[test]
fn the_operator_probes_say_when_a_restart_is_safe_and_maintenance_moves_leaders() {
    let mut cluster = BrokerCluster::start(3);
    assert_eq!(
        confluent(&cluster, &["create-replicated", "events", "6", "3"]),
        "ok"
    );
    wait_in_sync(&cluster, "events", 6, 3);
    cluster.wait_for("a healthy cluster", |health| health["healthy"] == true);

    // A consumer group commits; its coordinator (the leader of the
    // replicated group log) is killed; a second consumer of the group,
    // coordinated by the new leader, resumes right after the commit.
    assert_eq!(
        confluent(&cluster, &["produce-keyed", "events", "300"]),
        "ok"
    );
    let first = confluent(&cluster, &["group-consume", "events", "300", "readers"]);
    assert_eq!(first.as_array().unwrap().len(), 300);
    // The group log has 12 partitions (the default); "readers" lives on
    // one of them, whose leader coordinates it.
    wait_in_sync(&cluster, "__consumer_offsets", 12, 3);
    let coordinator = harness::try_json(harness::groups_command(
        "confluent",
        &cluster.bootstrap(),
        &["coordinator", "readers"],
    ))
    .unwrap()
    .as_u64()
    .unwrap() as u32;
    cluster.kill(coordinator);
    assert_eq!(
        confluent(&cluster, &["produce-keyed", "events", "50", "300"]),
        "ok"
    );
    let second = confluent(&cluster, &["group-consume", "events", "50", "readers"]);
    let mut values: Vec<i64> = second
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().parse().unwrap())
        .collect();
    values.sort_unstable();
    assert_eq!(values, (300..350).collect::<Vec<_>>());
    cluster.restart(coordinator);
    wait_in_sync(&cluster, "events", 6, 3);
    cluster.wait_for("a healthy cluster", |health| health["healthy"] == true);

    let probe = cluster.member(1).get("/v1/brokers/2/restart-probe");
    assert_eq!(probe["safe"], true, "{probe}");
    let unknown = cluster.member(1).get("/v1/brokers/9/restart-probe");
    assert_eq!(unknown["status"], 404, "{unknown}");

    // Maintenance on broker 1: it gives up every leadership.
    let admin = cluster.member(2).admin;
    let on = http(
        &admin,
        "PUT",
        "/v1/brokers/1/maintenance",
        Some(r#"{"on":true}"#),
    );
    assert_eq!(on["on"], true, "{on}");
    cluster.wait_for("broker 1 to lead nothing", |health| {
        health["brokers"].as_array().is_some_and(|brokers| {
            brokers
                .iter()
                .any(|b| b["id"] == 1 && b["maintenance"] == true && b["leaderships"] == 0)
        })
    });
    // Health counts leaderships as the controller sees them; the Metadata a
    // client gets from any one broker may trail that by a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let partitions = wait_in_sync(&cluster, "events", 6, 3);
        let led_elsewhere = partitions
            .as_object()
            .unwrap()
            .values()
            .all(|p| p["leader"] != 1);
        if led_elsewhere {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{partitions}");
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    let off = http(
        &admin,
        "PUT",
        "/v1/brokers/1/maintenance",
        Some(r#"{"on":false}"#),
    );
    assert_eq!(off["on"], false, "{off}");

    // With broker 3 down, restarting broker 2 would leave no quorum.
    cluster.kill(3);
    cluster.wait_for("broker 3 fenced", |health| {
        health["brokers"]
            .as_array()
            .is_some_and(|brokers| brokers.iter().any(|b| b["id"] == 3 && b["fenced"] == true))
    });
    let probe = cluster.member(1).get("/v1/brokers/2/restart-probe");
    assert_eq!(probe["safe"], false, "{probe}");
    let at_risk = probe["at_risk"].as_array().unwrap();
    let events = at_risk
        .iter()
        .filter(|p| p.as_str().unwrap().starts_with("events-"))
        .count();
    assert_eq!(events, 6, "{probe}");
}

#[test]
fn a_decommissioned_broker_hands_its_replicas_over_without_losing_a_record() {
    // Broker 4 is not a controller voter: it follows the controller log
    // from the voters, hosts replicas like the others, and is the one that
    // leaves.
    let mut cluster = BrokerCluster::start_with_voters(4, 3);
    assert_eq!(
        confluent(&cluster, &["create-replicated", "moves", "4", "3"]),
        "ok"
    );
    wait_in_sync(&cluster, "moves", 4, 3);
    assert_eq!(
        confluent(&cluster, &["produce-keyed", "moves", "2000"]),
        "ok"
    );

    let admin = cluster.member(1).admin;
    let started = http(&admin, "PUT", "/v1/brokers/4/decommission", None);
    assert_eq!(started["decommissioning"], true, "{started}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        let state = http(&admin, "GET", "/v1/brokers/4/decommission", None);
        if state["replicas"] == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still hosting: {state}"
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    let partitions = wait_in_sync(&cluster, "moves", 4, 3);
    for partition in partitions.as_object().unwrap().values() {
        assert!(
            !partition["replicas"]
                .as_array()
                .unwrap()
                .contains(&json!(4)),
            "{partitions}"
        );
    }
    // Removing a broker that still runs or hosts is refused; once stopped
    // and empty it is forgotten.
    let refused = http(&admin, "DELETE", "/v1/brokers/2", None);
    assert_eq!(refused["status"], 409, "{refused}");
    cluster.kill(4);
    let removed = std::process::Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "DELETE",
        ])
        .arg(format!("http://{admin}/v1/brokers/4"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&removed.stdout), "204");
    cluster.wait_for("three brokers left", |health| {
        health["brokers"].as_array().is_some_and(|b| b.len() == 3) && health["healthy"] == true
    });

    assert_eq!(
        confluent(&cluster, &["produce-keyed", "moves", "2000", "2000"]),
        "ok"
    );
    let read = confluent(&cluster, &["consume-partitions", "moves", "4", "4000"]);
    assert_exactly_once(&read, 4000);
}
