//! What brokers ask of the controller, and how its leader answers: each
//! request becomes zero or more metadata records, planned against the
//! leader's image (placement for new partitions) and proposed in order.
//! Carried as JSON on `POST /v1/internal/controller` between brokers.

use std::collections::BTreeMap;

use fjord_metadata::users::ScramCredentialRecord;
use fjord_metadata::{BrokerId, Incarnation, Listener, MetadataRecord, TopicId, TopicName};
use serde::{Deserialize, Serialize};

use super::controller::{Controller, ProposeError, now};

/// One user's credential for one mechanism: set, or deleted when `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScramChange {
    pub user: String,
    pub mechanism: String,
    pub credential: Option<ScramCredentialRecord>,
}

/// A request to the controller leader.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum ControllerRequest {
    Register {
        broker: BrokerId,
        incarnation: Incarnation,
        rack: Option<String>,
        listeners: Vec<Listener>,
    },
    Heartbeat {
        broker: BrokerId,
        incarnation: Incarnation,
    },
    CreateTopic {
        name: String,
        partitions: u32,
        replication_factor: u32,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    },
    DeleteTopic {
        name: String,
    },
    CreatePartitions {
        name: String,
        total: u32,
        validate_only: bool,
    },
    /// Sets or deletes SCRAM credentials, in order (docs/security.md).
    SetScramCredentials {
        changes: Vec<ScramChange>,
    },
    /// Adds and removes ACL bindings, one record each (docs/security.md).
    SetAcls {
        create: Vec<fjord_metadata::acl::AclBinding>,
        delete: Vec<fjord_metadata::acl::AclBinding>,
    },
    /// The topic's whole new set of config overrides.
    SetTopicConfigs {
        name: String,
        configs: BTreeMap<String, String>,
    },
    /// Partitions whose Raft leader is the reporting broker.
    ReportPartitions {
        states: Vec<ReportedPartition>,
    },
    SetMaintenance {
        broker: BrokerId,
        on: bool,
    },
    /// Moves every replica off the broker (it takes no new ones).
    Decommission {
        broker: BrokerId,
    },
    /// Forgets a decommissioned broker that hosts nothing.
    RemoveBroker {
        broker: BrokerId,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportedPartition {
    pub name: TopicName,
    pub partition: u32,
    pub term: i32,
    pub leader: BrokerId,
    pub isr: Vec<BrokerId>,
}

/// The leader's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum ControllerReply {
    Done { topic_id: Option<uuid::Uuid> },
    NotLeader { leader: Option<u32> },
    Refused { kind: RefusalKind, message: String },
    Failed { message: String },
}

/// Why a request was refused, as the Kafka error a client should see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalKind {
    TopicExists,
    UnknownTopic,
    InvalidName,
    InvalidPartitions,
    InvalidReplicationFactor,
    InvalidConfig,
    StaleBroker,
    Invalid,
}

impl From<ProposeError> for ControllerReply {
    fn from(error: ProposeError) -> Self {
        match error {
            ProposeError::NotLeader { leader } => ControllerReply::NotLeader { leader },
            ProposeError::Refused(error) => refused(&error),
            ProposeError::Failed(message) => ControllerReply::Failed { message },
        }
    }
}

fn refused(error: &fjord_metadata::Error) -> ControllerReply {
    use fjord_metadata::Error as E;
    let kind = match error {
        E::TopicExists(_) => RefusalKind::TopicExists,
        E::UnknownTopic(_) | E::UnknownPartition { .. } => RefusalKind::UnknownTopic,
        E::InvalidTopicName { .. } => RefusalKind::InvalidName,
        E::InvalidAssignment(_) => RefusalKind::InvalidPartitions,
        E::ReplicationAboveBrokers { .. } | E::Unplaceable(_) => {
            RefusalKind::InvalidReplicationFactor
        }
        E::InvalidConfig(_) => RefusalKind::InvalidConfig,
        E::UnknownBroker(_) | E::StaleIncarnation { .. } => RefusalKind::StaleBroker,
        _ => RefusalKind::Invalid,
    };
    ControllerReply::Refused {
        kind,
        message: error.to_string(),
    }
}

fn done() -> ControllerReply {
    ControllerReply::Done { topic_id: None }
}

fn topic_name(name: &str) -> Result<TopicName, ControllerReply> {
    TopicName::new(name).map_err(|error| refused(&error))
}

/// Answers `request` on the controller leader.
pub async fn handle(controller: &Controller, request: ControllerRequest) -> ControllerReply {
    if !controller.is_leader() {
        return ControllerReply::NotLeader {
            leader: controller.leader(),
        };
    }
    match answer(controller, request).await {
        Ok(reply) | Err(reply) => reply,
    }
}

