use clap::Parser;

use super::*;
use crate::BrokerConfig;

fn args(extra: &[&str]) -> BrokerArgs {
    let mut argv = vec!["fjord-broker", "--data-dir", "/tmp/x"];
    argv.extend_from_slice(extra);
    BrokerArgs::try_parse_from(argv).unwrap()
}

#[test]
fn the_single_listener_flags_still_make_one_listener() {
    let config = BrokerConfig::from_args(&args(&[
        "--listen=0.0.0.0:19092",
        "--advertised-listener=broker-1.example:9092",
    ]))
    .unwrap();
    assert_eq!(
        config.kafka_listeners,
        [KafkaListener {
            name: "kafka".to_owned(),
            listen: "0.0.0.0:19092".parse().unwrap(),
            advertised_host: "broker-1.example".to_owned(),
            advertised_port: 9092,
            security_protocol: SecurityProtocol::Plaintext,
        }]
    );
    assert_eq!(config.advertised_host, "broker-1.example");
}

#[test]
fn listeners_take_their_protocols_and_advertised_addresses_by_name() {
    let config = BrokerConfig::from_args(&args(&[
        "--listeners=internal://127.0.0.1:9092, SASL_SSL://0.0.0.0:9094",
        "--listener-security-protocol-map=INTERNAL:PLAINTEXT",
        "--advertised-listeners=SASL_SSL://kafka.example.com:443",
        "--tls-cert-file=/tls/tls.crt",
        "--tls-key-file=/tls/tls.key",
        "--sasl-mechanisms=SCRAM-SHA-512",
    ]))
    .unwrap();
    let [internal, external] = config.kafka_listeners.as_slice() else {
        panic!("{:?}", config.kafka_listeners)
    };
    assert_eq!(internal.name, "INTERNAL");
    assert_eq!(internal.security_protocol, SecurityProtocol::Plaintext);
    assert_eq!(
        (internal.advertised_host.as_str(), internal.advertised_port),
        ("127.0.0.1", 9092)
    );
    assert_eq!(external.security_protocol, SecurityProtocol::SaslSsl);
    assert_eq!(
        (external.advertised_host.as_str(), external.advertised_port),
        ("kafka.example.com", 443)
    );
    // TLS and SASL settings exist because one listener needs them.
    assert!(config.tls.is_some());
    assert_eq!(config.sasl.unwrap().mechanisms.len(), 1);
    // The legacy fields mirror the first listener.
    assert_eq!(config.listen, internal.listen);
}

#[test]
fn listener_flags_that_do_not_fit_are_refused_with_a_reason() {
    let refused = |flags: &[&str], needle: &str| {
        let error = BrokerConfig::from_args(&args(flags)).unwrap_err();
        assert!(error.to_string().contains(needle), "{flags:?}: {error}");
    };
    refused(
        &["--listeners=EXTERNAL://127.0.0.1:9092"],
        "EXTERNAL:PROTOCOL",
    );
    refused(&["--listeners=PLAINTEXT:127.0.0.1:9092"], "NAME://");
    refused(
        &["--listeners=PLAINTEXT://kafka.example:9092"],
        "IP address",
    );
    refused(
        &["--listeners=PLAINTEXT://127.0.0.1:9092,plaintext://127.0.0.1:9093"],
        "repeats",
    );
    refused(
        &["--listeners=PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9092"],
        "two listeners bind",
    );
    refused(
        &[
            "--listeners=PLAINTEXT://127.0.0.1:9092",
            "--advertised-listeners=EXTERNAL://a.example:9092",
        ],
        "which --listeners does not",
    );
    refused(
        &[
            "--listeners=A://127.0.0.1:9092",
            "--listener-security-protocol-map=A:TLS",
        ],
        "unknown security protocol",
    );
    refused(
        &[
            "--listeners=PLAINTEXT://127.0.0.1:9092",
            "--security-protocol=SSL",
        ],
        "replaces",
    );
    refused(
        &["--advertised-listeners=PLAINTEXT://a.example:9092"],
        "need --listeners",
    );
    // A TLS listener among several still needs the files.
    refused(
        &["--listeners=PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9093"],
        "--tls-cert-file",
    );
    // TLS files with no TLS listener are refused as before.
    refused(
        &[
            "--listeners=PLAINTEXT://127.0.0.1:9092",
            "--tls-cert-file=/c",
        ],
        "no listener uses TLS",
    );
}
