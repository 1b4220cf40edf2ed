//! The SCRAM messages a client sends (RFC 5802 §7), parsed strictly. The
//! input comes from unauthenticated clients: every malformed message is an
//! error, never a panic, and nothing is allocated beyond the message.

/// Why a SCRAM message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScramMessageError {
    #[error("message is not UTF-8")]
    NotUtf8,
    #[error("channel binding is not supported (gs2 header {0:?})")]
    ChannelBinding(String),
    #[error("missing or misplaced attribute {0:?}")]
    Missing(char),
    #[error("malformed user name")]
    UserName,
    #[error("attribute {0:?} is not valid base64")]
    Base64(char),
    #[error("unsupported mandatory extension")]
    Extension,
}

/// `n,[a=authzid],n=user,r=nonce[,extensions]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFirst {
    pub user: String,
    pub nonce: String,
    /// The GS2 header (`n,,` or `n,a=user,`), which the final message
    /// repeats in base64.
    pub gs2_header: String,
    /// The message without its GS2 header, part of the AuthMessage.
    pub bare: String,
    /// Kafka's delegation-token extension (`tokenauth=true`) was asked for.
    pub token_auth: bool,
}

/// `c=biws,r=nonce,p=proof`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFinal {
    /// base64 of the GS2 header the client sent first.
    pub channel_binding: String,
    pub nonce: String,
    pub proof: Vec<u8>,
    /// The message up to (without) `,p=...`, part of the AuthMessage.
    pub without_proof: String,
}

fn text(bytes: &[u8]) -> Result<&str, ScramMessageError> {
    std::str::from_utf8(bytes).map_err(|_| ScramMessageError::NotUtf8)
}

/// The value of `name=` at the head of `part`.
fn attribute(part: Option<&str>, name: char) -> Result<&str, ScramMessageError> {
    part.and_then(|part| part.strip_prefix(name))
        .and_then(|rest| rest.strip_prefix('='))
        .ok_or(ScramMessageError::Missing(name))
}

/// A `saslname`: `=2C` stands for `,` and `=3D` for `=`; any other `=` or a
/// `,` is malformed.
fn sasl_name(encoded: &str) -> Result<String, ScramMessageError> {
    let mut name = String::with_capacity(encoded.len());
    let mut rest = encoded;
    while let Some(at) = rest.find('=') {
        name.push_str(&rest[..at]);
        let escape = rest.get(at..at + 3).ok_or(ScramMessageError::UserName)?;
        name.push(match escape {
            "=2C" => ',',
            "=3D" => '=',
            _ => return Err(ScramMessageError::UserName),
        });
        rest = &rest[at + 3..];
    }
    name.push_str(rest);
    if name.is_empty() || encoded.contains(',') {
        return Err(ScramMessageError::UserName);
    }
    Ok(name)
}

fn printable_nonce(nonce: &str) -> Result<(), ScramMessageError> {
    let valid = !nonce.is_empty()
        && nonce
            .bytes()
            .all(|byte| (0x21..=0x7e).contains(&byte) && byte != b',');
    if valid {
        Ok(())
    } else {
        Err(ScramMessageError::Missing('r'))
    }
}

impl ClientFirst {
    pub fn parse(bytes: &[u8]) -> Result<Self, ScramMessageError> {
        let message = text(bytes)?;
        // GS2 header: `n` (no channel binding) then an optional authzid.
        let mut header = message.splitn(3, ',');
        let flag = header.next().unwrap_or_default();
        if flag != "n" && flag != "y" {
            return Err(ScramMessageError::ChannelBinding(flag.to_owned()));
        }
        let authzid = header.next().ok_or(ScramMessageError::Missing('n'))?;
        if !authzid.is_empty() && !authzid.starts_with("a=") {
            return Err(ScramMessageError::Missing('a'));
        }
        let bare = header.next().ok_or(ScramMessageError::Missing('n'))?;
        let mut parts = bare.split(',');
        let first = parts.next();
        if first.is_some_and(|part| part.starts_with("m=")) {
            return Err(ScramMessageError::Extension);
        }
        let user = sasl_name(attribute(first, 'n')?)?;
        if !authzid.is_empty() && sasl_name(&authzid[2..])? != user {
            // Acting as someone else is not supported.
            return Err(ScramMessageError::UserName);
        }
        let nonce = attribute(parts.next(), 'r')?;
        printable_nonce(nonce)?;
        let token_auth = parts.any(|part| part == "tokenauth=true");
        Ok(Self {
            user,
            nonce: nonce.to_owned(),
            gs2_header: message[..message.len() - bare.len()].to_owned(),
            bare: bare.to_owned(),
            token_auth,
        })
    }
}

impl ClientFinal {
    pub fn parse(bytes: &[u8]) -> Result<Self, ScramMessageError> {
        use base64::Engine as _;
        let message = text(bytes)?;
        let (without_proof, proof) = message
            .rsplit_once(",p=")
            .ok_or(ScramMessageError::Missing('p'))?;
        let mut parts = without_proof.split(',');
        let channel_binding = attribute(parts.next(), 'c')?;
        let nonce = attribute(parts.next(), 'r')?;
        printable_nonce(nonce)?;
        let proof = base64::engine::general_purpose::STANDARD
            .decode(proof)
            .map_err(|_| ScramMessageError::Base64('p'))?;
        Ok(Self {
            channel_binding: channel_binding.to_owned(),
            nonce: nonce.to_owned(),
            proof,
            without_proof: without_proof.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_first_message_yields_user_nonce_and_bare_part() {
        let first = ClientFirst::parse(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO").unwrap();
        assert_eq!(first.user, "user");
        assert_eq!(first.nonce, "rOprNGfwEbeRWgbNEkqO");
        assert_eq!(first.bare, "n=user,r=rOprNGfwEbeRWgbNEkqO");
        assert_eq!(first.gs2_header, "n,,");
        assert!(!first.token_auth);
        let escaped = ClientFirst::parse(b"n,,n=a=2Cb=3Dc,r=x,tokenauth=true").unwrap();
        assert_eq!(escaped.user, "a,b=c");
        assert!(escaped.token_auth);
    }

    #[test]
    fn malformed_client_first_messages_are_refused() {
        for message in [
            &b""[..],
            b"p=tls-unique,,n=user,r=x",
            b"n,,r=x,n=user",
            b"n,,n=,r=x",
            b"n,,n=a=2Xb,r=x",
            b"n,,n=user",
            b"n,,n=user,r=",
            b"n,,m=ext,n=user,r=x",
            b"n,a=other,n=user,r=x",
            b"\xff\xfe",
        ] {
            assert!(ClientFirst::parse(message).is_err(), "{message:?}");
        }
    }

    #[test]
    fn a_client_final_message_yields_the_proof_and_the_signed_part() {
        let message = b"c=biws,r=abc,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
        let last = ClientFinal::parse(message).unwrap();
        assert_eq!(last.channel_binding, "biws");
        assert_eq!(last.nonce, "abc");
        assert_eq!(last.proof.len(), 32);
        assert_eq!(last.without_proof, "c=biws,r=abc");
        for bad in [
            &b"c=biws,r=abc"[..],
            b"c=biws,r=abc,p=!!",
            b"r=abc,c=biws,p=AA==",
            b"c=biws,p=AA==",
        ] {
            assert!(ClientFinal::parse(bad).is_err(), "{bad:?}");
        }
    }
}
