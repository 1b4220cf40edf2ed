//! The content hash and the signed statement of a `fjord.intent/v2`
//! document.
//!
//! Every object of the document (a cluster's settings without its topics,
//! and each topic) has an object hash: sha-256 of its compact JSON as these
//! types serialise it. The document's `content_hash` is sha-256 over one
//! fixed 49-byte record per object in document order, a cluster's record
//! directly before its topics' records:
//!
//! ```text
//! kind (1 byte: 0x01 cluster, 0x02 topic) | id (16 bytes, the UUID's) | object hash (32 bytes)
//! ```
//!
//! The ed25519 signature is over an 88-byte statement, not over the
//! document's bytes:
//!
//! ```text
//! "fjord.intent/v2" 0x00 | organization id (16) | environment id (16) | generation (i64, big-endian) | content hash (32)
//! ```
//!
//! So an agent holding generation G with its object hashes ([`ObjectHashes`])
//! verifies a delta to G+1 by hashing only the objects the delta puts,
//! hashing ~50 bytes per object for the root, and checking one signature
//! over 88 bytes, instead of reserialising and hashing the whole document
//! (over 100 KiB for a large environment) twice. Equal desired states
//! still have equal content hashes: the records depend only on the objects
//! and their order (by name, as the document lists them).

use serde::Serialize;
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::intent_delta::{DeltaTree, apply_changes};
use crate::{
    DeltaError, IntentCluster, IntentClusterSettings, IntentDelta, IntentTopic, SignatureError,
};

/// The `format` of every intent document whose hash and signature are the
/// ones described here.
pub const INTENT_FORMAT: &str = "fjord.intent/v2";

/// The length of the statement an intent's signature is over.
pub const STATEMENT_LEN: usize = 88;

const CLUSTER: u8 = 0x01;
const TOPIC: u8 = 0x02;

/// A sha-256 digest.
pub type Hash = [u8; 32];

/// The object hashes of a document's clusters and topics, in document
/// order: enough to compute its content hash, and to compute the next
/// generation's from a delta.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectHashes {
    clusters: Vec<ClusterHashes>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ClusterHashes {
    cluster_id: Uuid,
    hash: Hash,
    topics: Vec<(Uuid, Hash)>,
}

impl ObjectHashes {
    /// Hashes every object of `clusters`.
    pub fn of(clusters: &[IntentCluster]) -> Self {
        Self {
            clusters: clusters
                .iter()
                .map(|cluster| ClusterHashes {
                    cluster_id: cluster.cluster_id,
                    hash: json_hash(&IntentClusterSettings::of(cluster)),
                    topics: cluster
                        .topics
                        .iter()
                        .map(|topic| (topic.topic_id, json_hash(topic)))
                        .collect(),
                })
                .collect(),
        }
    }

    /// The content hash.
    pub fn root(&self) -> Hash {
        let mut hasher = Sha256::new();
        let mut record = |kind: u8, id: &Uuid, hash: &Hash| {
            hasher.update([kind]);
            hasher.update(id.as_bytes());
            hasher.update(hash);
        };
        for cluster in &self.clusters {
            record(CLUSTER, &cluster.cluster_id, &cluster.hash);
            for (topic_id, hash) in &cluster.topics {
                record(TOPIC, topic_id, hash);
            }
        }
        hasher.finalize().into()
    }

    /// The statement to verify an intent's signature over, if `content_hash`
    /// (as documents carry it) is the root of these hashes: the one check
    /// every verifier makes before the signature's.
    pub fn statement(
        &self,
        organization_id: Uuid,
        environment_id: Uuid,
        generation: i64,
        content_hash: &str,
    ) -> Option<[u8; STATEMENT_LEN]> {
        let root = self.root();
        (parse_hash(content_hash) == Some(root))
            .then(|| signed_statement(organization_id, environment_id, generation, &root))
    }

