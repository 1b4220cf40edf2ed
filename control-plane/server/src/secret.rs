//! Secrets: random bearer tokens, stored only as their sha-256.
//!
//! A token is `<prefix>_<43 base64url characters>` (32 random bytes), so
//! hashing it with a plain sha-256 is enough: there is nothing to guess.
//! The prefix says what the token is for, which also makes leaked tokens
//! easy to spot by secret scanners.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// What a token is for; its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// An API key's secret.
    ApiKey,
    /// A one-time agent registration token.
    Registration,
    /// An agent's long-lived credential.
    AgentCredential,
    /// An agent's short-lived access token.
    AgentAccess,
    /// A console session (the `fjord_session` cookie).
    Session,
}

impl TokenKind {
    fn prefix(self) -> &'static str {
        match self {
            Self::ApiKey => "fjk",
            Self::Registration => "fjr",
            Self::AgentCredential => "fja",
            Self::AgentAccess => "fjt",
            Self::Session => "fjs",
        }
    }

    /// The kind of `token`, from its prefix.
    pub(crate) fn of(token: &str) -> Option<Self> {
        let (prefix, _) = token.split_once('_')?;
        [
            Self::ApiKey,
            Self::Registration,
            Self::AgentCredential,
            Self::AgentAccess,
            Self::Session,
        ]
        .into_iter()
        .find(|kind| kind.prefix() == prefix)
    }
}

/// A new random token and its hash.
pub(crate) fn generate(kind: TokenKind) -> anyhow::Result<(String, Vec<u8>)> {
    let token = format!(
        "{}_{}",
        kind.prefix(),
        URL_SAFE_NO_PAD.encode(random_bytes()?)
    );
    let hash = hash(&token);
    Ok((token, hash))
}

/// sha-256 of a token, as stored.
pub(crate) fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// 32 bytes from the operating system's generator.
pub(crate) fn random_bytes() -> anyhow::Result<[u8; 32]> {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|error| anyhow::anyhow!("cannot read random bytes: {error}"))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_their_kind_and_differ() -> anyhow::Result<()> {
        let (first, first_hash) = generate(TokenKind::ApiKey)?;
        let (second, _) = generate(TokenKind::ApiKey)?;
        assert_ne!(first, second);
        assert_eq!(TokenKind::of(&first), Some(TokenKind::ApiKey));
        assert_eq!(first_hash, hash(&first));
        assert_eq!(first.len(), "fjk_".len() + 43);
        assert_eq!(TokenKind::of("nope"), None);
        Ok(())
    }
}
