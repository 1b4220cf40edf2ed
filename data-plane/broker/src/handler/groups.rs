//! The consumer-group APIs, executed against the sans-IO coordinator in
//! `crate::group`. The coordinator lives behind a mutex; join and sync
//! replies arrive as effects, possibly for other members' requests, and are
//! delivered through one-shot channels; a ticker drives session and
//! rebalance timeouts. Group records (`Effect::Persist`) are appended, in
//! order and under the same lock, to an internal log on the storage core
//! (`DATA_DIR/groups`, one JSON record per group record) and replayed
//! through `Coordinator::replay` on start. OffsetCommit is answered only
//! once its records are durable.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fjord_storage::Offset;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponsePartition, OffsetFetchResponseTopic,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use tokio::sync::oneshot;

use super::Handler;
use super::group_log::{append_records, replay};
use crate::disk::DataDisk;
use crate::group::{
    CommitRequest, CommittedOffset, Coordinator, Effect, GroupConfig, JoinReply, JoinRequest,
    Millis, RequestToken, SyncReply, SyncRequest, TopicPartition,
};
use crate::partition::{LocalReplica, PartitionReplica, ReplicaError};

/// How long OffsetCommit waits for its records to become durable.
const DURABLE_WAIT: Duration = Duration::from_secs(10);

/// How often session and rebalance deadlines are checked.
const TICK: Duration = Duration::from_millis(100);

enum Waiting {
    Join(oneshot::Sender<JoinReply>),
    Sync(oneshot::Sender<SyncReply>),
}

pub(super) struct Runtime {
    pub(super) coordinator: Coordinator,
    next_token: u64,
    waiting: HashMap<RequestToken, Waiting>,
    log: Arc<dyn PartitionReplica>,
    /// Coordinates groups (always alone; in a cluster while this broker
    /// leads the group log's partition).
    serving: bool,
}

/// What became of the records a coordinator call asked to persist.
#[derive(Debug, Clone, Copy)]
pub(super) enum Persisted {
    Nothing,
    /// Appended; durable once the log's durable offset reaches this.
    Appended(Offset),
    Failed,
}

/// The coordinator and the replies it owes.
#[derive(Clone)]
pub struct Groups {
    runtime: Arc<Mutex<Runtime>>,
    started: Instant,
}

impl std::fmt::Debug for Groups {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Groups").finish_non_exhaustive()
    }
}

impl Groups {
    /// Opens the group log in `DATA_DIR/groups` and replays it.
    pub fn open(data_dir: &Path, disk: &Arc<DataDisk>) -> Result<Self, ReplicaError> {
        let log: Arc<dyn PartitionReplica> =
            Arc::new(LocalReplica::open(disk, &data_dir.join("groups"))?);
        let started = Instant::now();
        let mut coordinator = Coordinator::new(GroupConfig::default());
        let replayed = replay(&*log, &mut coordinator)?;
        tracing::info!(records = replayed, "group log replayed");
        Ok(Self {
            runtime: Arc::new(Mutex::new(Runtime {
                coordinator,
                next_token: 0,
                waiting: HashMap::new(),
                log,
                serving: true,
            })),
            started,
        })
    }

    /// The group log, for maintenance.
    pub fn log(&self) -> Arc<dyn PartitionReplica> {
        let runtime = self.runtime.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(&runtime.log)
    }

    fn now(&self) -> Millis {
        Millis(u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    /// Runs `call` on the coordinator, appends the records it asks to
    /// persist (a page-cache write under the lock, so the log keeps the
    /// coordinator's order) and delivers its replies.
    pub(super) fn with<T>(&self, call: impl FnOnce(&mut Runtime, Millis) -> (T, Vec<Effect>)) -> T {
        self.with_persisted(call).0
    }

    pub(super) fn with_persisted<T>(
        &self,
        call: impl FnOnce(&mut Runtime, Millis) -> (T, Vec<Effect>),
    ) -> (T, Persisted) {
        let now = self.now();
        let mut runtime = self.runtime.lock().unwrap_or_else(|e| e.into_inner());
        let (value, effects) = call(&mut runtime, now);
        let persisted = deliver(&mut runtime, effects);
        (value, persisted)
    }

    /// Waits until `persisted` is durable; false if it failed or timed out.
    pub(super) async fn durable(&self, persisted: Persisted) -> bool {
        match persisted {
            Persisted::Nothing => true,
            Persisted::Failed => false,
            Persisted::Appended(end) => {
                let log = self.log();
                tokio::task::spawn_blocking(move || log.wait_durable(end, DURABLE_WAIT))
                    .await
                    .unwrap_or(false)
            }
        }
    }

    /// Drives timeouts until the process ends.
    pub fn start_ticker(&self) {
        let groups = self.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(TICK);
            // Bounded by the process.
            loop {
                interval.tick().await;
                groups.with(|runtime, now| ((), runtime.coordinator.tick(now)));
            }
        });
    }
}

