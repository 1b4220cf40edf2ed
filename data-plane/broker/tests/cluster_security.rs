//! Users in a three-broker cluster: created through one broker, they are
//! controller records, so every broker authenticates them (and stops
//! when they are deleted), with kcat and confluent-kafka over SCRAM.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod harness;

use std::time::{Duration, Instant};

use harness::certs::path;
use harness::cluster::BrokerCluster;
use harness::secure::{metadata_at, secure_client_at};
use serde_json::json;

fn scram(user: &str, password: &str) -> Vec<String> {
    vec![
        "security.protocol=sasl_plaintext".to_owned(),
        "sasl.mechanisms=SCRAM-SHA-512".to_owned(),
        format!("sasl.username={user}"),
        format!("sasl.password={password}"),
        "reconnect.backoff.max.ms=500".to_owned(),
    ]
}

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

#[test]
fn a_user_made_through_one_broker_authenticates_at_every_broker() {
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("admin-password");
    std::fs::write(&password_file, "admin-secret\n").unwrap();
    let flags = [
        "--security-protocol=SASL_PLAINTEXT".to_owned(),
        "--sasl-bootstrap-user=admin".to_owned(),
        format!("--sasl-bootstrap-password-file={}", path(&password_file)),
    ];
    let cluster = BrokerCluster::start_with_flags(3, 3, &flags);
    let kafka = |id: u32| cluster.member(id).kafka;

    let admin = json!({
        "protocol": "SASL_PLAINTEXT",
        "mechanism": "SCRAM-SHA-512",
        "user": "admin",
        "password": "admin-secret",
    });
    assert_eq!(
        secure_client_at(
            "confluent",
            kafka(1),
            &admin,
            &["alter-user", "carol", "SCRAM-SHA-512", "carol-pw"]
        ),
        "ok"
    );
    for id in [1, 2, 3] {
        eventually(&format!("carol authenticates at broker {id}"), || {
            metadata_at(kafka(id), &scram("carol", "carol-pw"))
        });
        assert!(!metadata_at(kafka(id), &scram("carol", "wrong")));
    }

    secure_client_at(
        "confluent",
        kafka(2),
        &admin,
        &["delete-user", "carol", "SCRAM-SHA-512"],
    );
    for id in [1, 2, 3] {
        eventually(&format!("carol is refused at broker {id}"), || {
            !metadata_at(kafka(id), &scram("carol", "carol-pw"))
        });
    }
    // The bootstrap user, made by whichever broker got there first, works
    // everywhere.
    for id in [1, 2, 3] {
        assert!(metadata_at(kafka(id), &scram("admin", "admin-secret")));
    }
}

#[test]
fn the_admin_api_requires_the_token_except_for_health_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("admin-token");
    std::fs::write(&token_file, "a-long-enough-admin-token\n").unwrap();
    let flags = [format!("--admin-token-file={}", path(&token_file))];
    // The brokers form the cluster, which needs them to send the token on
    // their own controller requests, and the harness waits with the token.
    let cluster = BrokerCluster::start_with_flags(3, 3, &flags);
    let admin = cluster.member(2).admin;
    let status = |path: &str, token: Option<&str>| {
        let mut command = std::process::Command::new("curl");
        command.args(["-s", "-o", "/dev/null", "-w", "%{http_code}"]);
        if let Some(token) = token {
            command.args(["-H", &format!("authorization: Bearer {token}")]);
        }
        let output = command
            .arg(format!("http://{admin}{path}"))
            .output()
            .unwrap();
        String::from_utf8(output.stdout).unwrap()
    };
    for open in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(status(open, None), "200", "{open}");
    }
    for guarded in [
        "/v1/cluster/health",
        "/v1/brokers/1/restart-probe",
        "/v1/brokers/1/maintenance",
    ] {
        assert_eq!(status(guarded, None), "401", "{guarded}");
        assert_eq!(
            status(guarded, Some("a-long-enough-admin-tokeX")),
            "401",
            "{guarded}"
        );
        assert_eq!(
            status(guarded, Some("a-long-enough-admin-token")),
            "200",
            "{guarded}"
        );
    }
    // The harness's own calls carry the token and see the whole cluster.
    let health = cluster.member(2).get("/v1/cluster/health");
    assert_eq!(
        health["brokers"].as_array().map(Vec::len),
        Some(3),
        "{health}"
    );
}
