//! The consumer-group APIs, executed against the sans-IO coordinator in
//! `crate::group`.
//!
//! Groups are spread over the partitions of the group log as Kafka spreads
//! them over `__consumer_offsets` (`crate::group::placement`): each
//! partition has its own coordinator ([`shard::Shard`]) behind its own
//! mutex, and a group's requests go to its partition's. A single broker has
//! one partition (`DATA_DIR/groups`) and always serves it; in a cluster a
//! broker serves the partitions whose replicated log it leads
//! (`cluster::leadership`) and answers the rest with the retriable codes
//! clients expect (see `docs/kafka-protocol.md`, "Consumer groups in a
//! cluster"). Join and sync replies arrive as effects, possibly for other
//! members' requests, and are delivered through one-shot channels; a ticker
//! drives session and rebalance timeouts. Group records (`Effect::Persist`)
//! are appended, in order and under the partition's lock, to its log (one
//! JSON record per group record) and replayed through
//! `Coordinator::replay` when the partition is taken over. OffsetCommit
//! and DeleteGroups are answered only once their records are committed.

mod admin;
mod cluster;
mod commits;
mod log;
mod members;
mod refusal;
mod shard;
#[cfg(test)]
mod tests;

use std::num::NonZeroU32;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use kafka_protocol::ResponseError;
use kafka_protocol::protocol::StrBytes;

use crate::disk::DataDisk;
use crate::group::{Coordinator, Effect, GroupConfig, Millis, placement};
use crate::partition::{LocalReplica, PartitionReplica, ReplicaError};
use log::replay;
use shard::{Persisted, Role, Runtime, Shard};

/// How often session and rebalance deadlines are checked.
const TICK: Duration = Duration::from_millis(100);

/// Every group-log partition's coordinator on this broker.
#[derive(Clone)]
pub struct Groups {
    inner: Arc<Inner>,
}

struct Inner {
    /// Indexed by group-log partition; empty in a cluster until the group
    /// log's topic exists, then as many as it has partitions (fixed).
    shards: RwLock<Vec<Arc<Shard>>>,
    /// A single broker's own log (flushed at shutdown); `None` in a cluster.
    local: Option<Arc<dyn PartitionReplica>>,
    /// Set by [`Groups::report_to`]: how many partitions are served.
    served: std::sync::OnceLock<prometheus_client::metrics::gauge::Gauge>,
    started: Instant,
}

impl std::fmt::Debug for Groups {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Groups").finish_non_exhaustive()
    }
}

impl Groups {
    /// A single broker: opens the group log in `DATA_DIR/groups` and
    /// replays it; every group is served from it.
    pub fn open(data_dir: &Path, disk: &Arc<DataDisk>) -> Result<Self, ReplicaError> {
        let log: Arc<dyn PartitionReplica> =
            Arc::new(LocalReplica::open(disk, &data_dir.join("groups"))?);
        let started = Instant::now();
        let mut coordinator = Coordinator::new(GroupConfig::default());
        let replayed = replay(&*log, &mut coordinator, Millis(0))?;
        tracing::info!(records = replayed, "group log replayed");
        let shard = Shard::new(0, Arc::clone(&log), Role::Standby);
        shard.activate(coordinator, Arc::clone(&log));
        Ok(Self {
            inner: Arc::new(Inner {
                shards: RwLock::new(vec![Arc::new(shard)]),
                local: Some(log),
                served: std::sync::OnceLock::new(),
                started,
            }),
        })
    }

    /// Keeps `gauge` at the number of group-log partitions served here.
    pub fn report_to(&self, gauge: prometheus_client::metrics::gauge::Gauge) {
        let _ = self.inner.served.set(gauge);
        self.report_served();
    }

    fn report_served(&self) {
        if let Some(gauge) = self.inner.served.get() {
            let served = self.shards().iter().filter(|shard| shard.serving()).count();
            gauge.set(i64::try_from(served).unwrap_or(i64::MAX));
        }
    }

    /// A single broker's group log, to flush at shutdown (`None` in a
    /// cluster, where the group log's partitions are topic partitions).
    pub fn local_log(&self) -> Option<Arc<dyn PartitionReplica>> {
        self.inner.local.clone()
    }

    fn now(&self) -> Millis {
        Millis(u64::try_from(self.inner.started.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    fn shards(&self) -> Vec<Arc<Shard>> {
        self.inner
            .shards
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The coordinator of `group_id`'s group-log partition.
    fn shard_of(&self, group_id: &str) -> Result<Arc<Shard>, ResponseError> {
        let shards = self.inner.shards.read().unwrap_or_else(|e| e.into_inner());
        let count = u32::try_from(shards.len()).ok().and_then(NonZeroU32::new);
        // No group log yet (a cluster starting): no broker coordinates.
        let count = count.ok_or(ResponseError::NotCoordinator)?;
        let index = placement::partition_for(group_id, count);
        let shard = Arc::clone(&shards[index as usize]);
        debug_assert_eq!(shard.index, index);
        Ok(shard)
    }

    /// Runs `call` on the coordinator of `group_id` if this broker serves
    /// it (see [`Shard::call`]); otherwise the retriable code to answer.
    fn with<T>(
        &self,
        group_id: &str,
        call: impl FnOnce(&mut Runtime, Millis) -> (T, Vec<Effect>),
    ) -> Result<T, ResponseError> {
        self.with_persisted(group_id, call).map(|(value, _)| value)
    }

    fn with_persisted<T>(
        &self,
        group_id: &str,
        call: impl FnOnce(&mut Runtime, Millis) -> (T, Vec<Effect>),
    ) -> Result<(T, Persisted), ResponseError> {
        self.shard_of(group_id)?.call(self.now(), call)
    }

    /// Runs `call` on every partition this broker serves (ListGroups).
    fn on_each_served<T>(&self, mut call: impl FnMut(&mut Runtime) -> Vec<T>) -> Vec<T> {
        let now = self.now();
        let mut all = Vec::new();
        for shard in self.shards() {
            if let Ok((found, _)) = shard.call(now, |runtime, _| (call(runtime), Vec::new())) {
                all.extend(found);
            }
        }
        all
    }

    /// Drives timeouts until the process ends.
    pub fn start_ticker(&self) {
        let groups = self.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(TICK);
            // Bounded by the process.
            loop {
                interval.tick().await;
                let now = groups.now();
                for shard in groups.shards() {
                    shard.tick(now);
                }
            }
        });
    }
}

fn text(value: &StrBytes) -> String {
    value.as_str().to_owned()
}

fn str_bytes(value: String) -> StrBytes {
    StrBytes::from_string(value)
}

fn code(error: Option<ResponseError>) -> i16 {
    error.map_or(0, |error| error.code())
}
