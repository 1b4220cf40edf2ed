//! One small valid request of every served API and version, for tests and
//! as the starting points of the fuzz target's mutations.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Encodable, StrBytes};

use super::versions;

/// A request frame (without its length prefix): header and body.
pub fn frame(api_key: ApiKey, version: i16, body: &RequestKind) -> Bytes {
    let header = RequestHeader::default()
        .with_request_api_key(api_key as i16)
        .with_request_api_version(version)
        .with_correlation_id(42)
        .with_client_id(Some(StrBytes::from_static_str("test")));
    let mut buffer = BytesMut::new();
    header
        .encode(&mut buffer, api_key.request_header_version(version))
        .expect("sample headers encode");
    body.encode(&mut buffer, version)
        .expect("sample requests encode");
    buffer.freeze()
}

/// Every served API and version with its sample request, as length-prefixed
/// frames the server would read.
pub fn all_frames() -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    for entry in versions::SUPPORTED_APIS {
        for version in entry.min..=entry.max {
            let payload = frame(entry.key, version, &sample_request(entry.key, version));
            let mut framed = BytesMut::with_capacity(payload.len() + 4);
            framed.put_u32(u32::try_from(payload.len()).expect("samples are small"));
            framed.put_slice(&payload);
            frames.push(framed.to_vec());
        }
    }
    frames
}

fn topic(name: &'static str) -> TopicName {
    TopicName(StrBytes::from_static_str(name))
}

