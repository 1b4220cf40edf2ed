//! One consumer group: members, generation, state, committed offsets.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use super::types::{
    CommittedOffset, GroupDescription, MemberDescription, MemberRecord, Millis, RequestToken,
    TopicPartition,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

impl GroupState {
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Empty => "Empty",
            Self::PreparingRebalance => "PreparingRebalance",
            Self::CompletingRebalance => "CompletingRebalance",
            Self::Stable => "Stable",
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Member {
    pub(super) record: MemberRecord,
    pub(super) session_deadline: Millis,
    /// Set while this member's JoinGroup waits for the rebalance to complete.
    pub(super) pending_join: Option<RequestToken>,
    /// Set while this member's SyncGroup waits for the leader's assignment.
    pub(super) pending_sync: Option<RequestToken>,
}

impl Member {
    pub(super) fn id(&self) -> &str {
        &self.record.member_id
    }

    pub(super) fn supports(&self, protocol: &str) -> bool {
        self.record
            .protocols
            .iter()
            .any(|(name, _)| name == protocol)
    }

    pub(super) fn metadata_for(&self, protocol: &str) -> Bytes {
        let found = self
            .record
            .protocols
            .iter()
            .find(|(name, _)| name == protocol);
        found
            .map(|(_, metadata)| metadata.clone())
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
pub(super) struct Group {
    pub(super) id: String,
    pub(super) state: GroupState,
    pub(super) generation_id: i32,
    pub(super) protocol_type: Option<String>,
    pub(super) protocol_name: Option<String>,
    pub(super) leader: Option<String>,
    pub(super) members: BTreeMap<String, Member>,
    /// Member ids handed out by MEMBER_ID_REQUIRED, valid until the deadline.
    pub(super) pending_member_ids: BTreeMap<String, Millis>,
    /// When the current rebalance gives up on members that have not rejoined.
    pub(super) rebalance_deadline: Option<Millis>,
    /// A new group's first rebalance does not complete before this.
    pub(super) initial_delay_until: Option<Millis>,
    pub(super) offsets: BTreeMap<TopicPartition, CommittedOffset>,
}

impl Group {
    pub(super) fn new(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            state: GroupState::Empty,
            generation_id: 0,
            protocol_type: None,
            protocol_name: None,
            leader: None,
            members: BTreeMap::new(),
            pending_member_ids: BTreeMap::new(),
            rebalance_deadline: None,
            initial_delay_until: None,
            offsets: BTreeMap::new(),
        }
    }

    /// Asserts the invariants listed in the module documentation.
    pub(super) fn check_invariants(&self) {
        match self.state {
            GroupState::Empty => {
                assert!(
                    self.members.is_empty(),
                    "empty group {} has members",
                    self.id
                );
            }
            GroupState::Stable | GroupState::CompletingRebalance => {
                let leader = self
                    .leader
                    .as_deref()
                    .expect("a settled group has a leader");
                assert!(
                    self.members.contains_key(leader),
                    "leader of {} is not a member",
                    self.id
                );
                assert!(
                    self.members
                        .values()
                        .all(|member| member.pending_join.is_none())
                );
            }
            GroupState::PreparingRebalance => {
                assert!(
                    self.rebalance_deadline.is_some(),
                    "rebalance of {} has no deadline",
                    self.id
                );
            }
        }
        if self.state != GroupState::CompletingRebalance {
            assert!(
                self.members
                    .values()
                    .all(|member| member.pending_sync.is_none())
            );
        }
        assert!(self.generation_id >= 0);
    }

    /// Protocols every member supports, in the first member's preference order.
    pub(super) fn common_protocols(&self) -> Vec<String> {
        let mut members = self.members.values();
        let Some(first) = members.next() else {
            return Vec::new();
        };
        let mut common: Vec<String> = first
            .record
            .protocols
            .iter()
            .map(|(name, _)| name.clone())
            .collect();
        for member in members {
            common.retain(|name| member.supports(name));
        }
        common
    }

    /// True if a member offering `protocols` of `protocol_type` can join.
    pub(super) fn accepts_protocols(
        &self,
        protocol_type: &str,
        protocols: &[(String, Bytes)],
    ) -> bool {
        if protocols.is_empty() || protocol_type.is_empty() {
            return false;
        }
        if self.members.is_empty() {
            return true;
        }
        if self
            .protocol_type
            .as_deref()
            .is_some_and(|current| current != protocol_type)
        {
            return false;
        }
        let offered: BTreeSet<&str> = protocols.iter().map(|(name, _)| name.as_str()).collect();
        self.common_protocols()
            .iter()
            .any(|name| offered.contains(name.as_str()))
    }

    /// Each member votes for its most preferred common protocol; most votes
    /// wins, ties go to the earlier protocol in the common list.
    pub(super) fn select_protocol(&self) -> Option<String> {
        let common = self.common_protocols();
        let mut votes = vec![0usize; common.len()];
        for member in self.members.values() {
            let choice = member
                .record
                .protocols
                .iter()
                .find_map(|(name, _)| common.iter().position(|candidate| candidate == name));
            if let Some(index) = choice {
                votes[index] += 1;
            }
        }
        let best = votes
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)));
        best.map(|(index, _)| common[index].clone())
    }

    pub(super) fn describe(&self) -> GroupDescription {
        let protocol = self.protocol_name.clone().unwrap_or_default();
        let members = self
            .members
            .values()
            .map(|member| MemberDescription {
                member_id: member.record.member_id.clone(),
                group_instance_id: member.record.group_instance_id.clone(),
                client_id: member.record.client_id.clone(),
                client_host: member.record.client_host.clone(),
                metadata: member.metadata_for(&protocol),
                assignment: member.record.assignment.clone(),
            })
            .collect();
        GroupDescription {
            group_id: self.id.clone(),
            state: self.state.name(),
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            protocol_name: protocol,
            members,
        }
    }
}
