//! The idempotent producer under forced retries: confluent-kafka produces
//! through a proxy that drops the connection instead of returning some
//! Produce responses, so librdkafka retries batches the broker already
//! appended. Every message must be read back exactly once, in order.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod harness;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::BrokerProcess;
use harness::proxy::DroppingProxy;
use serde_json::Value;

fn client(bootstrap: &str, args: &[&str]) -> Command {
    harness::client_command("confluent", bootstrap, args)
}

fn run(bootstrap: &str, args: &[&str]) -> Value {
    harness::run_client("confluent", bootstrap, args)
}

#[test]
fn dropped_produce_responses_leave_no_duplicates_and_keep_order() {
    const MESSAGES: u64 = 5_000;
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

    assert_exactly_once_in_order(&advertised, "retried", PARTITIONS, MESSAGES);

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

/// Reads `partitions` partitions of `topic` and checks that they hold each
/// of `0..messages` exactly once, in increasing order per partition.
fn assert_exactly_once_in_order(bootstrap: &str, topic: &str, partitions: usize, messages: u64) {
    let consumed = run(
        bootstrap,
        &[
            "consume-partitions",
            topic,
            &partitions.to_string(),
            &messages.to_string(),
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
        assert!(
            values.windows(2).all(|pair| pair[0] < pair[1]),
            "partition {partition} is out of order or has a duplicate"
        );
        all.extend(values);
    }
    all.sort_unstable();
    assert_eq!(
        all.len() as u64,
        messages,
        "{} messages read back",
        all.len()
    );
    assert_eq!(all, (0..messages).collect::<Vec<_>>());
}

#[test]
fn an_idempotent_producer_rides_through_a_kill_9_without_loss_or_duplicates() {
    const MESSAGES: u64 = 4_000;
    let mut broker = BrokerProcess::start();
    let bootstrap = broker.kafka.to_string();
    assert_eq!(run(&bootstrap, &["create", "crashed", "3"]), "ok");
    // acks=all (librdkafka's default with idempotence), paced so the kill
    // lands mid-stream.
    let producer = client(
        &bootstrap,
        &[
            "produce-keyed",
            "crashed",
            &MESSAGES.to_string(),
            "0",
            "0.02",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while broker.metric("fjord_broker_produced_bytes_total") < 20_000.0 {
        assert!(Instant::now() < deadline, "the producer never got going");
        std::thread::sleep(Duration::from_millis(20));
    }
    broker.kill_and_restart();
    let output = producer.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "producer failed across the restart: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The kill landed mid-stream: the restarted broker took appends too.
    assert!(broker.metric("fjord_broker_produced_bytes_total") > 0.0);
    eprintln!(
        "duplicates refused after the restart: {}",
        broker.metric("fjord_broker_produce_duplicates_total")
    );
    // Every message was acknowledged (acks=all), so every one must be there,
    // once, and in order per partition: retries of batches that were in the
    // log before the kill are recognised from the rebuilt producer state.
    assert_exactly_once_in_order(&bootstrap, "crashed", 3, MESSAGES);
}
