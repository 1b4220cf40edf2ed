//! Produce and consume through kcat (librdkafka), the client most of the
//! ecosystem is built on, against the real broker process.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod harness;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use harness::BrokerProcess;

fn kcat(broker: &BrokerProcess, args: &[&str], input: &str) -> String {
    let mut child = Command::new("kcat")
        .args(["-b", &broker.kafka.to_string()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kcat must be installed (cargo xtask test installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "kcat {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn produce(broker: &BrokerProcess, topic: &str, codec: &str, lines: &str) {
    kcat(
        broker,
        &[
            "-P",
            "-t",
            topic,
            "-z",
            codec,
            "-K",
            ":",
            "-H",
            "source=test",
            "-X",
            "acks=all",
        ],
        lines,
    );
}

fn consume(broker: &BrokerProcess, topic: &str, offset: &str) -> String {
    kcat(
        broker,
        &[
            "-C",
            "-t",
            topic,
            "-o",
            offset,
            "-e",
            "-q",
            "-f",
            "%o|%k|%s|%h\n",
        ],
        "",
    )
}

#[test]
fn every_codec_round_trips_keys_values_and_headers() {
    let broker = BrokerProcess::start();
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let topic = format!("codec-{codec}");
        produce(&broker, &topic, codec, "k1:first\nk2:second\n");
        produce(&broker, &topic, codec, "k3:third\n");
        assert_eq!(
            consume(&broker, &topic, "beginning"),
            "0|k1|first|source=test\n1|k2|second|source=test\n2|k3|third|source=test\n",
            "{codec}"
        );
        // Relative offsets go through ListOffsets latest.
        assert_eq!(
            consume(&broker, &topic, "-1"),
            "2|k3|third|source=test\n",
            "{codec}"
        );
    }
}

#[test]
fn auto_created_topic_shows_in_metadata_with_this_broker_as_leader() {
    let broker = BrokerProcess::start_with(&["--default-partitions", "3"]);
    produce(&broker, "auto", "none", "k:v\n");
    let metadata: serde_json::Value =
        serde_json::from_str(&kcat(&broker, &["-L", "-J", "-t", "auto"], "")).unwrap();
    let partitions = metadata["topics"][0]["partitions"].as_array().unwrap();
    assert_eq!(partitions.len(), 3, "{metadata}");
    for partition in partitions {
        assert_eq!(partition["leader"], 0, "{metadata}");
        assert_eq!(partition["isrs"][0]["id"], 0, "{metadata}");
    }
}

#[test]
fn list_offsets_by_time_finds_the_first_record_at_or_after_it() {
    let broker = BrokerProcess::start();
    produce(&broker, "times", "zstd", "a:1\nb:2\n");
    std::thread::sleep(Duration::from_millis(50));
    let between = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string();
    std::thread::sleep(Duration::from_millis(50));
    produce(&broker, "times", "lz4", "c:3\nd:4\n");
    let answer = kcat(&broker, &["-Q", "-t", &format!("times:0:{between}")], "");
    assert!(answer.contains("offset 2"), "{answer}");
    let answer = kcat(&broker, &["-Q", "-t", "times:0:0"], "");
    assert!(answer.contains("offset 0"), "{answer}");
    // -1 and -2 are Kafka's "latest" and "earliest".
    let answer = kcat(&broker, &["-Q", "-t", "times:0:-1"], "");
    assert!(answer.contains("offset 4"), "{answer}");
    let answer = kcat(&broker, &["-Q", "-t", "times:0:-2"], "");
    assert!(answer.contains("offset 0"), "{answer}");
}

#[test]
fn acks_all_data_survives_kill_9() {
    let mut broker = BrokerProcess::start();
    let lines: String = (0..200).map(|i| format!("k{i}:value-{i}\n")).collect();
    produce(&broker, "durable", "snappy", &lines);
    broker.kill_and_restart();
    let consumed = consume(&broker, "durable", "beginning");
    assert_eq!(consumed.lines().count(), 200, "{consumed}");
    assert!(consumed.ends_with("199|k199|value-199|source=test\n"));
}

#[test]
fn acks_1_data_and_topics_survive_a_clean_restart() {
    let mut broker = BrokerProcess::start();
    kcat(
        &broker,
        &["-P", "-t", "clean", "-K", ":", "-X", "acks=1"],
        "a:1\nb:2\n",
    );
    broker.terminate_and_restart();
    assert_eq!(consume(&broker, "clean", "beginning"), "0|a|1|\n1|b|2|\n");
}

#[test]
fn kcat_consumes_as_a_group_member() {
    let broker = BrokerProcess::start();
    produce(&broker, "grouped", "lz4", "a:1\nb:2\n");
    let consumed = kcat(
        &broker,
        &[
            "-G",
            "kcat-group",
            "-o",
            "beginning",
            "-e",
            "-q",
            "-f",
            "%o|%s\n",
            "grouped",
        ],
        "",
    );
    assert_eq!(consumed, "0|1\n1|2\n");
}
