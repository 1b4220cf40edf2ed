//! Group, offset and producer-id requests checked and served through a
//! real handler.

use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::tests::{fixture, group, topic};
use super::{
    CLUSTER_AUTHORIZATION_FAILED, GROUP_AUTHORIZATION_FAILED, TOPIC_AUTHORIZATION_FAILED,
    TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
};

#[tokio::test]
async fn group_apis_answer_group_authorization_failed_for_other_groups() {
    let fixture = fixture().await;
    let alice = fixture.access("alice");
    let describe = DescribeGroupsRequest::default()
        .with_groups(vec![group("orders-app"), group("payments-app")]);
    let ResponseKind::DescribeGroups(response) = fixture
        .serve(
            &alice,
            ApiKey::DescribeGroups,
            5,
            RequestKind::DescribeGroups(describe),
        )
        .await
    else {
        panic!("expected DescribeGroups");
    };
    let code = |name: &str| {
        response
            .groups
            .iter()
            .find(|g| g.group_id.as_str() == name)
            .unwrap()
            .error_code
    };
    assert_ne!(code("orders-app"), GROUP_AUTHORIZATION_FAILED);
    assert_eq!(code("payments-app"), GROUP_AUTHORIZATION_FAILED);

    let fetch = |name: &str| {
        OffsetFetchRequest::default()
            .with_group_id(group(name))
            .with_topics(Some(vec![
                offset_fetch_request::OffsetFetchRequestTopic::default()
                    .with_name(topic("payments"))
                    .with_partition_indexes(vec![0]),
            ]))
    };
    let ResponseKind::OffsetFetch(other_group) = fixture
        .serve(
            &alice,
            ApiKey::OffsetFetch,
            7,
            RequestKind::OffsetFetch(fetch("payments-app")),
        )
        .await
    else {
        panic!("expected OffsetFetch");
    };
    assert_eq!(other_group.error_code, GROUP_AUTHORIZATION_FAILED);
    let ResponseKind::OffsetFetch(other_topic) = fixture
        .serve(
            &alice,
            ApiKey::OffsetFetch,
            7,
            RequestKind::OffsetFetch(fetch("orders-app")),
        )
        .await
    else {
        panic!("expected OffsetFetch");
    };
    assert_eq!(other_topic.error_code, 0);
    assert_eq!(
        other_topic.topics[0].partitions[0].error_code,
        TOPIC_AUTHORIZATION_FAILED
    );

    let join = JoinGroupRequest::default()
        .with_group_id(group("payments-app"))
        .with_protocol_type(StrBytes::from_static_str("consumer"))
        .with_session_timeout_ms(10_000);
    let ResponseKind::JoinGroup(joined) = fixture
        .serve(&alice, ApiKey::JoinGroup, 9, RequestKind::JoinGroup(join))
        .await
    else {
        panic!("expected JoinGroup");
    };
    assert_eq!(joined.error_code, GROUP_AUTHORIZATION_FAILED);

    let delete = DeleteGroupsRequest::default().with_groups_names(vec![group("payments-app")]);
    let ResponseKind::DeleteGroups(deleted) = fixture
        .serve(
            &alice,
            ApiKey::DeleteGroups,
            2,
            RequestKind::DeleteGroups(delete),
        )
        .await
    else {
        panic!("expected DeleteGroups");
    };
    assert_eq!(deleted.results[0].error_code, GROUP_AUTHORIZATION_FAILED);

    let ResponseKind::ListGroups(listed) = fixture
        .serve(
            &fixture.access("bob"),
            ApiKey::ListGroups,
            4,
            RequestKind::ListGroups(ListGroupsRequest::default()),
        )
        .await
    else {
        panic!("expected ListGroups");
    };
    assert_eq!(listed.error_code, 0);
    assert!(listed.groups.is_empty());
}

