//! Building, signing and publishing an environment's intent.
//!
//! After any change to the clusters or topics of an environment, the
//! changing transaction calls [`publish`]: it locks the environment row
//! (serialising generations), rebuilds the document from the inventory as
//! this transaction sees it, and, if the content hash differs from the latest
//! intent's, stores the next generation, signed, and NOTIFYs listeners (on
//! commit). So generations are gap-free and increase by one, equal desired
//! states share a hash, and a rolled-back change publishes nothing.
//!
//! Serving intents to agents: [`watch`] wakes long-polls when a generation
//! is published on any replica, [`bodies`] builds each generation's
//! response body once and shares it, and `deltas` builds the change from
//! the previous generation for agents that hold it. Imports run one way:
//! `watch` uses `bodies`, `bodies` uses `deltas` and [`to_api`] here,
//! `deltas` uses neither, and this module uses none of them.

pub(crate) mod bodies;
mod deltas;
pub(crate) mod watch;

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use fjord_api::{
    INTENT_FORMAT, Intent, IntentCluster, IntentDocument, IntentTopic, ObjectHashes,
    signed_statement,
};
use fjord_store::intent::IntentRow;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::AppError;
use crate::signer::IntentSigner;

/// Publishes a new generation when the desired state changed; returns it.
pub(crate) async fn publish(
    db: &mut PgConnection,
    signer: &IntentSigner,
    organization_id: Uuid,
    environment_id: Uuid,
) -> Result<Option<i64>, AppError> {
    fjord_store::environment::get(&mut *db, organization_id, environment_id, true)
        .await?
        .ok_or_else(|| AppError::not_found("environment", environment_id))?;
    let clusters = desired_clusters(db, organization_id, environment_id).await?;
    let root = ObjectHashes::of(&clusters).root();
    let content_hash = hex::encode(root);
    // Only the generation and hash: the previous payload is not needed, and
    // reading it (detoasting and shipping ~100 KiB for a large environment)
    // was a large part of every write's time under the lock.
    let latest =
        fjord_store::intent::latest_hash(&mut *db, organization_id, environment_id).await?;
    if latest
        .as_ref()
        .is_some_and(|(_, latest_hash)| *latest_hash == content_hash)
    {
        return Ok(None);
    }
    let generation = latest.map_or(1, |(generation, _)| generation + 1);
    let document = IntentDocument {
        format: INTENT_FORMAT.to_owned(),
        organization_id,
        environment_id,
        generation,
        content_hash: content_hash.clone(),
        clusters,
    };
    let payload = serde_json::to_vec(&document).map_err(anyhow::Error::new)?;
    let row = IntentRow {
        organization_id,
        environment_id,
        generation,
        content_hash,
        signature: signer.sign(&signed_statement(
            organization_id,
            environment_id,
            generation,
            &root,
        )),
        payload,
        key_id: signer.key_id().to_owned(),
        created_at: chrono::Utc::now(),
    };
    fjord_store::intent::insert(db, &row).await?;
    tracing::info!(%environment_id, generation, "intent published");
    Ok(Some(generation))
}

async fn desired_clusters(
    db: &mut PgConnection,
    organization_id: Uuid,
    environment_id: Uuid,
) -> Result<Vec<IntentCluster>, AppError> {
    let clusters =
        fjord_store::cluster::list_in_environment(&mut *db, organization_id, environment_id)
            .await?;
    let topics =
        fjord_store::topic::list_in_environment(&mut *db, organization_id, environment_id).await?;
    let mut topics_by_cluster: BTreeMap<Uuid, Vec<IntentTopic>> = BTreeMap::new();
    for topic in topics {
        topics_by_cluster
            .entry(topic.cluster_id)
            .or_default()
            .push(IntentTopic {
                topic_id: topic.topic_id,
                name: topic.name,
                partitions: topic.partitions,
                replication_factor: topic.replication_factor,
                config: topic.config.0,
            });
    }
    Ok(clusters
        .into_iter()
        .map(|cluster| IntentCluster {
            topics: topics_by_cluster
                .remove(&cluster.cluster_id)
                .unwrap_or_default(),
            cluster_id: cluster.cluster_id,
            name: cluster.name,
            version: cluster.version,
            broker_count: cluster.broker_count,
            storage_gib: cluster.storage_gib,
            config: cluster.config.0,
        })
        .collect())
}

/// The API form of a stored intent.
pub(crate) fn to_api(row: IntentRow) -> Result<Intent, AppError> {
    let document: IntentDocument = serde_json::from_slice(&row.payload)
        .map_err(|error| anyhow::anyhow!("stored intent payload does not parse: {error}"))?;
    Ok(Intent {
        environment_id: row.environment_id,
        generation: row.generation,
        content_hash: row.content_hash,
        signature: STANDARD.encode(&row.signature),
        key_id: row.key_id,
        document,
        created_at: row.created_at,
    })
}
