//! Which APIs and versions the broker accepts, and what it advertises.
//!
//! `advertised_min` may be lower than `min`: Produce will be advertised from
//! v0 because librdkafka before 2.11.1 (Debian's kcat links 2.0.2) only
//! enables compression when Produce v0 is advertised; such requests are still
//! refused below `min`.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::api_versions_response::{ApiVersion, ApiVersionsResponse};

/// One supported API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiSupport {
    pub key: ApiKey,
    /// Lowest version accepted.
    pub min: i16,
    /// Highest version accepted and advertised.
    pub max: i16,
    /// Lowest version advertised in ApiVersions.
    pub advertised_min: i16,
}

const fn api(key: ApiKey, min: i16, max: i16) -> ApiSupport {
    ApiSupport {
        key,
        min,
        max,
        advertised_min: min,
    }
}

/// Every API the broker serves.
pub const SUPPORTED_APIS: &[ApiSupport] = &[
    ApiSupport {
        advertised_min: 0,
        ..api(ApiKey::Produce, 3, 12)
    },
    // Fetch v13+ names topics by id; not served yet.
    api(ApiKey::Fetch, 4, 12),
    // v7+ adds the max-timestamp query, not served yet.
    api(ApiKey::ListOffsets, 1, 6),
    api(ApiKey::Metadata, 0, 12),
    api(ApiKey::OffsetForLeaderEpoch, 2, 4),
    api(ApiKey::ApiVersions, 0, 4),
    api(ApiKey::CreateTopics, 2, 7),
    api(ApiKey::DeleteTopics, 1, 6),
    api(ApiKey::CreatePartitions, 0, 3),
    api(ApiKey::FindCoordinator, 0, 4),
    api(ApiKey::JoinGroup, 0, 9),
    api(ApiKey::SyncGroup, 0, 5),
    api(ApiKey::Heartbeat, 0, 4),
    api(ApiKey::LeaveGroup, 0, 5),
    // v9+ carry KIP-848 member epochs, v10 topic ids.
    api(ApiKey::OffsetCommit, 2, 8),
    // v8+ batch groups.
    api(ApiKey::OffsetFetch, 1, 7),
    // v6 adds error messages for unknown groups (KIP-1043 era), not served.
    api(ApiKey::DescribeGroups, 0, 5),
    // v5 adds a group-type filter (KIP-848), not served.
    api(ApiKey::ListGroups, 0, 4),
    api(ApiKey::DeleteGroups, 0, 2),
    // v5 belongs to transactions v2 (KIP-890); no transactions are served.
    api(ApiKey::InitProducerId, 0, 4),
    // v0 is not in the codec (and no current client sends it).
    api(ApiKey::DescribeConfigs, 1, 4),
    api(ApiKey::AlterConfigs, 0, 2),
    api(ApiKey::IncrementalAlterConfigs, 0, 1),
    // v2 adds fenced brokers (KRaft controller registrations).
    api(ApiKey::DescribeCluster, 0, 1),
    // v0 sends SASL tokens unframed after it; only KIP-152 framing (v1) is
    // served. v0 is advertised because librdkafka before 2.x recognises SASL
    // support only from a range that starts at 0 (Debian's kcat). Answered by
    // the connection's security gate, not the handler.
    ApiSupport {
        advertised_min: 0,
        ..api(ApiKey::SaslHandshake, 1, 1)
    },
    api(ApiKey::SaslAuthenticate, 0, 2),
    api(ApiKey::DescribeUserScramCredentials, 0, 0),
    api(ApiKey::AlterUserScramCredentials, 0, 0),
    // v0 predates pattern types (KIP-290); the codec starts at v1, as
    // Kafka 4 does. Answered by the connection's gate.
    api(ApiKey::DescribeAcls, 1, 3),
    api(ApiKey::CreateAcls, 1, 3),
    api(ApiKey::DeleteAcls, 1, 3),
];

/// The support entry for `key`, if the broker serves it.
pub fn support(key: ApiKey) -> Option<&'static ApiSupport> {
    SUPPORTED_APIS.iter().find(|entry| entry.key == key)
}

/// True when the broker accepts `version` of `key`.
pub fn accepts(key: ApiKey, version: i16) -> bool {
    support(key).is_some_and(|entry| (entry.min..=entry.max).contains(&version))
}

/// The ApiVersions response body listing every supported API.
pub fn api_versions_response(error: Option<ResponseError>) -> ApiVersionsResponse {
    let api_keys = SUPPORTED_APIS
        .iter()
        .map(|entry| {
            ApiVersion::default()
                .with_api_key(entry.key as i16)
                .with_min_version(entry.advertised_min)
                .with_max_version(entry.max)
        })
        .collect();
    ApiVersionsResponse::default()
        .with_error_code(error.map_or(0, |error| error.code()))
        .with_api_keys(api_keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_version_is_within_what_the_codec_implements() {
        for entry in SUPPORTED_APIS {
            let codec = entry.key.valid_versions();
            assert!(
                entry.advertised_min <= entry.min && entry.min <= entry.max,
                "{entry:?}"
            );
            assert!(
                codec.min <= entry.min && entry.max <= codec.max,
                "{entry:?} vs {codec:?}"
            );
        }
    }

    #[test]
    fn api_versions_lists_each_api_once() {
        let response = api_versions_response(None);
        let mut keys: Vec<i16> = response.api_keys.iter().map(|api| api.api_key).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), SUPPORTED_APIS.len());
        assert!(accepts(ApiKey::ApiVersions, 3));
        assert!(!accepts(ApiKey::ApiVersions, 5));
        assert!(accepts(ApiKey::Produce, 9));
        assert!(!accepts(ApiKey::Produce, 2));
        assert!(!accepts(ApiKey::DescribeConfigs, 0));
        assert!(accepts(ApiKey::DescribeConfigs, 4));
    }

    #[test]
    fn the_acl_apis_are_advertised_from_v1_to_v3() {
        let response = api_versions_response(None);
        for key in [ApiKey::DescribeAcls, ApiKey::CreateAcls, ApiKey::DeleteAcls] {
            let advertised = response
                .api_keys
                .iter()
                .find(|api| api.api_key == key as i16)
                .unwrap_or_else(|| panic!("{key:?} is advertised"));
            assert_eq!((advertised.min_version, advertised.max_version), (1, 3));
            assert!(!accepts(key, 0), "{key:?} v0 has no pattern types");
        }
    }
}