#[tokio::test]
async fn producer_ids_need_write_somewhere_or_on_the_transactional_id() {
    let fixture = fixture().await;
    let init = |transactional: Option<&'static str>| {
        RequestKind::InitProducerId(
            InitProducerIdRequest::default()
                .with_transactional_id(
                    transactional.map(|id| TransactionalId(StrBytes::from_static_str(id))),
                )
                .with_transaction_timeout_ms(60_000),
        )
    };
    let code = |response: ResponseKind| match response {
        ResponseKind::InitProducerId(response) => response.error_code,
        other => panic!("expected InitProducerId, got {other:?}"),
    };
    let alice = fixture.access("alice");
    let bob = fixture.access("bob");
    assert_eq!(
        code(
            fixture
                .serve(&alice, ApiKey::InitProducerId, 4, init(None))
                .await
        ),
        0
    );
    assert_eq!(
        code(
            fixture
                .serve(&bob, ApiKey::InitProducerId, 4, init(None))
                .await
        ),
        CLUSTER_AUTHORIZATION_FAILED
    );
    assert_eq!(
        code(
            fixture
                .serve(&alice, ApiKey::InitProducerId, 4, init(Some("tx")))
                .await
        ),
        TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    );
}

/// Commits offset 7 of `topic`-0 for `group` outside any generation.
fn commit(group_name: &str, topic_name: &str) -> RequestKind {
    RequestKind::OffsetCommit(
        OffsetCommitRequest::default()
            .with_group_id(group(group_name))
            .with_generation_id_or_member_epoch(-1)
            .with_topics(vec![
                offset_commit_request::OffsetCommitRequestTopic::default()
                    .with_name(topic(topic_name))
                    .with_partitions(vec![
                        offset_commit_request::OffsetCommitRequestPartition::default()
                            .with_partition_index(0)
                            .with_committed_offset(7),
                    ]),
            ]),
    )
}

#[tokio::test]
async fn commits_need_read_on_group_and_topic_and_listings_show_only_describable_groups() {
    let fixture = fixture().await;
    let (admin, alice) = (fixture.access("admin"), fixture.access("alice"));
    let code = |response: ResponseKind| match response {
        ResponseKind::OffsetCommit(response) => response.topics[0].partitions[0].error_code,
        other => panic!("expected OffsetCommit, got {other:?}"),
    };
    for name in ["orders-app", "payments-app"] {
        let committed = fixture
            .serve(&admin, ApiKey::OffsetCommit, 8, commit(name, "payments"))
            .await;
        assert_eq!(code(committed), 0, "{name}");
    }
    let mine = fixture
        .serve(
            &alice,
            ApiKey::OffsetCommit,
            8,
            commit("orders-app", "orders.eu"),
        )
        .await;
    assert_eq!(code(mine), 0);
    let other_topic = fixture
        .serve(
            &alice,
            ApiKey::OffsetCommit,
            8,
            commit("orders-app", "payments"),
        )
        .await;
    assert_eq!(code(other_topic), TOPIC_AUTHORIZATION_FAILED);
    let other_group = fixture
        .serve(
            &alice,
            ApiKey::OffsetCommit,
            8,
            commit("payments-app", "orders.eu"),
        )
        .await;
    assert_eq!(code(other_group), GROUP_AUTHORIZATION_FAILED);

    let listed = |response: ResponseKind| match response {
        ResponseKind::ListGroups(response) => {
            let mut groups: Vec<String> = response
                .groups
                .iter()
                .map(|g| g.group_id.to_string())
                .collect();
            groups.sort();
            groups
        }
        other => panic!("expected ListGroups, got {other:?}"),
    };
    let list = || RequestKind::ListGroups(ListGroupsRequest::default());
    assert_eq!(
        listed(fixture.serve(&alice, ApiKey::ListGroups, 4, list()).await),
        vec!["orders-app".to_owned()]
    );
    assert_eq!(
        listed(fixture.serve(&admin, ApiKey::ListGroups, 4, list()).await),
        vec!["orders-app".to_owned(), "payments-app".to_owned()]
    );
}
