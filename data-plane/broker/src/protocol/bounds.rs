//! Declared-length checks that run before a request body is decoded.
//!
//! The message codec pre-allocates every array from the element count the
//! peer declares (`Vec::with_capacity(count)`), before reading any element. A
//! frame of a few bytes can declare 2³¹ elements and make the process ask for
//! hundreds of gigabytes, which aborts it. So, before decoding, each served
//! API's body is walked here against a compact description of its request
//! schema: every array's elements must actually be present, so what the
//! codec later allocates is bounded by the bytes received.
//!
//! This check fails closed: an API without an entry here is refused, so a
//! newly served API cannot skip it. (Every entry in
//! [`super::versions::SUPPORTED_APIS`] is covered by a test.)

use kafka_protocol::messages::ApiKey;

use super::schema::{self, Field as F, V};

/// First flexible version of an API and its request fields.
fn schema_of(api_key: ApiKey) -> Option<(i16, &'static [V])> {
    Some(match api_key {
        ApiKey::ApiVersions => (3, API_VERSIONS),
        ApiKey::Metadata => (9, METADATA),
        ApiKey::Produce => (9, PRODUCE),
        ApiKey::Fetch => (12, FETCH),
        ApiKey::ListOffsets => (6, LIST_OFFSETS),
        ApiKey::CreateTopics => (5, CREATE_TOPICS),
        ApiKey::DeleteTopics => (4, DELETE_TOPICS),
        ApiKey::CreatePartitions => (2, CREATE_PARTITIONS),
        ApiKey::OffsetForLeaderEpoch => (4, OFFSET_FOR_LEADER_EPOCH),
        ApiKey::FindCoordinator => (3, FIND_COORDINATOR),
        ApiKey::JoinGroup => (6, JOIN_GROUP),
        ApiKey::SyncGroup => (4, SYNC_GROUP),
        ApiKey::Heartbeat => (4, HEARTBEAT),
        ApiKey::LeaveGroup => (4, LEAVE_GROUP),
        ApiKey::OffsetCommit => (8, OFFSET_COMMIT),
        ApiKey::OffsetFetch => (6, OFFSET_FETCH),
        ApiKey::DescribeGroups => (5, DESCRIBE_GROUPS),
        ApiKey::ListGroups => (3, LIST_GROUPS),
        ApiKey::DeleteGroups => (2, DELETE_GROUPS),
        ApiKey::InitProducerId => (2, INIT_PRODUCER_ID),
        ApiKey::DescribeConfigs => (4, DESCRIBE_CONFIGS),
        ApiKey::AlterConfigs => (2, ALTER_CONFIGS),
        ApiKey::IncrementalAlterConfigs => (1, INCREMENTAL_ALTER_CONFIGS),
        ApiKey::DescribeCluster => (0, DESCRIBE_CLUSTER),
        ApiKey::SaslHandshake => (ALL, SASL_HANDSHAKE),
        ApiKey::SaslAuthenticate => (2, SASL_AUTHENTICATE),
        ApiKey::DescribeUserScramCredentials => (0, DESCRIBE_USER_SCRAM_CREDENTIALS),
        ApiKey::AlterUserScramCredentials => (0, ALTER_USER_SCRAM_CREDENTIALS),
        ApiKey::DescribeAcls => (2, ACL_FILTER),
        ApiKey::CreateAcls => (2, CREATE_ACLS),
        ApiKey::DeleteAcls => (2, DELETE_ACLS),
        _ => return None,
    })
}

const DESCRIBE_CONFIGS: &[V] = &[
    v(
        0,
        ALL,
        F::Array(&[
            v(0, ALL, F::Fixed(1)),
            v(0, ALL, F::Str),
            v(0, ALL, F::StrArray),
        ]),
    ),
    v(1, ALL, F::Fixed(1)),
    v(3, ALL, F::Fixed(1)),
];

const ALTER_CONFIGS: &[V] = &[
    v(
        0,
        ALL,
        F::Array(&[
            v(0, ALL, F::Fixed(1)),
            v(0, ALL, F::Str),
            v(0, ALL, F::Array(&[v(0, ALL, F::Str), v(0, ALL, F::Str)])),
        ]),
    ),
    v(0, ALL, F::Fixed(1)),
];

