//! Several Kafka listeners per broker (`--listeners`), with kcat and
//! confluent-kafka: each client is told the brokers' addresses on the
//! listener it connected to, each listener enforces its own security
//! protocol, and in a cluster clients bootstrap through either.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod harness;

use std::net::{SocketAddr, TcpListener};
use std::path::Path;

use harness::BrokerProcess;
use harness::certs::{TestCa, path};
use harness::cluster::BrokerCluster;
use harness::secure::{kcat_at, secure_client_at, succeeded, try_secure_client_at};
use serde_json::{Value, json};

const PASSWORD: &str = "admin-secret";

fn free_address() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Flags for a PLAINTEXT listener on `internal` (advertised as is) and a
/// SASL_SSL one on `external`, advertised as `localhost` (a name its
/// certificate holds), with the bootstrap user `admin`. Returns the flags
/// and the CA file clients trust.
fn two_listener_flags(dir: &Path, internal: SocketAddr, external: SocketAddr) -> Vec<String> {
    vec![
        format!("--listeners=INTERNAL://{internal},EXTERNAL://{external}"),
        "--listener-security-protocol-map=INTERNAL:PLAINTEXT,EXTERNAL:SASL_SSL".to_owned(),
        format!(
            "--advertised-listeners=EXTERNAL://localhost:{}",
            external.port()
        ),
        format!("--tls-cert-file={}", path(&dir.join("server.crt"))),
        format!("--tls-key-file={}", path(&dir.join("server.key"))),
        "--sasl-mechanisms=SCRAM-SHA-512".to_owned(),
        "--sasl-bootstrap-user=admin".to_owned(),
        format!(
            "--sasl-bootstrap-password-file={}",
            path(&dir.join("password"))
        ),
    ]
}

/// Writes the server certificate, its CA and the admin password into `dir`.
fn write_secrets(dir: &Path) -> String {
    std::fs::write(dir.join("password"), format!("{PASSWORD}\n")).unwrap();
    let files = TestCa::new("fjord test ca").write(dir, "server", "broker");
    path(&files.ca).to_owned()
}

fn sasl_ssl_kcat(ca: &str) -> Vec<String> {
    vec![
        "security.protocol=sasl_ssl".to_owned(),
        format!("ssl.ca.location={ca}"),
        "sasl.mechanisms=SCRAM-SHA-512".to_owned(),
        "sasl.username=admin".to_owned(),
        format!("sasl.password={PASSWORD}"),
    ]
}

fn sasl_ssl_python(ca: &str) -> Value {
    json!({
        "protocol": "SASL_SSL",
        "ca": ca,
        "mechanism": "SCRAM-SHA-512",
        "user": "admin",
        "password": PASSWORD,
    })
}

fn plaintext() -> Value {
    json!({"protocol": "PLAINTEXT"})
}

/// The brokers kcat's metadata lists, as `host:port` (`-L` prints
/// `broker ID at HOST:PORT`).
fn kcat_brokers(kafka: SocketAddr, settings: &[String]) -> Vec<String> {
    let listing = succeeded(&kcat_at(kafka, settings, &["-L", "-m", "10"], ""));
    let mut brokers: Vec<String> = listing
        .lines()
        .filter_map(|line| line.trim().strip_prefix("broker "))
        .filter_map(|rest| rest.split(" at ").nth(1))
        .map(|address| address.split_whitespace().next().unwrap().to_owned())
        .collect();
    brokers.sort();
    brokers
}

/// The brokers confluent-kafka's metadata lists, as `host:port`.
fn confluent_brokers(kafka: SocketAddr, security: &Value) -> Vec<String> {
    let listed = secure_client_at("confluent", kafka, security, &["brokers"]);
    let mut brokers: Vec<String> = listed
        .as_object()
        .unwrap()
        .values()
        .map(|address| address.as_str().unwrap().to_owned())
        .collect();
    brokers.sort();
    brokers
}

