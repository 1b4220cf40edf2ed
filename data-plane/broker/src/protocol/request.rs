//! Request decoding and response encoding around the message codecs.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::{Decodable, Encodable};

use super::{bounds, versions};

/// Bytes of the fixed request prefix: api key, api version, correlation id.
const FIXED_PREFIX_BYTES: usize = 8;

/// A request ready to be handled.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "built once per request and moved, never stored"
)]
pub enum DecodedRequest {
    /// A request of a supported API and version.
    Request {
        api_key: ApiKey,
        header: RequestHeader,
        body: RequestKind,
    },
    /// ApiVersions of a version we do not know: answer with v0 and
    /// UNSUPPORTED_VERSION (KIP-511) instead of closing the connection.
    UnsupportedApiVersions { correlation_id: i32 },
}

/// Why a request could not be decoded; each closes the connection.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("request of {length} bytes is shorter than the 8-byte header prefix")]
    TooShort { length: usize },
    #[error("unknown api key {api_key}")]
    UnknownApiKey { api_key: i16 },
    #[error("{api_key:?} version {version} is not supported")]
    UnsupportedVersion { api_key: ApiKey, version: i16 },
    #[error("malformed {api_key:?} v{version} request header: {reason}")]
    Header {
        api_key: ApiKey,
        version: i16,
        reason: String,
    },
    #[error("malformed {api_key:?} v{version} request body: {reason}")]
    Body {
        api_key: ApiKey,
        version: i16,
        reason: String,
    },
}

/// Decodes one request frame (the payload after the length prefix).
pub fn decode_request(mut frame: Bytes) -> Result<DecodedRequest, RequestError> {
    if frame.len() < FIXED_PREFIX_BYTES {
        return Err(RequestError::TooShort {
            length: frame.len(),
        });
    }
    let raw_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let api_key =
        ApiKey::try_from(raw_key).map_err(|()| RequestError::UnknownApiKey { api_key: raw_key })?;
    if !versions::accepts(api_key, version) {
        if api_key == ApiKey::ApiVersions && version >= 0 {
            return Ok(DecodedRequest::UnsupportedApiVersions { correlation_id });
        }
        return Err(RequestError::UnsupportedVersion { api_key, version });
    }
    let header_version = api_key.request_header_version(version);
    let header = RequestHeader::decode(&mut frame, header_version).map_err(|error| {
        RequestError::Header {
            api_key,
            version,
            reason: error.to_string(),
        }
    })?;
    debug_assert_eq!(header.request_api_version, version);
    bounds::check_declared_lengths(api_key, version, &frame).map_err(|reason| {
        RequestError::Body {
            api_key,
            version,
            reason,
        }
    })?;
    let body =
        RequestKind::decode(api_key, &mut frame, version).map_err(|error| RequestError::Body {
            api_key,
            version,
            reason: error.to_string(),
        })?;
    if frame.has_remaining() {
        tracing::debug!(
            ?api_key,
            version,
            trailing = frame.remaining(),
            "ignoring trailing bytes"
        );
    }
    Ok(DecodedRequest::Request {
        api_key,
        header,
        body,
    })
}

