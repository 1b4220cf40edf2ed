//! SASL on the Kafka listener with real clients: kcat and confluent-kafka
//! over SASL_SSL with SCRAM-SHA-512, kafka-python with SCRAM-SHA-256,
//! users made with confluent-kafka's admin (AlterUserScramCredentials) by
//! the bootstrap super user, and refusals with the errors clients show.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod harness;

use std::path::Path;

use harness::BrokerProcess;
use harness::certs::{TestCa, path};
use harness::secure::{
    kcat, metadata_succeeds, produce_and_consume, secure_client, try_secure_client,
};
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "admin-secret";

/// A broker with `protocol` (SASL_SSL with a fresh certificate, or
/// SASL_PLAINTEXT) and the bootstrap user `admin`; its CA file, if any.
fn sasl_broker(dir: &Path, protocol: &str, extra: &[&str]) -> (BrokerProcess, Option<String>) {
    let password_file = dir.join("admin-password");
    std::fs::write(&password_file, format!("{ADMIN_PASSWORD}\n")).unwrap();
    let mut flags = vec![
        format!("--security-protocol={protocol}"),
        "--sasl-bootstrap-user=admin".to_owned(),
        format!("--sasl-bootstrap-password-file={}", path(&password_file)),
    ];
    let mut ca = None;
    if protocol == "SASL_SSL" {
        let server = TestCa::new("fjord test ca").write(dir, "server", "broker-0");
        flags.push(format!("--tls-cert-file={}", path(&server.certificate)));
        flags.push(format!("--tls-key-file={}", path(&server.key)));
        ca = Some(path(&server.ca).to_owned());
    }
    flags.extend(extra.iter().map(|flag| (*flag).to_owned()));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    (BrokerProcess::start_with(&flags), ca)
}

fn security(
    protocol: &str,
    ca: Option<&str>,
    mechanism: &str,
    user: &str,
    password: &str,
) -> Value {
    let mut security = json!({
        "protocol": protocol,
        "mechanism": mechanism,
        "user": user,
        "password": password,
    });
    if let Some(ca) = ca {
        security["ca"] = json!(ca);
    }
    security
}

fn kcat_settings(
    protocol: &str,
    ca: Option<&str>,
    mechanism: &str,
    user: &str,
    password: &str,
) -> Vec<String> {
    let mut settings = vec![
        format!("security.protocol={}", protocol.to_lowercase()),
        format!("sasl.mechanisms={mechanism}"),
        format!("sasl.username={user}"),
        format!("sasl.password={password}"),
        "reconnect.backoff.max.ms=500".to_owned(),
    ];
    if let Some(ca) = ca {
        settings.push(format!("ssl.ca.location={ca}"));
    }
    settings
}

#[test]
fn scram_sha_512_over_sasl_ssl_with_kcat_and_confluent_kafka() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, ca) = sasl_broker(dir.path(), "SASL_SSL", &[]);
    let ca = ca.as_deref();
    let admin = security("SASL_SSL", ca, "SCRAM-SHA-512", "admin", ADMIN_PASSWORD);
    assert_eq!(
        secure_client(
            "confluent",
            &broker,
            &admin,
            &["alter-user", "alice", "SCRAM-SHA-512", "alice-pw"]
        ),
        "ok"
    );
    // Listed with kafka-python's admin: confluent-kafka 2.16's
    // describe_user_scram_credentials aborts the process now and then over
    // TLS ("munmap_chunk(): invalid pointer"), a client bug.
    assert_eq!(
        secure_client("kafka-python", &broker, &admin, &["describe-users"]),
        json!({
            "admin": [["SCRAM-SHA-256", 4096], ["SCRAM-SHA-512", 4096]],
            "alice": [["SCRAM-SHA-512", 4096]],
        })
    );

    let alice = kcat_settings("SASL_SSL", ca, "SCRAM-SHA-512", "alice", "alice-pw");
    produce_and_consume(&broker, &alice, "scram-kcat");
    let alice_py = security("SASL_SSL", ca, "SCRAM-SHA-512", "alice", "alice-pw");
    assert_eq!(
        secure_client(
            "confluent",
            &broker,
            &alice_py,
            &["produce", "scram-py", "3"]
        ),
        "ok"
    );
    assert_eq!(
        secure_client(
            "confluent",
            &broker,
            &alice_py,
            &["consume", "scram-py", "3"]
        ),
        json!(["value-0", "value-1", "value-2"])
    );

    // Only a super user may list or change users.
    let refused =
        try_secure_client("kafka-python", &broker, &alice_py, &["describe-users"]).unwrap_err();
    assert!(refused.contains("ClusterAuthorizationFailed"), "{refused}");
    let refused = try_secure_client(
        "confluent",
        &broker,
        &alice_py,
        &["alter-user", "alice", "SCRAM-SHA-512", "mine-now"],
    )
    .unwrap_err();
    assert!(
        refused.contains("CLUSTER_AUTHORIZATION_FAILED"),
        "{refused}"
    );
    produce_and_consume(&broker, &alice, "password-unchanged");
}