#[test]
fn each_listener_advertises_itself_and_enforces_its_own_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let ca = write_secrets(dir.path());
    let external = free_address();
    let broker =
        BrokerProcess::start_around(&|internal| two_listener_flags(dir.path(), internal, external));
    let internal = broker.kafka;
    let external_advertised = format!("localhost:{}", external.port());

    // Each client sees the address of the listener it came in on.
    assert_eq!(kcat_brokers(internal, &[]), [internal.to_string()]);
    assert_eq!(
        kcat_brokers(external, &sasl_ssl_kcat(&ca)),
        std::slice::from_ref(&external_advertised)
    );
    assert_eq!(
        confluent_brokers(internal, &plaintext()),
        [internal.to_string()]
    );
    assert_eq!(
        confluent_brokers(external, &sasl_ssl_python(&ca)),
        [external_advertised]
    );

    // Written through one listener, read through the other.
    assert_eq!(
        secure_client_at(
            "confluent",
            external,
            &sasl_ssl_python(&ca),
            &["produce", "both-ways", "5"]
        ),
        "ok"
    );
    assert_eq!(
        secure_client_at(
            "confluent",
            internal,
            &plaintext(),
            &["consume", "both-ways", "5"]
        ),
        json!(["value-0", "value-1", "value-2", "value-3", "value-4"])
    );

    // SASL on the PLAINTEXT listener is refused, as Kafka refuses it
    // (ILLEGAL_SASL_STATE), and so is a plaintext client on the SASL_SSL
    // one.
    let sasl_plaintext = vec![
        "security.protocol=sasl_plaintext".to_owned(),
        "sasl.mechanisms=SCRAM-SHA-512".to_owned(),
        "sasl.username=admin".to_owned(),
        format!("sasl.password={PASSWORD}"),
    ];
    let refused = kcat_at(internal, &sasl_plaintext, &["-L", "-m", "5"], "");
    assert!(!refused.status.success());
    let error = String::from_utf8_lossy(&refused.stderr).to_lowercase();
    assert!(error.contains("sasl"), "{error}");
    let refused = try_secure_client_at(
        "confluent",
        internal,
        &json!({
            "protocol": "SASL_PLAINTEXT",
            "mechanism": "SCRAM-SHA-512",
            "user": "admin",
            "password": PASSWORD,
        }),
        &["produce", "refused", "1"],
    );
    assert!(refused.is_err(), "{refused:?}");
    assert!(
        !kcat_at(external, &[], &["-L", "-m", "5"], "")
            .status
            .success()
    );
}

#[test]
fn clients_bootstrap_a_cluster_through_either_listener() {
    let dir = tempfile::tempdir().unwrap();
    let ca = write_secrets(dir.path());
    let externals: Vec<SocketAddr> = (1..=3).map(|_| free_address()).collect();
    let cluster = BrokerCluster::start_around(3, 3, &|id, internal| {
        two_listener_flags(dir.path(), internal, externals[id as usize - 1])
    });
    let internals: Vec<String> = (1..=3)
        .map(|id| cluster.member(id).kafka.to_string())
        .collect();
    let mut advertised: Vec<String> = externals
        .iter()
        .map(|address| format!("localhost:{}", address.port()))
        .collect();
    advertised.sort();
    let mut internals_sorted = internals.clone();
    internals_sorted.sort();

    // Any broker, either listener: the whole cluster on that listener.
    for id in 1..=3_u32 {
        let internal = cluster.member(id).kafka;
        let external = externals[id as usize - 1];
        assert_eq!(kcat_brokers(internal, &[]), internals_sorted, "broker {id}");
        assert_eq!(
            kcat_brokers(external, &sasl_ssl_kcat(&ca)),
            advertised,
            "broker {id}"
        );
    }
    assert_eq!(
        confluent_brokers(externals[1], &sasl_ssl_python(&ca)),
        advertised
    );

    // Replicated records written through the SASL_SSL listeners and read
    // through the PLAINTEXT ones: each client reached the partitions'
    // leaders at the addresses its listener gave.
    let external_bootstrap = externals
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(
        harness::run_client(
            "confluent",
            &cluster.bootstrap(),
            &["create-replicated", "two-ways", "3", "3"]
        ),
        "ok"
    );
    let external_client = |args: &[&str]| {
        let python = std::env::var("FJORD_TEST_PYTHON").unwrap();
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/clients/secure_clients.py"
        );
        let output = std::process::Command::new(python)
            .arg(script)
            .args([
                "confluent",
                &external_bootstrap,
                &sasl_ssl_python(&ca).to_string(),
            ])
            .args(args)
            .output()
            .unwrap();
        serde_json::from_slice::<Value>(&output.stdout).unwrap()
    };
    assert_eq!(external_client(&["produce", "two-ways", "30"]), "ok");
    let read = secure_client_at(
        "confluent",
        cluster.member(3).kafka,
        &plaintext(),
        &["consume", "two-ways", "30"],
    );
    assert_eq!(read.as_array().map(Vec::len), Some(30), "{read}");
}