    /// Checks an intent's signature as every verifier must: `content_hash`
    /// is the root of these hashes, and `signature` (base64, as intents
    /// carry it) is `key`'s over the statement of `generation` of the
    /// organization's environment.
    pub fn verify_signature(
        &self,
        key: &ed25519_dalek::VerifyingKey,
        organization_id: Uuid,
        environment_id: Uuid,
        generation: i64,
        content_hash: &str,
        signature: &str,
    ) -> Result<(), SignatureError> {
        use base64::Engine as _;
        use ed25519_dalek::Verifier as _;
        let statement = self
            .statement(organization_id, environment_id, generation, content_hash)
            .ok_or(SignatureError::ContentHash)?;
        let signature = base64::engine::general_purpose::STANDARD
            .decode(signature)
            .ok()
            .and_then(|bytes| ed25519_dalek::Signature::from_slice(&bytes).ok())
            .ok_or(SignatureError::Malformed)?;
        key.verify(&statement, &signature)
            .map_err(|_| SignatureError::Invalid)
    }

    /// The content hash as the documents carry it (lowercase hex).
    pub fn root_hex(&self) -> String {
        hex::encode(self.root())
    }

    /// The object hashes of the document `delta` makes of the one these
    /// are of: only the objects the delta puts are hashed. Fails exactly
    /// where the changes fail on that document; its environment and
    /// generation, which these hashes do not know, are the caller's to
    /// check (as [`crate::IntentDocument::apply`] does).
    pub fn apply(&self, delta: &IntentDelta) -> Result<Self, DeltaError> {
        let mut next = self.clone();
        apply_changes::<HashTree>(&mut next.clusters, &delta.changes)?;
        Ok(next)
    }
}

/// The bytes an intent's signature is over.
pub fn signed_statement(
    organization_id: Uuid,
    environment_id: Uuid,
    generation: i64,
    content_hash: &Hash,
) -> [u8; STATEMENT_LEN] {
    let mut statement = [0_u8; STATEMENT_LEN];
    let parts: [&[u8]; 6] = [
        INTENT_FORMAT.as_bytes(),
        &[0],
        organization_id.as_bytes(),
        environment_id.as_bytes(),
        &generation.to_be_bytes(),
        content_hash,
    ];
    let mut at = 0;
    for part in parts {
        statement[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
    assert_eq!(at, STATEMENT_LEN, "the statement's parts fill it exactly");
    statement
}

/// Parses a content hash as documents carry it.
pub fn parse_hash(hex_hash: &str) -> Option<Hash> {
    hex::decode(hex_hash).ok()?.try_into().ok()
}

/// sha-256 of `value`'s compact JSON, serialised straight into the hasher.
fn json_hash(value: &impl Serialize) -> Hash {
    struct Writer(Sha256);
    impl std::io::Write for Writer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.update(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut writer = Writer(Sha256::new());
    // The API types are plain structs and maps with string keys: their
    // serialisation cannot fail, and the writer never does.
    serde_json::to_writer(&mut writer, value).expect("intent objects serialise");
    writer.0.finalize().into()
}

/// Deltas applied to object hashes.
struct HashTree;

impl DeltaTree for HashTree {
    type Cluster = ClusterHashes;
    type Topic = (Uuid, Hash);

    fn cluster_id(cluster: &ClusterHashes) -> Uuid {
        cluster.cluster_id
    }
    fn topic_id(topic: &(Uuid, Hash)) -> Uuid {
        topic.0
    }
    fn topics(cluster: &mut ClusterHashes) -> &mut Vec<(Uuid, Hash)> {
        &mut cluster.topics
    }
    fn into_topics(cluster: ClusterHashes) -> Vec<(Uuid, Hash)> {
        cluster.topics
    }
    fn cluster(settings: &IntentClusterSettings, topics: Vec<(Uuid, Hash)>) -> ClusterHashes {
        ClusterHashes {
            cluster_id: settings.cluster_id,
            hash: json_hash(settings),
            topics,
        }
    }
    fn topic(topic: &IntentTopic) -> (Uuid, Hash) {
        (topic.topic_id, json_hash(topic))
    }
}

#[cfg(test)]
mod tests;
