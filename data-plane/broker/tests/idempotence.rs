//! The idempotent producer under forced retries: confluent-kafka produces
//! through a proxy that drops the connection instead of returning some
//! Produce responses, so librdkafka retries batches the broker already
//! appended. Every message must be read back exactly once, in order.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod harness;

use std::process::Command;

use harness::BrokerProcess;
use harness::proxy::DroppingProxy;
use serde_json::Value;

fn run(bootstrap: &str, args: &[&str]) -> Value {
    let python = std::env::var("FJORD_TEST_PYTHON").expect(
        "FJORD_TEST_PYTHON must name a Python with confluent-kafka; run `cargo xtask test`",
    );
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/kafka_clients.py"
    );
    let output = Command::new(python)
        .arg(script)
        .args(["confluent", bootstrap])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn dropped_produce_responses_leave_no_duplicates_and_keep_order() {
    const MESSAGES: usize = 5_000;
    const PARTITIONS: usize = 3;
    let (listener, proxy_address) = DroppingProxy::bind();
    let advertised = proxy_address.to_string();
    let broker = BrokerProcess::start_with(&["--advertised-listener", &advertised]);
    let proxy = DroppingProxy::start(listener, broker.kafka, 7);
    let direct = broker.kafka.to_string();
    // Metadata through either address names the proxy, so every later
    // request of the clients goes through it.
    assert_eq!(run(&direct, &["create", "retried", "3"]), "ok");

    assert_eq!(
        run(
            &advertised,
            &["produce-keyed", "retried", &MESSAGES.to_string()]
        ),
        "ok"
    );

    let consumed = run(
        &advertised,
        &[
            "consume-partitions",
            "retried",
            &PARTITIONS.to_string(),
            &MESSAGES.to_string(),
        ],
    );
    let mut all = Vec::new();
    for (partition, values) in consumed.as_object().unwrap() {
        let values: Vec<u64> = values
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert!(!values.is_empty(), "partition {partition} got nothing");
        assert!(
            values.windows(2).all(|pair| pair[0] < pair[1]),
            "partition {partition} is out of order or has a duplicate"
        );
        all.extend(values);
    }
    all.sort_unstable();
    let expected: Vec<u64> = (0..MESSAGES as u64).collect();
    assert_eq!(all.len(), MESSAGES, "{} messages read back", all.len());
    assert_eq!(all, expected);

    // The test has teeth: responses were dropped, so librdkafka resent
    // batches that were already in the log, and only the broker's
    // sequence check kept them out.
    assert!(
        proxy.dropped() >= 3,
        "only {} responses dropped",
        proxy.dropped()
    );
    let duplicates = broker.metric("fjord_broker_produce_duplicates_total");
    assert!(duplicates >= 1.0, "no retried batch reached the broker");
    eprintln!(
        "produce responses {}, dropped {}, duplicates refused by the broker {duplicates}",
        proxy.produce_responses(),
        proxy.dropped()
    );
}
