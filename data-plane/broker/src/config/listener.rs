//! The Kafka listener's security flags, checked together.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use super::BrokerArgs;
use super::kafka_listeners::KafkaListener;
use crate::security::sasl::SaslMechanism;
use crate::security::{ClientAuth, Principal, SecurityProtocol, TlsFiles};
use crate::{Error, Result};

/// A SASL listener's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslSettings {
    pub mechanisms: Vec<SaslMechanism>,
    pub session_lifetime: Option<Duration>,
    /// How long a connection may take to authenticate.
    pub authentication_timeout: Duration,
    /// The bootstrap user and the file holding its password.
    pub bootstrap: Option<(String, PathBuf)>,
}

/// The SASL settings, when a listener uses SASL (shared by every SASL
/// listener).
pub(super) fn sasl_settings(
    args: &BrokerArgs,
    listeners: &[KafkaListener],
) -> Result<Option<SaslSettings>> {
    let bootstrap = match (
        &args.sasl_bootstrap_user,
        &args.sasl_bootstrap_password_file,
    ) {
        (Some(user), Some(file)) => Some((user.clone(), file.clone())),
        (None, None) => None,
        _ => {
            return Err(Error::Config(
                "--sasl-bootstrap-user and --sasl-bootstrap-password-file go together".into(),
            ));
        }
    };
    if !listeners.iter().any(|l| l.security_protocol.uses_sasl()) {
        // As in Kafka, SASL settings apply to SASL listeners only.
        return Ok(None);
    }
    let mut mechanisms = Vec::new();
    for name in args
        .sasl_mechanisms
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        let mechanism = SaslMechanism::from_name(name).ok_or_else(|| {
            Error::Config(format!(
                "--sasl-mechanisms: unknown mechanism {name:?} \
                 (SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN)"
            ))
        })?;
        if !mechanisms.contains(&mechanism) {
            mechanisms.push(mechanism);
        }
    }
    if mechanisms.is_empty() {
        return Err(Error::Config("--sasl-mechanisms lists no mechanism".into()));
    }
    let sasl_without_tls = listeners
        .iter()
        .any(|l| l.security_protocol == SecurityProtocol::SaslPlaintext);
    if mechanisms.contains(&SaslMechanism::Plain)
        && sasl_without_tls
        && !args.sasl_plain_without_tls
    {
        return Err(Error::Config(
            "PLAIN sends passwords in the clear on SASL_PLAINTEXT: use SASL_SSL, \
             or allow it with --sasl-plain-without-tls"
                .into(),
        ));
    }
    if !(1..=3600).contains(&args.sasl_authentication_timeout_seconds) {
        return Err(Error::Config(format!(
            "--sasl-authentication-timeout-seconds must be within 1..=3600, got {}",
            args.sasl_authentication_timeout_seconds
        )));
    }
    let session_lifetime = (args.sasl_session_lifetime_seconds > 0)
        .then(|| Duration::from_secs(args.sasl_session_lifetime_seconds));
    Ok(Some(SaslSettings {
        mechanisms,
        session_lifetime,
        authentication_timeout: Duration::from_secs(args.sasl_authentication_timeout_seconds),
        bootstrap,
    }))
}

/// The peer TLS files: all three or none, and only in cluster mode.
pub(super) fn peer_tls(
    args: &BrokerArgs,
    cluster: bool,
) -> Result<Option<crate::security::peer_tls::PeerTlsFiles>> {
    match (
        &args.peer_tls_cert_file,
        &args.peer_tls_key_file,
        &args.peer_tls_ca_file,
    ) {
        (None, None, None) => Ok(None),
        (Some(certificate), Some(key), Some(ca)) if cluster => {
            Ok(Some(crate::security::peer_tls::PeerTlsFiles {
                certificate: certificate.clone(),
                key: key.clone(),
                ca: ca.clone(),
            }))
        }
        (Some(_), Some(_), Some(_)) => Err(Error::Config(
            "--peer-tls-* are for cluster mode (with --peer-listen)".into(),
        )),
        _ => Err(Error::Config(
            "--peer-tls-cert-file, --peer-tls-key-file and --peer-tls-ca-file go together".into(),
        )),
    }
}

