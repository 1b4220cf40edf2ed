use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::ConfigMap;

/// The signed desired state of one environment at one generation.
///
/// Agents compute the content hash of `document` from its objects
/// ([`crate::ObjectHashes`]) and verify `signature` over the statement
/// ([`crate::signed_statement`]) with the pinned public key; nothing else in
/// the response is trusted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Intent {
    pub environment_id: Uuid,
    /// Increases by one with every change of desired state.
    pub generation: i64,
    /// Hex sha-256 over the document's per-object hashes, in document order
    /// ([`crate::ObjectHashes::root`]): equal desired states have equal
    /// hashes.
    pub content_hash: String,
    /// Base64 (standard) ed25519 signature of the 88-byte statement of
    /// organization, environment, generation and content hash
    /// ([`crate::signed_statement`]).
    pub signature: String,
    /// Which key signed: hex sha-256 of its public half, first 16 characters.
    pub key_id: String,
    pub document: IntentDocument,
    pub created_at: DateTime<Utc>,
}

/// What the agent must make true in its environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IntentDocument {
    /// Always `fjord.intent/v2` (see [`crate::INTENT_FORMAT`]).
    pub format: String,
    pub organization_id: Uuid,
    pub environment_id: Uuid,
    pub generation: i64,
    pub content_hash: String,
    /// Sorted by name.
    pub clusters: Vec<IntentCluster>,
}

/// A cluster's desired state within an intent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IntentCluster {
    pub cluster_id: Uuid,
    pub name: String,
    pub version: String,
    pub broker_count: i32,
    pub storage_gib: i32,
    pub config: ConfigMap,
    /// Sorted by name.
    pub topics: Vec<IntentTopic>,
}

/// A topic's desired state within an intent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IntentTopic {
    pub topic_id: Uuid,
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i32,
    pub config: ConfigMap,
}

/// The public half of the key intents are signed with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SigningKey {
    /// Always `ed25519`.
    pub algorithm: String,
    /// Base64 (standard) of the 32-byte public key.
    pub public_key: String,
    pub key_id: String,
}