#[test]
fn kafka_python_authenticates_with_scram_sha_256() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, _) = sasl_broker(dir.path(), "SASL_PLAINTEXT", &[]);
    let admin = security(
        "SASL_PLAINTEXT",
        None,
        "SCRAM-SHA-256",
        "admin",
        ADMIN_PASSWORD,
    );
    secure_client(
        "confluent",
        &broker,
        &admin,
        &["alter-user", "bob", "SCRAM-SHA-256", "bob-pw"],
    );
    let bob = security("SASL_PLAINTEXT", None, "SCRAM-SHA-256", "bob", "bob-pw");
    assert_eq!(
        secure_client("kafka-python", &broker, &bob, &["produce", "sha256", "4"]),
        "ok"
    );
    assert_eq!(
        secure_client("kafka-python", &broker, &bob, &["consume", "sha256", "4"]),
        json!(["value-0", "value-1", "value-2", "value-3"])
    );
}

#[test]
fn wrong_passwords_and_unknown_users_are_refused_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, ca) = sasl_broker(
        dir.path(),
        "SASL_SSL",
        &["--sasl-mechanisms=SCRAM-SHA-512,PLAIN"],
    );
    let ca = ca.as_deref();
    let failures = |mechanism: &str| {
        broker.metric(&format!(
            "fjord_broker_authentication_failures_total{{mechanism=\"{mechanism}\"}}"
        ))
    };
    for (user, password) in [("admin", "wrong"), ("nobody", ADMIN_PASSWORD)] {
        let output = kcat(
            &broker,
            &kcat_settings("SASL_SSL", ca, "SCRAM-SHA-512", user, password),
            &["-L", "-m", "5"],
            "",
        );
        assert!(!output.status.success(), "{user} got in");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("Authentication failed"), "{user}: {stderr}");
    }
    assert!(failures("SCRAM-SHA-512") >= 2.0);
    let wrong = security("SASL_SSL", ca, "SCRAM-SHA-512", "admin", "wrong");
    let error =
        try_secure_client("confluent", &broker, &wrong, &["produce", "t", "1"]).unwrap_err();
    assert!(error.contains("Authentication failed"), "{error}");

    // PLAIN over TLS, with the same users; a wrong password fails alike.
    let plain = kcat_settings("SASL_SSL", ca, "PLAIN", "admin", ADMIN_PASSWORD);
    produce_and_consume(&broker, &plain, "plain-over-tls");
    let before = failures("PLAIN");
    assert!(!metadata_succeeds(
        &broker,
        &kcat_settings("SASL_SSL", ca, "PLAIN", "admin", "nope")
    ));
    assert!(failures("PLAIN") > before);
    // A mechanism the listener does not offer.
    assert!(!metadata_succeeds(
        &broker,
        &kcat_settings("SASL_SSL", ca, "SCRAM-SHA-256", "admin", ADMIN_PASSWORD)
    ));
}

#[test]
fn plain_without_tls_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("pw");
    std::fs::write(&password_file, "pw").unwrap();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_fjord-broker"))
        .args(["--data-dir", path(dir.path())])
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .args([
            "--security-protocol",
            "SASL_PLAINTEXT",
            "--sasl-mechanisms",
            "PLAIN",
        ])
        .output()
        .unwrap();
    assert!(!status.status.success());
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert!(stderr.contains("--sasl-plain-without-tls"), "{stderr}");

    let (broker, _) = sasl_broker(
        dir.path(),
        "SASL_PLAINTEXT",
        &["--sasl-mechanisms=PLAIN", "--sasl-plain-without-tls"],
    );
    produce_and_consume(
        &broker,
        &kcat_settings("SASL_PLAINTEXT", None, "PLAIN", "admin", ADMIN_PASSWORD),
        "plain-allowed",
    );
}

#[test]
fn clients_re_authenticate_on_their_connections_before_the_session_expires() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, _) = sasl_broker(
        dir.path(),
        "SASL_PLAINTEXT",
        &["--sasl-session-lifetime-seconds=2"],
    );
    let admin = security(
        "SASL_PLAINTEXT",
        None,
        "SCRAM-SHA-512",
        "admin",
        ADMIN_PASSWORD,
    );
    // One producer, a record every second for six seconds: three session
    // lifetimes on the same connections.
    assert_eq!(
        secure_client(
            "confluent",
            &broker,
            &admin,
            &["produce-slowly", "reauth", "6", "1"]
        ),
        "ok"
    );
    // librdkafka re-authenticates on an open connection (KIP-368): more
    // authentications than connections were ever opened.
    let authentications =
        broker.metric("fjord_broker_authentications_total{mechanism=\"SCRAM-SHA-512\"}");
    let connections = broker.metric("fjord_broker_connections_accepted_total");
    assert!(
        authentications > connections,
        "{authentications} authentications on {connections} connections"
    );
}

#[test]
fn a_connection_that_does_not_authenticate_in_time_is_closed() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let (broker, _) = sasl_broker(
        dir.path(),
        "SASL_PLAINTEXT",
        &["--sasl-authentication-timeout-seconds=1"],
    );
    let mut silent = std::net::TcpStream::connect(broker.kafka).unwrap();
    silent
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let started = std::time::Instant::now();
    let mut buffer = [0u8; 16];
    // The broker closes it: the read ends (0 bytes), well before 20 s.
    assert_eq!(silent.read(&mut buffer).unwrap(), 0);
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    assert!(
        broker.metric(
            "fjord_broker_connections_closed_by_error_total{reason=\"authentication_timeout\"}"
        ) >= 1.0
    );
    // Clients that authenticate stay connected past the timeout.
    let admin = security(
        "SASL_PLAINTEXT",
        None,
        "SCRAM-SHA-512",
        "admin",
        ADMIN_PASSWORD,
    );
    assert_eq!(
        secure_client(
            "confluent",
            &broker,
            &admin,
            &["produce-slowly", "patient", "3", "1"]
        ),
        "ok"
    );
}
