//! The response bodies agents get for an environment's latest intent, built
//! once per generation and shared.
//!
//! A long-poll answers with the `Intent` JSON of its environment's latest
//! generation. Building that body (parse the stored document, serialise
//! the response) costs about as much as sending it, and a new
//! generation goes to every waiting agent at once; so the body is built once
//! per (environment, generation) and every response clones the same
//! [`Bytes`]. A stored intent never changes, so a body cached for a
//! generation stays right; which generation is the latest is still asked of
//! the database on every request (an index lookup that reads no payload).
//!
//! Agents that accept gzip get the same JSON gzip-compressed: compressed
//! once per generation, on the first request that accepts it, and shared
//! like the plain body.
//!
//! Authentication and the tenant check stay per request: a cached body is
//! handed out only for the organization and environment it was built for.
//! Memory is bounded by `bytes_max`: inserting past it evicts other
//! environments' bodies (they are rebuilt on their next request). Each body
//! is counted with room for its compressed copy ([`gzip_bytes_max`]), so
//! compressing later never grows the cache past the bound.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use fjord_store::intent::IntentRow;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use sqlx::PgPool;
use tokio::sync::OnceCell;
use uuid::Uuid;

use super::deltas;
use crate::error::AppError;

/// One generation's response body.
#[derive(Debug)]
pub(crate) struct IntentBody {
    pub organization_id: Uuid,
    pub environment_id: Uuid,
    pub generation: i64,
    /// The `Intent` JSON.
    pub json: Bytes,
    /// `json` gzip-compressed, once the first agent accepting gzip asks.
    gzip: OnceCell<Bytes>,
    /// The delta from the previous generation, once the first agent
    /// holding it asks (`None`: not served, see [`super::deltas`]).
    pub(crate) delta: OnceCell<Option<DeltaBody>>,
}

/// A delta response body: never larger than the full body it stands for.
#[derive(Debug)]
pub(crate) struct DeltaBody {
    /// The `IntentDelta` JSON.
    pub json: Bytes,
    /// `json` gzip-compressed, once the first agent accepting gzip asks.
    gzip: OnceCell<Bytes>,
}

impl DeltaBody {
    fn new(json: Bytes) -> Self {
        Self {
            json,
            gzip: OnceCell::new(),
        }
    }
}

/// The most bytes gzip can make of `len` bytes: zlib's conservative
/// `deflateBound` (which holds for any compression level and memory
/// setting: deflate falls back to stored blocks) plus the gzip header and
/// trailer (18 bytes).
pub(crate) fn gzip_bytes_max(len: usize) -> usize {
    len + len.div_ceil(8) + len.div_ceil(64) + 5 + 18
}

/// `json` gzip-compressed at the default level (once per generation and
/// replica, so the level's cost hardly matters).
fn compress(json: &[u8]) -> std::io::Result<Bytes> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(json.len() / 4),
        flate2::Compression::default(),
    );
    encoder.write_all(json)?;
    let gzip = encoder.finish()?;
    assert!(
        gzip.len() <= gzip_bytes_max(json.len()),
        "gzip of {} bytes took {}",
        json.len(),
        gzip.len()
    );
    Ok(Bytes::from(gzip))
}

impl IntentBody {
    /// Builds the body of a stored intent.
    pub(crate) fn build(row: IntentRow) -> Result<Self, AppError> {
        let (organization_id, environment_id, generation) =
            (row.organization_id, row.environment_id, row.generation);
        let json = serde_json::to_vec(&super::to_api(row)?).map_err(anyhow::Error::new)?;
        Ok(Self {
            organization_id,
            environment_id,
            generation,
            json: Bytes::from(json),
            gzip: OnceCell::new(),
            delta: OnceCell::new(),
        })
    }

    /// Bytes the cache counts for this body: the JSON and the most its
    /// compressed copy can take, twice: a delta is only kept when smaller
    /// than the JSON.
    fn bytes(&self) -> usize {
        2 * (self.json.len() + gzip_bytes_max(self.json.len()))
    }
}

