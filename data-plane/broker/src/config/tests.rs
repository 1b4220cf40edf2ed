//! Flag parsing and validation of the broker configuration.

use super::*;

fn args(extra: &[&str]) -> BrokerArgs {
    let mut argv = vec!["fjord-broker", "--data-dir", "/tmp/x"];
    argv.extend_from_slice(extra);
    BrokerArgs::try_parse_from(argv).unwrap()
}

#[test]
fn advertised_listener_defaults_to_the_listen_address() {
    let config = BrokerConfig::from_args(&args(&["--listen", "127.0.0.1:19092"])).unwrap();
    assert_eq!(
        (config.advertised_host.as_str(), config.advertised_port),
        ("127.0.0.1", 19092)
    );
}

#[test]
fn advertised_listener_accepts_names_and_bracketed_ipv6() {
    let config =
        BrokerConfig::from_args(&args(&["--advertised-listener", "broker-0.fjord:9092"])).unwrap();
    assert_eq!(config.advertised_host, "broker-0.fjord");
    let config = BrokerConfig::from_args(&args(&["--advertised-listener", "[::1]:9092"])).unwrap();
    assert_eq!(config.advertised_host, "::1");
}

#[test]
fn malformed_advertised_listener_is_rejected_with_its_text() {
    let error = BrokerConfig::from_args(&args(&["--advertised-listener", "nohost"])).unwrap_err();
    assert!(error.to_string().contains("nohost"), "{error}");
    assert!(BrokerConfig::from_args(&args(&["--advertised-listener", "h:0"])).is_err());
}

#[test]
fn command_line_definition_is_consistent() {
    <BrokerArgs as clap::CommandFactory>::command().debug_assert();
}

#[test]
fn cluster_flags_parse_into_peers_and_voters() {
    let config = BrokerConfig::from_args(&args(&[
        "--node-id=1",
        "--peer-listen=127.0.0.1:19093",
        "--peers=2=127.0.0.1:29093, 3=127.0.0.1:39093",
        "--controller-voters=1@127.0.0.1:19644,2@127.0.0.1:29644,3@127.0.0.1:39644",
        "--default-replication-factor=3",
    ]))
    .unwrap();
    let cluster = config.cluster.unwrap();
    assert_eq!(cluster.peers.len(), 2);
    assert_eq!(cluster.controller_voters.len(), 3);
    assert_eq!(cluster.peers[&3].port(), 39093);
}

#[test]
fn incomplete_or_wrong_cluster_flags_are_refused_with_a_reason() {
    let error = BrokerConfig::from_args(&args(&["--peer-listen=127.0.0.1:1"])).unwrap_err();
    assert!(error.to_string().contains("--controller-voters"), "{error}");
    let error = BrokerConfig::from_args(&args(&[
        "--node-id=1",
        "--peer-listen=127.0.0.1:19093",
        "--peers=1=127.0.0.1:29093",
        "--controller-voters=1@127.0.0.1:19644",
    ]))
    .unwrap_err();
    assert!(error.to_string().contains("own id"), "{error}");
    let error = BrokerConfig::from_args(&args(&[
        "--node-id=1",
        "--peer-listen=127.0.0.1:19093",
        "--peers=2=broker-2:29093",
        "--controller-voters=1@127.0.0.1:19644",
    ]))
    .unwrap_err();
    assert!(error.to_string().contains("broker-2"), "{error}");
    // A replication factor above the brokers is refused up front.
    assert!(BrokerConfig::from_args(&args(&["--default-replication-factor=3"])).is_err());
}

#[test]
fn negative_node_id_is_rejected() {
    assert!(BrokerConfig::from_args(&args(&["--node-id=-1"])).is_err());
}
