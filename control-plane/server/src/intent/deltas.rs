//! Delta intents for agents that hold the previous generation.
//!
//! An agent that long-polls with `after=G` and `delta=true` while the latest
//! generation is G+1 gets the change from G to G+1 ([`fjord_api::IntentDelta`])
//! instead of the whole document. The delta of a generation is built once per
//! replica, on the first request that asks for it, and shared like the full
//! body (see [`super::bodies`]): read generation G from the history,
//! diff the two documents, and check what an agent will: that applying the
//! delta to G rebuilds G+1 exactly and that G's object hashes, with the
//! delta applied, have G+1's content hash. A delta that does not, or that is
//! not smaller than the full body, is not served: those agents get the full
//! document.
//!
//! Only G → G+1 is served: an agent further behind gets the full document,
//! which is what it would fetch after several deltas anyway, and one delta
//! per generation keeps the cache's bound simple.

use axum::body::Bytes;
use fjord_api::{Intent, IntentDelta, IntentDocument, ObjectHashes};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::AppError;

/// The `IntentDelta` JSON from the generation before `generation` to `to`,
/// the `Intent` JSON of `generation`, if it is served.
pub(super) async fn build(
    pool: &PgPool,
    organization_id: Uuid,
    environment_id: Uuid,
    generation: i64,
    to: Bytes,
) -> Result<Option<Bytes>, AppError> {
    let from_generation = generation - 1;
    if from_generation < 1 {
        return Ok(None);
    }
    let Some(from) =
        fjord_store::intent::get(pool, organization_id, environment_id, from_generation).await?
    else {
        // Not in the history (an environment deleted meanwhile).
        return Ok(None);
    };
    // Parsing two documents and diffing them is a few milliseconds of CPU
    // for a large environment: off the async workers.
    let delta = tokio::task::spawn_blocking(move || compute(&from.payload, &to))
        .await
        .map_err(anyhow::Error::new)??;
    if delta.is_none() {
        tracing::warn!(%environment_id, generation, "no delta served for this generation");
    }
    Ok(delta)
}

/// The delta JSON from the stored `from` payload to the `Intent` JSON `to`,
/// when it rebuilds `to` and its content hash exactly and is smaller than
/// `to`.
fn compute(from: &[u8], to_json: &[u8]) -> Result<Option<Bytes>, AppError> {
    let from: IntentDocument = serde_json::from_slice(from)
        .map_err(|error| anyhow::anyhow!("stored intent payload does not parse: {error}"))?;
    let to: Intent = serde_json::from_slice(to_json)
        .map_err(|error| anyhow::anyhow!("cached intent body does not parse: {error}"))?;
    assert_eq!(from.environment_id, to.environment_id, "one environment");
    assert!(from.generation < to.generation, "a delta goes forward");
    let delta = IntentDelta {
        environment_id: to.environment_id,
        from_generation: from.generation,
        generation: to.generation,
        content_hash: to.content_hash.clone(),
        signature: to.signature.clone(),
        key_id: to.key_id.clone(),
        changes: fjord_api::diff(&from, &to.document),
        created_at: to.created_at,
    };
    let rebuilt = match from.apply(&delta) {
        Ok(rebuilt) => rebuilt,
        Err(error) => {
            tracing::warn!(%error, "a computed delta does not apply to its own base");
            return Ok(None);
        }
    };
    if rebuilt != to.document {
        tracing::warn!("a computed delta does not rebuild the next document");
        return Ok(None);
    }
    let hashes = match ObjectHashes::of(&from.clusters).apply(&delta) {
        Ok(hashes) => hashes,
        Err(error) => {
            tracing::warn!(%error, "a computed delta does not apply to its base's hashes");
            return Ok(None);
        }
    };
    if hashes.root_hex() != to.content_hash {
        tracing::warn!("a computed delta does not lead to the next content hash");
        return Ok(None);
    }
    let json = serde_json::to_vec(&delta).map_err(anyhow::Error::new)?;
    Ok((json.len() < to_json.len()).then(|| json.into()))
}
