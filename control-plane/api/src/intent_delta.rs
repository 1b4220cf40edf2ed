//! Delta intents: the change from one generation's document to the next, for
//! agents that already hold the previous one.
//!
//! A delta is a list of per-object changes keyed by id: put (insert or
//! replace) or remove a cluster's settings, put or remove a topic of a
//! cluster. A `PATCH` of one cluster or topic changes one object, so its
//! delta is one change of a few hundred bytes, where the whole document of a
//! large environment is over 100 KiB.
//!
//! A delta is not signed on its own: it carries the new generation's
//! content hash and signature. The agent computes the new generation's
//! object hashes from its own and the objects the delta puts
//! ([`crate::ObjectHashes::apply`]), checks their root against
//! `content_hash` and the signature over the statement
//! ([`crate::signed_statement`]) with its pinned key, and only then applies
//! the changes to its document ([`IntentDocument::apply_in_place`]).
//! Anything that does not verify is dropped and the full document fetched
//! instead.
//!
//! Order: every change that puts an object says which object it goes
//! before (`before`, `null` for the end of its list). Puts are listed from
//! the end of each list to its start, so the object named in `before` is
//! already in place when a put refers to it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{ConfigMap, IntentCluster, IntentDocument, IntentTopic};

pub use crate::error::DeltaError;

/// The media type of a delta response.
pub const INTENT_DELTA_JSON: &str = "application/vnd.fjord.intent-delta+json";

/// The change from `from_generation` to `generation` of one environment's
/// intent, with the new generation's hash and signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IntentDelta {
    pub environment_id: Uuid,
    /// The generation this delta applies to.
    pub from_generation: i64,
    /// The generation the result is.
    pub generation: i64,
    /// `content_hash` of the resulting document.
    pub content_hash: String,
    /// Base64 (standard) ed25519 signature of the resulting document's
    /// statement: the same signature as the full intent of `generation`.
    pub signature: String,
    /// Which key signed: hex sha-256 of its public half, first 16 characters.
    pub key_id: String,
    /// Applied in order.
    pub changes: Vec<IntentChange>,
    pub created_at: DateTime<Utc>,
}

/// One change of a delta.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum IntentChange {
    /// Inserts the cluster (with no topics yet) or replaces its settings
    /// (keeping its topics), placed before `before` (`null`: last).
    PutCluster {
        cluster: IntentClusterSettings,
        before: Option<Uuid>,
    },
    /// Removes the cluster and its topics.
    RemoveCluster { cluster_id: Uuid },
    /// Inserts or replaces a topic of the cluster, placed before `before`
    /// (`null`: last).
    PutTopic {
        cluster_id: Uuid,
        topic: IntentTopic,
        before: Option<Uuid>,
    },
    /// Removes a topic of the cluster.
    RemoveTopic { cluster_id: Uuid, topic_id: Uuid },
}

/// A cluster's desired state without its topics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IntentClusterSettings {
    pub cluster_id: Uuid,
    pub name: String,
    pub version: String,
    pub broker_count: i32,
    pub storage_gib: i32,
    pub config: ConfigMap,
}

impl IntentClusterSettings {
    pub(crate) fn of(cluster: &IntentCluster) -> Self {
        Self {
            cluster_id: cluster.cluster_id,
            name: cluster.name.clone(),
            version: cluster.version.clone(),
            broker_count: cluster.broker_count,
            storage_gib: cluster.storage_gib,
            config: cluster.config.clone(),
        }
    }

    fn into_cluster(self, topics: Vec<IntentTopic>) -> IntentCluster {
        IntentCluster {
            cluster_id: self.cluster_id,
            name: self.name,
            version: self.version,
            broker_count: self.broker_count,
            storage_gib: self.storage_gib,
            config: self.config,
            topics,
        }
    }
}

/// Removes the item with `id`, if any.
fn take<T>(list: &mut Vec<T>, id: Uuid, id_of: impl Fn(&T) -> Uuid) -> Option<T> {
    let index = list.iter().position(|item| id_of(item) == id)?;
    Some(list.remove(index))
}

