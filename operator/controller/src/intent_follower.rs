//! How the agent follows its environment's intents: what to ask the control
//! plane's long-poll for, and what to accept from it (sans-IO: the caller
//! sends `GET /v1/agent/intents?{poll_query}` and hands the response's media
//! type and body, decompressed, to [`IntentFollower::receive`]).
//!
//! Nothing is accepted unless it verifies against the pinned key:
//! - a full intent: the ed25519 signature over `payload`, then the parsed
//!   payload's environment, generation and content hash;
//! - a delta (asked for with `delta=true` once a generation is held): it is
//!   applied to the held document, the result serialised (the exact bytes
//!   the server signed), and its content hash and the signature over those
//!   bytes checked.
//!
//! A delta that does not apply or verify leaves the held document as it was
//! and makes the next poll ask without `delta`, so the full document comes
//! next; accepting any verified intent asks for deltas again.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use fjord_api::{INTENT_DELTA_JSON, Intent, IntentDelta, IntentDocument};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

/// Why a response was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error("the pinned signing key is unusable: {0}")]
    Key(String),
    #[error("the response does not parse: {0}")]
    Malformed(String),
    #[error("signed by key {found}, pinned key is {pinned}")]
    WrongKey { found: String, pinned: String },
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the content hash does not match the document")]
    BadHash,
    #[error("the intent is for environment {0}")]
    WrongEnvironment(Uuid),
    #[error("generation {received} is not newer than the held {held}")]
    NotNewer { received: i64, held: i64 },
    #[error("the delta does not apply: {0}")]
    DeltaDoesNotApply(String),
}

pub type Result<T, E = FollowError> = std::result::Result<T, E>;

/// The verified intent the agent holds, and what to ask for next.
#[derive(Debug)]
pub struct IntentFollower {
    key: VerifyingKey,
    key_id: String,
    environment_id: Uuid,
    held: Option<IntentDocument>,
    /// A delta failed; the next poll asks for the full document.
    full_next: bool,
}

impl IntentFollower {
    /// A follower pinning the base64 ed25519 public key with id `key_id`
    /// (as `GET /v1/signing-key` shows them, checked out of band).
    pub fn new(public_key: &str, key_id: &str, environment_id: Uuid) -> Result<Self> {
        let bytes: [u8; 32] = STANDARD
            .decode(public_key)
            .map_err(|error| FollowError::Key(error.to_string()))?
            .try_into()
            .map_err(|_| FollowError::Key("not 32 bytes".to_owned()))?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|e| FollowError::Key(e.to_string()))?;
        let derived = hex::encode(&Sha256::digest(key.as_bytes())[..8]);
        if derived != key_id {
            return Err(FollowError::Key(format!(
                "key id {key_id} is not the key's ({derived})"
            )));
        }
        Ok(Self {
            key,
            key_id: key_id.to_owned(),
            environment_id,
            held: None,
            full_next: false,
        })
    }

    /// The held, verified document.
    pub fn document(&self) -> Option<&IntentDocument> {
        self.held.as_ref()
    }

    /// The long-poll's query (without `wait_seconds`).
    pub fn poll_query(&self) -> String {
        match &self.held {
            None => "after=0".to_owned(),
            Some(held) if self.full_next => format!("after={}", held.generation),
            Some(held) => format!("after={}&delta=true", held.generation),
        }
    }

    /// Accepts a 200 response of the long-poll if it verifies; returns the
    /// new document.
    pub fn receive(&mut self, media_type: &str, body: &[u8]) -> Result<&IntentDocument> {
        let document = if media_type == INTENT_DELTA_JSON {
            self.verify_delta(body)
                .inspect_err(|_| self.full_next = true)?
        } else {
            self.verify_full(body)?
        };
        self.full_next = false;
        Ok(self.held.insert(document))
    }

    fn verify_full(&self, body: &[u8]) -> Result<IntentDocument> {
        let intent: Intent =
            serde_json::from_slice(body).map_err(|e| FollowError::Malformed(e.to_string()))?;
        self.check_key(&intent.key_id)?;
        let payload = STANDARD
            .decode(&intent.payload)
            .map_err(|e| FollowError::Malformed(e.to_string()))?;
        self.check_signature(&payload, &intent.signature)?;
        let document: IntentDocument =
            serde_json::from_slice(&payload).map_err(|e| FollowError::Malformed(e.to_string()))?;
        if document.generation != intent.generation {
            return Err(FollowError::Malformed(
                "generation differs from payload".into(),
            ));
        }
        self.check_document(&document, &document.content_hash)?;
        Ok(document)
    }

    fn verify_delta(&self, body: &[u8]) -> Result<IntentDocument> {
        let delta: IntentDelta =
            serde_json::from_slice(body).map_err(|e| FollowError::Malformed(e.to_string()))?;
        self.check_key(&delta.key_id)?;
        let held = self
            .held
            .as_ref()
            .ok_or_else(|| FollowError::DeltaDoesNotApply("no generation is held".to_owned()))?;
        let document = held
            .apply(&delta)
            .map_err(|error| FollowError::DeltaDoesNotApply(error.to_string()))?;
        self.check_document(&document, &delta.content_hash)?;
        let bytes =
            serde_json::to_vec(&document).map_err(|e| FollowError::Malformed(e.to_string()))?;
        self.check_signature(&bytes, &delta.signature)?;
        Ok(document)
    }

    fn check_key(&self, key_id: &str) -> Result<()> {
        if key_id == self.key_id {
            Ok(())
        } else {
            Err(FollowError::WrongKey {
                found: key_id.to_owned(),
                pinned: self.key_id.clone(),
            })
        }
    }

    fn check_signature(&self, bytes: &[u8], signature: &str) -> Result<()> {
        let signature = STANDARD
            .decode(signature)
            .ok()
            .and_then(|signature| Signature::from_slice(&signature).ok())
            .ok_or(FollowError::BadSignature)?;
        self.key
            .verify(bytes, &signature)
            .map_err(|_| FollowError::BadSignature)
    }

    /// Environment, hash (of `clusters` as serialised) and progress.
    fn check_document(&self, document: &IntentDocument, content_hash: &str) -> Result<()> {
        if document.environment_id != self.environment_id {
            return Err(FollowError::WrongEnvironment(document.environment_id));
        }
        let clusters = serde_json::to_vec(&document.clusters)
            .map_err(|e| FollowError::Malformed(e.to_string()))?;
        if hex::encode(Sha256::digest(clusters)) != content_hash
            || document.content_hash != content_hash
        {
            return Err(FollowError::BadHash);
        }
        if let Some(held) = &self.held
            && document.generation <= held.generation
        {
            return Err(FollowError::NotNewer {
                received: document.generation,
                held: held.generation,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "intent_follower_test.rs"]
mod tests;
