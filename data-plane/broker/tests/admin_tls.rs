//! The admin API over mutual TLS (`--admin-tls-*`), with curl: a client
//! certificate from the admin CA is the credential, health and metrics stay
//! open, no certificate or a foreign one is refused, and the brokers still
//! form their cluster with the token on the plain port.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod harness;

use std::net::{SocketAddr, TcpListener};
use std::process::Command;

use harness::certs::{CertFiles, TestCa, path};
use harness::cluster::BrokerCluster;

const TOKEN: &str = "a-long-enough-admin-token";

/// curl's status code for `url` (`000`: no HTTP answer, the handshake
/// failed), with `client` as the client certificate if given.
fn status(url: &str, ca: &std::path::Path, client: Option<&CertFiles>, token: bool) -> String {
    let mut command = Command::new("curl");
    command.args([
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--cacert",
        path(ca),
    ]);
    if let Some(client) = client {
        command.args([
            "--cert",
            path(&client.certificate),
            "--key",
            path(&client.key),
        ]);
    }
    if token {
        command.args(["-H", &format!("authorization: Bearer {TOKEN}")]);
    }
    let output = command.arg(url).output().unwrap();
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_tls_admin_port_takes_a_client_certificate_as_the_credential() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("admin-token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let admin_ca = TestCa::new("fjord admin ca");
    let server = admin_ca.write(dir.path(), "admin-server", "broker");
    let operator = admin_ca.write(dir.path(), "operator", "operator");
    let stranger = TestCa::new("someone else's ca").write(dir.path(), "stranger", "operator");
    let tls_ports: Vec<SocketAddr> = (1..=3)
        .map(|_| {
            TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
        })
        .collect();
    let cluster = BrokerCluster::start_around(3, 3, &|id, _| {
        vec![
            format!("--admin-token-file={}", path(&token_file)),
            format!("--admin-tls-listen={}", tls_ports[id as usize - 1]),
            format!("--admin-tls-cert-file={}", path(&server.certificate)),
            format!("--admin-tls-key-file={}", path(&server.key)),
            format!("--admin-tls-client-ca-file={}", path(&operator.ca)),
        ]
    });
    let url = |route: &str| format!("https://{}{route}", tls_ports[1]);
    let ca = &server.ca;

    for open in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(status(&url(open), ca, None, false), "200", "{open}");
    }
    for guarded in ["/v1/cluster/health", "/v1/brokers/1/restart-probe"] {
        assert_eq!(
            status(&url(guarded), ca, Some(&operator), false),
            "200",
            "{guarded}"
        );
        assert_eq!(status(&url(guarded), ca, None, false), "401", "{guarded}");
        // The token stays an alternative on either port.
        assert_eq!(status(&url(guarded), ca, None, true), "200", "{guarded}");
        // Another CA's certificate does not get past the handshake.
        assert_eq!(
            status(&url(guarded), ca, Some(&stranger), false),
            "000",
            "{guarded}"
        );
    }
    let health = cluster.member(2).get("/v1/cluster/health");
    assert_eq!(
        health["brokers"].as_array().map(Vec::len),
        Some(3),
        "{health}"
    );
    // The refused handshakes are counted.
    let metrics = Command::new("curl")
        .args(["-s", &format!("http://{}/metrics", cluster.member(2).admin)])
        .output()
        .unwrap();
    let failures = String::from_utf8(metrics.stdout)
        .unwrap()
        .lines()
        .find_map(|line| {
            line.strip_prefix("fjord_broker_admin_tls_handshake_failures_total ")
                .and_then(|value| value.parse::<f64>().ok())
        })
        .unwrap_or(0.0);
    assert!(failures >= 2.0, "{failures}");
}