const INCREMENTAL_ALTER_CONFIGS: &[V] = &[
    v(
        0,
        ALL,
        F::Array(&[
            v(0, ALL, F::Fixed(1)),
            v(0, ALL, F::Str),
            v(
                0,
                ALL,
                F::Array(&[v(0, ALL, F::Str), v(0, ALL, F::Fixed(1)), v(0, ALL, F::Str)]),
            ),
        ]),
    ),
    v(0, ALL, F::Fixed(1)),
];

/// DescribeAcls' body, and each DeleteAcls filter.
const ACL_FILTER: &[V] = &[
    v(0, ALL, F::Fixed(1)),
    v(0, ALL, F::Str),
    v(1, ALL, F::Fixed(1)),
    v(0, ALL, F::Str),
    v(0, ALL, F::Str),
    v(0, ALL, F::Fixed(1)),
    v(0, ALL, F::Fixed(1)),
];

const DELETE_ACLS: &[V] = &[v(0, ALL, F::Array(ACL_FILTER))];

const CREATE_ACLS: &[V] = &[v(
    0,
    ALL,
    F::Array(&[
        v(0, ALL, F::Fixed(1)),
        v(0, ALL, F::Str),
        v(1, ALL, F::Fixed(1)),
        v(0, ALL, F::Str),
        v(0, ALL, F::Str),
        v(0, ALL, F::Fixed(1)),
        v(0, ALL, F::Fixed(1)),
    ]),
)];

const SASL_HANDSHAKE: &[V] = &[v(0, ALL, F::Str)];

const SASL_AUTHENTICATE: &[V] = &[v(0, ALL, F::Bytes)];

const DESCRIBE_USER_SCRAM_CREDENTIALS: &[V] = &[v(0, ALL, F::Array(&[v(0, ALL, F::Str)]))];

const ALTER_USER_SCRAM_CREDENTIALS: &[V] = &[
    v(
        0,
        ALL,
        F::Array(&[v(0, ALL, F::Str), v(0, ALL, F::Fixed(1))]),
    ),
    v(
        0,
        ALL,
        F::Array(&[
            v(0, ALL, F::Str),
            v(0, ALL, F::Fixed(1)),
            v(0, ALL, F::Fixed(4)),
            v(0, ALL, F::Bytes),
            v(0, ALL, F::Bytes),
        ]),
    ),
];

const DESCRIBE_CLUSTER: &[V] = &[
    v(0, ALL, F::Fixed(1)),
    v(1, ALL, F::Fixed(1)),
    v(2, ALL, F::Fixed(1)),
];

const DESCRIBE_GROUPS: &[V] = &[v(0, ALL, F::StrArray), v(3, ALL, F::Fixed(1))];

const LIST_GROUPS: &[V] = &[v(4, ALL, F::StrArray), v(5, ALL, F::StrArray)];

const DELETE_GROUPS: &[V] = &[v(0, ALL, F::StrArray)];

const INIT_PRODUCER_ID: &[V] = &[
    v(0, ALL, F::Str),
    v(0, ALL, F::Fixed(4)),
    v(3, ALL, F::Fixed(8)),
    v(3, ALL, F::Fixed(2)),
];

const FIND_COORDINATOR: &[V] = &[
    v(0, 3, F::Str),
    v(1, ALL, F::Fixed(1)),
    v(4, ALL, F::StrArray),
];

const JOIN_GROUP: &[V] = &[
    v(0, ALL, F::Str),
    v(0, ALL, F::Fixed(4)),
    v(1, ALL, F::Fixed(4)),
    v(0, ALL, F::Str),
    v(5, ALL, F::Str),
    v(0, ALL, F::Str),
    v(0, ALL, F::Array(&[v(0, ALL, F::Str), v(0, ALL, F::Bytes)])),
    v(8, ALL, F::Str),
];

const SYNC_GROUP: &[V] = &[
    v(0, ALL, F::Str),
    v(0, ALL, F::Fixed(4)),
    v(0, ALL, F::Str),
    v(3, ALL, F::Str),
    v(5, ALL, F::Str),
    v(5, ALL, F::Str),
    v(0, ALL, F::Array(&[v(0, ALL, F::Str), v(0, ALL, F::Bytes)])),
];

