//! The four security protocols Kafka names, as `security.protocol` on the
//! client side.

use std::fmt;
use std::str::FromStr;

/// A listener's security protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecurityProtocol {
    /// TCP; every client is `User:ANONYMOUS`.
    Plaintext,
    /// TLS; a client certificate, when presented, names the principal.
    Ssl,
    /// SASL over TCP.
    SaslPlaintext,
    /// SASL over TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// Every protocol, in Kafka's order.
    pub const ALL: [Self; 4] = [
        Self::Plaintext,
        Self::Ssl,
        Self::SaslPlaintext,
        Self::SaslSsl,
    ];

    /// Kafka's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Plaintext => "PLAINTEXT",
            Self::Ssl => "SSL",
            Self::SaslPlaintext => "SASL_PLAINTEXT",
            Self::SaslSsl => "SASL_SSL",
        }
    }

    /// True when the connection runs over TLS.
    pub fn uses_tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }

    /// True when the client must authenticate with SASL before anything
    /// else.
    pub fn uses_sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }
}

impl fmt::Display for SecurityProtocol {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// A name that is none of Kafka's four security protocols.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown security protocol {0:?}: expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")]
pub struct UnknownSecurityProtocol(pub String);

impl FromStr for SecurityProtocol {
    type Err = UnknownSecurityProtocol;

    /// Kafka's names, in any case (clients accept `ssl` as well as `SSL`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|protocol| protocol.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| UnknownSecurityProtocol(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_in_any_case() {
        for protocol in SecurityProtocol::ALL {
            assert_eq!(protocol.name().parse(), Ok(protocol));
            assert_eq!(protocol.name().to_lowercase().parse(), Ok(protocol));
        }
        assert_eq!("sasl_ssl".parse(), Ok(SecurityProtocol::SaslSsl));
    }

    #[test]
    fn unknown_names_are_refused_with_the_choices() {
        let error = "TLS".parse::<SecurityProtocol>().unwrap_err();
        assert!(error.to_string().contains("SASL_SSL"), "{error}");
    }

    #[test]
    fn only_the_tls_protocols_use_tls() {
        assert!(SecurityProtocol::Ssl.uses_tls());
        assert!(SecurityProtocol::SaslSsl.uses_tls());
        assert!(!SecurityProtocol::Plaintext.uses_tls());
        assert!(!SecurityProtocol::SaslPlaintext.uses_tls());
        assert!(SecurityProtocol::SaslPlaintext.uses_sasl());
        assert!(!SecurityProtocol::Ssl.uses_sasl());
    }
}
