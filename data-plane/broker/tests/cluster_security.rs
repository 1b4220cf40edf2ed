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

/// One round of a certificate rotation, run on broker `id`'s files.
type RotationStep<'a> = dyn Fn(u32, &PeerFiles) + 'a;

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

/// One broker's peer files at fixed paths, rewritten in place as the
/// operator's mounted Secret would be.
struct PeerFiles {
    dir: std::path::PathBuf,
}

impl PeerFiles {
    fn new(root: &std::path::Path, id: u32) -> Self {
        let dir = root.join(format!("peer-{id}"));
        std::fs::create_dir_all(&dir).unwrap();
        Self { dir }
    }

    fn file(&self, name: &str) -> std::path::PathBuf {
        self.dir.join(name)
    }

    fn flags(&self) -> Vec<String> {
        vec![
            format!("--peer-tls-cert-file={}", path(&self.file("tls.crt"))),
            format!("--peer-tls-key-file={}", path(&self.file("tls.key"))),
            format!("--peer-tls-ca-file={}", path(&self.file("ca.crt"))),
            "--tls-reload-interval-seconds=1".to_owned(),
        ]
    }

    fn write_certificate(&self, ca: &harness::certs::TestCa, id: u32) {
        let (certificate, key) = ca.issue(&format!("broker-{id}"));
        // Key first: for a moment the pair does not match, which the
        // broker must refuse and then take once the certificate follows.
        std::fs::write(self.file("tls.key"), key).unwrap();
        std::fs::write(self.file("tls.crt"), certificate).unwrap();
    }

    fn write_bundle(&self, cas: &[&harness::certs::TestCa]) {
        let bundle: String = cas.iter().map(|ca| ca.pem()).collect();
        std::fs::write(self.file("ca.crt"), bundle).unwrap();
    }
}

fn metric(cluster: &BrokerCluster, id: u32, sample: &str) -> f64 {
    let admin = cluster.member(id).admin;
    let output = std::process::Command::new("curl")
        .args(["-s", &format!("http://{admin}/metrics")])
        .output()
        .unwrap();
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' '))
        .and_then(|value| value.parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// Whether every partition of `topic` has a leader and, for the replicas
/// `wanted` says, every one of them in sync (or, negated, out of sync).
fn replicas_in_sync(cluster: &BrokerCluster, topic: &str, wanted: &dyn Fn(u64) -> bool) -> bool {
    partitions(cluster, topic).as_object().is_some_and(|all| {
        !all.is_empty()
            && all.values().all(|partition| {
                let isr = partition["isr"].as_array().unwrap();
                partition["leader"].as_i64().unwrap_or(-1) > 0
                    && partition["replicas"].as_array().unwrap().iter().all(|id| {
                        let id = id.as_u64().unwrap();
                        isr.contains(&json!(id)) == wanted(id)
                    })
            })
    })
}

#[test]
fn peer_certificates_rotate_to_a_new_ca_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let old_ca = harness::certs::TestCa::new("fjord cluster ca 2025");
    let new_ca = harness::certs::TestCa::new("fjord cluster ca 2026");
    let files: Vec<PeerFiles> = (1..=4).map(|id| PeerFiles::new(dir.path(), id)).collect();
    for id in 1..=3 {
        files[id as usize - 1].write_certificate(&old_ca, id);
        files[id as usize - 1].write_bundle(&[&old_ca]);
    }
    // Broker 4 already holds the new CA's certificate and trusts only it:
    // until the others have rotated, no peer handshake with it succeeds.
    files[3].write_certificate(&new_ca, 4);
    files[3].write_bundle(&[&new_ca]);
    let mut cluster =
        BrokerCluster::start_with_member_flags(4, 3, &|id| files[id as usize - 1].flags());
    assert_eq!(
        harness::run_client(
            "confluent",
            &cluster.bootstrap(),
            &["create-replicated", "rotated", "4", "3"]
        ),
        "ok"
    );
    eventually("brokers 1-3 in sync, broker 4 out", || {
        replicas_in_sync(&cluster, "rotated", &|id| id != 4)
    });

    // The three rounds, each on every broker, one broker at a time, no
    // restart: trust both CAs; present the new certificate; trust only
    // the new CA.
    let rounds: [&RotationStep<'_>; 3] = [
        &|_, files| files.write_bundle(&[&old_ca, &new_ca]),
        &|id, files| files.write_certificate(&new_ca, id),
        &|_, files| files.write_bundle(&[&new_ca]),
    ];
    for (round, step) in rounds.iter().enumerate() {
        for id in 1..=3 {
            step(id, &files[id as usize - 1]);
            let loaded = r#"fjord_broker_peer_tls_reloads_total{outcome="loaded"}"#;
            eventually(&format!("broker {id} takes round {round}"), || {
                metric(&cluster, id, loaded) >= (round + 1) as f64
            });
        }
    }
    // Replication went on throughout, and broker 4, whose handshakes need
    // the new certificates and bundle on both sides, is now in sync.
    assert_eq!(
        harness::run_client(
            "confluent",
            &cluster.bootstrap(),
            &["produce-keyed", "rotated", "200"]
        ),
        "ok"
    );
    eventually("every replica in sync after the rotation", || {
        replicas_in_sync(&cluster, "rotated", &|_| true)
    });

    // A broker still holding the old CA's certificate is refused now.
    let failures = |cluster: &BrokerCluster| {
        (1..=3)
            .map(|id| metric(cluster, id, "fjord_node_handshake_failures_total"))
            .sum::<f64>()
    };
    let failures_before = failures(&cluster);
    cluster.kill(4);
    files[3].write_certificate(&old_ca, 4);
    files[3].write_bundle(&[&old_ca]);
    cluster.restart(4);
    eventually(
        "broker 4 with the old certificate falls out of sync",
        || replicas_in_sync(&cluster, "rotated", &|id| id != 4),
    );
    assert!(failures(&cluster) > failures_before);
}
