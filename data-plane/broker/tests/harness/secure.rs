//! Clients over secured listeners: kcat with `-X` settings, and
//! `tests/clients/secure_clients.py` (confluent-kafka, kafka-python).

use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use super::BrokerProcess;

/// Runs kcat against `broker` with `settings` (`-X` pairs) and `args`.
pub(crate) fn kcat(
    broker: &BrokerProcess,
    settings: &[String],
    args: &[&str],
    input: &str,
) -> Output {
    kcat_at(broker.kafka, settings, args, input)
}

/// Runs kcat against the Kafka address `kafka`.
pub(crate) fn kcat_at(
    kafka: SocketAddr,
    settings: &[String],
    args: &[&str],
    input: &str,
) -> Output {
    let mut command = Command::new("kcat");
    // Under a workspace test run, cargo puts every build script's native
    // library directory on LD_LIBRARY_PATH, including the broker bench's own
    // librdkafka, built without OpenSSL; kcat must load the system's, which
    // has TLS and SCRAM.
    command.env_remove("LD_LIBRARY_PATH");
    command.args(["-b", &kafka.to_string()]);
    for setting in settings {
        command.args(["-X", setting]);
    }
    let mut child = command
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
    child.wait_with_output().unwrap()
}

/// kcat's stdout; panics with its stderr if it failed.
pub(crate) fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "kcat failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// Produces two records with kcat and reads them back.
pub(crate) fn produce_and_consume(broker: &BrokerProcess, settings: &[String], topic: &str) {
    succeeded(&kcat(
        broker,
        settings,
        &["-P", "-t", topic, "-X", "acks=all"],
        "one\ntwo\n",
    ));
    let consumed = succeeded(&kcat(
        broker,
        settings,
        &["-C", "-t", topic, "-o", "beginning", "-e", "-q"],
        "",
    ));
    assert_eq!(consumed, "one\ntwo\n");
}

/// True when kcat can read the cluster's metadata with `settings`.
pub(crate) fn metadata_succeeds(broker: &BrokerProcess, settings: &[String]) -> bool {
    metadata_at(broker.kafka, settings)
}

/// True when kcat can read metadata from the Kafka address `kafka`.
pub(crate) fn metadata_at(kafka: SocketAddr, settings: &[String]) -> bool {
    kcat_at(kafka, settings, &["-L", "-m", "5"], "")
        .status
        .success()
}

/// Runs `secure_clients.py CLIENT BOOTSTRAP SECURITY ARGS...`: `Ok` with
/// the JSON it printed, or `Err` with its `{"error": ...}`.
pub(crate) fn try_secure_client(
    client: &str,
    broker: &BrokerProcess,
    security: &Value,
    args: &[&str],
) -> Result<Value, String> {
    try_secure_client_at(client, broker.kafka, security, args)
}

/// [`try_secure_client`] against the Kafka address `kafka`.
pub(crate) fn try_secure_client_at(
    client: &str,
    kafka: SocketAddr,
    security: &Value,
    args: &[&str],
) -> Result<Value, String> {
    let python = std::env::var("FJORD_TEST_PYTHON").expect(
        "FJORD_TEST_PYTHON must name a Python with confluent-kafka and kafka-python; \
         run `cargo xtask test`, or point it at target/xtask/venvs/kafka-clients/bin/python",
    );
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/secure_clients.py"
    );
    let output = Command::new(python)
        .arg(script)
        .args([client, &kafka.to_string(), &security.to_string()])
        .args(args)
        .output()
        .unwrap();
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
        panic!(
            "{client} {args:?} printed no JSON: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    if output.status.success() {
        Ok(printed)
    } else {
        Err(printed["error"].as_str().unwrap_or_default().to_owned())
    }
}

/// [`try_secure_client_at`] that must succeed.
pub(crate) fn secure_client_at(
    client: &str,
    kafka: SocketAddr,
    security: &Value,
    args: &[&str],
) -> Value {
    try_secure_client_at(client, kafka, security, args)
        .unwrap_or_else(|error| panic!("{client} {args:?} failed: {error}"))
}

/// [`try_secure_client`] that must succeed.
pub(crate) fn secure_client(
    client: &str,
    broker: &BrokerProcess,
    security: &Value,
    args: &[&str],
) -> Value {
    try_secure_client(client, broker, security, args)
        .unwrap_or_else(|error| panic!("{client} {args:?} failed: {error}"))
}