/// Inserts `item` before the item with id `before`, or last.
fn insert<T>(
    list: &mut Vec<T>,
    item: T,
    before: Option<Uuid>,
    id_of: impl Fn(&T) -> Uuid,
) -> Result<(), DeltaError> {
    let index = match before {
        None => list.len(),
        Some(before) => list
            .iter()
            .position(|other| id_of(other) == before)
            .ok_or(DeltaError::UnknownObject(before))?,
    };
    list.insert(index, item);
    Ok(())
}

/// What a delta's changes are applied to: the document's clusters, or
/// anything kept per object in the same order (its object hashes).
pub(crate) trait DeltaTree {
    type Cluster;
    type Topic;
    fn cluster_id(cluster: &Self::Cluster) -> Uuid;
    fn topic_id(topic: &Self::Topic) -> Uuid;
    fn topics(cluster: &mut Self::Cluster) -> &mut Vec<Self::Topic>;
    fn into_topics(cluster: Self::Cluster) -> Vec<Self::Topic>;
    fn cluster(settings: &IntentClusterSettings, topics: Vec<Self::Topic>) -> Self::Cluster;
    fn topic(topic: &IntentTopic) -> Self::Topic;
}

/// Applies `changes` in order. On an error the clusters are left part-way.
pub(crate) fn apply_changes<T: DeltaTree>(
    clusters: &mut Vec<T::Cluster>,
    changes: &[IntentChange],
) -> Result<(), DeltaError> {
    for change in changes {
        match change {
            IntentChange::PutCluster { cluster, before } => {
                let topics = take(clusters, cluster.cluster_id, T::cluster_id)
                    .map(T::into_topics)
                    .unwrap_or_default();
                insert(
                    clusters,
                    T::cluster(cluster, topics),
                    *before,
                    T::cluster_id,
                )?;
            }
            IntentChange::RemoveCluster { cluster_id } => {
                take(clusters, *cluster_id, T::cluster_id)
                    .ok_or(DeltaError::UnknownObject(*cluster_id))?;
            }
            IntentChange::PutTopic {
                cluster_id,
                topic,
                before,
            } => {
                let topics = topics_of::<T>(clusters, *cluster_id)?;
                take(topics, topic.topic_id, T::topic_id);
                insert(topics, T::topic(topic), *before, T::topic_id)?;
            }
            IntentChange::RemoveTopic {
                cluster_id,
                topic_id,
            } => {
                let topics = topics_of::<T>(clusters, *cluster_id)?;
                take(topics, *topic_id, T::topic_id).ok_or(DeltaError::UnknownObject(*topic_id))?;
            }
        }
    }
    Ok(())
}

fn topics_of<T: DeltaTree>(
    clusters: &mut [T::Cluster],
    cluster_id: Uuid,
) -> Result<&mut Vec<T::Topic>, DeltaError> {
    clusters
        .iter_mut()
        .find(|cluster| T::cluster_id(cluster) == cluster_id)
        .map(T::topics)
        .ok_or(DeltaError::UnknownObject(cluster_id))
}

/// Deltas applied to the document itself.
struct DocumentTree;

impl DeltaTree for DocumentTree {
    type Cluster = IntentCluster;
    type Topic = IntentTopic;

    fn cluster_id(cluster: &IntentCluster) -> Uuid {
        cluster.cluster_id
    }
    fn topic_id(topic: &IntentTopic) -> Uuid {
        topic.topic_id
    }
    fn topics(cluster: &mut IntentCluster) -> &mut Vec<IntentTopic> {
        &mut cluster.topics
    }
    fn into_topics(cluster: IntentCluster) -> Vec<IntentTopic> {
        cluster.topics
    }
    fn cluster(settings: &IntentClusterSettings, topics: Vec<IntentTopic>) -> IntentCluster {
        settings.clone().into_cluster(topics)
    }
    fn topic(topic: &IntentTopic) -> IntentTopic {
        topic.clone()
    }
}

