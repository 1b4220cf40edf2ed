//! Joining, syncing, heartbeats, leaving and session expiry.

use std::collections::BTreeMap;

use kafka_protocol::ResponseError;

use super::state::{Group, GroupState, Member};
use super::types::{
    Effect, GroupConfig, GroupRecord, JoinReply, JoinRequest, JoinedMember, MemberRecord, Millis,
    RequestToken, SyncReply, SyncRequest,
};

/// The coordinator of every group this broker coordinates.
#[derive(Debug)]
pub struct Coordinator {
    pub(super) config: GroupConfig,
    pub(super) groups: BTreeMap<String, Group>,
    /// Random per coordinator instance: the first half of member ids.
    incarnation: u64,
    member_sequence: u64,
}

fn join_error(token: RequestToken, member_id: &str, error: ResponseError) -> Vec<Effect> {
    let reply = JoinReply {
        error: Some(error),
        member_id: member_id.to_owned(),
        generation_id: -1,
        ..JoinReply::default()
    };
    vec![Effect::Join(token, reply)]
}

fn sync_error(token: RequestToken, error: ResponseError) -> Vec<Effect> {
    vec![Effect::Sync(
        token,
        SyncReply {
            error: Some(error),
            ..SyncReply::default()
        },
    )]
}

impl Coordinator {
    pub fn new(config: GroupConfig) -> Self {
        assert!(config.session_timeout_min_ms <= config.session_timeout_max_ms);
        assert!(config.members_max > 0);
        Self {
            config,
            groups: BTreeMap::new(),
            incarnation: uuid::Uuid::new_v4().as_u64_pair().0,
            member_sequence: 0,
        }
    }

    /// Handles JoinGroup; its reply may come now or from a later call.
    pub fn join(&mut self, now: Millis, token: RequestToken, request: JoinRequest) -> Vec<Effect> {
        if request.group_id.is_empty() {
            return join_error(token, &request.member_id, ResponseError::InvalidGroupId);
        }
        let timeouts = self.config.session_timeout_min_ms..=self.config.session_timeout_max_ms;
        if !timeouts.contains(&request.session_timeout_ms) {
            return join_error(
                token,
                &request.member_id,
                ResponseError::InvalidSessionTimeout,
            );
        }
        let group = self
            .groups
            .entry(request.group_id.clone())
            .or_insert_with(|| Group::new(&request.group_id));
        if !group.accepts_protocols(&request.protocol_type, &request.protocols) {
            return join_error(
                token,
                &request.member_id,
                ResponseError::InconsistentGroupProtocol,
            );
        }
        let mut effects = Vec::new();
        if request.member_id.is_empty() {
            if group.members.len() + group.pending_member_ids.len() >= self.config.members_max {
                return join_error(token, "", ResponseError::GroupMaxSizeReached);
            }
            // `clientId-UUID` as in Kafka: this coordinator's random
            // incarnation, then a sequence. Unique across coordinator moves
            // (a bare counter restarted by the next coordinator handed a
            // restored member's id to a new joiner), and in join order
            // within one coordinator.
            self.member_sequence += 1;
            let unique = uuid::Uuid::from_u64_pair(self.incarnation, self.member_sequence);
            let member_id = format!("{}-{unique}", request.client_id);
            if request.require_known_member_id {
                let deadline = now.plus(request.session_timeout_ms);
                group.pending_member_ids.insert(member_id.clone(), deadline);
                return join_error(token, &member_id, ResponseError::MemberIdRequired);
            }
            add_member(group, now, token, &request, member_id);
        } else if group
            .pending_member_ids
            .remove(&request.member_id)
            .is_some()
        {
            let member_id = request.member_id.clone();
            add_member(group, now, token, &request, member_id);
        } else if let Some(member) = group.members.get_mut(&request.member_id) {
            if let Some(previous) = member.pending_join.replace(token) {
                // A retried JoinGroup supersedes the earlier one.
                effects.extend(join_error(
                    previous,
                    &request.member_id,
                    ResponseError::RebalanceInProgress,
                ));
            }
            member.record.protocols = request.protocols.clone();
            member.record.session_timeout_ms = request.session_timeout_ms;
            member.record.rebalance_timeout_ms = request.rebalance_timeout_ms;
            member.session_deadline = now.plus(request.session_timeout_ms);
        } else {
            return join_error(token, &request.member_id, ResponseError::UnknownMemberId);
        }
        group.protocol_type = Some(request.protocol_type);
        prepare_rebalance(group, now, &self.config, &mut effects);
        group.check_invariants();
        effects
    }

