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

/// `--peer-tls-*` flags for a broker holding `certificate` from `issuer`,
/// trusting the cluster CA in `bundle`.
fn peer_tls_flags(files: &harness::certs::CertFiles, bundle: &std::path::Path) -> Vec<String> {
    vec![
        format!("--peer-tls-cert-file={}", path(&files.certificate)),
        format!("--peer-tls-key-file={}", path(&files.key)),
        format!("--peer-tls-ca-file={}", path(bundle)),
    ]
}

fn partitions(cluster: &BrokerCluster, topic: &str) -> serde_json::Value {
    harness::run_client("confluent", &cluster.bootstrap(), &["partitions", topic])
}

#[test]
fn replication_runs_over_mutual_tls_and_a_broker_with_a_foreign_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cluster_ca = harness::certs::TestCa::new("fjord cluster ca");
    let foreign_ca = harness::certs::TestCa::new("another cluster's ca");
    let bundle = dir.path().join("bundle.crt");
    std::fs::write(&bundle, cluster_ca.pem()).unwrap();
    let certificates: Vec<_> = (1..=3)
        .map(|id| cluster_ca.write(dir.path(), &format!("broker-{id}"), &format!("broker-{id}")))
        .collect();
    // Broker 4 trusts the cluster's CA but holds another CA's certificate.
    let foreign = foreign_ca.write(dir.path(), "broker-4", "broker-4");

    // Voters 1-3; broker 4 follows the controller over HTTP, so it starts
    // and serves even though no peer accepts its replication connections.
    let cluster = BrokerCluster::start_with_member_flags(4, 3, &|id| match id {
        4 => peer_tls_flags(&foreign, &bundle),
        id => peer_tls_flags(&certificates[id as usize - 1], &bundle),
    });
    assert_eq!(
        harness::run_client(
            "confluent",
            &cluster.bootstrap(),
            &["create-replicated", "over-tls", "4", "3"]
        ),
        "ok"
    );
    // Partitions without broker 4 get all three replicas in sync; broker 4
    // never gets into any in-sync set (it may start in one, and leaves).
    let in_sync = |partition: &serde_json::Value, id: u64| {
        partition["isr"].as_array().unwrap().contains(&json!(id))
    };
    eventually("replicas in sync, except broker 4", || {
        partitions(&cluster, "over-tls")
            .as_object()
            .is_some_and(|all| {
                all.len() == 4
                    && all.values().all(|partition| {
                        let replicas = partition["replicas"].as_array().unwrap();
                        partition["leader"].as_i64().unwrap_or(-1) > 0
                            && !in_sync(partition, 4)
                            && replicas
                                .iter()
                                .filter(|id| **id != json!(4))
                                .all(|id| in_sync(partition, id.as_u64().unwrap()))
                    })
            })
    });
    let described = partitions(&cluster, "over-tls");
    assert!(
        described
            .as_object()
            .unwrap()
            .values()
            .any(|partition| partition["replicas"]
                .as_array()
                .unwrap()
                .contains(&json!(4))),
        "no partition placed on broker 4: {described}"
    );
    // acks=all records replicate between the brokers that trust each other.
    assert_eq!(
        harness::run_client(
            "confluent",
            &cluster.bootstrap(),
            &["produce-keyed", "over-tls", "200"]
        ),
        "ok"
    );
    // The refusals are counted on both sides.
    let refused = |id: u32| {
        let admin = cluster.member(id).admin;
        let output = std::process::Command::new("curl")
            .args(["-s", &format!("http://{admin}/metrics")])
            .output()
            .unwrap();
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .find_map(|line| line.strip_prefix("fjord_node_handshake_failures_total "))
            .and_then(|value| value.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    assert!(refused(1) + refused(2) + refused(3) > 0.0);
    assert!(refused(4) > 0.0);
}