const HEARTBEAT: &[V] = &[
    v(0, ALL, F::Str),
    v(0, ALL, F::Fixed(4)),
    v(0, ALL, F::Str),
    v(3, ALL, F::Str),
];

const LEAVE_GROUP: &[V] = &[
    v(0, ALL, F::Str),
    v(0, 2, F::Str),
    v(
        3,
        ALL,
        F::Array(&[v(3, ALL, F::Str), v(3, ALL, F::Str), v(5, ALL, F::Str)]),
    ),
];

const OFFSET_COMMIT: &[V] = &[
    v(0, ALL, F::Str),
    v(1, ALL, F::Fixed(4)),
    v(1, ALL, F::Str),
    v(7, ALL, F::Str),
    v(2, 4, F::Fixed(8)),
    v(
        0,
        ALL,
        F::Array(&[
            v(0, 9, F::Str),
            v(10, ALL, F::Fixed(16)),
            v(
                0,
                ALL,
                F::Array(&[
                    v(0, ALL, F::Fixed(4)),
                    v(0, ALL, F::Fixed(8)),
                    v(6, ALL, F::Fixed(4)),
                    v(1, 1, F::Fixed(8)),
                    v(0, ALL, F::Str),
                ]),
            ),
        ]),
    ),
];

const OFFSET_FETCH: &[V] = &[
    v(0, 7, F::Str),
    v(
        0,
        7,
        F::Array(&[v(0, 7, F::Str), v(0, 7, F::FixedArray(4))]),
    ),
    v(7, ALL, F::Fixed(1)),
];

const ALL: i16 = i16::MAX;

const fn v(min: i16, max: i16, field: F) -> V {
    V { min, max, field }
}

const API_VERSIONS: &[V] = &[v(3, ALL, F::Str), v(3, ALL, F::Str)];

const METADATA: &[V] = &[
    v(
        0,
        ALL,
        F::Array(&[v(10, ALL, F::Fixed(16)), v(0, ALL, F::Str)]),
    ),
    v(4, ALL, F::Fixed(1)),
    v(8, 10, F::Fixed(1)),
    v(8, ALL, F::Fixed(1)),
];

const PRODUCE: &[V] = &[
    v(3, ALL, F::Str),
    v(0, ALL, F::Fixed(2)),
    v(0, ALL, F::Fixed(4)),
    v(
        0,
        ALL,
        F::Array(&[
            v(0, 12, F::Str),
            v(13, ALL, F::Fixed(16)),
            v(
                0,
                ALL,
                F::Array(&[v(0, ALL, F::Fixed(4)), v(0, ALL, F::Bytes)]),
            ),
        ]),
    ),
];

const FETCH: &[V] = &[
    v(0, 14, F::Fixed(4)),
    v(0, ALL, F::Fixed(4)),
    v(0, ALL, F::Fixed(4)),
    v(3, ALL, F::Fixed(4)),
    v(4, ALL, F::Fixed(1)),
    v(7, ALL, F::Fixed(4)),
    v(7, ALL, F::Fixed(4)),
    v(
        0,
        ALL,
        F::Array(&[
            v(0, 12, F::Str),
            v(13, ALL, F::Fixed(16)),
            v(
                0,
                ALL,
                F::Array(&[
                    v(0, ALL, F::Fixed(4)),
                    v(9, ALL, F::Fixed(4)),
                    v(0, ALL, F::Fixed(8)),
                    v(12, ALL, F::Fixed(4)),
                    v(5, ALL, F::Fixed(8)),
                    v(0, ALL, F::Fixed(4)),
                ]),
            ),
        ]),
    ),
    v(
        7,
        ALL,
        F::Array(&[
            v(7, 12, F::Str),
            v(13, ALL, F::Fixed(16)),
            v(7, ALL, F::FixedArray(4)),
        ]),
    ),
    v(11, ALL, F::Str),
];

