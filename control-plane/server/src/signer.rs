//! The ed25519 key intents are signed with.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer as _, SigningKey};
use sha2::{Digest, Sha256};

/// Signs intent payloads; agents pin the public half.
#[derive(Debug)]
pub struct IntentSigner {
    key: SigningKey,
    key_id: String,
}

impl IntentSigner {
    /// A signer from a 32-byte seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let key = SigningKey::from_bytes(seed);
        let digest = Sha256::digest(key.verifying_key().as_bytes());
        let key_id = hex::encode(&digest[..8]);
        Self { key, key_id }
    }

    /// A signer from base64 (standard) of a 32-byte seed.
    pub fn from_base64_seed(seed: &str) -> anyhow::Result<Self> {
        let bytes = STANDARD
            .decode(seed.trim())
            .map_err(|error| anyhow::anyhow!("the intent signing key is not base64: {error}"))?;
        let seed: [u8; 32] = bytes.try_into().map_err(|bytes: Vec<u8>| {
            anyhow::anyhow!(
                "the intent signing key must be a 32-byte ed25519 seed, got {} bytes",
                bytes.len()
            )
        })?;
        Ok(Self::from_seed(&seed))
    }

    /// A fresh random key: for development only, since agents cannot pin a
    /// key that changes on every start.
    pub fn generate() -> anyhow::Result<Self> {
        Ok(Self::from_seed(&crate::secret::random_bytes()?))
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Base64 (standard) of the public key.
    pub fn public_key_base64(&self) -> String {
        STANDARD.encode(self.key.verifying_key().as_bytes())
    }

    pub fn sign(&self, payload: &[u8]) -> Vec<u8> {
        self.key.sign(payload).to_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signature, Verifier, VerifyingKey};

    use super::*;

    #[test]
    fn signatures_verify_with_the_published_public_key() -> anyhow::Result<()> {
        let signer = IntentSigner::from_base64_seed(&STANDARD.encode([7_u8; 32]))?;
        let signature = signer.sign(b"payload");
        let public: [u8; 32] = STANDARD
            .decode(signer.public_key_base64())?
            .try_into()
            .map_err(|_| anyhow::anyhow!("public key is not 32 bytes"))?;
        let public = VerifyingKey::from_bytes(&public)?;
        let signature = Signature::from_slice(&signature)?;
        public.verify(b"payload", &signature)?;
        assert!(public.verify(b"tampered", &signature).is_err());
        assert!(IntentSigner::from_base64_seed("c2hvcnQ=").is_err());
        Ok(())
    }
}
