//! confluent-kafka (librdkafka inside) and kafka-python against the real
//! broker process, through `tests/clients/kafka_clients.py`. The Python
//! interpreter comes from `FJORD_TEST_PYTHON`, which `cargo xtask test` sets
//! to a venv with both clients pinned.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod harness;

use harness::BrokerProcess;
use serde_json::{Value, json};

const CLIENTS: [&str; 2] = ["confluent", "kafka-python"];

fn run(broker: &BrokerProcess, client: &str, args: &[&str]) -> Value {
    harness::run_client(client, &broker.kafka.to_string(), args)
}

fn expected(client: &str, count: usize) -> Value {
    let records: Vec<Value> = (0..count)
        .map(|i| {
            json!([
                i,
                format!("k{i}"),
                format!("value-{i}"),
                [["source", client]]
            ])
        })
        .collect();
    Value::Array(records)
}

#[test]
fn each_client_round_trips_and_reads_the_other() {
    let broker = BrokerProcess::start();
    for (producer, consumer) in [("confluent", "kafka-python"), ("kafka-python", "confluent")] {
        let topic = format!("round-trip-{producer}");
        assert_eq!(run(&broker, producer, &["produce", &topic, "5"]), "ok");
        for reader in [producer, consumer] {
            assert_eq!(
                run(&broker, reader, &["consume", &topic, "5"]),
                expected(producer, 5),
                "{producer} -> {reader}"
            );
        }
    }
    // Both producers ran with idempotence on (their defaults for
    // kafka-python, enabled for confluent-kafka) and so asked for an id.
    assert!(broker.metric("fjord_broker_producer_ids_allocated_total") >= 2.0);
}

#[test]
fn each_client_creates_and_deletes_topics() {
    let broker = BrokerProcess::start_with(&["--auto-create-topics=false"]);
    for client in CLIENTS {
        let topic = format!("admin-{client}");
        assert_eq!(run(&broker, client, &["create", &topic, "3"]), "ok");
        let topics = run(&broker, client, &["topics"]);
        assert!(
            topics.as_array().unwrap().contains(&json!(topic)),
            "{topics}"
        );
        assert_eq!(run(&broker, client, &["delete", &topic]), "ok");
        let topics = run(&broker, client, &["topics"]);
        assert!(
            !topics.as_array().unwrap().contains(&json!(topic)),
            "{topics}"
        );
    }
}

#[test]
fn acks_all_data_survives_kill_9_of_the_broker() {
    let mut broker = BrokerProcess::start();
    assert_eq!(
        run(&broker, "confluent", &["produce", "durable", "300"]),
        "ok"
    );
    broker.kill_and_restart();
    assert_eq!(
        run(&broker, "kafka-python", &["consume", "durable", "300"]),
        expected("confluent", 300)
    );
}

#[test]
fn committed_group_offsets_survive_kill_9_and_cross_clients() {
    let mut broker = BrokerProcess::start();
    assert_eq!(
        run(&broker, "confluent", &["produce", "grouped", "3"]),
        "ok"
    );
    assert_eq!(
        run(
            &broker,
            "confluent",
            &["group-consume", "grouped", "3", "readers"]
        ),
        json!(["value-0", "value-1", "value-2"])
    );
    assert_eq!(
        run(&broker, "kafka-python", &["produce", "grouped", "2"]),
        "ok"
    );
    // OffsetCommit is answered once durable, so SIGKILL cannot lose it.
    broker.kill_and_restart();
    // The second client resumes from the offset the first committed.
    assert_eq!(
        run(
            &broker,
            "kafka-python",
            &["group-consume", "grouped", "2", "readers"]
        ),
        json!(["value-0", "value-1"])
    );
}

#[test]
fn each_client_lists_and_deletes_consumer_groups() {
    let broker = BrokerProcess::start();
    assert_eq!(run(&broker, "confluent", &["produce", "listed", "1"]), "ok");
    for client in CLIENTS {
        let group = format!("group-{client}");
        assert_eq!(
            run(&broker, client, &["group-consume", "listed", "1", &group]),
            json!(["value-0"])
        );
        let groups = run(&broker, client, &["groups"]);
        assert!(
            groups.as_array().unwrap().contains(&json!(group)),
            "{groups}"
        );
        assert_eq!(run(&broker, client, &["delete-group", &group]), "ok");
        let groups = run(&broker, client, &["groups"]);
        assert!(
            !groups.as_array().unwrap().contains(&json!(group)),
            "{groups}"
        );
    }
}

#[test]
fn a_group_of_three_consumes_each_message_once_through_churn_and_a_kill_9() {
    const MESSAGES: u64 = 3_000;
    const LATER: u64 = 200;
    let mut broker = BrokerProcess::start();
    assert_eq!(run(&broker, "confluent", &["create", "churn", "6"]), "ok");
    // a, b, c consume while messages are produced in thirds; c leaves during
    // the first third, d joins during the second. Manual commits every 50
    // messages and on revoke.
    let result = run(
        &broker,
        "confluent",
        &["group-churn", "churn", &MESSAGES.to_string(), "churners"],
    );
    let mut consumed: Vec<u64> = result["consumed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|value| value.as_u64().unwrap())
        .collect();
    consumed.sort_unstable();
    let duplicates = consumed
        .windows(2)
        .filter(|pair| pair[0] == pair[1])
        .count();
    assert_eq!(duplicates, 0, "values consumed twice");
    assert_eq!(consumed, (0..MESSAGES).collect::<Vec<_>>());
    for member in ["a", "b", "c", "d"] {
        assert!(
            result["taken"][member].as_u64().unwrap_or(0) > 0,
            "member {member} consumed nothing: {}",
            result["taken"]
        );
    }

    // Everything so far is committed; these are not.
    let first = MESSAGES.to_string();
    assert_eq!(
        run(
            &broker,
            "confluent",
            &["produce-keyed", "churn", &LATER.to_string(), &first]
        ),
        "ok"
    );
    broker.kill_and_restart();
    let values = run(
        &broker,
        "confluent",
        &["group-consume", "churn", &LATER.to_string(), "churners"],
    );
    let mut resumed: Vec<u64> = values
        .as_array()
        .unwrap()
        .iter()
        .map(|value| value.as_str().unwrap().parse().unwrap())
        .collect();
    resumed.sort_unstable();
    assert_eq!(resumed, (MESSAGES..MESSAGES + LATER).collect::<Vec<_>>());
}