impl IntentDocument {
    /// The document `delta` makes of this one. The result still has to be
    /// verified (its content hash and the signature): applying only follows
    /// the changes.
    pub fn apply(&self, delta: &IntentDelta) -> Result<Self, DeltaError> {
        let mut next = self.clone();
        next.apply_in_place(delta)?;
        Ok(next)
    }

    /// Makes this document the one `delta` makes of it, without copying
    /// it: for a delta already verified against this document's object
    /// hashes ([`crate::ObjectHashes::apply`], which fails exactly when
    /// this does). On an error the document is left part-way and must be
    /// dropped.
    pub fn apply_in_place(&mut self, delta: &IntentDelta) -> Result<(), DeltaError> {
        if delta.environment_id != self.environment_id {
            return Err(DeltaError::WrongEnvironment);
        }
        if delta.from_generation != self.generation {
            return Err(DeltaError::WrongGeneration {
                have: self.generation,
                from: delta.from_generation,
            });
        }
        apply_changes::<DocumentTree>(&mut self.clusters, &delta.changes)?;
        self.generation = delta.generation;
        self.content_hash.clone_from(&delta.content_hash);
        Ok(())
    }
}

/// The changes that make `to`'s clusters of `from`'s: removals first, then
/// puts of new and changed objects from the end of each list to its start.
/// Objects present in both and unchanged are not mentioned, so their order
/// must be the same in both (it is: both are sorted by name, and a renamed
/// object is a changed one); whoever serves a delta checks that applying it
/// rebuilds `to` exactly.
pub fn diff(from: &IntentDocument, to: &IntentDocument) -> Vec<IntentChange> {
    let mut changes = Vec::new();
    let new_ids: std::collections::HashSet<Uuid> = to
        .clusters
        .iter()
        .map(|cluster| cluster.cluster_id)
        .collect();
    for old in &from.clusters {
        if !new_ids.contains(&old.cluster_id) {
            changes.push(IntentChange::RemoveCluster {
                cluster_id: old.cluster_id,
            });
        }
    }
    let old_clusters: std::collections::HashMap<Uuid, &IntentCluster> = from
        .clusters
        .iter()
        .map(|cluster| (cluster.cluster_id, cluster))
        .collect();
    for (index, new) in to.clusters.iter().enumerate().rev() {
        let settings = IntentClusterSettings::of(new);
        let old = old_clusters.get(&new.cluster_id);
        if old.is_none_or(|old| IntentClusterSettings::of(old) != settings) {
            changes.push(IntentChange::PutCluster {
                cluster: settings,
                before: to.clusters.get(index + 1).map(|next| next.cluster_id),
            });
        }
    }
    for new in &to.clusters {
        let old_topics = old_clusters
            .get(&new.cluster_id)
            .map_or(&[][..], |old| &old.topics[..]);
        diff_topics(new.cluster_id, old_topics, &new.topics, &mut changes);
    }
    changes
}

fn diff_topics(
    cluster_id: Uuid,
    from: &[IntentTopic],
    to: &[IntentTopic],
    changes: &mut Vec<IntentChange>,
) {
    let new_ids: std::collections::HashSet<Uuid> = to.iter().map(|topic| topic.topic_id).collect();
    for old in from {
        if !new_ids.contains(&old.topic_id) {
            changes.push(IntentChange::RemoveTopic {
                cluster_id,
                topic_id: old.topic_id,
            });
        }
    }
    let old_topics: std::collections::HashMap<Uuid, &IntentTopic> =
        from.iter().map(|topic| (topic.topic_id, topic)).collect();
    for (index, new) in to.iter().enumerate().rev() {
        if old_topics.get(&new.topic_id) != Some(&new) {
            changes.push(IntentChange::PutTopic {
                cluster_id,
                topic: new.clone(),
                before: to.get(index + 1).map(|next| next.topic_id),
            });
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