/// The TLS admin port: all four `--admin-tls-*` or none. A cluster also
/// needs the token, which brokers send each other on the plain port.
pub(super) fn admin_tls(
    args: &BrokerArgs,
    cluster: bool,
) -> Result<Option<(std::net::SocketAddr, TlsFiles)>> {
    match (
        args.admin_tls_listen,
        &args.admin_tls_cert_file,
        &args.admin_tls_key_file,
        &args.admin_tls_client_ca_file,
    ) {
        (None, None, None, None) => Ok(None),
        (Some(_), Some(_), Some(_), Some(_)) if cluster && args.admin_token_file.is_none() => {
            Err(Error::Config(
                "--admin-tls-listen in cluster mode needs --admin-token-file \
                 (brokers send it to each other on the plain admin port)"
                    .into(),
            ))
        }
        (Some(listen), Some(certificate), Some(key), Some(client_ca)) => Ok(Some((
            listen,
            TlsFiles {
                certificate: certificate.clone(),
                key: key.clone(),
                client_ca: Some(client_ca.clone()),
                client_auth: ClientAuth::Requested,
            },
        ))),
        _ => Err(Error::Config(
            "--admin-tls-listen, --admin-tls-cert-file, --admin-tls-key-file and \
             --admin-tls-client-ca-file go together"
                .into(),
        )),
    }
}

/// `--super-users` and the bootstrap user.
pub(super) fn super_users(
    args: &BrokerArgs,
    sasl: Option<&SaslSettings>,
) -> Result<BTreeSet<Principal>> {
    let mut principals = BTreeSet::new();
    for entry in args
        .super_users
        .split(';')
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let principal = Principal::parse(entry).ok_or_else(|| {
            Error::Config(format!(
                "--super-users: {entry:?} is not TYPE:NAME (User:admin)"
            ))
        })?;
        principals.insert(principal);
    }
    if let Some((user, _)) = sasl.and_then(|sasl| sasl.bootstrap.as_ref()) {
        principals.insert(Principal::user(user.clone()));
    }
    Ok(principals)
}

