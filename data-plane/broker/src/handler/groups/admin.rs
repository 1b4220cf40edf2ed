//! DescribeGroups, ListGroups and DeleteGroups, as a Kafka broker answers
//! them in a cluster: ListGroups lists the groups this broker coordinates
//! (possibly none, error 0; clients ask every broker and merge), while
//! DescribeGroups and DeleteGroups answer each group from its coordinator
//! and with a retriable code elsewhere.

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{
    DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest, DescribeGroupsResponse,
    GroupId, ListGroupsRequest, ListGroupsResponse,
};
use kafka_protocol::protocol::StrBytes;

use crate::handler::Handler;

fn str_bytes(value: String) -> StrBytes {
    StrBytes::from_string(value)
}

impl Handler {
    pub(in crate::handler) fn describe_groups(
        &self,
        request: &DescribeGroupsRequest,
    ) -> DescribeGroupsResponse {
        let groups = request
            .groups
            .iter()
            .map(|group_id| {
                let description = self.groups.with(group_id.as_str(), |runtime, _| {
                    (runtime.coordinator.describe(group_id.as_str()), Vec::new())
                });
                let description = match description {
                    Ok(description) => description,
                    Err(error) => {
                        return DescribedGroup::default()
                            .with_group_id(group_id.clone())
                            .with_error_code(error.code());
                    }
                };
                let members = description
                    .members
                    .into_iter()
                    .map(|member| {
                        DescribedGroupMember::default()
                            .with_member_id(str_bytes(member.member_id))
                            .with_group_instance_id(member.group_instance_id.map(str_bytes))
                            .with_client_id(str_bytes(member.client_id))
                            .with_client_host(str_bytes(member.client_host))
                            .with_member_metadata(member.metadata)
                            .with_member_assignment(member.assignment)
                    })
                    .collect();
                DescribedGroup::default()
                    .with_group_id(group_id.clone())
                    .with_group_state(StrBytes::from_static_str(description.state))
                    .with_protocol_type(str_bytes(description.protocol_type))
                    .with_protocol_data(str_bytes(description.protocol_name))
                    .with_members(members)
            })
            .collect();
        DescribeGroupsResponse::default().with_groups(groups)
    }

    pub(in crate::handler) fn list_groups(
        &self,
        request: &ListGroupsRequest,
    ) -> ListGroupsResponse {
        let listed = self
            .groups
            .on_each_served(|runtime| runtime.coordinator.list());
        let groups = listed
            .into_iter()
            .filter(|(_, _, state)| {
                request.states_filter.is_empty()
                    || request
                        .states_filter
                        .iter()
                        .any(|wanted| wanted.as_str().eq_ignore_ascii_case(state))
            })
            .map(|(group_id, protocol_type, state)| {
                ListedGroup::default()
                    .with_group_id(GroupId(str_bytes(group_id)))
                    .with_protocol_type(str_bytes(protocol_type))
                    .with_group_state(StrBytes::from_static_str(state))
            })
            .collect();
        ListGroupsResponse::default().with_groups(groups)
    }

    pub(in crate::handler) async fn delete_groups(
        &self,
        request: &DeleteGroupsRequest,
    ) -> DeleteGroupsResponse {
        let mut results = Vec::with_capacity(request.groups_names.len());
        for group_id in &request.groups_names {
            let deleted =
                self.groups.with_persisted(group_id.as_str(), |runtime, _| {
                    match runtime.coordinator.delete(group_id.as_str()) {
                        Ok(effects) => (Ok(()), effects),
                        Err(error) => (Err(error), Vec::new()),
                    }
                });
            let error = match deleted {
                Ok((Ok(()), persisted)) => persisted.durable().await.err(),
                Ok((Err(error), _)) | Err(error) => Some(error),
            };
            results.push(
                DeletableGroupResult::default()
                    .with_group_id(group_id.clone())
                    .with_error_code(error.map_or(0, |error| error.code())),
            );
        }
        DeleteGroupsResponse::default().with_results(results)
    }
}
