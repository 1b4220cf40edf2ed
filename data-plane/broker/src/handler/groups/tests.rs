//! Group APIs on a broker that serves only some group-log partitions, as in
//! a cluster: the codes each API answers for groups here, elsewhere and
//! while their coordinator moves.

use std::collections::HashSet;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::Groups;
use crate::BrokerConfig;
use crate::config::BrokerArgs;
use crate::disk::DataDisk;
use crate::group::placement;
use crate::handler::{Answer, Handler};
use crate::partition::{LocalReplica, PartitionReplica};
use crate::topics::Topics;

const PARTITIONS: u32 = 4;

struct Fixture {
    handler: Handler,
    groups: Groups,
    disk: Arc<DataDisk>,
    directory: tempfile::TempDir,
}

impl Fixture {
    /// A broker that knows the group log has [`PARTITIONS`] partitions and
    /// serves none yet.
    fn new() -> Self {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().to_str().unwrap().to_owned();
        let args = BrokerArgs::try_parse_from(["fjord-broker", "--data-dir", &path]).unwrap();
        let config = BrokerConfig::from_args(&args).unwrap();
        let disk = DataDisk::new();
        let defaults = crate::topic_config::TopicDefaults {
            message_bytes_max: config.message_bytes_max,
        };
        let topics = Arc::new(Topics::open(directory.path(), Arc::clone(&disk), defaults).unwrap());
        // The flusher makes appends durable (the test process ends it).
        disk.start(Arc::clone(&topics)).unwrap();
        let groups = Groups::standby();
        assert!(groups.set_partitions(NonZeroU32::new(PARTITIONS).unwrap()));
        let handler = Handler::new(
            &config,
            "cluster",
            topics,
            Default::default(),
            groups.clone(),
            Arc::new(crate::producer::ProducerIds::open(directory.path()).unwrap()),
        );
        Self {
            handler,
            groups,
            disk,
            directory,
        }
    }

    /// This broker takes over partition `index` (its log in a directory of
    /// its own, kept across activations).
    fn serve(&self, index: u32) {
        let path = self.directory.path().join(format!("group-log-{index}"));
        let log: Arc<dyn PartitionReplica> =
            Arc::new(LocalReplica::open(&self.disk, &path).unwrap());
        self.groups.activate(index, log).unwrap();
    }

    async fn call(&self, api_key: ApiKey, version: i16, body: RequestKind) -> ResponseKind {
        let header = RequestHeader::default()
            .with_request_api_key(api_key as i16)
            .with_request_api_version(version);
        match self.handler.handle(api_key, &header, body).await {
            Some(answer) => match answer.settled().await {
                Answer::Respond(response) => response,
                other => panic!("expected a response, got {other:?}"),
            },
            None => panic!("expected a response, got none"),
        }
    }

    /// Commits offset 7 of `orders`-0 for `group` outside any generation.
    async fn commit(&self, group: &str) -> i16 {
        let request = OffsetCommitRequest::default()
            .with_group_id(group_id(group))
            .with_generation_id_or_member_epoch(-1)
            .with_topics(vec![
                OffsetCommitRequestTopic::default()
                    .with_name(TopicName(StrBytes::from_static_str("orders")))
                    .with_partitions(vec![
                        OffsetCommitRequestPartition::default()
                            .with_partition_index(0)
                            .with_committed_offset(7),
                    ]),
            ]);
        match self
            .call(ApiKey::OffsetCommit, 8, RequestKind::OffsetCommit(request))
            .await
        {
            ResponseKind::OffsetCommit(response) => response.topics[0].partitions[0].error_code,
            other => panic!("unexpected {other:?}"),
        }
    }

