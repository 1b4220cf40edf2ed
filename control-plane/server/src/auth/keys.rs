//! What this replica remembers about credentials between requests: API
//! keys it verified lately, and when it last wrote an object's "last seen"
//! time. Leaf module: imports nothing of the crate, so the intent listener
//! (which carries revocations) can use it without importing the rest of
//! authentication.

use fjord_api::Scope;
use uuid::Uuid;

/// What a verified API key grants.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VerifiedKey {
    pub organization_id: Uuid,
    pub api_key_id: Uuid,
    pub scope: Scope,
}

/// API keys this replica verified in the last [`VerifiedKeys::TTL`], by
/// token hash, so a read costs one query instead of two.
///
/// A revocation drops the key at once on the replica that made it and, on
/// the others, when its NOTIFY ([`fjord_store::api_key::REVOKED_CHANNEL`])
/// arrives; a lost listener connection clears everything. A lookup that
/// started before a revocation committed must not put the key back: every
/// drop bumps an epoch, and a lookup caches its result only if the epoch is
/// the one it started in. Bounded to [`VerifiedKeys::ENTRIES_MAX`] entries.
#[derive(Debug, Default)]
pub(crate) struct VerifiedKeys(std::sync::Mutex<KeyCache>);

#[derive(Debug, Default)]
struct KeyCache {
    epoch: u64,
    keys: std::collections::HashMap<Vec<u8>, (std::time::Instant, VerifiedKey)>,
}

impl VerifiedKeys {
    /// How long a verification is trusted without asking the database.
    const TTL: std::time::Duration = std::time::Duration::from_secs(5);
    const ENTRIES_MAX: usize = 10_000;

    fn lock(&self) -> std::sync::MutexGuard<'_, KeyCache> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn get(&self, token_hash: &[u8]) -> Option<VerifiedKey> {
        self.lock()
            .keys
            .get(token_hash)
            .filter(|(verified_at, _)| verified_at.elapsed() < Self::TTL)
            .map(|(_, key)| *key)
    }

    pub(super) fn epoch(&self) -> u64 {
        self.lock().epoch
    }

    pub(super) fn insert(&self, epoch: u64, token_hash: Vec<u8>, key: VerifiedKey) {
        let mut cache = self.lock();
        if cache.epoch != epoch {
            return;
        }
        if cache.keys.len() >= Self::ENTRIES_MAX {
            cache
                .keys
                .retain(|_, (verified_at, _)| verified_at.elapsed() < Self::TTL);
            if cache.keys.len() >= Self::ENTRIES_MAX {
                cache.keys.clear();
            }
        }
        cache
            .keys
            .insert(token_hash, (std::time::Instant::now(), key));
    }

    /// Drops a revoked key.
    pub(crate) fn forget(&self, api_key_id: Uuid) {
        let mut cache = self.lock();
        cache.epoch += 1;
        cache
            .keys
            .retain(|_, (_, key)| key.api_key_id != api_key_id);
    }

    /// Drops everything (revocations may have been missed).
    pub(crate) fn clear(&self) {
        let mut cache = self.lock();
        cache.epoch += 1;
        cache.keys.clear();
    }
}

/// When this replica last wrote a "last seen" timestamp for each object, so
/// that a busy object costs one statement per period per replica instead of
/// one per request: API keys (`last_used_at` has minute precision) and agent
/// contact (a wave of long-poll re-polls would otherwise update the one
/// environment row once per agent).
#[derive(Debug, Default)]
pub(crate) struct RecentUses(std::sync::Mutex<std::collections::HashMap<Uuid, std::time::Instant>>);

impl RecentUses {
    /// How often an API key's use is written.
    pub(crate) const API_KEY_PERIOD: std::time::Duration = std::time::Duration::from_secs(60);

    /// Whether `id`'s use should be written now, at most once a `period`;
    /// assumes it will be.
    pub(crate) fn due(&self, id: Uuid, period: std::time::Duration) -> bool {
        let now = std::time::Instant::now();
        let mut uses = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match uses.get(&id) {
            Some(last) if now.duration_since(*last) < period => false,
            _ => {
                uses.insert(id, now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(api_key_id: Uuid) -> VerifiedKey {
        VerifiedKey {
            organization_id: Uuid::nil(),
            api_key_id,
            scope: Scope::Admin,
        }
    }

    #[test]
    fn a_revocation_drops_the_key_and_stale_lookups_cannot_restore_it() {
        let keys = VerifiedKeys::default();
        let id = Uuid::now_v7();
        let epoch = keys.epoch();
        keys.insert(epoch, b"hash".to_vec(), key(id));
        assert!(keys.get(b"hash").is_some());
        // A lookup that started before the revocation ...
        let stale = keys.epoch();
        keys.forget(id);
        assert!(keys.get(b"hash").is_none());
        // ... finishes after it: its result is not cached.
        keys.insert(stale, b"hash".to_vec(), key(id));
        assert!(keys.get(b"hash").is_none());
        keys.insert(keys.epoch(), b"other".to_vec(), key(Uuid::now_v7()));
        keys.clear();
        assert!(keys.get(b"other").is_none());
    }
}