    /// Handles SyncGroup; followers' replies wait for the leader's assignment.
    pub fn sync(&mut self, now: Millis, token: RequestToken, request: SyncRequest) -> Vec<Effect> {
        let Some(group) = self.groups.get_mut(&request.group_id) else {
            return sync_error(token, ResponseError::UnknownMemberId);
        };
        let Some(member) = group.members.get_mut(&request.member_id) else {
            return sync_error(token, ResponseError::UnknownMemberId);
        };
        if request.generation_id != group.generation_id {
            return sync_error(token, ResponseError::IllegalGeneration);
        }
        let type_differs = request
            .protocol_type
            .as_ref()
            .is_some_and(|value| Some(value) != group.protocol_type.as_ref());
        let name_differs = request
            .protocol_name
            .as_ref()
            .is_some_and(|value| Some(value) != group.protocol_name.as_ref());
        if type_differs || name_differs {
            return sync_error(token, ResponseError::InconsistentGroupProtocol);
        }
        member.session_deadline = now.plus(member.record.session_timeout_ms);
        let reply = |assignment| SyncReply {
            error: None,
            protocol_type: group.protocol_type.clone(),
            protocol_name: group.protocol_name.clone(),
            assignment,
        };
        match group.state {
            GroupState::PreparingRebalance => sync_error(token, ResponseError::RebalanceInProgress),
            GroupState::Empty => sync_error(token, ResponseError::UnknownMemberId),
            GroupState::Stable => {
                vec![Effect::Sync(token, reply(member.record.assignment.clone()))]
            }
            GroupState::CompletingRebalance => {
                if let Some(previous) = member.pending_sync.replace(token) {
                    return sync_error(previous, ResponseError::RebalanceInProgress);
                }
                if group.leader.as_deref() != Some(request.member_id.as_str()) {
                    return Vec::new();
                }
                complete_sync(group, &request.assignments)
            }
        }
    }

    /// Handles Heartbeat.
    pub fn heartbeat(
        &mut self,
        now: Millis,
        group_id: &str,
        member_id: &str,
        generation_id: i32,
    ) -> Result<(), ResponseError> {
        let group = self
            .groups
            .get_mut(group_id)
            .ok_or(ResponseError::UnknownMemberId)?;
        let member = group
            .members
            .get_mut(member_id)
            .ok_or(ResponseError::UnknownMemberId)?;
        if generation_id != group.generation_id {
            return Err(ResponseError::IllegalGeneration);
        }
        member.session_deadline = now.plus(member.record.session_timeout_ms);
        match group.state {
            GroupState::PreparingRebalance => Err(ResponseError::RebalanceInProgress),
            _ => Ok(()),
        }
    }

    /// Handles LeaveGroup for each listed member; one result per member.
    pub fn leave(
        &mut self,
        now: Millis,
        group_id: &str,
        member_ids: &[String],
    ) -> (Vec<Option<ResponseError>>, Vec<Effect>) {
        let mut effects = Vec::new();
        let Some(group) = self.groups.get_mut(group_id) else {
            return (
                vec![Some(ResponseError::UnknownMemberId); member_ids.len()],
                effects,
            );
        };
        let mut results = Vec::with_capacity(member_ids.len());
        for member_id in member_ids {
            if group.members.contains_key(member_id) {
                remove_member(group, member_id, now, &self.config, &mut effects);
                results.push(None);
            } else {
                results.push(Some(ResponseError::UnknownMemberId));
            }
        }
        group.check_invariants();
        (results, effects)
    }

