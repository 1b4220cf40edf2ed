use std::io::Write;

use super::*;
use crate::BrokerConfig;

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

fn load(argv: &[&str]) -> std::result::Result<BrokerArgs, LoadError> {
    load_from(std::iter::once("fjord-broker").chain(argv.iter().copied()))
}

const FULL: &str = r#"
data-dir = "/var/lib/fjord"
listen = "0.0.0.0:19092"
advertised-listener = "broker-0.fjord:9092"
admin-listen = "0.0.0.0:19644"
node-id = 3
rack = "az-1"
rack-file = "/var/run/fjord/rack/rack"
frame-bytes-max = 2097152
auto-create-topics = false
default-partitions = 6
default-replication-factor = 1
message-bytes-max = 4096
in-flight-requests-max = 8
in-flight-bytes-max = 65536
peer-listen = "0.0.0.0:19093"
peers = "1=10.0.0.1:9093,2=10.0.0.2:9093"
controller-voters = "1@10.0.0.1:9644,2@10.0.0.2:9644,3@10.0.0.3:9644"
hosts-file = "/etc/fjord/hosts"
group-log-partitions = 24
security-protocol = "SSL"
sasl-mechanisms = "SCRAM-SHA-512,PLAIN"
sasl-plain-without-tls = false
sasl-session-lifetime-seconds = 600
sasl-authentication-timeout-seconds = 20
sasl-bootstrap-user = "admin"
sasl-bootstrap-password-file = "/etc/fjord/admin-password"
super-users = "User:CN=operator"
authorizer = "acl"
allow-everyone-if-no-acl-found = true
admin-token-file = "/etc/fjord/admin/token"
admin-tls-listen = "0.0.0.0:19645"
admin-tls-cert-file = "/etc/fjord/admin-tls/tls.crt"
admin-tls-key-file = "/etc/fjord/admin-tls/tls.key"
admin-tls-client-ca-file = "/etc/fjord/admin-tls/ca.crt"
peer-tls-cert-file = "/etc/fjord/peer/tls.crt"
peer-tls-key-file = "/etc/fjord/peer/tls.key"
peer-tls-ca-file = "/etc/fjord/peer/ca.crt"
tls-cert-file = "/etc/fjord/tls/tls.crt"
tls-key-file = "/etc/fjord/tls/tls.key"
tls-client-ca-file = "/etc/fjord/tls/ca.crt"
tls-client-auth = "required"
tls-reload-interval-seconds = 5
log-format = "json"
log = "debug"
"#;

/// The keys of several listeners, which replace `listen`,
/// `advertised-listener` and `security-protocol` of [`FULL`].
const LISTENERS: &str = r#"
data-dir = "/var/lib/fjord"
listeners = "INTERNAL://0.0.0.0:19092,EXTERNAL://0.0.0.0:19094"
listener-security-protocol-map = "INTERNAL:PLAINTEXT,EXTERNAL:SSL"
advertised-listeners = "EXTERNAL://kafka.example.com:9094"
tls-cert-file = "/etc/fjord/tls/tls.crt"
tls-key-file = "/etc/fjord/tls/tls.key"
"#;

#[test]
fn several_listeners_can_be_set_in_the_file() {
    let config = file(LISTENERS);
    let args = load(&["--config", config.path().to_str().unwrap()]).unwrap();
    let broker = BrokerConfig::from_args(&args).unwrap();
    let names: Vec<&str> = broker
        .kafka_listeners
        .iter()
        .map(|listener| listener.name.as_str())
        .collect();
    assert_eq!(names, ["INTERNAL", "EXTERNAL"]);
    assert_eq!(
        broker.kafka_listeners[1].advertised_host,
        "kafka.example.com"
    );
}

