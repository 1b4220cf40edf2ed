//! Topic configs and cluster description from confluent-kafka's AdminClient
//! and kafka-python's KafkaAdminClient against the real broker process,
//! through `tests/clients/kafka_clients.py` (`FJORD_TEST_PYTHON` names the
//! interpreter, as in `python_clients.rs`).
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod harness;

use harness::BrokerProcess;
use serde_json::{Value, json};

const CLIENTS: [&str; 2] = ["confluent", "kafka-python"];
/// Kafka's INVALID_CONFIG error code.
const INVALID_CONFIG: i64 = 40;

fn run(broker: &BrokerProcess, client: &str, args: &[&str]) -> Value {
    harness::run_client(client, &broker.kafka.to_string(), args)
}

fn refusal(answer: &Value) -> (i64, String) {
    let code = answer["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("not refused: {answer}"));
    (
        code,
        answer["message"].as_str().unwrap_or_default().to_owned(),
    )
}

#[test]
fn each_client_creates_describes_alters_and_deletes_a_configured_topic() {
    let broker = BrokerProcess::start_with(&["--auto-create-topics=false"]);
    for client in CLIENTS {
        let topic = format!("configured-{client}");
        let bad_value = run(
            &broker,
            client,
            &["create-with", &topic, "1", "retention.ms=soon"],
        );
        let (code, message) = refusal(&bad_value);
        assert_eq!(code, INVALID_CONFIG, "{bad_value}");
        assert!(
            message.contains("retention.ms must be an integer"),
            "{message}"
        );
        let unknown = run(
            &broker,
            client,
            &["create-with", &topic, "1", "retention.hours=1"],
        );
        let (code, message) = refusal(&unknown);
        assert_eq!(code, INVALID_CONFIG, "{unknown}");
        assert!(message.contains("unknown topic config"), "{message}");
        let compact = run(
            &broker,
            client,
            &["create-with", &topic, "1", "cleanup.policy=compact"],
        );
        let (code, message) = refusal(&compact);
        assert_eq!(code, INVALID_CONFIG, "{compact}");
        assert!(message.contains("compact is not supported"), "{message}");
        assert!(
            !run(&broker, client, &["topics"])
                .as_array()
                .unwrap()
                .contains(&json!(topic))
        );

        let created = run(
            &broker,
            client,
            &[
                "create-with",
                &topic,
                "2",
                "retention.ms=3600000",
                "segment.bytes=1048576",
            ],
        );
        assert_eq!(created, "ok");
        let described = run(&broker, client, &["describe", &topic]);
        assert_eq!(
            described["retention.ms"],
            json!(["3600000", "DYNAMIC_TOPIC_CONFIG"])
        );
        assert_eq!(
            described["segment.bytes"],
            json!(["1048576", "DYNAMIC_TOPIC_CONFIG"])
        );
        assert_eq!(
            described["retention.bytes"],
            json!(["-1", "DEFAULT_CONFIG"])
        );
        assert_eq!(
            described["cleanup.policy"],
            json!(["delete", "DEFAULT_CONFIG"])
        );

        // SET one, DELETE another back to its default.
        let altered = run(
            &broker,
            client,
            &["alter", &topic, "retention.bytes=1000000", "retention.ms="],
        );
        assert_eq!(altered, "ok");
        let described = run(&broker, client, &["describe", &topic]);
        assert_eq!(
            described["retention.bytes"],
            json!(["1000000", "DYNAMIC_TOPIC_CONFIG"])
        );
        assert_eq!(
            described["retention.ms"],
            json!(["604800000", "DEFAULT_CONFIG"])
        );
        assert_eq!(
            described["segment.bytes"],
            json!(["1048576", "DYNAMIC_TOPIC_CONFIG"])
        );

        assert_eq!(run(&broker, client, &["delete", &topic]), "ok");
        assert!(
            !run(&broker, client, &["topics"])
                .as_array()
                .unwrap()
                .contains(&json!(topic))
        );
    }
}

#[test]
fn a_retention_change_from_a_client_deletes_old_segments() {
    let broker = BrokerProcess::start();
    let created = run(
        &broker,
        "confluent",
        &["create-with", "trimmed", "1", "segment.bytes=1024"],
    );
    assert_eq!(created, "ok");
    assert_eq!(
        run(&broker, "confluent", &["produce-each", "trimmed", "40"]),
        "ok"
    );
    assert_eq!(
        run(&broker, "kafka-python", &["watermarks", "trimmed"]),
        json!([0, 40])
    );
    assert_eq!(
        run(
            &broker,
            "kafka-python",
            &["alter", "trimmed", "retention.bytes=1"]
        ),
        "ok"
    );
    let watermarks = run(&broker, "confluent", &["watermarks", "trimmed"]);
    let low = watermarks[0].as_i64().unwrap();
    assert!(
        low > 0 && low < 40,
        "old segments were not deleted: {watermarks}"
    );
    assert_eq!(watermarks[1], 40);
}

#[test]
fn each_client_sees_the_cluster_and_read_only_broker_settings() {
    let mut broker = BrokerProcess::start_with(&["--rack", "az-1", "--node-id", "0"]);
    let first = run(&broker, "confluent", &["cluster"]);
    let cluster_id = first["cluster_id"].as_str().unwrap().to_owned();
    assert_eq!(cluster_id.len(), 32, "{first}");
    assert_eq!(first["controller_id"], 0);
    let port = i64::from(broker.kafka.port());
    assert_eq!(first["brokers"], json!([[0, "127.0.0.1", port, "az-1"]]));
    broker.kill_and_restart();
    for client in CLIENTS {
        let cluster = run(&broker, client, &["cluster"]);
        assert_eq!(
            cluster["cluster_id"],
            cluster_id.as_str(),
            "{client}: {cluster}"
        );
        assert_eq!(
            cluster["brokers"],
            json!([[0, "127.0.0.1", port, "az-1"]]),
            "{client}"
        );
        let settings = run(&broker, client, &["describe-broker", "0"]);
        assert_eq!(
            settings["broker.id"],
            json!(["0", "STATIC_BROKER_CONFIG", true]),
            "{client}"
        );
        assert_eq!(
            settings["broker.rack"],
            json!(["az-1", "STATIC_BROKER_CONFIG", true])
        );
        assert_eq!(settings["log.retention.ms"][0], "604800000", "{client}");
    }
}
