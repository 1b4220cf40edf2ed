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
        "--peers=2=broker 2:29093",
        "--controller-voters=1@127.0.0.1:19644",
    ]))
    .unwrap_err();
    assert!(error.to_string().contains("broker 2"), "{error}");
    // A replication factor above the brokers is refused up front.
    assert!(BrokerConfig::from_args(&args(&["--default-replication-factor=3"])).is_err());
}

#[test]
fn negative_node_id_is_rejected() {
    assert!(BrokerConfig::from_args(&args(&["--node-id=-1"])).is_err());
}

#[test]
fn peers_and_voters_may_be_dns_names_and_ip_addresses_mixed() {
    let config = BrokerConfig::from_args(&args(&[
        "--node-id=1",
        "--peer-listen=0.0.0.0:9093",
        "--peers=2=demo-2.demo-brokers.ns.svc.cluster.local:9093,3=10.0.0.3:9093",
        "--controller-voters=1@demo-1.demo-brokers.ns.svc.cluster.local:9644,\
         2@demo-2.demo-brokers.ns.svc.cluster.local:9644,3@10.0.0.3:9644",
        "--hosts-file=/etc/fjord/hosts",
    ]))
    .unwrap();
    let cluster = config.cluster.unwrap();
    assert_eq!(
        cluster.peers[&2],
        PeerAddress::Name {
            host: "demo-2.demo-brokers.ns.svc.cluster.local".into(),
            port: 9093
        }
    );
    assert_eq!(cluster.peers[&3].to_string(), "10.0.0.3:9093");
    assert_eq!(
        cluster.controller_voters[&1].to_string(),
        "demo-1.demo-brokers.ns.svc.cluster.local:9644"
    );
    assert_eq!(
        cluster.hosts_file.as_deref(),
        Some(std::path::Path::new("/etc/fjord/hosts"))
    );
}

#[test]
fn a_peer_host_that_is_no_address_or_name_is_refused_naming_it() {
    let error = BrokerConfig::from_args(&args(&[
        "--node-id=1",
        "--peer-listen=0.0.0.0:9093",
        "--peers=2=bad_host!:9093",
        "--controller-voters=1@10.0.0.1:9644",
    ]))
    .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("--peers") && text.contains("bad_host!"),
        "{text}"
    );
    let error = BrokerConfig::from_args(&args(&["--hosts-file=/etc/hosts"])).unwrap_err();
    assert!(error.to_string().contains("cluster mode"), "{error}");
}

#[test]
fn the_rack_comes_from_the_first_line_of_the_rack_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rack");
    std::fs::write(&file, "eu-west-1a\n").unwrap();
    let flag = format!("--rack-file={}", file.display());
    let config = BrokerConfig::from_args(&args(&[&flag])).unwrap();
    assert_eq!(config.rack.as_deref(), Some("eu-west-1a"));
    std::fs::write(&file, "\n").unwrap();
    assert_eq!(BrokerConfig::from_args(&args(&[&flag])).unwrap().rack, None);
    let both = BrokerConfig::from_args(&args(&[&flag, "--rack=az-1"])).unwrap();
    assert_eq!(both.rack.as_deref(), Some("az-1"), "--rack wins");
    let missing = format!("--rack-file={}", dir.path().join("none").display());
    let error = BrokerConfig::from_args(&args(&[&missing])).unwrap_err();
    assert!(error.to_string().contains("--rack-file"), "{error}");
    std::fs::write(&file, "a\u{7}b\n").unwrap();
    assert!(BrokerConfig::from_args(&args(&[&flag])).is_err());
}
