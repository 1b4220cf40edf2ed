//! The broker as a user meets it: real process, real Kafka clients.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod harness;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use harness::BrokerProcess;

fn kcat_metadata(broker: &BrokerProcess, extra: &[&str]) -> serde_json::Value {
    let output = Command::new("kcat")
        .args(["-b", &broker.kafka.to_string(), "-L", "-J", "-m", "10"])
        .args(extra)
        .output()
        .expect("kcat must be installed (cargo xtask test installs it)");
    assert!(
        output.status.success(),
        "kcat failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn kcat_lists_the_broker_as_controller_with_no_topics() {
    let broker = BrokerProcess::start();
    let metadata = kcat_metadata(&broker, &[]);
    let brokers = metadata["brokers"].as_array().unwrap();
    assert_eq!(brokers.len(), 1);
    assert_eq!(brokers[0]["id"], 0);
    assert_eq!(brokers[0]["name"], broker.kafka.to_string());
    // librdkafka names the connection that answered: the broker once it has
    // learned its id, or the bootstrap connection (id -1) if that answered
    // first. Either way it is this broker's address.
    let origin = &metadata["originating_broker"];
    let origin_name = origin["name"].as_str().unwrap();
    assert!(
        origin_name.starts_with(&broker.kafka.to_string()),
        "answered by {origin}"
    );
    assert!(
        origin["id"] == 0 || (origin["id"] == -1 && origin_name.ends_with("/bootstrap")),
        "answered by {origin}"
    );
    assert_eq!(metadata["controllerid"], 0);
    assert_eq!(metadata["topics"], serde_json::json!([]));
}

#[test]
fn kcat_is_told_a_topic_that_does_not_exist_is_unknown() {
    let broker = BrokerProcess::start_with(&["--auto-create-topics=false"]);
    let metadata = kcat_metadata(&broker, &["-t", "orders"]);
    let topic = &metadata["topics"][0];
    assert_eq!(topic["topic"], "orders");
    assert!(
        topic["error"].as_str().unwrap().contains("Unknown topic"),
        "{topic}"
    );
}

/// ApiVersions v3 request with a flexible (v2) header, built by hand.
fn api_versions_request(version: i16, correlation_id: i32) -> Vec<u8> {
    let mut payload = Vec::new();
    payload.extend_from_slice(&18i16.to_be_bytes());
    payload.extend_from_slice(&version.to_be_bytes());
    payload.extend_from_slice(&correlation_id.to_be_bytes());
    payload.extend_from_slice(&4i16.to_be_bytes());
    payload.extend_from_slice(b"test");
    payload.push(0); // header tagged fields
    payload.extend_from_slice(&[5, b'f', b'j', b'r', b'd', 2, b'1', 0]); // name, version, tags
    let mut frame = (payload.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&payload);
    frame
}

fn read_response(stream: &mut TcpStream) -> Vec<u8> {
    let mut length = [0u8; 4];
    stream.read_exact(&mut length).unwrap();
    let mut body = vec![0u8; i32::from_be_bytes(length) as usize];
    stream.read_exact(&mut body).unwrap();
    body
}

fn connection_is_closed(stream: &mut TcpStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut byte = [0u8; 1];
    matches!(stream.read(&mut byte), Ok(0) | Err(_))
}

#[test]
fn unknown_api_versions_version_gets_unsupported_version_and_the_table() {
    let broker = BrokerProcess::start();
    let mut stream = TcpStream::connect(broker.kafka).unwrap();
    stream.write_all(&api_versions_request(42, 77)).unwrap();
    let response = read_response(&mut stream);
    assert_eq!(i32::from_be_bytes(response[0..4].try_into().unwrap()), 77);
    assert_eq!(
        i16::from_be_bytes(response[4..6].try_into().unwrap()),
        35,
        "UNSUPPORTED_VERSION"
    );
    let api_count = i32::from_be_bytes(response[6..10].try_into().unwrap());
    assert!(api_count >= 2, "the v0 body lists the supported APIs");
    // The connection stays usable: the client retries with a version we know.
    stream.write_all(&api_versions_request(3, 78)).unwrap();
    let retry = read_response(&mut stream);
    assert_eq!(i32::from_be_bytes(retry[0..4].try_into().unwrap()), 78);
    assert_eq!(i16::from_be_bytes(retry[4..6].try_into().unwrap()), 0);
}

#[test]
fn hostile_frames_close_only_their_own_connection() {
    let mut broker = BrokerProcess::start();
    let hostile: [&[u8]; 6] = [
        // 2 GiB length, over the bound
        &[0x7f, 0xff, 0xff, 0xff],
        // negative length
        &[0xff, 0xff, 0xff, 0xfe],
        // unknown api key 12345
        &[0, 0, 0, 8, 0x30, 0x39, 0, 0, 0, 0, 0, 1],
        // Metadata v9 with a truncated header
        &[0, 0, 0, 10, 0, 3, 0, 9, 0, 0, 0, 1, 0xff, 0xff],
        // Metadata v4 declaring 2^31-1 topics in 14 bytes: must not allocate for them
        &[
            0, 0, 0, 14, 0, 3, 0, 4, 0, 0, 0, 1, 0, 0, 0x7f, 0xff, 0xff, 0xff,
        ],
        // Metadata v12 (compact encoding) declaring 2^32-2 topics
        &[
            0, 0, 0, 16, 0, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xff, 0, 0xff, 0xff, 0xff, 0xff, 0x0f,
        ],
    ];
    for frame in hostile {
        let mut stream = TcpStream::connect(broker.kafka).unwrap();
        stream.write_all(frame).unwrap();
        assert!(
            connection_is_closed(&mut stream),
            "frame {frame:?} left the connection open"
        );
    }
    assert!(broker.is_running());
    let metadata = kcat_metadata(&broker, &[]);
    assert_eq!(metadata["brokers"].as_array().unwrap().len(), 1);
}

#[test]
fn admin_api_serves_health_and_counts_requests() {
    let broker = BrokerProcess::start();
    kcat_metadata(&broker, &[]);
    let get = |path: &str| {
        let output = Command::new("curl")
            .args(["-fsS", &format!("http://{}{path}", broker.admin)])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "GET {path}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    assert_eq!(get("/healthz"), "{\"status\":\"ok\"}");
    assert!(get("/readyz").contains("ready"));
    let metrics = get("/metrics");
    assert!(
        metrics.contains("fjord_broker_requests_total{api=\"Metadata\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("fjord_broker_connections_accepted_total"),
        "{metrics}"
    );
    // The data directory's bytes (its identity file at least), measured at
    // start and every 15 s.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let metrics = get("/metrics");
        let disk_used = metrics.lines().find_map(|line| {
            line.strip_prefix("fjord_broker_disk_used_bytes ")?
                .parse::<f64>()
                .ok()
        });
        if disk_used.is_some_and(|bytes| bytes > 0.0) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{metrics}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn sigterm_stops_the_broker_cleanly() {
    let broker = BrokerProcess::start();
    assert!(broker.terminate(), "broker did not exit 0 after SIGTERM");
}