/// A small valid request of each served API.
pub fn sample_request(api_key: ApiKey, version: i16) -> RequestKind {
    match api_key {
        ApiKey::Produce => RequestKind::Produce(
            ProduceRequest::default()
                .with_acks(-1)
                .with_topic_data(vec![
                    produce_request::TopicProduceData::default()
                        .with_name(topic("orders"))
                        .with_partition_data(vec![
                            produce_request::PartitionProduceData::default()
                                .with_records(Some(Bytes::from_static(&[0; 70]))),
                        ]),
                ]),
        ),
        ApiKey::Fetch => RequestKind::Fetch(
            FetchRequest::default()
                .with_topics(vec![
                    fetch_request::FetchTopic::default()
                        .with_topic(topic("orders"))
                        .with_partitions(vec![fetch_request::FetchPartition::default()]),
                ])
                .with_forgotten_topics_data(if version >= 7 {
                    vec![
                        fetch_request::ForgottenTopic::default()
                            .with_topic(topic("old"))
                            .with_partitions(vec![1, 2]),
                    ]
                } else {
                    Vec::new()
                }),
        ),
        ApiKey::ListOffsets => {
            RequestKind::ListOffsets(ListOffsetsRequest::default().with_topics(vec![
                list_offsets_request::ListOffsetsTopic::default()
                    .with_name(topic("orders"))
                    .with_partitions(vec![
                        list_offsets_request::ListOffsetsPartition::default()
                            .with_timestamp(-2),
                    ]),
            ]))
        }
        ApiKey::OffsetForLeaderEpoch => RequestKind::OffsetForLeaderEpoch(
            OffsetForLeaderEpochRequest::default().with_topics(vec![
                offset_for_leader_epoch_request::OffsetForLeaderTopic::default()
                    .with_topic(topic("orders"))
                    .with_partitions(vec![
                        offset_for_leader_epoch_request::OffsetForLeaderPartition::default(),
                    ]),
            ]),
        ),
        ApiKey::CreateTopics => {
            RequestKind::CreateTopics(CreateTopicsRequest::default().with_topics(vec![
                create_topics_request::CreatableTopic::default()
                    .with_name(topic("orders"))
                    .with_num_partitions(3)
                    .with_replication_factor(1)
                    .with_assignments(vec![
                        create_topics_request::CreatableReplicaAssignment::default()
                            .with_broker_ids(vec![BrokerId(0)]),
                    ])
                    .with_configs(vec![
                        create_topics_request::CreatableTopicConfig::default()
                            .with_name(StrBytes::from_static_str("retention.ms"))
                            .with_value(Some(StrBytes::from_static_str("1000"))),
                    ]),
            ]))
        }
        ApiKey::DeleteTopics => RequestKind::DeleteTopics(if version >= 6 {
            DeleteTopicsRequest::default().with_topics(vec![
                delete_topics_request::DeleteTopicState::default().with_name(Some(topic("orders"))),
            ])
        } else {
            DeleteTopicsRequest::default().with_topic_names(vec![topic("orders")])
        }),
        ApiKey::FindCoordinator => RequestKind::FindCoordinator(if version >= 4 {
            FindCoordinatorRequest::default()
                .with_coordinator_keys(vec![StrBytes::from_static_str("group")])
        } else {
            FindCoordinatorRequest::default().with_key(StrBytes::from_static_str("group"))
        }),
        ApiKey::JoinGroup => RequestKind::JoinGroup(
            JoinGroupRequest::default()
                .with_group_id(GroupId(StrBytes::from_static_str("group")))
                .with_protocol_type(StrBytes::from_static_str("consumer"))
                .with_protocols(vec![
                    join_group_request::JoinGroupRequestProtocol::default()
                        .with_name(StrBytes::from_static_str("range"))
                        .with_metadata(Bytes::from_static(b"meta")),
                ]),
        ),
        ApiKey::SyncGroup => RequestKind::SyncGroup(
            SyncGroupRequest::default()
                .with_group_id(GroupId(StrBytes::from_static_str("group")))
                .with_assignments(vec![
                    sync_group_request::SyncGroupRequestAssignment::default()
                        .with_member_id(StrBytes::from_static_str("member"))
                        .with_assignment(Bytes::from_static(b"assignment")),
                ]),
        ),
        ApiKey::Heartbeat => RequestKind::Heartbeat(
            HeartbeatRequest::default().with_group_id(GroupId(StrBytes::from_static_str("group"))),
        ),
        ApiKey::LeaveGroup => RequestKind::LeaveGroup(if version >= 3 {
            LeaveGroupRequest::default()
                .with_group_id(GroupId(StrBytes::from_static_str("group")))
                .with_members(vec![
                    leave_group_request::MemberIdentity::default()
                        .with_member_id(StrBytes::from_static_str("member")),
                ])
        } else {
            LeaveGroupRequest::default()
                .with_group_id(GroupId(StrBytes::from_static_str("group")))
                .with_member_id(StrBytes::from_static_str("member"))
        }),
        ApiKey::OffsetCommit => RequestKind::OffsetCommit(
            OffsetCommitRequest::default()
                .with_group_id(GroupId(StrBytes::from_static_str("group")))
                .with_topics(vec![
                    offset_commit_request::OffsetCommitRequestTopic::default()
                        .with_name(topic("orders"))
                        .with_partitions(vec![
                            offset_commit_request::OffsetCommitRequestPartition::default()
                                .with_committed_offset(5),
                        ]),
                ]),
        ),
        ApiKey::OffsetFetch => RequestKind::OffsetFetch(
            OffsetFetchRequest::default()
                .with_group_id(GroupId(StrBytes::from_static_str("group")))
                .with_topics(Some(vec![
                    offset_fetch_request::OffsetFetchRequestTopic::default()
                        .with_name(topic("orders"))
                        .with_partition_indexes(vec![0, 1]),
                ])),
        ),
        ApiKey::DescribeGroups => RequestKind::DescribeGroups(
            DescribeGroupsRequest::default()
                .with_groups(vec![GroupId(StrBytes::from_static_str("group"))]),
        ),
        ApiKey::ListGroups => RequestKind::ListGroups(if version >= 4 {
            ListGroupsRequest::default()
                .with_states_filter(vec![StrBytes::from_static_str("Stable")])
        } else {
            ListGroupsRequest::default()
        }),
        ApiKey::InitProducerId => RequestKind::InitProducerId(
            InitProducerIdRequest::default()
                .with_transaction_timeout_ms(60_000)
                .with_producer_id(ProducerId(if version >= 3 { 7 } else { -1 })),
        ),
        ApiKey::DeleteGroups => RequestKind::DeleteGroups(
            DeleteGroupsRequest::default()
                .with_groups_names(vec![GroupId(StrBytes::from_static_str("group"))]),
        ),
        ApiKey::CreatePartitions => {
            RequestKind::CreatePartitions(CreatePartitionsRequest::default().with_topics(vec![
                create_partitions_request::CreatePartitionsTopic::default()
                    .with_name(topic("orders"))
                    .with_count(4)
                    .with_assignments(Some(vec![
                        create_partitions_request::CreatePartitionsAssignment::default()
                            .with_broker_ids(vec![BrokerId(0)]),
                    ])),
            ]))
        }
        ApiKey::DescribeConfigs => {
            RequestKind::DescribeConfigs(DescribeConfigsRequest::default().with_resources(vec![
                describe_configs_request::DescribeConfigsResource::default()
                    .with_resource_type(2)
                    .with_resource_name(StrBytes::from_static_str("orders"))
                    .with_configuration_keys(Some(vec![StrBytes::from_static_str(
                        "retention.ms",
                    )])),
            ]))
        }
        ApiKey::AlterConfigs => {
            RequestKind::AlterConfigs(AlterConfigsRequest::default().with_resources(vec![
                alter_configs_request::AlterConfigsResource::default()
                    .with_resource_type(2)
                    .with_resource_name(StrBytes::from_static_str("orders"))
                    .with_configs(vec![
                        alter_configs_request::AlterableConfig::default()
                            .with_name(StrBytes::from_static_str("retention.ms"))
                            .with_value(Some(StrBytes::from_static_str("1000"))),
                    ]),
            ]))
        }
        ApiKey::IncrementalAlterConfigs => RequestKind::IncrementalAlterConfigs(
            IncrementalAlterConfigsRequest::default().with_resources(vec![
                incremental_alter_configs_request::AlterConfigsResource::default()
                    .with_resource_type(2)
                    .with_resource_name(StrBytes::from_static_str("orders"))
                    .with_configs(vec![
                        incremental_alter_configs_request::AlterableConfig::default()
                            .with_name(StrBytes::from_static_str("retention.ms"))
                            .with_value(Some(StrBytes::from_static_str("1000"))),
                    ]),
            ]),
        ),
        ApiKey::DescribeCluster => {
            RequestKind::DescribeCluster(DescribeClusterRequest::default().with_endpoint_type(1))
        }
        ApiKey::ApiVersions => RequestKind::ApiVersions(ApiVersionsRequest::default()),
        ApiKey::SaslHandshake => RequestKind::SaslHandshake(
            SaslHandshakeRequest::default()
                .with_mechanism(StrBytes::from_static_str("SCRAM-SHA-512")),
        ),
        ApiKey::SaslAuthenticate => RequestKind::SaslAuthenticate(
            SaslAuthenticateRequest::default()
                .with_auth_bytes(Bytes::from_static(b"n,,n=alice,r=fyko+d2lbbFgONRv9qkxdawL")),
        ),
        ApiKey::DescribeUserScramCredentials => RequestKind::DescribeUserScramCredentials(
            DescribeUserScramCredentialsRequest::default().with_users(Some(vec![
                describe_user_scram_credentials_request::UserName::default()
                    .with_name(StrBytes::from_static_str("alice")),
            ])),
        ),
        ApiKey::AlterUserScramCredentials => RequestKind::AlterUserScramCredentials(
            AlterUserScramCredentialsRequest::default()
                .with_deletions(vec![
                    alter_user_scram_credentials_request::ScramCredentialDeletion::default()
                        .with_name(StrBytes::from_static_str("bob"))
                        .with_mechanism(1),
                ])
                .with_upsertions(vec![
                    alter_user_scram_credentials_request::ScramCredentialUpsertion::default()
                        .with_name(StrBytes::from_static_str("alice"))
                        .with_mechanism(2)
                        .with_iterations(4096)
                        .with_salt(Bytes::from_static(b"salt"))
                        .with_salted_password(Bytes::from_static(&[7; 64])),
                ]),
        ),
        ApiKey::DescribeAcls => RequestKind::DescribeAcls(
            DescribeAclsRequest::default()
                .with_resource_type_filter(2)
                .with_resource_name_filter(Some(StrBytes::from_static_str("orders")))
                .with_pattern_type_filter(2)
                .with_principal_filter(None)
                .with_host_filter(None)
                .with_operation(1)
                .with_permission_type(1),
        ),
        ApiKey::CreateAcls => {
            RequestKind::CreateAcls(CreateAclsRequest::default().with_creations(vec![
                create_acls_request::AclCreation::default()
                    .with_resource_type(2)
                    .with_resource_name(StrBytes::from_static_str("orders."))
                    .with_resource_pattern_type(4)
                    .with_principal(StrBytes::from_static_str("User:alice"))
                    .with_host(StrBytes::from_static_str("*"))
                    .with_operation(4)
                    .with_permission_type(3),
            ]))
        }
        ApiKey::DeleteAcls => {
            RequestKind::DeleteAcls(DeleteAclsRequest::default().with_filters(vec![
                delete_acls_request::DeleteAclsFilter::default()
                    .with_resource_type_filter(1)
                    .with_resource_name_filter(None)
                    .with_pattern_type_filter(1)
                    .with_principal_filter(Some(StrBytes::from_static_str("User:alice")))
                    .with_host_filter(None)
                    .with_operation(1)
                    .with_permission_type(1),
            ]))
        }
        ApiKey::Metadata => RequestKind::Metadata(MetadataRequest::default().with_topics(Some(
            vec![MetadataRequestTopic::default().with_name(Some(
                TopicName(StrBytes::from_static_str("orders")),
            ))],
        ))),
        other => panic!("add a sample {other:?} request to this test"),
    }
}