    /// Expires sessions and completes rebalances whose time has come.
    pub fn tick(&mut self, now: Millis) -> Vec<Effect> {
        let mut effects = Vec::new();
        for group in self.groups.values_mut() {
            group
                .pending_member_ids
                .retain(|_, deadline| *deadline > now);
            let expired: Vec<String> = group
                .members
                .values()
                .filter(|member| member.pending_join.is_none() && member.session_deadline <= now)
                .map(|member| member.id().to_owned())
                .collect();
            for member_id in &expired {
                tracing::info!(group = %group.id, member = %member_id, "member session expired");
                remove_member(group, member_id, now, &self.config, &mut effects);
            }
            if group.state == GroupState::PreparingRebalance {
                if group
                    .rebalance_deadline
                    .is_some_and(|deadline| deadline <= now)
                {
                    complete_join(group, now, &mut effects);
                } else {
                    try_complete_join(group, now, &mut effects);
                }
            }
            group.check_invariants();
        }
        effects
    }

    /// The earliest time at which [`Coordinator::tick`] has work to do.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.groups
            .values()
            .flat_map(|group| {
                let sessions = group
                    .members
                    .values()
                    .filter(|member| member.pending_join.is_none())
                    .map(|member| member.session_deadline);
                let pending = group.pending_member_ids.values().copied();
                let rebalance = group
                    .rebalance_deadline
                    .into_iter()
                    .chain(group.initial_delay_until);
                sessions.chain(pending).chain(rebalance)
            })
            .min()
    }
}

fn add_member(
    group: &mut Group,
    now: Millis,
    token: RequestToken,
    request: &JoinRequest,
    member_id: String,
) {
    let record = MemberRecord {
        member_id: member_id.clone(),
        group_instance_id: request.group_instance_id.clone(),
        client_id: request.client_id.clone(),
        client_host: request.client_host.clone(),
        session_timeout_ms: request.session_timeout_ms,
        rebalance_timeout_ms: request.rebalance_timeout_ms,
        protocols: request.protocols.clone(),
        assignment: bytes::Bytes::new(),
    };
    let member = Member {
        record,
        session_deadline: now.plus(request.session_timeout_ms),
        pending_join: Some(token),
        pending_sync: None,
    };
    group.members.insert(member_id, member);
}

/// Moves the group into PreparingRebalance (if not there) and completes the
/// join when every member has rejoined.
fn prepare_rebalance(
    group: &mut Group,
    now: Millis,
    config: &GroupConfig,
    effects: &mut Vec<Effect>,
) {
    if group.state != GroupState::PreparingRebalance {
        fail_pending_syncs(group, effects);
        if group.state == GroupState::Empty {
            group.initial_delay_until = Some(now.plus(config.initial_rebalance_delay_ms));
        }
        let longest = group
            .members
            .values()
            .map(|member| member.record.rebalance_timeout_ms)
            .max()
            .unwrap_or(0);
        group.rebalance_deadline = Some(now.plus(longest));
        group.state = GroupState::PreparingRebalance;
    }
    try_complete_join(group, now, effects);
}

fn try_complete_join(group: &mut Group, now: Millis, effects: &mut Vec<Effect>) {
    debug_assert_eq!(group.state, GroupState::PreparingRebalance);
    let everyone_joined = group
        .members
        .values()
        .all(|member| member.pending_join.is_some());
    let delay_over = group.initial_delay_until.is_none_or(|until| until <= now);
    if everyone_joined && delay_over {
        complete_join(group, now, effects);
    }
}

/// Ends the join phase: members that did not rejoin are dropped, the
/// generation advances, and every joined member gets its reply.
fn complete_join(group: &mut Group, now: Millis, effects: &mut Vec<Effect>) {
    assert_eq!(group.state, GroupState::PreparingRebalance);
    group
        .members
        .retain(|_, member| member.pending_join.is_some());
    group.rebalance_deadline = None;
    group.initial_delay_until = None;
    group.generation_id += 1;
    if group.members.is_empty() {
        become_empty(group, effects);
        return;
    }
    group.protocol_name = group.select_protocol();
    let leader_stays = group
        .leader
        .as_ref()
        .is_some_and(|leader| group.members.contains_key(leader));
    if !leader_stays {
        group.leader = group.members.keys().next().cloned();
    }
    let leader = group
        .leader
        .clone()
        .expect("a group with members has a leader");
    let protocol = group.protocol_name.clone().unwrap_or_default();
    let roster: Vec<JoinedMember> = group
        .members
        .values()
        .map(|member| JoinedMember {
            member_id: member.id().to_owned(),
            group_instance_id: member.record.group_instance_id.clone(),
            metadata: member.metadata_for(&protocol),
        })
        .collect();
    for member in group.members.values_mut() {
        let token = member
            .pending_join
            .take()
            .expect("every remaining member has rejoined");
        member.session_deadline = now.plus(member.record.session_timeout_ms);
        let is_leader = member.record.member_id == leader;
        let reply = JoinReply {
            error: None,
            generation_id: group.generation_id,
            protocol_type: group.protocol_type.clone(),
            protocol_name: group.protocol_name.clone(),
            leader: leader.clone(),
            member_id: member.record.member_id.clone(),
            members: if is_leader {
                roster.clone()
            } else {
                Vec::new()
            },
        };
        effects.push(Effect::Join(token, reply));
    }
    group.state = GroupState::CompletingRebalance;
}