/// The TLS files, when a listener uses TLS (shared by every TLS listener).
pub(super) fn tls_files(
    args: &BrokerArgs,
    listeners: &[KafkaListener],
) -> Result<Option<TlsFiles>> {
    let client_auth: ClientAuth = args.tls_client_auth.parse()?;
    let Some(tls_listener) = listeners.iter().find(|l| l.security_protocol.uses_tls()) else {
        let given = args.tls_cert_file.is_some()
            || args.tls_key_file.is_some()
            || args.tls_client_ca_file.is_some()
            || client_auth != ClientAuth::None;
        if given {
            // Refused rather than ignored: whoever set them expects TLS.
            let protocols: Vec<&str> = listeners
                .iter()
                .map(|l| l.security_protocol.name())
                .collect();
            return Err(Error::Config(format!(
                "TLS options are set but no listener uses TLS ({}); \
                 use SSL (or SASL_SSL) or drop them",
                protocols.join(", ")
            )));
        }
        return Ok(None);
    };
    let (Some(certificate), Some(key)) = (&args.tls_cert_file, &args.tls_key_file) else {
        return Err(Error::Config(format!(
            "the {} listener {} needs --tls-cert-file and --tls-key-file",
            tls_listener.security_protocol, tls_listener.name
        )));
    };
    if client_auth != ClientAuth::None && args.tls_client_ca_file.is_none() {
        return Err(Error::Config(
            "--tls-client-auth requested or required needs --tls-client-ca-file".into(),
        ));
    }
    Ok(Some(TlsFiles {
        certificate: certificate.clone(),
        key: key.clone(),
        client_ca: args.tls_client_ca_file.clone(),
        client_auth,
    }))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use clap::Parser;

    use super::*;
    use crate::BrokerConfig;

    fn args(extra: &[&str]) -> BrokerArgs {
        let mut argv = vec!["fjord-broker", "--data-dir", "/tmp/x"];
        argv.extend_from_slice(extra);
        BrokerArgs::try_parse_from(argv).unwrap()
    }

    #[test]
    fn the_listener_stays_plaintext_unless_told_otherwise() {
        let config = BrokerConfig::from_args(&args(&[])).unwrap();
        assert_eq!(config.security_protocol, SecurityProtocol::Plaintext);
        assert!(config.tls.is_none());
    }

    #[test]
    fn an_ssl_listener_takes_its_files_and_client_auth() {
        let config = BrokerConfig::from_args(&args(&[
            "--security-protocol=ssl",
            "--tls-cert-file=/tls/tls.crt",
            "--tls-key-file=/tls/tls.key",
            "--tls-client-ca-file=/tls/ca.crt",
            "--tls-client-auth=required",
        ]))
        .unwrap();
        assert_eq!(config.security_protocol, SecurityProtocol::Ssl);
        let tls = config.tls.unwrap();
        assert_eq!(tls.client_auth, ClientAuth::Required);
        assert_eq!(tls.key, PathBuf::from("/tls/tls.key"));
    }

    #[test]
    fn inconsistent_security_flags_are_refused_with_a_reason() {
        let refused = |flags: &[&str], needle: &str| {
            let error = BrokerConfig::from_args(&args(flags)).unwrap_err();
            assert!(error.to_string().contains(needle), "{flags:?}: {error}");
        };
        refused(&["--security-protocol=TLS"], "unknown security protocol");
        refused(&["--security-protocol=SSL"], "--tls-cert-file");
        refused(&["--tls-cert-file=/c"], "PLAINTEXT");
        refused(
            &[
                "--security-protocol=SSL",
                "--tls-cert-file=/c",
                "--tls-key-file=/k",
                "--tls-client-auth=required",
            ],
            "--tls-client-ca-file",
        );
        refused(
            &[
                "--security-protocol=SSL",
                "--tls-cert-file=/c",
                "--tls-key-file=/k",
                "--tls-client-auth=sometimes",
            ],
            "sometimes",
        );
        refused(&["--sasl-bootstrap-user=admin"], "go together");
        refused(
            &[
                "--security-protocol=SASL_PLAINTEXT",
                "--sasl-mechanisms=PLAIN",
            ],
            "--sasl-plain-without-tls",
        );
        refused(
            &[
                "--security-protocol=SASL_PLAINTEXT",
                "--sasl-mechanisms=GSSAPI",
            ],
            "GSSAPI",
        );
        refused(&["--super-users=admin"], "TYPE:NAME");
        refused(&["--tls-reload-interval-seconds=0"], "reload");
        refused(
            &["--authorizer=opa"],
            "--authorizer must be 'none' or 'acl'",
        );
    }

    #[test]
    fn the_admin_tls_port_takes_all_four_flags_and_a_token_in_a_cluster() {
        let tls = [
            "--admin-tls-listen=127.0.0.1:9645",
            "--admin-tls-cert-file=/tls/admin.crt",
            "--admin-tls-key-file=/tls/admin.key",
            "--admin-tls-client-ca-file=/tls/operators.crt",
        ];
        let (listen, files) = BrokerConfig::from_args(&args(&tls))
            .unwrap()
            .admin_tls
            .unwrap();
        assert_eq!(listen.port(), 9645);
        assert_eq!(files.client_auth, ClientAuth::Requested);
        let error = BrokerConfig::from_args(&args(&tls[..3])).unwrap_err();
        assert!(error.to_string().contains("go together"), "{error}");
        let mut cluster = vec![
            "--peer-listen=127.0.0.1:9093",
            "--peers=2=127.0.0.1:9193",
            "--controller-voters=1@127.0.0.1:9644",
            "--node-id=1",
        ];
        cluster.extend_from_slice(&tls);
        let error = BrokerConfig::from_args(&args(&cluster)).unwrap_err();
        assert!(error.to_string().contains("--admin-token-file"), "{error}");
    }

    #[test]
    fn a_sasl_listener_offers_its_mechanisms_and_makes_the_bootstrap_user_super() {
        let config = BrokerConfig::from_args(&args(&[
            "--security-protocol=SASL_PLAINTEXT",
            "--sasl-mechanisms=SCRAM-SHA-512, PLAIN",
            "--sasl-plain-without-tls",
            "--sasl-session-lifetime-seconds=300",
            "--sasl-bootstrap-user=admin",
            "--sasl-bootstrap-password-file=/secrets/admin",
            "--super-users=User:CN=operator; User:ops",
        ]))
        .unwrap();
        let sasl = config.sasl.unwrap();
        assert_eq!(sasl.mechanisms.len(), 2);
        assert_eq!(sasl.session_lifetime, Some(Duration::from_secs(300)));
        let supers: Vec<String> = config.super_users.iter().map(ToString::to_string).collect();
        assert_eq!(supers, ["User:CN=operator", "User:admin", "User:ops"]);
    }
}