/// Applies `instructions` to one of the sample frames and decodes the
/// result through [`super::decode_frames`]: byte 0 picks the frame, then
/// each 3-byte group `[position: u16][value]` overwrites one byte, and a
/// trailing single byte truncates the frame to that fraction of its length.
/// The fuzz target's structured mode and the seeded test both use this.
pub fn decode_mutated(frames: &[Vec<u8>], instructions: &[u8]) -> usize {
    let Some((&pick, mut rest)) = instructions.split_first() else {
        return 0;
    };
    assert!(!frames.is_empty(), "there is a sample for every served API");
    let mut frame = frames[usize::from(pick) % frames.len()].clone();
    while let [high, low, value, tail @ ..] = rest {
        let position = usize::from(u16::from_be_bytes([*high, *low])) % frame.len();
        frame[position] = *value;
        rest = tail;
    }
    if let [fraction] = rest {
        let keep = frame.len() * usize::from(*fraction) / 255;
        frame.truncate(keep.max(1));
    }
    super::decode_frames(&frame, FUZZ_FRAME_BYTES_MAX)
}

/// Frame bound used when fuzzing: small, so that oversized lengths are
/// exercised, large enough for every sample.
pub const FUZZ_FRAME_BYTES_MAX: u32 = 64 * 1024;