/// Whether a request's `Accept-Encoding` (RFC 9110 12.5.3) accepts gzip:
/// `gzip` (or `x-gzip`) with a q-value above 0, or else `*` with one. No
/// header, an unreadable one, or `gzip;q=0` mean plain.
pub(crate) fn accepts_gzip(headers: &axum::http::HeaderMap) -> bool {
    let mut gzip = None;
    let mut any = None;
    let codings = headers
        .get_all(axum::http::header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','));
    for coding in codings {
        let mut parts = coding.split(';');
        let name = parts.next().unwrap_or_default().trim();
        let mut quality = 1.0_f32;
        for parameter in parts {
            if let Some((key, value)) = parameter.split_once('=')
                && key.trim().eq_ignore_ascii_case("q")
            {
                // An unreadable weight counts as 0: not accepted.
                quality = value.trim().parse().unwrap_or(0.0);
            }
        }
        if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
            gzip = Some(quality);
        } else if name == "*" {
            any = Some(quality);
        }
    }
    gzip.or(any).is_some_and(|quality| quality > 0.0)
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
    /// Bodies gzip-compressed (`fjord_intent_body_gzip_builds`).
    gzip_builds: Counter,
    /// Responses sent gzip-compressed (`fjord_intent_body_gzip_sent`).
    gzip_sent: Counter,
    /// Deltas looked for (`fjord_intent_delta_builds`).
    delta_builds: Counter,
    /// Responses sent as a delta (`fjord_intent_delta_sent`).
    delta_sent: Counter,
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
            gzip_builds: Counter::default(),
            gzip_sent: Counter::default(),
            delta_builds: Counter::default(),
            delta_sent: Counter::default(),
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
        registry.register(
            "fjord_intent_body_gzip_builds",
            "Intent response bodies gzip-compressed (once per generation and replica)",
            self.gzip_builds.clone(),
        );
        registry.register(
            "fjord_intent_body_gzip_sent",
            "Intent responses sent gzip-compressed to agents accepting gzip",
            self.gzip_sent.clone(),
        );
        registry.register(
            "fjord_intent_delta_builds",
            "Deltas from the previous generation looked for (once per generation and replica)",
            self.delta_builds.clone(),
        );
        registry.register(
            "fjord_intent_delta_sent",
            "Intent responses sent as a delta to agents holding the previous generation",
            self.delta_sent.clone(),
        );
    }

    /// The body's gzip-compressed copy: compressed by the first caller (off
    /// the async workers), shared with every later and concurrent one.
    pub(crate) async fn gzip(&self, body: &IntentBody) -> Result<Bytes, AppError> {
        self.gzip_once(&body.gzip, &body.json, body).await
    }

    /// The same for the body's delta.
    pub(crate) async fn gzip_delta(
        &self,
        body: &IntentBody,
        delta: &DeltaBody,
    ) -> Result<Bytes, AppError> {
        self.gzip_once(&delta.gzip, &delta.json, body).await
    }

    async fn gzip_once(
        &self,
        cell: &OnceCell<Bytes>,
        json: &Bytes,
        body: &IntentBody,
    ) -> Result<Bytes, AppError> {
        let gzip = cell
            .get_or_try_init(|| async {
                let json = json.clone();
                let gzip = tokio::task::spawn_blocking(move || compress(&json))
                    .await
                    .map_err(anyhow::Error::new)?
                    .map_err(anyhow::Error::new)?;
                self.gzip_builds.inc();
                tracing::debug!(
                    environment_id = %body.environment_id,
                    generation = body.generation,
                    gzip_bytes = gzip.len(),
                    "intent body compressed"
                );
                Ok::<_, AppError>(gzip)
            })
            .await?;
        self.gzip_sent.inc();
        Ok(gzip.clone())
    }

    /// The delta from generation `body.generation - 1` to `body`, built by
    /// the first caller and shared; `None` when none is served.
    pub(crate) async fn delta<'body>(
        &self,
        pool: &PgPool,
        body: &'body IntentBody,
    ) -> Result<Option<&'body DeltaBody>, AppError> {
        let delta = body
            .delta
            .get_or_try_init(|| async {
                let delta = deltas::build(
                    pool,
                    body.organization_id,
                    body.environment_id,
                    body.generation,
                    body.json.clone(),
                )
                .await?
                .map(DeltaBody::new);
                self.delta_builds.inc();
                Ok::<_, AppError>(delta)
            })
            .await?;
        if delta.is_some() {
            self.delta_sent.inc();
        }
        Ok(delta.as_ref())
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
        let size = body.bytes();
        if size > self.bytes_max {
            return;
        }
        let mut cache = self.lock();
        if let Some(old) = cache.bodies.remove(&body.environment_id) {
            cache.bytes -= old.bytes();
        }
        while cache.bytes + size > self.bytes_max {
            let Some(victim) = cache.bodies.keys().next().copied() else {
                break;
            };
            if let Some(old) = cache.bodies.remove(&victim) {
                cache.bytes -= old.bytes();
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
mod tests;