async fn answer(
    controller: &Controller,
    request: ControllerRequest,
) -> Result<ControllerReply, ControllerReply> {
    let record = match request {
        ControllerRequest::Register {
            broker,
            incarnation,
            rack,
            listeners,
        } => MetadataRecord::RegisterBroker {
            broker,
            incarnation,
            rack,
            listeners,
            at: now(),
        },
        ControllerRequest::Heartbeat {
            broker,
            incarnation,
        } => MetadataRecord::BrokerHeartbeat {
            broker,
            incarnation,
            at: now(),
        },
        ControllerRequest::CreateTopic {
            name,
            partitions,
            replication_factor,
            configs,
            validate_only,
        } => {
            let name = topic_name(&name)?;
            let image = controller.image();
            let seed = rand_seed();
            let plan = fjord_metadata::placement::place(
                &image,
                partitions as usize,
                replication_factor as usize,
                seed,
            )
            .map_err(|error| refused(&error))?;
            let topic_id = TopicId(uuid::Uuid::new_v4());
            let record = MetadataRecord::CreateTopic {
                topic_id,
                name,
                partitions: plan,
                configs,
                allow_replication_above_brokers: false,
            };
            if validate_only {
                image.validate(&record).map_err(|error| refused(&error))?;
                return Ok(done());
            }
            controller.propose(record).await?;
            return Ok(ControllerReply::Done {
                topic_id: Some(topic_id.0),
            });
        }
        ControllerRequest::DeleteTopic { name } => MetadataRecord::DeleteTopic {
            name: topic_name(&name)?,
        },
        ControllerRequest::CreatePartitions {
            name,
            total,
            validate_only,
        } => {
            let name = topic_name(&name)?;
            let image = controller.image();
            let topic = image
                .topic(&name)
                .ok_or_else(|| refused(&fjord_metadata::Error::UnknownTopic(name.clone())))?;
            let current = topic.partitions.len();
            let total = total as usize;
            if total <= current {
                return Err(ControllerReply::Refused {
                    kind: RefusalKind::InvalidPartitions,
                    message: format!(
                        "topic {name} has {current} partitions; the new count must be above that, got {total}"
                    ),
                });
            }
            let replication_factor = topic.partitions[0].target().count();
            let plan = fjord_metadata::placement::place(
                &image,
                total - current,
                replication_factor,
                rand_seed(),
            )
            .map_err(|error| refused(&error))?;
            let record = MetadataRecord::CreatePartitions {
                name,
                partitions: plan,
            };
            if validate_only {
                image.validate(&record).map_err(|error| refused(&error))?;
                return Ok(done());
            }
            record
        }
        ControllerRequest::SetScramCredentials { changes } => {
            for change in changes {
                let record = MetadataRecord::SetScramCredential {
                    user: change.user,
                    mechanism: change.mechanism,
                    credential: change.credential,
                };
                controller
                    .image()
                    .validate(&record)
                    .map_err(|error| refused(&error))?;
                controller.propose(record).await?;
            }
            return Ok(done());
        }
        ControllerRequest::SetAcls { create, delete } => {
            let records = delete
                .into_iter()
                .map(|binding| MetadataRecord::DeleteAcl { binding })
                .chain(
                    create
                        .into_iter()
                        .map(|binding| MetadataRecord::CreateAcl { binding }),
                );
            for record in records {
                controller
                    .image()
                    .validate(&record)
                    .map_err(|error| refused(&error))?;
                controller.propose(record).await?;
            }
            return Ok(done());
        }
        ControllerRequest::SetTopicConfigs { name, configs } => {
            let name = topic_name(&name)?;
            let image = controller.image();
            let topic = image
                .topic(&name)
                .ok_or_else(|| refused(&fjord_metadata::Error::UnknownTopic(name.clone())))?;
            let changes: Vec<_> = topic
                .configs
                .keys()
                .filter(|key| !configs.contains_key(*key))
                .map(|key| (key.clone(), None))
                .chain(
                    configs
                        .iter()
                        .filter(|(key, value)| topic.configs.get(*key) != Some(*value))
                        .map(|(key, value)| (key.clone(), Some(value.clone()))),
                )
                .collect();
            for (key, value) in changes {
                let record = MetadataRecord::SetTopicConfig {
                    name: name.clone(),
                    key,
                    value,
                };
                controller.propose(record).await?;
            }
            return Ok(done());
        }
        ControllerRequest::ReportPartitions { states } => {
            for state in states {
                let record = MetadataRecord::PartitionState {
                    name: state.name,
                    partition: state.partition,
                    term: state.term,
                    leader: state.leader,
                    isr: state.isr,
                };
                // A stale report is refused and the next one corrects it.
                if let Err(error) = controller.propose(record).await {
                    tracing::debug!(%error, "partition report not recorded");
                    if let ProposeError::NotLeader { .. } = error {
                        return Err(error.into());
                    }
                }
            }
            return Ok(done());
        }
        ControllerRequest::SetMaintenance { broker, on } => {
            MetadataRecord::SetMaintenance { broker, on }
        }
        ControllerRequest::Decommission { broker } => {
            let draining = controller
                .image()
                .broker(broker)
                .is_some_and(|b| b.decommissioning);
            if !draining {
                controller
                    .propose(MetadataRecord::BeginDecommission { broker })
                    .await?;
            }
            // Partitions already being moved keep their plan; the rest move.
            let plan = fjord_metadata::decommission::plan_decommission(&controller.image(), broker)
                .map_err(|error| refused(&error))?;
            for reassignment in plan {
                controller.propose(reassignment.record()).await?;
            }
            return Ok(done());
        }
        ControllerRequest::RemoveBroker { broker } => MetadataRecord::EndDecommission { broker },
    };
    controller.propose(record).await?;
    Ok(done())
}

fn rand_seed() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0
}
