//! ACLs in a three-broker cluster: a binding created through one broker is
//! a controller record, so every broker enforces it (and stops once it is
//! deleted through another).
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod harness;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use harness::certs::path;
use harness::cluster::BrokerCluster;
use harness::secure::{kcat_at, secure_client_at};
use serde_json::json;

/// Polls `condition` for up to 30 s.
fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if condition() {
            return;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    panic!("not within 30 s: {what}");
}

/// The topics broker `kafka` itself lists to carol (kcat asks the broker
/// it is given for metadata).
fn topics_seen_by_carol(kafka: SocketAddr) -> Option<String> {
    let settings = [
        "security.protocol=sasl_plaintext".to_owned(),
        "sasl.mechanisms=SCRAM-SHA-512".to_owned(),
        "sasl.username=carol".to_owned(),
        "sasl.password=carol-pw".to_owned(),
    ];
    let output = kcat_at(kafka, &settings, &["-L", "-m", "5"], "");
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn an_acl_created_through_one_broker_is_enforced_by_every_broker() {
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("admin-password");
    std::fs::write(&password_file, "admin-secret\n").unwrap();
    let flags = [
        "--security-protocol=SASL_PLAINTEXT".to_owned(),
        "--sasl-bootstrap-user=admin".to_owned(),
        format!("--sasl-bootstrap-password-file={}", path(&password_file)),
        "--authorizer=acl".to_owned(),
    ];
    let cluster = BrokerCluster::start_with_flags(3, 3, &flags);
    let kafka = |id: u32| cluster.member(id).kafka;
    let admin = json!({
        "protocol": "SASL_PLAINTEXT",
        "mechanism": "SCRAM-SHA-512",
        "user": "admin",
        "password": "admin-secret",
    });
    secure_client_at(
        "confluent",
        kafka(1),
        &admin,
        &["alter-user", "carol", "SCRAM-SHA-512", "carol-pw"],
    );
    for topic in ["shared.logs", "private"] {
        secure_client_at("kafka-python", kafka(1), &admin, &["create-topic", topic]);
    }
    // Authenticated everywhere, authorized nowhere yet.
    for id in [1, 2, 3] {
        eventually(&format!("broker {id} authenticates carol"), || {
            topics_seen_by_carol(kafka(id)).is_some()
        });
        let seen = topics_seen_by_carol(kafka(id)).unwrap();
        assert!(!seen.contains("shared.logs"), "broker {id}: {seen}");
    }

    let binding = json!([[
        "TOPIC",
        "shared.",
        "PREFIXED",
        "User:carol",
        "READ",
        "ALLOW"
    ]]);
    assert_eq!(
        secure_client_at(
            "kafka-python",
            kafka(1),
            &admin,
            &["create-acls", &binding.to_string()]
        ),
        "ok"
    );
    for id in [1, 2, 3] {
        eventually(&format!("broker {id} shows carol shared.logs"), || {
            topics_seen_by_carol(kafka(id)).is_some_and(|seen| seen.contains("\"shared.logs\""))
        });
        let seen = topics_seen_by_carol(kafka(id)).unwrap();
        assert!(!seen.contains("\"private\""), "broker {id}: {seen}");
    }
    assert_eq!(
        secure_client_at("kafka-python", kafka(3), &admin, &["describe-acls"]),
        json!([[
            "TOPIC",
            "shared.",
            "PREFIXED",
            "User:carol",
            "*",
            "READ",
            "ALLOW"
        ]])
    );

    secure_client_at(
        "kafka-python",
        kafka(2),
        &admin,
        &["delete-acls", "User:carol"],
    );
    for id in [1, 2, 3] {
        eventually(&format!("broker {id} hides shared.logs again"), || {
            topics_seen_by_carol(kafka(id)).is_some_and(|seen| !seen.contains("shared.logs"))
        });
    }
}