impl Runtime {
    fn register(&mut self, waiting: Waiting) -> RequestToken {
        self.next_token += 1;
        let token = RequestToken(self.next_token);
        self.waiting.insert(token, waiting);
        token
    }
}

fn deliver(runtime: &mut Runtime, effects: Vec<Effect>) -> Persisted {
    let mut records = Vec::new();
    for effect in effects {
        match effect {
            Effect::Join(token, reply) => {
                if let Some(Waiting::Join(sender)) = runtime.waiting.remove(&token) {
                    let _ = sender.send(reply);
                }
            }
            Effect::Sync(token, reply) => {
                if let Some(Waiting::Sync(sender)) = runtime.waiting.remove(&token) {
                    let _ = sender.send(reply);
                }
            }
            Effect::Persist(record) => records.push(record),
        }
    }
    if records.is_empty() {
        return Persisted::Nothing;
    }
    match append_records(&*runtime.log, &records) {
        Ok(end) => Persisted::Appended(end),
        Err(error) => {
            tracing::error!(%error, "cannot append to the group log");
            Persisted::Failed
        }
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

impl Handler {
    pub(super) async fn join_group(
        &self,
        request: JoinGroupRequest,
        header: &RequestHeader,
        version: i16,
    ) -> JoinGroupResponse {
        let join = JoinRequest {
            group_id: text(&request.group_id),
            member_id: text(&request.member_id),
            group_instance_id: request.group_instance_id.as_ref().map(text),
            client_id: header.client_id.as_ref().map(text).unwrap_or_default(),
            client_host: String::new(),
            session_timeout_ms: u64::try_from(request.session_timeout_ms).unwrap_or(0),
            rebalance_timeout_ms: u64::try_from(if version >= 1 {
                request.rebalance_timeout_ms
            } else {
                request.session_timeout_ms
            })
            .unwrap_or(0),
            protocol_type: text(&request.protocol_type),
            protocols: request
                .protocols
                .iter()
                .map(|protocol| (text(&protocol.name), protocol.metadata.clone()))
                .collect(),
            require_known_member_id: version >= 4,
        };
        let (sender, receiver) = oneshot::channel();
        self.groups.with(|runtime, now| {
            let token = runtime.register(Waiting::Join(sender));
            ((), runtime.coordinator.join(now, token, join))
        });
        let reply = receiver.await.unwrap_or_else(|_| JoinReply {
            error: Some(ResponseError::UnknownServerError),
            ..JoinReply::default()
        });
        JoinGroupResponse::default()
            .with_error_code(code(reply.error))
            .with_generation_id(reply.generation_id)
            .with_protocol_type(reply.protocol_type.map(str_bytes))
            .with_protocol_name(reply.protocol_name.map(str_bytes))
            .with_leader(str_bytes(reply.leader))
            .with_member_id(str_bytes(reply.member_id))
            .with_members(
                reply
                    .members
                    .into_iter()
                    .map(|member| {
                        JoinGroupResponseMember::default()
                            .with_member_id(str_bytes(member.member_id))
                            .with_group_instance_id(member.group_instance_id.map(str_bytes))
                            .with_metadata(member.metadata)
                    })
                    .collect(),
            )
    }

    pub(super) async fn sync_group(&self, request: SyncGroupRequest) -> SyncGroupResponse {
        let sync = SyncRequest {
            group_id: text(&request.group_id),
            generation_id: request.generation_id,
            member_id: text(&request.member_id),
            protocol_type: request.protocol_type.as_ref().map(text),
            protocol_name: request.protocol_name.as_ref().map(text),
            assignments: request
                .assignments
                .iter()
                .map(|assignment| (text(&assignment.member_id), assignment.assignment.clone()))
                .collect(),
        };
        let (sender, receiver) = oneshot::channel();
        self.groups.with(|runtime, now| {
            let token = runtime.register(Waiting::Sync(sender));
            ((), runtime.coordinator.sync(now, token, sync))
        });
        let reply = receiver.await.unwrap_or_else(|_| SyncReply {
            error: Some(ResponseError::UnknownServerError),
            ..SyncReply::default()
        });
        SyncGroupResponse::default()
            .with_error_code(code(reply.error))
            .with_protocol_type(reply.protocol_type.map(str_bytes))
            .with_protocol_name(reply.protocol_name.map(str_bytes))
            .with_assignment(reply.assignment)
    }

    pub(super) fn heartbeat(&self, request: &HeartbeatRequest) -> HeartbeatResponse {
        let outcome = self.groups.with(|runtime, now| {
            let outcome = runtime.coordinator.heartbeat(
                now,
                request.group_id.as_str(),
                request.member_id.as_str(),
                request.generation_id,
            );
            (outcome, Vec::new())
        });
        HeartbeatResponse::default().with_error_code(code(outcome.err()))
    }

    pub(super) fn leave_group(
        &self,
        request: &LeaveGroupRequest,
        version: i16,
    ) -> LeaveGroupResponse {
        let member_ids: Vec<String> = if version >= 3 {
            request
                .members
                .iter()
                .map(|member| text(&member.member_id))
                .collect()
        } else {
            vec![text(&request.member_id)]
        };
        let results = self.groups.with(|runtime, now| {
            runtime
                .coordinator
                .leave(now, request.group_id.as_str(), &member_ids)
        });
        if version < 3 {
            return LeaveGroupResponse::default()
                .with_error_code(code(results.first().copied().flatten()));
        }
        let members = request
            .members
            .iter()
            .zip(results)
            .map(|(member, error)| {
                MemberResponse::default()
                    .with_member_id(member.member_id.clone())
                    .with_group_instance_id(member.group_instance_id.clone())
                    .with_error_code(code(error))
            })
            .collect();
        LeaveGroupResponse::default().with_members(members)
    }

    pub(super) async fn offset_commit(
        &self,
        request: &OffsetCommitRequest,
    ) -> OffsetCommitResponse {
        let commit_time = self.groups.now();
        let commit = CommitRequest {
            group_id: text(&request.group_id),
            generation_id: request.generation_id_or_member_epoch,
            member_id: text(&request.member_id),
            offsets: request
                .topics
                .iter()
                .flat_map(|topic| {
                    topic.partitions.iter().map(move |partition| {
                        (
                            TopicPartition {
                                topic: text(&topic.name),
                                partition: partition.partition_index,
                            },
                            CommittedOffset {
                                offset: partition.committed_offset,
                                leader_epoch: partition.committed_leader_epoch,
                                metadata: partition
                                    .committed_metadata
                                    .as_ref()
                                    .map(text)
                                    .unwrap_or_default(),
                                commit_time,
                            },
                        )
                    })
                })
                .collect(),
        };
        let (results, persisted) = self
            .groups
            .with_persisted(|runtime, now| runtime.coordinator.commit(now, commit));
        let durable = self.groups.durable(persisted).await;
        let mut topics: Vec<OffsetCommitResponseTopic> = Vec::new();
        for (partition, error) in results {
            let error = match error {
                None if !durable => Some(ResponseError::CoordinatorNotAvailable),
                other => other,
            };
            let answer = OffsetCommitResponsePartition::default()
                .with_partition_index(partition.partition)
                .with_error_code(code(error));
            match topics.last_mut() {
                Some(topic) if topic.name.as_str() == partition.topic => {
                    topic.partitions.push(answer);
                }
                _ => topics.push(
                    OffsetCommitResponseTopic::default()
                        .with_name(TopicName(str_bytes(partition.topic)))
                        .with_partitions(vec![answer]),
                ),
            }
        }
        OffsetCommitResponse::default().with_topics(topics)
    }

    pub(super) fn offset_fetch(
        &self,
        request: &OffsetFetchRequest,
        version: i16,
    ) -> OffsetFetchResponse {
        let wanted: Option<Vec<TopicPartition>> = request.topics.as_ref().map(|topics| {
            topics
                .iter()
                .flat_map(|topic| {
                    topic
                        .partition_indexes
                        .iter()
                        .map(move |&partition| TopicPartition {
                            topic: text(&topic.name),
                            partition,
                        })
                })
                .collect()
        });
        let found = self.groups.with(|runtime, _| {
            (
                runtime
                    .coordinator
                    .fetch_offsets(request.group_id.as_str(), wanted.as_deref()),
                Vec::new(),
            )
        });
        let mut topics: Vec<OffsetFetchResponseTopic> = Vec::new();
        for (partition, committed) in found {
            let answer = OffsetFetchResponsePartition::default()
                .with_partition_index(partition.partition)
                .with_committed_offset(committed.as_ref().map_or(-1, |c| c.offset))
                .with_committed_leader_epoch(if version >= 5 {
                    committed.as_ref().map_or(-1, |c| c.leader_epoch)
                } else {
                    -1
                })
                .with_metadata(Some(str_bytes(
                    committed.map(|c| c.metadata).unwrap_or_default(),
                )));
            match topics.last_mut() {
                Some(topic) if topic.name.as_str() == partition.topic => {
                    topic.partitions.push(answer);
                }
                _ => topics.push(
                    OffsetFetchResponseTopic::default()
                        .with_name(TopicName(str_bytes(partition.topic)))
                        .with_partitions(vec![answer]),
                ),
            }
        }
        OffsetFetchResponse::default().with_topics(topics)
    }
}

#[path = "groups_cluster.rs"]
mod cluster;