const LIST_OFFSETS: &[V] = &[
    v(0, ALL, F::Fixed(4)),
    v(2, ALL, F::Fixed(1)),
    v(
        0,
        ALL,
        F::Array(&[
            v(0, ALL, F::Str),
            v(
                0,
                ALL,
                F::Array(&[
                    v(0, ALL, F::Fixed(4)),
                    v(4, ALL, F::Fixed(4)),
                    v(0, ALL, F::Fixed(8)),
                    v(0, 0, F::Fixed(4)),
                ]),
            ),
        ]),
    ),
    v(10, ALL, F::Fixed(4)),
];

const CREATE_TOPICS: &[V] = &[
    v(
        0,
        ALL,
        F::Array(&[
            v(0, ALL, F::Str),
            v(0, ALL, F::Fixed(4)),
            v(0, ALL, F::Fixed(2)),
            v(
                0,
                ALL,
                F::Array(&[v(0, ALL, F::Fixed(4)), v(0, ALL, F::FixedArray(4))]),
            ),
            v(0, ALL, F::Array(&[v(0, ALL, F::Str), v(0, ALL, F::Str)])),
        ]),
    ),
    v(0, ALL, F::Fixed(4)),
    v(1, ALL, F::Fixed(1)),
];

const DELETE_TOPICS: &[V] = &[
    v(
        6,
        ALL,
        F::Array(&[v(6, ALL, F::Str), v(6, ALL, F::Fixed(16))]),
    ),
    v(0, 5, F::StrArray),
    v(0, ALL, F::Fixed(4)),
];

const CREATE_PARTITIONS: &[V] = &[
    v(
        0,
        ALL,
        F::Array(&[
            v(0, ALL, F::Str),
            v(0, ALL, F::Fixed(4)),
            v(0, ALL, F::Array(&[v(0, ALL, F::FixedArray(4))])),
        ]),
    ),
    v(0, ALL, F::Fixed(4)),
    v(0, ALL, F::Fixed(1)),
];

const OFFSET_FOR_LEADER_EPOCH: &[V] = &[
    v(3, ALL, F::Fixed(4)),
    v(
        0,
        ALL,
        F::Array(&[
            v(0, ALL, F::Str),
            v(
                0,
                ALL,
                F::Array(&[
                    v(0, ALL, F::Fixed(4)),
                    v(2, ALL, F::Fixed(4)),
                    v(0, ALL, F::Fixed(4)),
                ]),
            ),
        ]),
    ),
];

/// Checks that every array the body declares is actually present.
pub(crate) fn check_declared_lengths(
    api_key: ApiKey,
    version: i16,
    body: &[u8],
) -> Result<(), String> {
    let (first_flexible, fields) =
        schema_of(api_key).ok_or_else(|| format!("{api_key:?} has no declared-length check"))?;
    schema::walk_body(fields, version, version >= first_flexible, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_declared_counts_are_refused_in_both_encodings() {
        let classic = [0x7f, 0xff, 0xff, 0xff, 0, 1];
        assert!(check_declared_lengths(ApiKey::Metadata, 4, &classic).is_err());
        let compact = [0xff, 0xff, 0xff, 0xff, 0x0f, 0];
        assert!(check_declared_lengths(ApiKey::Metadata, 12, &compact).is_err());
        // A Produce v3 request declaring 2^31-1 topics after its header fields.
        let produce = [0xff, 0xff, 0, 1, 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff, 0];
        assert!(check_declared_lengths(ApiKey::Produce, 3, &produce).is_err());
    }

    #[test]
    fn null_empty_and_fitting_arrays_pass() {
        assert!(check_declared_lengths(ApiKey::Metadata, 0, &[0xff, 0xff, 0xff, 0xff]).is_ok());
        assert!(check_declared_lengths(ApiKey::Metadata, 0, &[0, 0, 0, 1, 0, 1, b'a']).is_ok());
        assert!(check_declared_lengths(ApiKey::Metadata, 12, &[0, 0, 0, 0]).is_ok());
        assert!(check_declared_lengths(ApiKey::Metadata, 9, &[2, 2, b'a', 0, 0, 0, 0, 0]).is_ok());
    }

    #[test]
    fn apis_without_a_check_are_refused() {
        assert!(check_declared_lengths(ApiKey::JoinGroup, 9, &[]).is_err());
    }
}