#[test]
fn every_option_can_be_set_in_the_file() {
    let config = file(FULL);
    let args = load(&["--config", config.path().to_str().unwrap()]).unwrap();
    let broker = BrokerConfig::from_args(&args).unwrap();
    assert_eq!(broker.data_dir, PathBuf::from("/var/lib/fjord"));
    assert_eq!(broker.listen, "0.0.0.0:19092".parse().unwrap());
    let cluster = broker.cluster.as_ref().unwrap();
    assert_eq!(cluster.peers.len(), 2);
    assert_eq!(cluster.group_log_partitions.get(), 24);
    assert_eq!(cluster.controller_voters.len(), 3);
    assert_eq!(
        cluster.hosts_file.as_deref(),
        Some(std::path::Path::new("/etc/fjord/hosts"))
    );
    assert_eq!(broker.advertised_host, "broker-0.fjord");
    assert_eq!(broker.admin_listen, "0.0.0.0:19644".parse().unwrap());
    assert_eq!(broker.node_id, 3);
    assert_eq!(broker.rack.as_deref(), Some("az-1"));
    assert_eq!(broker.frame_bytes_max, 2_097_152);
    assert!(!broker.auto_create_topics);
    assert_eq!(broker.default_partitions, 6);
    assert_eq!(broker.default_replication_factor, 1);
    assert_eq!(broker.message_bytes_max, 4096);
    assert_eq!(broker.in_flight_requests_max, 8);
    assert_eq!(broker.in_flight_bytes_max, 65_536);
    assert_eq!(
        broker.security_protocol,
        crate::security::SecurityProtocol::Ssl
    );
    // SASL settings apply to SASL listeners only (checked in config::listener).
    assert!(broker.sasl.is_none());
    assert_eq!(broker.super_users.len(), 1);
    assert_eq!(args.sasl_session_lifetime_seconds, 600);
    assert_eq!(args.sasl_authentication_timeout_seconds, 20);
    assert_eq!(args.sasl_mechanisms, "SCRAM-SHA-512,PLAIN");
    assert_eq!(args.sasl_bootstrap_user.as_deref(), Some("admin"));
    let tls = broker.tls.as_ref().unwrap();
    assert_eq!(tls.certificate, PathBuf::from("/etc/fjord/tls/tls.crt"));
    assert_eq!(tls.key, PathBuf::from("/etc/fjord/tls/tls.key"));
    assert_eq!(
        tls.client_ca.as_deref(),
        Some(std::path::Path::new("/etc/fjord/tls/ca.crt"))
    );
    assert_eq!(tls.client_auth, crate::security::ClientAuth::Required);
    assert_eq!(broker.tls_reload_interval.as_secs(), 5);
    assert_eq!(
        broker.admin_token_file.as_deref(),
        Some(std::path::Path::new("/etc/fjord/admin/token"))
    );
    assert_eq!(broker.authorizer, crate::config::AuthorizerKind::Acl);
    assert!(broker.allow_everyone_if_no_acl_found);
    let (admin_tls, _) = broker.admin_tls.as_ref().unwrap();
    assert_eq!(admin_tls.port(), 19645);
    let peer_tls = broker.peer_tls.as_ref().unwrap();
    assert_eq!(peer_tls.ca, PathBuf::from("/etc/fjord/peer/ca.crt"));
    assert_eq!(args.logging.log_format, LogFormat::Json);
    assert_eq!(args.logging.log.as_deref(), Some("debug"));
}

#[test]
fn the_file_covers_every_flag() {
    // A new flag without a file key fails here: every flag's long name
    // must be accepted as a key (except --config itself).
    let command = BrokerArgs::command();
    let mut full: toml::Table = toml::from_str(FULL).unwrap();
    full.extend(toml::from_str::<toml::Table>(LISTENERS).unwrap());
    for argument in command.get_arguments() {
        let Some(long) = argument.get_long() else {
            continue;
        };
        if matches!(long, "config" | "help" | "version") {
            continue;
        }
        assert!(
            full.contains_key(long),
            "--{long} cannot be set in the config file"
        );
    }
}

#[test]
fn flags_and_environment_override_the_file() {
    let config = file("data-dir = \"/from/file\"\ndefault-partitions = 6\nrack = \"file-rack\"\n");
    let path = config.path().to_str().unwrap();
    let args = load(&[
        "--config",
        path,
        "--default-partitions",
        "2",
        "--data-dir",
        "/from/flag",
    ])
    .unwrap();
    assert_eq!(args.default_partitions, 2);
    assert_eq!(args.data_dir, Some(PathBuf::from("/from/flag")));
    assert_eq!(args.rack.as_deref(), Some("file-rack"));
    // A flag given with its default value still wins over the file.
    let args = load(&["--config", path, "--default-partitions", "1"]).unwrap();
    assert_eq!(args.default_partitions, 1);
}

#[test]
fn unknown_keys_and_bad_values_are_refused_with_the_key_named() {
    let config = file("data-dir = \"/x\"\ndefault-partitons = 3\n");
    let error = load(&["--config", config.path().to_str().unwrap()]).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("unknown field `default-partitons`"),
        "{message}"
    );
    assert!(
        message.contains(&config.path().display().to_string()),
        "{message}"
    );

    let config = file("node-id = \"three\"\n");
    let message = load(&["--config", config.path().to_str().unwrap()])
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("node-id") || message.contains("invalid type"),
        "{message}"
    );

    let config = file("log-format = \"xml\"\n");
    let message = load(&["--config", config.path().to_str().unwrap()])
        .unwrap_err()
        .to_string();
    assert!(message.contains("log-format must be"), "{message}");

    let message = load(&["--config", "/nonexistent/fjord.toml"])
        .unwrap_err()
        .to_string();
    assert!(message.contains("/nonexistent/fjord.toml"), "{message}");
}

#[test]
fn data_dir_is_required_from_somewhere() {
    let args = load(&[]).unwrap();
    let error = BrokerConfig::from_args(&args).unwrap_err();
    assert!(
        error.to_string().contains("--data-dir is required"),
        "{error}"
    );
}
