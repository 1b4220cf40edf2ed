//! Committed offsets, group administration and recovery from the group log.

use kafka_protocol::ResponseError;

use super::coordinator::Coordinator;
use super::state::{Group, GroupState, Member};
use super::types::{
    CommitRequest, CommittedOffset, Effect, GroupDescription, GroupRecord, Millis, TopicPartition,
};

/// Per-partition results of an OffsetCommit.
pub type CommitResults = Vec<(TopicPartition, Option<ResponseError>)>;

impl Coordinator {
    /// Handles OffsetCommit. A group-level error applies to every partition.
    pub fn commit(&mut self, now: Millis, request: CommitRequest) -> (CommitResults, Vec<Effect>) {
        let everywhere = |error: ResponseError| {
            let results = request
                .offsets
                .iter()
                .map(|(partition, _)| (partition.clone(), Some(error)))
                .collect();
            (results, Vec::new())
        };
        if request.group_id.is_empty() {
            return everywhere(ResponseError::InvalidGroupId);
        }
        let standalone = request.generation_id < 0 && request.member_id.is_empty();
        if let Err(error) = self.check_commit_allowed(now, &request, standalone) {
            return everywhere(error);
        }
        let metadata_limit = self.config.offset_metadata_bytes_max;
        let group = self
            .groups
            .entry(request.group_id.clone())
            .or_insert_with(|| Group::new(&request.group_id));
        let mut results = Vec::with_capacity(request.offsets.len());
        let mut effects = Vec::new();
        for (partition, committed) in request.offsets {
            if committed.metadata.len() > metadata_limit {
                results.push((partition, Some(ResponseError::OffsetMetadataTooLarge)));
                continue;
            }
            group.offsets.insert(partition.clone(), committed.clone());
            effects.push(Effect::Persist(GroupRecord::Offset {
                group_id: group.id.clone(),
                partition: partition.clone(),
                committed,
            }));
            results.push((partition, None));
        }
        (results, effects)
    }

    fn check_commit_allowed(
        &mut self,
        now: Millis,
        request: &CommitRequest,
        standalone: bool,
    ) -> Result<(), ResponseError> {
        let Some(group) = self.groups.get_mut(&request.group_id) else {
            return if standalone {
                Ok(())
            } else {
                Err(ResponseError::UnknownMemberId)
            };
        };
        if standalone {
            // Consumers outside group management may commit only to a group
            // nobody is managing.
            return if group.members.is_empty() {
                Ok(())
            } else {
                Err(ResponseError::UnknownMemberId)
            };
        }
        let member = group
            .members
            .get_mut(&request.member_id)
            .ok_or(ResponseError::UnknownMemberId)?;
        if request.generation_id != group.generation_id {
            return Err(ResponseError::IllegalGeneration);
        }
        if group.state == GroupState::CompletingRebalance {
            return Err(ResponseError::RebalanceInProgress);
        }
        // A commit proves the member is alive, like a heartbeat.
        member.session_deadline = now.plus(member.record.session_timeout_ms);
        Ok(())
    }

    /// Handles OffsetFetch: `None` partitions means every committed one.
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        partitions: Option<&[TopicPartition]>,
    ) -> Vec<(TopicPartition, Option<CommittedOffset>)> {
        let group = self.groups.get(group_id);
        match partitions {
            Some(requested) => requested
                .iter()
                .map(|partition| {
                    (
                        partition.clone(),
                        group.and_then(|group| group.offsets.get(partition).cloned()),
                    )
                })
                .collect(),
            None => group
                .map(|group| {
                    group
                        .offsets
                        .iter()
                        .map(|(partition, committed)| (partition.clone(), Some(committed.clone())))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// Handles DescribeGroups for one group; unknown groups are `Dead`.
    pub fn describe(&self, group_id: &str) -> GroupDescription {
        match self.groups.get(group_id) {
            Some(group) => group.describe(),
            None => GroupDescription {
                group_id: group_id.to_owned(),
                state: "Dead",
                protocol_type: String::new(),
                protocol_name: String::new(),
                members: Vec::new(),
            },
        }
    }

    /// Handles ListGroups: (group id, protocol type, state) of every group.
    pub fn list(&self) -> Vec<(String, String, &'static str)> {
        self.groups
            .values()
            .map(|group| {
                (
                    group.id.clone(),
                    group.protocol_type.clone().unwrap_or_default(),
                    group.state.name(),
                )
            })
            .collect()
    }

    /// Handles DeleteGroups for one group: only a group with no members.
    pub fn delete(&mut self, group_id: &str) -> Result<Vec<Effect>, ResponseError> {
        let group = self
            .groups
            .get(group_id)
            .ok_or(ResponseError::GroupIdNotFound)?;
        if !group.members.is_empty() {
            return Err(ResponseError::NonEmptyGroup);
        }
        self.groups.remove(group_id);
        Ok(vec![Effect::Persist(GroupRecord::Deleted {
            group_id: group_id.to_owned(),
        })])
    }

    /// Applies a record read back from the group log, in log order.
    ///
    /// Members of a restored generation get a fresh session (`now` plus their
    /// timeout): they keep their assignment if they heartbeat in time.
    pub fn replay(&mut self, now: Millis, record: GroupRecord) {
        match record {
            GroupRecord::Metadata {
                group_id,
                generation_id,
                protocol_type,
                protocol_name,
                leader,
                members,
            } => {
                let group = self
                    .groups
                    .entry(group_id.clone())
                    .or_insert_with(|| Group::new(&group_id));
                group.generation_id = generation_id;
                group.protocol_type = protocol_type;
                group.protocol_name = protocol_name;
                group.members = members
                    .into_iter()
                    .map(|record| {
                        let deadline = now.plus(record.session_timeout_ms);
                        let member = Member {
                            record,
                            session_deadline: deadline,
                            pending_join: None,
                            pending_sync: None,
                        };
                        (member.record.member_id.clone(), member)
                    })
                    .collect();
                let leader_known = leader
                    .as_ref()
                    .is_some_and(|leader| group.members.contains_key(leader));
                group.leader = if leader_known { leader } else { None };
                group.state = if group.leader.is_some() {
                    GroupState::Stable
                } else {
                    GroupState::Empty
                };
                if group.state == GroupState::Empty {
                    group.members.clear();
                }
                group.check_invariants();
            }
            GroupRecord::Offset {
                group_id,
                partition,
                committed,
            } => {
                let group = self
                    .groups
                    .entry(group_id.clone())
                    .or_insert_with(|| Group::new(&group_id));
                group.offsets.insert(partition, committed);
            }
            GroupRecord::Deleted { group_id } => {
                self.groups.remove(&group_id);
            }
        }
    }
}