    async fn listed(&self) -> (i16, Vec<String>) {
        let request = RequestKind::ListGroups(ListGroupsRequest::default());
        match self.call(ApiKey::ListGroups, 4, request).await {
            ResponseKind::ListGroups(response) => {
                let mut groups: Vec<String> = response
                    .groups
                    .iter()
                    .map(|group| group.group_id.to_string())
                    .collect();
                groups.sort();
                (response.error_code, groups)
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn group_id(text: &str) -> GroupId {
    GroupId(StrBytes::from_string(text.to_owned()))
}

/// A group id that hashes to partition `index`.
fn group_on(index: u32) -> String {
    let count = NonZeroU32::new(PARTITIONS).unwrap();
    (0..)
        .map(|n| format!("group-{n}"))
        .find(|id| placement::partition_for(id, count) == index)
        .unwrap()
}

fn join_request(group: &str) -> JoinGroupRequest {
    JoinGroupRequest::default()
        .with_group_id(group_id(group))
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(10_000)
        .with_protocol_type(StrBytes::from_static_str("consumer"))
        .with_protocols(vec![
            JoinGroupRequestProtocol::default()
                .with_name(StrBytes::from_static_str("range"))
                .with_metadata(bytes::Bytes::from_static(b"m")),
        ])
}

const NOT_COORDINATOR: i16 = ResponseError::NotCoordinator.code();

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_groups_answers_error_zero_with_only_the_groups_this_broker_coordinates() {
    let fixture = Fixture::new();
    let served = prometheus_client::metrics::gauge::Gauge::<i64>::default();
    fixture.groups.report_to(served.clone());
    assert_eq!(
        fixture.listed().await,
        (0, Vec::new()),
        "nothing served yet"
    );
    let (here, there) = (group_on(1), group_on(2));
    fixture.serve(1);
    fixture.serve(2);
    assert_eq!(
        served.get(),
        2,
        "partitions served, as /metrics reports them"
    );
    assert_eq!(fixture.commit(&here).await, 0);
    assert_eq!(fixture.commit(&there).await, 0);
    let mut both = vec![here.clone(), there.clone()];
    both.sort();
    assert_eq!(fixture.listed().await, (0, both));

    fixture.groups.deactivate(2);
    assert_eq!(fixture.listed().await, (0, vec![here]));
    assert_eq!(served.get(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_for_groups_coordinated_elsewhere_are_answered_not_coordinator() {
    let fixture = Fixture::new();
    let (here, elsewhere) = (group_on(0), group_on(3));
    fixture.serve(0);
    assert_eq!(fixture.commit(&here).await, 0);
    assert_eq!(fixture.commit(&elsewhere).await, NOT_COORDINATOR);

    let describe =
        DescribeGroupsRequest::default().with_groups(vec![group_id(&here), group_id(&elsewhere)]);
    let ResponseKind::DescribeGroups(described) = fixture
        .call(
            ApiKey::DescribeGroups,
            5,
            RequestKind::DescribeGroups(describe),
        )
        .await
    else {
        panic!("not a DescribeGroups response");
    };
    let codes: Vec<(String, i16)> = described
        .groups
        .iter()
        .map(|group| (group.group_id.to_string(), group.error_code))
        .collect();
    assert_eq!(
        codes,
        vec![(here.clone(), 0), (elsewhere.clone(), NOT_COORDINATOR)]
    );
    assert_eq!(described.groups[0].group_state.as_str(), "Empty");

    let fetch = OffsetFetchRequest::default().with_group_id(group_id(&elsewhere));
    let ResponseKind::OffsetFetch(fetched) = fixture
        .call(ApiKey::OffsetFetch, 7, RequestKind::OffsetFetch(fetch))
        .await
    else {
        panic!("not an OffsetFetch response");
    };
    assert_eq!(fetched.error_code, NOT_COORDINATOR);

    let heartbeat = HeartbeatRequest::default().with_group_id(group_id(&elsewhere));
    let ResponseKind::Heartbeat(beat) = fixture
        .call(ApiKey::Heartbeat, 4, RequestKind::Heartbeat(heartbeat))
        .await
    else {
        panic!("not a Heartbeat response");
    };
    assert_eq!(beat.error_code, NOT_COORDINATOR);

    let delete = DeleteGroupsRequest::default()
        .with_groups_names(vec![group_id(&here), group_id(&elsewhere)]);
    let ResponseKind::DeleteGroups(deleted) = fixture
        .call(ApiKey::DeleteGroups, 2, RequestKind::DeleteGroups(delete))
        .await
    else {
        panic!("not a DeleteGroups response");
    };
    let codes: Vec<i16> = deleted
        .results
        .iter()
        .map(|result| result.error_code)
        .collect();
    assert_eq!(codes, vec![0, NOT_COORDINATOR]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_being_loaded_answers_coordinator_load_in_progress() {
    let fixture = Fixture::new();
    let group = group_on(1);
    fixture.groups.load(1);
    let join = RequestKind::JoinGroup(join_request(&group));
    let ResponseKind::JoinGroup(joined) = fixture.call(ApiKey::JoinGroup, 5, join).await else {
        panic!("not a JoinGroup response");
    };
    assert_eq!(
        joined.error_code,
        ResponseError::CoordinatorLoadInProgress.code()
    );
    assert_eq!(
        fixture.commit(&group).await,
        ResponseError::CoordinatorLoadInProgress.code()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_waiting_when_the_coordinator_moves_is_answered_not_coordinator() {
    let fixture = Arc::new(Fixture::new());
    let group = group_on(2);
    fixture.serve(2);
    // v3 joins wait for the group's initial rebalance delay (3 s).
    let waiting = {
        let fixture = Arc::clone(&fixture);
        let join = RequestKind::JoinGroup(join_request(&group));
        tokio::spawn(async move { fixture.call(ApiKey::JoinGroup, 3, join).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "the join completed before the move");
    fixture.groups.deactivate(2);
    let ResponseKind::JoinGroup(joined) = waiting.await.unwrap() else {
        panic!("not a JoinGroup response");
    };
    assert_eq!(joined.error_code, NOT_COORDINATOR);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_offset_survives_the_coordinator_moving_away_and_back() {
    let fixture = Fixture::new();
    let group = group_on(3);
    fixture.serve(3);
    assert_eq!(fixture.commit(&group).await, 0);
    fixture.groups.deactivate(3);
    fixture.serve(3);
    let fetch = OffsetFetchRequest::default()
        .with_group_id(group_id(&group))
        .with_topics(None);
    let ResponseKind::OffsetFetch(fetched) = fixture
        .call(ApiKey::OffsetFetch, 7, RequestKind::OffsetFetch(fetch))
        .await
    else {
        panic!("not an OffsetFetch response");
    };
    assert_eq!(fetched.error_code, 0);
    assert_eq!(fetched.topics[0].partitions[0].committed_offset, 7);
}

#[test]
fn member_ids_handed_out_by_a_new_coordinator_never_repeat_earlier_ones() {
    use crate::group::{Coordinator, Effect, GroupConfig, JoinRequest, Millis, RequestToken};
    // Each coordinator instance stands for the group's coordinator after a
    // move; a joiner must never get the id of a restored member.
    let handed_out: HashSet<String> = (0..3)
        .map(|_| {
            let mut coordinator = Coordinator::new(GroupConfig::default());
            let effects = coordinator.join(
                Millis(0),
                RequestToken(1),
                JoinRequest {
                    group_id: "orders".to_owned(),
                    member_id: String::new(),
                    group_instance_id: None,
                    client_id: "kafkajs".to_owned(),
                    client_host: String::new(),
                    session_timeout_ms: 10_000,
                    rebalance_timeout_ms: 10_000,
                    protocol_type: "consumer".to_owned(),
                    protocols: vec![("range".to_owned(), bytes::Bytes::from_static(b"m"))],
                    require_known_member_id: true,
                },
            );
            match effects.as_slice() {
                [Effect::Join(_, reply)] => {
                    assert_eq!(reply.error, Some(ResponseError::MemberIdRequired));
                    assert!(reply.member_id.starts_with("kafkajs-"));
                    reply.member_id.clone()
                }
                other => panic!("expected one join reply, got {other:?}"),
            }
        })
        .collect();
    assert_eq!(handed_out.len(), 3, "{handed_out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_group_logs_partition_count_cannot_be_raised() {
    use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
    let fixture = Fixture::new();
    let request = CreatePartitionsRequest::default().with_topics(vec![
        CreatePartitionsTopic::default()
            .with_name(TopicName(StrBytes::from_static_str(
                crate::cluster::GROUP_LOG_TOPIC,
            )))
            .with_count(24),
    ]);
    let ResponseKind::CreatePartitions(response) = fixture
        .call(
            ApiKey::CreatePartitions,
            3,
            RequestKind::CreatePartitions(request),
        )
        .await
    else {
        panic!("not a CreatePartitions response");
    };
    assert_eq!(
        response.results[0].error_code,
        ResponseError::InvalidPartitions.code()
    );
}