/// Encodes a response frame, length prefix included.
pub fn encode_response(
    correlation_id: i32,
    api_key: ApiKey,
    version: i16,
    body: &ResponseKind,
) -> anyhow::Result<BytesMut> {
    let header_version = api_key.response_header_version(version);
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let mut buffer = BytesMut::with_capacity(64);
    buffer.put_i32(0);
    header.encode(&mut buffer, header_version)?;
    body.encode(&mut buffer, version)?;
    let length = i32::try_from(buffer.len() - 4)?;
    buffer[..4].copy_from_slice(&length.to_be_bytes());
    Ok(buffer)
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
    use kafka_protocol::messages::{ApiVersionsRequest, TopicName};
    use kafka_protocol::protocol::StrBytes;

    use super::*;

    fn frame(api_key: ApiKey, version: i16, body: &RequestKind) -> Bytes {
        let header = RequestHeader::default()
            .with_request_api_key(api_key as i16)
            .with_request_api_version(version)
            .with_correlation_id(42)
            .with_client_id(Some(StrBytes::from_static_str("test")));
        let mut buffer = BytesMut::new();
        header
            .encode(&mut buffer, api_key.request_header_version(version))
            .unwrap();
        body.encode(&mut buffer, version).unwrap();
        buffer.freeze()
    }

    #[test]
    fn api_versions_v3_round_trips_with_its_flexible_header() {
        let body = RequestKind::ApiVersions(
            ApiVersionsRequest::default()
                .with_client_software_name(StrBytes::from_static_str("kcat"))
                .with_client_software_version(StrBytes::from_static_str("1.7.1")),
        );
        let decoded = decode_request(frame(ApiKey::ApiVersions, 3, &body)).unwrap();
        let DecodedRequest::Request {
            api_key,
            header,
            body,
        } = decoded
        else {
            panic!("expected a request");
        };
        assert_eq!((api_key, header.correlation_id), (ApiKey::ApiVersions, 42));
        let RequestKind::ApiVersions(request) = body else {
            panic!("expected ApiVersions")
        };
        assert_eq!(request.client_software_name.as_str(), "kcat");
    }

    fn topic(name: &'static str) -> TopicName {
        TopicName(StrBytes::from_static_str(name))
    }

    /// A small valid request of each served API.
    fn sample_request(api_key: ApiKey, version: i16) -> RequestKind {
        use kafka_protocol::messages::*;
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
                    delete_topics_request::DeleteTopicState::default()
                        .with_name(Some(topic("orders"))),
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
                HeartbeatRequest::default()
                    .with_group_id(GroupId(StrBytes::from_static_str("group"))),
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
            ApiKey::DescribeConfigs => RequestKind::DescribeConfigs(
                DescribeConfigsRequest::default().with_resources(vec![
                    describe_configs_request::DescribeConfigsResource::default()
                        .with_resource_type(2)
                        .with_resource_name(StrBytes::from_static_str("orders"))
                        .with_configuration_keys(Some(vec![StrBytes::from_static_str(
                            "retention.ms",
                        )])),
                ]),
            ),
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
            ApiKey::DescribeCluster => RequestKind::DescribeCluster(
                DescribeClusterRequest::default().with_endpoint_type(1),
            ),
            ApiKey::ApiVersions => RequestKind::ApiVersions(ApiVersionsRequest::default()),
            ApiKey::Metadata => RequestKind::Metadata(MetadataRequest::default().with_topics(
                Some(vec![MetadataRequestTopic::default().with_name(Some(
                    TopicName(StrBytes::from_static_str("orders")),
                ))]),
            )),
            other => panic!("add a sample {other:?} request to this test"),
        }
    }

    #[test]
    fn every_supported_api_and_version_has_a_declared_length_check() {
        for entry in versions::SUPPORTED_APIS {
            for version in entry.min..=entry.max {
                let body = sample_request(entry.key, version);
                let decoded = decode_request(frame(entry.key, version, &body));
                assert!(decoded.is_ok(), "{:?} v{version}: {decoded:?}", entry.key);
            }
        }
    }

    /// Mutates valid frames at random (seeded, so failures replay) and
    /// decodes them: a panic or a runaway allocation fails the test.
    #[test]
    fn mutated_frames_never_panic_or_allocate_wildly() {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for entry in versions::SUPPORTED_APIS {
            for version in entry.min..=entry.max {
                let valid = frame(entry.key, version, &sample_request(entry.key, version)).to_vec();
                for _ in 0..2_000 {
                    let mut mutated = valid.clone();
                    for _ in 0..=(next() % 4) {
                        let position = (next() as usize) % mutated.len();
                        mutated[position] = next() as u8;
                    }
                    mutated.truncate((next() as usize) % (mutated.len() + 1).max(1) + 8);
                    let _ = decode_request(Bytes::from(mutated));
                }
            }
        }
    }

    #[test]
    fn metadata_declaring_billions_of_topics_is_refused_before_allocating() {
        let mut bytes = BytesMut::new();
        let header = RequestHeader::default()
            .with_request_api_key(ApiKey::Metadata as i16)
            .with_request_api_version(4)
            .with_correlation_id(1);
        header.encode(&mut bytes, 1).unwrap();
        bytes.put_i32(i32::MAX);
        let error = decode_request(bytes.freeze()).unwrap_err();
        assert!(error.to_string().contains("2147483647 elements"), "{error}");
    }

    #[test]
    fn future_api_versions_version_falls_back_instead_of_failing() {
        let mut bytes = BytesMut::new();
        bytes.put_i16(ApiKey::ApiVersions as i16);
        bytes.put_i16(99);
        bytes.put_i32(7);
        bytes.put_slice(b"whatever a future header holds");
        let decoded = decode_request(bytes.freeze()).unwrap();
        assert!(matches!(
            decoded,
            DecodedRequest::UnsupportedApiVersions { correlation_id: 7 }
        ));
    }

    #[test]
    fn unknown_key_unsupported_version_and_garbage_are_errors_not_panics() {
        let prefix = |key: i16, version: i16| {
            let mut bytes = BytesMut::new();
            bytes.put_i16(key);
            bytes.put_i16(version);
            bytes.put_i32(1);
            bytes
        };
        let unknown = decode_request(prefix(12_345, 0).freeze()).unwrap_err();
        assert!(matches!(
            unknown,
            RequestError::UnknownApiKey { api_key: 12_345 }
        ));
        let unsupported = decode_request(prefix(ApiKey::Metadata as i16, 99).freeze()).unwrap_err();
        assert!(matches!(
            unsupported,
            RequestError::UnsupportedVersion { version: 99, .. }
        ));
        let mut garbage = prefix(ApiKey::Metadata as i16, 9);
        garbage.put_slice(&[0xff; 3]);
        assert!(decode_request(garbage.freeze()).is_err());
        assert!(matches!(
            decode_request(Bytes::from_static(b"abc")),
            Err(RequestError::TooShort { length: 3 })
        ));
    }

    #[test]
    fn response_frame_carries_its_own_length() {
        let body = ResponseKind::ApiVersions(versions::api_versions_response(None));
        let mut encoded = encode_response(9, ApiKey::ApiVersions, 3, &body).unwrap();
        let length = encoded.get_i32();
        assert_eq!(length as usize, encoded.len());
        assert_eq!(
            encoded.get_i32(),
            9,
            "ApiVersions responses use header v0: correlation id only"
        );
    }
}
