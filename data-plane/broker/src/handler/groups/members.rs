//! JoinGroup, SyncGroup, Heartbeat and LeaveGroup, each served by the
//! coordinator of the group's group-log partition ([`super::Groups::with`]);
//! elsewhere, or while that coordinator moves, answered with the retriable
//! code of [`super::refusal`].

use kafka_protocol::ResponseError;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{
    HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, RequestHeader, SyncGroupRequest, SyncGroupResponse,
};
use tokio::sync::oneshot;

use super::shard::Waiting;
use super::{code, refusal, str_bytes, text};
use crate::group::{JoinReply, JoinRequest, SyncReply, SyncRequest};
use crate::handler::Handler;

impl Handler {
    pub(in crate::handler) async fn join_group(
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
        let group_id = join.group_id.clone();
        let registered = self.groups.with(&group_id, |runtime, now| {
            let token = runtime.register(Waiting::Join(sender));
            ((), runtime.coordinator.join(now, token, join))
        });
        if let Err(error) = registered {
            return refusal::join(error);
        }
        // A dropped sender means the coordinator's state went away.
        let reply = receiver.await.unwrap_or_else(|_| JoinReply {
            error: Some(ResponseError::NotCoordinator),
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

    pub(in crate::handler) async fn sync_group(
        &self,
        request: SyncGroupRequest,
    ) -> SyncGroupResponse {
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
        let group_id = sync.group_id.clone();
        let registered = self.groups.with(&group_id, |runtime, now| {
            let token = runtime.register(Waiting::Sync(sender));
            ((), runtime.coordinator.sync(now, token, sync))
        });
        if let Err(error) = registered {
            return refusal::sync(error);
        }
        let reply = receiver.await.unwrap_or_else(|_| SyncReply {
            error: Some(ResponseError::NotCoordinator),
            ..SyncReply::default()
        });
        SyncGroupResponse::default()
            .with_error_code(code(reply.error))
            .with_protocol_type(reply.protocol_type.map(str_bytes))
            .with_protocol_name(reply.protocol_name.map(str_bytes))
            .with_assignment(reply.assignment)
    }

    pub(in crate::handler) fn heartbeat(&self, request: &HeartbeatRequest) -> HeartbeatResponse {
        let outcome = self.groups.with(request.group_id.as_str(), |runtime, now| {
            let outcome = runtime.coordinator.heartbeat(
                now,
                request.group_id.as_str(),
                request.member_id.as_str(),
                request.generation_id,
            );
            (outcome, Vec::new())
        });
        match outcome {
            Err(error) => refusal::heartbeat(error),
            Ok(outcome) => HeartbeatResponse::default().with_error_code(code(outcome.err())),
        }
    }

    pub(in crate::handler) fn leave_group(
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
        let results = self.groups.with(request.group_id.as_str(), |runtime, now| {
            runtime
                .coordinator
                .leave(now, request.group_id.as_str(), &member_ids)
        });
        let results = match results {
            Ok(results) => results,
            Err(error) => return refusal::leave(error),
        };
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
}
