//! The response bodies agents get for an environment's latest intent, built
//! once per generation and shared.
//!
//! A long-poll answers with the `Intent` JSON of its environment's latest
//! generation. Building that body (parse the signed payload, base64 it,
//! serialise everything) costs about as much as sending it, and a new
//! generation goes to every waiting agent at once; so the body is built once
//! per (environment, generation) and every response clones the same
//! [`Bytes`]. A stored intent never changes, so a body cached for a
//! generation stays right; which generation is the latest is still asked of
//! the database on every request (an index lookup that reads no payload).
//!
//! Authentication and the tenant check stay per request: a cached body is
//! handed out only for the organization and environment it was built for.
//! Memory is bounded by [`IntentBodies::BYTES_MAX`]: inserting past it evicts
//! other environments' bodies (they are rebuilt on their next request).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use fjord_store::intent::IntentRow;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::AppError;
use crate::intent;

/// One generation's response body.
#[derive(Debug)]
pub(crate) struct IntentBody {
    pub organization_id: Uuid,
    pub environment_id: Uuid,
    pub generation: i64,
    /// The `Intent` JSON.
    pub json: Bytes,
}

impl IntentBody {
    /// Builds the body of a stored intent.
    pub(crate) fn build(row: IntentRow) -> Result<Self, AppError> {
        let (organization_id, environment_id, generation) =
            (row.organization_id, row.environment_id, row.generation);
        let json = serde_json::to_vec(&intent::to_api(row)?).map_err(anyhow::Error::new)?;
        Ok(Self {
            organization_id,
            environment_id,
            generation,
            json: Bytes::from(json),
        })
    }
}

#[derive(Debug, Default)]
struct Cache {
    bodies: HashMap<Uuid, Arc<IntentBody>>,
    bytes: usize,
}

/// The latest body of each recently polled environment.
#[derive(Debug, Clone)]
pub(crate) struct IntentBodies {
    cache: Arc<Mutex<Cache>>,
    /// Most bytes of bodies kept.
    bytes_max: usize,
    /// Bodies served from the cache (`fjord_intent_body_hits`).
    hits: Counter,
    /// Bodies built from the database (`fjord_intent_body_builds`).
    builds: Counter,
}

impl Default for IntentBodies {
    fn default() -> Self {
        Self::with_limit(256 * 1024 * 1024)
    }
}

impl IntentBodies {
    /// A cache keeping at most `bytes_max` bytes of bodies.
    pub(crate) fn with_limit(bytes_max: usize) -> Self {
        Self {
            cache: Arc::default(),
            bytes_max,
            hits: Counter::default(),
            builds: Counter::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "fjord_intent_body_hits",
            "Intent responses served from the shared, already serialised body",
            self.hits.clone(),
        );
        registry.register(
            "fjord_intent_body_builds",
            "Intent response bodies built from the database",
            self.builds.clone(),
        );
    }

    /// The body of `generation` of this organization's environment, if
    /// cached.
    fn get(
        &self,
        organization_id: Uuid,
        environment_id: Uuid,
        generation: i64,
    ) -> Option<Arc<IntentBody>> {
        self.lock()
            .bodies
            .get(&environment_id)
            .filter(|body| body.organization_id == organization_id && body.generation == generation)
            .cloned()
    }

    fn insert(&self, body: Arc<IntentBody>) {
        let size = body.json.len();
        if size > self.bytes_max {
            return;
        }
        let mut cache = self.lock();
        if let Some(old) = cache.bodies.remove(&body.environment_id) {
            cache.bytes -= old.json.len();
        }
        while cache.bytes + size > self.bytes_max {
            let Some(victim) = cache.bodies.keys().next().copied() else {
                break;
            };
            if let Some(old) = cache.bodies.remove(&victim) {
                cache.bytes -= old.json.len();
            }
        }
        cache.bytes += size;
        cache.bodies.insert(body.environment_id, body);
    }

    /// The body of the environment's latest intent when its generation is
    /// above `after`: from the cache when it holds that generation, else
    /// built from the database and cached.
    pub(crate) async fn latest_after(
        &self,
        pool: &PgPool,
        organization_id: Uuid,
        environment_id: Uuid,
        after: i64,
    ) -> Result<Option<Arc<IntentBody>>, AppError> {
        let Some(generation) =
            fjord_store::intent::latest_generation(pool, organization_id, environment_id).await?
        else {
            return Ok(None);
        };
        if generation <= after {
            return Ok(None);
        }
        if let Some(body) = self.get(organization_id, environment_id, generation) {
            self.hits.inc();
            return Ok(Some(body));
        }
        // Gone only if the environment was deleted meanwhile.
        let Some(row) =
            fjord_store::intent::get(pool, organization_id, environment_id, generation).await?
        else {
            return Ok(None);
        };
        let body = Arc::new(IntentBody::build(row)?);
        self.builds.inc();
        self.insert(Arc::clone(&body));
        Ok(Some(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(environment_id: Uuid, generation: i64, size: usize) -> Arc<IntentBody> {
        Arc::new(IntentBody {
            organization_id: Uuid::nil(),
            environment_id,
            generation,
            json: Bytes::from(vec![b' '; size]),
        })
    }

    #[test]
    fn cached_bodies_are_per_tenant_and_generation_and_bounded() {
        let bodies = IntentBodies::with_limit(100);
        let environment = Uuid::now_v7();
        bodies.insert(body(environment, 3, 10));
        assert!(bodies.get(Uuid::nil(), environment, 3).is_some());
        assert!(bodies.get(Uuid::nil(), environment, 4).is_none());
        assert!(bodies.get(Uuid::now_v7(), environment, 3).is_none());
        bodies.insert(body(environment, 4, 20));
        assert_eq!(bodies.lock().bytes, 20);
        let big = 51;
        let (first, second) = (Uuid::now_v7(), Uuid::now_v7());
        bodies.insert(body(first, 1, big));
        bodies.insert(body(second, 1, big));
        {
            let cache = bodies.lock();
            assert!(cache.bytes <= 100);
            assert!(
                cache.bodies.contains_key(&second),
                "the newest body is kept"
            );
            assert!(!cache.bodies.contains_key(&first) || !cache.bodies.contains_key(&environment));
            assert_eq!(
                cache.bytes,
                cache.bodies.values().map(|b| b.json.len()).sum::<usize>()
            );
        }
        bodies.insert(body(Uuid::now_v7(), 1, 101));
        assert!(
            bodies.lock().bytes <= 100,
            "a body over the limit is not kept"
        );
    }
}