/// The leader's assignment arrived: store it, persist the generation, and
/// answer every waiting SyncGroup.
fn complete_sync(group: &mut Group, assignments: &[(String, bytes::Bytes)]) -> Vec<Effect> {
    let assigned: BTreeMap<&str, &bytes::Bytes> = assignments
        .iter()
        .map(|(member, bytes)| (member.as_str(), bytes))
        .collect();
    let mut effects = Vec::new();
    for member in group.members.values_mut() {
        member.record.assignment = assigned
            .get(member.id())
            .map(|bytes| (*bytes).clone())
            .unwrap_or_default();
    }
    group.state = GroupState::Stable;
    effects.push(Effect::Persist(metadata_record(group)));
    for member in group.members.values_mut() {
        if let Some(token) = member.pending_sync.take() {
            let reply = SyncReply {
                error: None,
                protocol_type: group.protocol_type.clone(),
                protocol_name: group.protocol_name.clone(),
                assignment: member.record.assignment.clone(),
            };
            effects.push(Effect::Sync(token, reply));
        }
    }
    group.check_invariants();
    effects
}

fn fail_pending_syncs(group: &mut Group, effects: &mut Vec<Effect>) {
    for member in group.members.values_mut() {
        if let Some(token) = member.pending_sync.take() {
            effects.extend(sync_error(token, ResponseError::RebalanceInProgress));
        }
    }
}

/// Removes a member (left, expired) and answers anything it was waiting for.
fn remove_member(
    group: &mut Group,
    member_id: &str,
    now: Millis,
    config: &GroupConfig,
    effects: &mut Vec<Effect>,
) {
    let Some(member) = group.members.remove(member_id) else {
        return;
    };
    if let Some(token) = member.pending_join {
        effects.extend(join_error(token, member_id, ResponseError::UnknownMemberId));
    }
    if let Some(token) = member.pending_sync {
        effects.extend(sync_error(token, ResponseError::UnknownMemberId));
    }
    match group.state {
        GroupState::PreparingRebalance if group.members.is_empty() => {
            complete_join(group, now, effects)
        }
        GroupState::PreparingRebalance => try_complete_join(group, now, effects),
        GroupState::Stable | GroupState::CompletingRebalance if group.members.is_empty() => {
            group.generation_id += 1;
            become_empty(group, effects);
        }
        GroupState::Stable | GroupState::CompletingRebalance => {
            prepare_rebalance(group, now, config, effects)
        }
        GroupState::Empty => unreachable!("an empty group has no member to remove"),
    }
}

fn become_empty(group: &mut Group, effects: &mut Vec<Effect>) {
    assert!(group.members.is_empty());
    group.state = GroupState::Empty;
    group.leader = None;
    group.protocol_name = None;
    group.rebalance_deadline = None;
    group.initial_delay_until = None;
    effects.push(Effect::Persist(metadata_record(group)));
}

pub(super) fn metadata_record(group: &Group) -> GroupRecord {
    GroupRecord::Metadata {
        group_id: group.id.clone(),
        generation_id: group.generation_id,
        protocol_type: group.protocol_type.clone(),
        protocol_name: group.protocol_name.clone(),
        leader: group.leader.clone(),
        members: group
            .members
            .values()
            .map(|member| member.record.clone())
            .collect(),
    }
}
