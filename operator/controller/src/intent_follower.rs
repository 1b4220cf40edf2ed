//! How the agent follows its environment's intents: what to ask the control
//! plane's long-poll for, and what to accept from it (sans-IO: the caller
//! sends `GET /v1/agent/intents?{poll_query}` and hands the response's media
//! type and body, decompressed, to [`IntentFollower::receive`]).
//!
//! Nothing is accepted unless it verifies against the pinned key
//! (`fjord.intent/v2`, see `fjord_api::ObjectHashes` and
//! `fjord_api::signed_statement`):
//! - a full intent: its document's format, environment and generation, its content hash computed from its objects, and the
//!   ed25519 signature over the statement of organization, environment,
//!   generation and that hash;
//! - a delta (asked for with `delta=true` once a generation is held): the
//!   held object hashes with the delta applied (hashing only the objects it
//!   puts) must have the delta's content hash, and the signature must
//!   verify over the new generation's statement; only then are the changes
//!   applied to the held document, in place.
//!
//! A delta that does not verify leaves the held document as it was and
//! makes the next poll ask without `delta`, so the full document comes
//! next; accepting any verified intent asks for deltas again.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;
use fjord_api::{
    INTENT_DELTA_JSON, INTENT_FORMAT, Intent, IntentDelta, IntentDocument, ObjectHashes,
    SignatureError,
};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

pub use crate::error::FollowError;

pub type Result<T, E = FollowError> = std::result::Result<T, E>;

/// A verified generation: the document and its object hashes (the
/// invariant: `hashes == ObjectHashes::of(&document.clusters)`).
#[derive(Debug)]
struct Held {
    document: IntentDocument,
    hashes: ObjectHashes,
    /// The signature over the held generation's statement, so the held
    /// intent can be stored and verified again (see [`IntentFollower::intent`]).
    signature: String,
    created_at: DateTime<Utc>,
}

/// The verified intent the agent holds, and what to ask for next.
#[derive(Debug)]
pub struct IntentFollower {
    key: VerifyingKey,
    key_id: String,
    environment_id: Uuid,
    held: Option<Held>,
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
        self.held.as_ref().map(|held| &held.document)
    }

    /// The held generation as a full intent, as the control plane would
    /// send it: stored, it verifies again with [`Self::receive`] (a held
    /// generation reached by a delta carries the signature of the full one).
    pub fn intent(&self) -> Option<Intent> {
        self.held.as_ref().map(|held| Intent {
            environment_id: held.document.environment_id,
            generation: held.document.generation,
            content_hash: held.document.content_hash.clone(),
            signature: held.signature.clone(),
            key_id: self.key_id.clone(),
            document: held.document.clone(),
            created_at: held.created_at,
        })
    }

    /// The long-poll's query (without `wait_seconds`).
    pub fn poll_query(&self) -> String {
        match &self.held {
            None => "after=0".to_owned(),
            Some(held) if self.full_next => format!("after={}", held.document.generation),
            Some(held) => format!("after={}&delta=true", held.document.generation),
        }
    }

    /// Accepts a 200 response of the long-poll if it verifies; returns the
    /// new document.
    pub fn receive(&mut self, media_type: &str, body: &[u8]) -> Result<&IntentDocument> {
        if media_type == INTENT_DELTA_JSON {
            self.receive_delta(body)
                .inspect_err(|_| self.full_next = true)?;
        } else {
            let held = self.verify_full(body)?;
            self.held = Some(held);
        }
        self.full_next = false;
        let held = self.held.as_ref().expect("a generation was just accepted");
        debug_assert_eq!(held.hashes, ObjectHashes::of(&held.document.clusters));
        Ok(&held.document)
    }

    fn verify_full(&self, body: &[u8]) -> Result<Held> {
        let intent: Intent =
            serde_json::from_slice(body).map_err(|e| FollowError::Malformed(e.to_string()))?;
        self.check_key(&intent.key_id)?;
        let document = intent.document;
        if document.format != INTENT_FORMAT {
            return Err(FollowError::UnsupportedFormat(document.format));
        }
        if document.generation != intent.generation || document.content_hash != intent.content_hash
        {
            return Err(FollowError::Malformed(
                "generation or content hash differs from the document's".into(),
            ));
        }
        self.check_progress(document.environment_id, document.generation)?;
        let hashes = ObjectHashes::of(&document.clusters);
        self.check_signed(
            &document,
            document.generation,
            &hashes,
            &document.content_hash,
            &intent.signature,
        )?;
        Ok(Held {
            document,
            hashes,
            signature: intent.signature,
            created_at: intent.created_at,
        })
    }

    /// Verifies the delta against the held hashes, then applies it to the
    /// held document.
    fn receive_delta(&mut self, body: &[u8]) -> Result<()> {
        let delta: IntentDelta =
            serde_json::from_slice(body).map_err(|e| FollowError::Malformed(e.to_string()))?;
        self.check_key(&delta.key_id)?;
        let held = self
            .held
            .as_ref()
            .ok_or_else(|| FollowError::DeltaDoesNotApply("no generation is held".to_owned()))?;
        if delta.from_generation != held.document.generation {
            return Err(FollowError::DeltaDoesNotApply(format!(
                "it applies to generation {}, generation {} is held",
                delta.from_generation, held.document.generation
            )));
        }
        self.check_progress(delta.environment_id, delta.generation)?;
        let hashes = held
            .hashes
            .apply(&delta)
            .map_err(|error| FollowError::DeltaDoesNotApply(error.to_string()))?;
        self.check_signed(
            &held.document,
            delta.generation,
            &hashes,
            &delta.content_hash,
            &delta.signature,
        )?;
        let mut held = self.held.take().expect("checked above");
        // Cannot fail: the same changes just applied to the hashes, which
        // have the document's objects in the document's order.
        held.document
            .apply_in_place(&delta)
            .map_err(|error| FollowError::DeltaDoesNotApply(error.to_string()))?;
        held.hashes = hashes;
        held.signature = delta.signature;
        held.created_at = delta.created_at;
        self.held = Some(held);
        Ok(())
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

    /// The environment is this agent's, and the generation is newer than
    /// the held one.
    fn check_progress(&self, environment_id: Uuid, generation: i64) -> Result<()> {
        if environment_id != self.environment_id {
            return Err(FollowError::WrongEnvironment(environment_id));
        }
        if let Some(held) = &self.held
            && generation <= held.document.generation
        {
            return Err(FollowError::NotNewer {
                received: generation,
                held: held.document.generation,
            });
        }
        Ok(())
    }

    /// `hashes` have the claimed content hash, and the signature is over
    /// the statement of `generation` of the organization and environment of
    /// `document`.
    fn check_signed(
        &self,
        document: &IntentDocument,
        generation: i64,
        hashes: &ObjectHashes,
        content_hash: &str,
        signature: &str,
    ) -> Result<()> {
        hashes
            .verify_signature(
                &self.key,
                document.organization_id,
                document.environment_id,
                generation,
                content_hash,
                signature,
            )
            .map_err(|error| match error {
                SignatureError::ContentHash => FollowError::BadHash,
                SignatureError::Malformed | SignatureError::Invalid => FollowError::BadSignature,
            })
    }
}

#[cfg(test)]
mod tests;
