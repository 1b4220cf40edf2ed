//! Metadata records: the entries of the controller log, and their bounded
//! codec. A record is a versioned JSON envelope; the decoder refuses
//! oversized input before parsing and checks every collection against a
//! limit afterwards, so garbage is an `Error`, never a panic or an unbounded
//! allocation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::acl::AclBinding;
use crate::error::{Error, Result};
use crate::types::{BrokerId, Incarnation, Millis, TopicId, TopicName};
use crate::users::ScramCredentialRecord;

/// The record format this build writes and reads.
pub const RECORD_VERSION: u32 = 1;
/// Largest encoded record accepted.
pub const RECORD_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Most partitions one record may create.
pub const PARTITIONS_PER_RECORD_MAX: usize = 10_000;
/// Most replicas of one partition.
pub const REPLICAS_MAX: usize = 16;
/// Most listeners one broker may advertise.
pub const LISTENERS_MAX: usize = 16;
/// Most config entries one topic may carry.
pub const CONFIGS_MAX: usize = 256;
/// Longest config key, config value, rack, listener name or host.
pub const TEXT_BYTES_MAX: usize = 4096;

/// An address a broker accepts connections on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listener {
    pub name: String,
    pub host: String,
    pub port: u16,
}

/// One entry of the controller log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum MetadataRecord {
    RegisterBroker {
        broker: BrokerId,
        incarnation: Incarnation,
        rack: Option<String>,
        listeners: Vec<Listener>,
        at: Millis,
    },
    BrokerHeartbeat {
        broker: BrokerId,
        incarnation: Incarnation,
        at: Millis,
    },
    FenceBroker {
        broker: BrokerId,
        incarnation: Incarnation,
    },
    UnfenceBroker {
        broker: BrokerId,
        incarnation: Incarnation,
    },
    CreateTopic {
        topic_id: TopicId,
        name: TopicName,
        /// Replica lists, preferred leader first.
        partitions: Vec<Vec<BrokerId>>,
        configs: BTreeMap<String, String>,
        allow_replication_above_brokers: bool,
    },
    DeleteTopic {
        name: TopicName,
    },
    CreatePartitions {
        name: TopicName,
        partitions: Vec<Vec<BrokerId>>,
    },
    SetTopicConfig {
        name: TopicName,
        key: String,
        value: Option<String>,
    },
    PartitionLeaderChange {
        name: TopicName,
        partition: u32,
        leader: Option<BrokerId>,
    },
    IsrChange {
        name: TopicName,
        partition: u32,
        isr: Vec<BrokerId>,
    },
    ReassignReplicas {
        name: TopicName,
        partition: u32,
        target: Vec<BrokerId>,
    },
    /// What a partition's Raft group reports about itself: its leader of
    /// `term` and the replicas in sync with it. Newer terms win; the
    /// controller records it, it does not decide it.
    PartitionState {
        name: TopicName,
        partition: u32,
        term: i32,
        leader: BrokerId,
        isr: Vec<BrokerId>,
    },
    BeginDecommission {
        broker: BrokerId,
    },
    EndDecommission {
        broker: BrokerId,
    },
    SetMaintenance {
        broker: BrokerId,
        on: bool,
    },
    /// Sets (or, with no credential, deletes) one user's SCRAM credential
    /// for one mechanism.
    SetScramCredential {
        user: String,
        mechanism: String,
        credential: Option<ScramCredentialRecord>,
    },
    /// Adds one ACL binding (docs/security.md, "Authorization").
    CreateAcl {
        binding: AclBinding,
    },
    /// Removes one ACL binding.
    DeleteAcl {
        binding: AclBinding,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<R> {
    version: u32,
    record: R,
}

#[derive(Deserialize)]
struct VersionOnly {
    version: u32,
}

impl MetadataRecord {
    /// Encodes the record in the current format; refuses a record the
    /// decoder would refuse.
    pub fn encode(&self) -> Result<Vec<u8>> {
        self.check_limits()?;
        let bytes = serde_json::to_vec(&Envelope {
            version: RECORD_VERSION,
            record: self,
        })
        .map_err(|error| Error::Decode(error.to_string()))?;
        if bytes.len() > RECORD_BYTES_MAX {
            return Err(Error::Decode(format!(
                "{} bytes is above the {RECORD_BYTES_MAX} byte limit",
                bytes.len()
            )));
        }
        Ok(bytes)
    }

    /// Decodes a record, refusing oversized, malformed, unknown-version and
    /// out-of-limit input.
    pub fn decode(bytes: &[u8]) -> Result<MetadataRecord> {
        if bytes.len() > RECORD_BYTES_MAX {
            return Err(Error::Decode(format!(
                "{} bytes is above the {RECORD_BYTES_MAX} byte limit",
                bytes.len()
            )));
        }
        let version: VersionOnly =
            serde_json::from_slice(bytes).map_err(|error| Error::Decode(error.to_string()))?;
        if version.version != RECORD_VERSION {
            return Err(Error::UnsupportedVersion(version.version));
        }
        let envelope: Envelope<MetadataRecord> =
            serde_json::from_slice(bytes).map_err(|error| Error::Decode(error.to_string()))?;
        envelope.record.check_limits()?;
        Ok(envelope.record)
    }

    /// Checks every collection and string against its limit.
    pub fn check_limits(&self) -> Result<()> {
        let too_long = |what: &str, text: &str| {
            if text.len() > TEXT_BYTES_MAX {
                Err(Error::Decode(format!(
                    "{what} is longer than {TEXT_BYTES_MAX} bytes"
                )))
            } else {
                Ok(())
            }
        };
        match self {
            Self::RegisterBroker {
                rack, listeners, ..
            } => {
                if listeners.len() > LISTENERS_MAX {
                    return Err(Error::Decode(format!(
                        "more than {LISTENERS_MAX} listeners"
                    )));
                }
                if let Some(rack) = rack {
                    too_long("rack", rack)?;
                }
                for listener in listeners {
                    too_long("listener name", &listener.name)?;
                    too_long("listener host", &listener.host)?;
                }
                Ok(())
            }
            Self::CreateTopic {
                partitions,
                configs,
                ..
            } => {
                check_partitions(partitions)?;
                if configs.len() > CONFIGS_MAX {
                    return Err(Error::Decode(format!("more than {CONFIGS_MAX} configs")));
                }
                for (key, value) in configs {
                    too_long("config key", key)?;
                    too_long("config value", value)?;
                }
                Ok(())
            }
            Self::CreatePartitions { partitions, .. } => check_partitions(partitions),
            Self::SetTopicConfig { key, value, .. } => {
                too_long("config key", key)?;
                value
                    .as_deref()
                    .map_or(Ok(()), |value| too_long("config value", value))
            }
            Self::IsrChange { isr: brokers, .. }
            | Self::PartitionState { isr: brokers, .. }
            | Self::ReassignReplicas {
                target: brokers, ..
            } => check_replicas(brokers),
            Self::SetScramCredential {
                user,
                mechanism,
                credential,
            } => crate::users::check_limits(user, mechanism, credential.as_ref()),
            Self::CreateAcl { binding } | Self::DeleteAcl { binding } => {
                crate::acl::record::check_limits(binding)
            }
            _ => Ok(()),
        }
    }
}

fn check_partitions(partitions: &[Vec<BrokerId>]) -> Result<()> {
    if partitions.len() > PARTITIONS_PER_RECORD_MAX {
        return Err(Error::Decode(format!(
            "more than {PARTITIONS_PER_RECORD_MAX} partitions in one record"
        )));
    }
    partitions
        .iter()
        .try_for_each(|replicas| check_replicas(replicas))
}

fn check_replicas(replicas: &[BrokerId]) -> Result<()> {
    if replicas.len() > REPLICAS_MAX {
        return Err(Error::Decode(format!("more than {REPLICAS_MAX} replicas")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heartbeat() -> MetadataRecord {
        MetadataRecord::BrokerHeartbeat {
            broker: BrokerId(7),
            incarnation: Incarnation(uuid::Uuid::from_u128(42)),
            at: Millis(1_000),
        }
    }

    #[test]
    fn record_round_trips_through_its_encoding() {
        let record = heartbeat();
        assert_eq!(
            MetadataRecord::decode(&record.encode().expect("encodes")),
            Ok(record)
        );
    }

    #[test]
    fn unknown_version_unknown_field_and_garbage_are_refused() {
        let encoded =
            String::from_utf8(heartbeat().encode().expect("encodes")).expect("json is utf-8");
        let future = encoded.replace("\"version\":1", "\"version\":2");
        assert_eq!(
            MetadataRecord::decode(future.as_bytes()),
            Err(Error::UnsupportedVersion(2))
        );
        let extra = encoded.replace("\"at\":1000", "\"at\":1000,\"surprise\":1");
        assert!(matches!(
            MetadataRecord::decode(extra.as_bytes()),
            Err(Error::Decode(_))
        ));
        for garbage in [
            &b""[..],
            b"{",
            b"\xff\xfe",
            b"[[[[[[[[[[",
            b"{\"version\":1}",
            b"null",
        ] {
            assert!(MetadataRecord::decode(garbage).is_err());
        }
    }

    #[test]
    fn oversized_input_and_collections_are_refused_before_use() {
        let huge = vec![b' '; RECORD_BYTES_MAX + 1];
        assert!(
            MetadataRecord::decode(&huge)
                .unwrap_err()
                .to_string()
                .contains("byte limit")
        );
        let nested = "[".repeat(100_000);
        assert!(
            MetadataRecord::decode(nested.as_bytes()).is_err(),
            "deep nesting is refused, not a stack overflow"
        );
        let too_many = MetadataRecord::CreatePartitions {
            name: TopicName::new("t").expect("valid"),
            partitions: vec![vec![BrokerId(1)]; PARTITIONS_PER_RECORD_MAX + 1],
        };
        assert!(too_many.encode().is_err());
        let json = serde_json::to_vec(&Envelope {
            version: RECORD_VERSION,
            record: &too_many,
        })
        .expect("encodes");
        assert!(
            MetadataRecord::decode(&json)
                .unwrap_err()
                .to_string()
                .contains("partitions in one record")
        );
    }
}
