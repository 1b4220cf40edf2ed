//! The state machine: `validate` decides whether a record may be appended to
//! the controller log, `apply` applies a committed record. Both are functions
//! of `(image, record)` only, so every voter reaches the same image.

use std::collections::BTreeSet;

use crate::error::{Error, Result};
use crate::image::{Broker, MetadataImage, Partition, Topic};
use crate::record::{MetadataRecord, REPLICAS_MAX};
use crate::types::{BrokerId, Incarnation, LeaderEpoch, TopicName};

/// Most partitions one topic may have.
pub const PARTITIONS_PER_TOPIC_MAX: usize = 10_000;

impl MetadataImage {
    /// Whether `record` may be appended now; the error says why not.
    pub fn validate(&self, record: &MetadataRecord) -> Result<()> {
        record.check_limits()?;
        match record {
            MetadataRecord::RegisterBroker { .. } => Ok(()),
            MetadataRecord::BrokerHeartbeat {
                broker,
                incarnation,
                ..
            }
            | MetadataRecord::FenceBroker {
                broker,
                incarnation,
            }
            | MetadataRecord::UnfenceBroker {
                broker,
                incarnation,
            } => self.check_incarnation(*broker, *incarnation),
            MetadataRecord::CreateTopic {
                topic_id,
                name,
                partitions,
                configs,
                allow_replication_above_brokers,
            } => {
                if self.topics.contains_key(name) {
                    return Err(Error::TopicExists(name.clone()));
                }
                if self.topic_names.contains_key(topic_id) {
                    return Err(Error::TopicIdInUse(topic_id.0));
                }
                if partitions.is_empty() {
                    return Err(Error::InvalidAssignment(
                        "a topic needs at least one partition".into(),
                    ));
                }
                configs.keys().try_for_each(|key| check_config_key(key))?;
                self.check_new_partitions(partitions, *allow_replication_above_brokers)
            }
            MetadataRecord::DeleteTopic { name } => self.topic_of(name).map(|_| ()),
            MetadataRecord::CreatePartitions { name, partitions } => {
                let topic = self.topic_of(name)?;
                if partitions.is_empty() {
                    return Err(Error::InvalidAssignment("no partitions to add".into()));
                }
                if topic.partitions.len().saturating_add(partitions.len())
                    > PARTITIONS_PER_TOPIC_MAX
                {
                    return Err(Error::InvalidAssignment(format!(
                        "a topic has at most {PARTITIONS_PER_TOPIC_MAX} partitions"
                    )));
                }
                self.check_new_partitions(partitions, false)
            }
            MetadataRecord::SetTopicConfig { name, key, .. } => {
                self.topic_of(name)?;
                check_config_key(key)
            }
            MetadataRecord::PartitionLeaderChange {
                name,
                partition,
                leader,
            } => self.check_leader_change(name, *partition, *leader),
            MetadataRecord::IsrChange {
                name,
                partition,
                isr,
            } => self.check_isr(name, *partition, isr),
            MetadataRecord::ReassignReplicas {
                name,
                partition,
                target,
            } => self.check_reassignment(name, *partition, target),
            MetadataRecord::PartitionState {
                name,
                partition,
                term,
                leader,
                isr,
            } => self.check_partition_state(name, *partition, *term, *leader, isr),
            MetadataRecord::BeginDecommission { broker }
            | MetadataRecord::SetMaintenance { broker, .. } => self.broker_of(*broker).map(|_| ()),
            MetadataRecord::EndDecommission { broker } => self.check_end_decommission(*broker),
            // Limits checked above; a user needs nothing else to exist.
            MetadataRecord::SetScramCredential { .. } => Ok(()),
            MetadataRecord::CreateAcl { .. } | MetadataRecord::DeleteAcl { .. } => {
                self.check_acl_record(record)
            }
        }
    }

    /// Applies a committed record: refused records (see `validate`) change
    /// nothing. Asserts the invariants afterwards.
    pub fn apply(&mut self, record: &MetadataRecord) -> Result<()> {
        self.applied = self
            .applied
            .checked_add(1)
            .expect("fewer than 2^64 records");
        let outcome = self.validate(record).map(|()| self.apply_valid(record));
        self.check_invariants();
        outcome
    }

    fn apply_valid(&mut self, record: &MetadataRecord) {
        match record {
            MetadataRecord::RegisterBroker { .. }
            | MetadataRecord::BrokerHeartbeat { .. }
            | MetadataRecord::FenceBroker { .. }
            | MetadataRecord::UnfenceBroker { .. }
            | MetadataRecord::BeginDecommission { .. }
            | MetadataRecord::EndDecommission { .. }
            | MetadataRecord::SetMaintenance { .. } => self.apply_broker_record(record),
            MetadataRecord::SetScramCredential { .. } => self.apply_user_record(record),
            MetadataRecord::CreateAcl { .. } | MetadataRecord::DeleteAcl { .. } => {
                self.apply_acl_record(record)
            }
            _ => self.apply_topic_record(record),
        }
    }

    fn apply_broker_record(&mut self, record: &MetadataRecord) {
        match record {
            MetadataRecord::RegisterBroker {
                broker,
                incarnation,
                rack,
                listeners,
                at,
            } => {
                let previous = self.brokers.get(broker).cloned();
                if previous
                    .as_ref()
                    .is_some_and(|old| old.incarnation != *incarnation)
                {
                    // A new process replaces the old one: the old one's
                    // leadership and in-sync membership end here.
                    self.fence(*broker);
                }
                let keep = |flag: fn(&Broker) -> bool| previous.as_ref().is_some_and(flag);
                let same_incarnation = previous
                    .as_ref()
                    .is_some_and(|old| old.incarnation == *incarnation);
                self.brokers.insert(
                    *broker,
                    Broker {
                        id: *broker,
                        incarnation: *incarnation,
                        rack: rack.clone(),
                        listeners: listeners.clone(),
                        last_heartbeat: *at,
                        fenced: !same_incarnation || keep(|old| old.fenced),
                        catching_up: !same_incarnation || keep(|old| old.catching_up),
                        maintenance: keep(|old| old.maintenance),
                        decommissioning: keep(|old| old.decommissioning),
                    },
                );
            }
            MetadataRecord::BrokerHeartbeat { broker, at, .. } => {
                let entry = self.brokers.get_mut(broker).expect("validated: registered");
                entry.last_heartbeat = entry.last_heartbeat.max(*at);
                entry.catching_up = false;
                if entry.fenced {
                    self.unfence(*broker);
                }
            }
            MetadataRecord::FenceBroker { broker, .. } => self.fence(*broker),
            MetadataRecord::UnfenceBroker { broker, .. } => self.unfence(*broker),
            MetadataRecord::BeginDecommission { broker } => {
                self.brokers
                    .get_mut(broker)
                    .expect("validated: registered")
                    .decommissioning = true;
            }
            MetadataRecord::EndDecommission { broker } => {
                self.brokers.remove(broker);
            }
            MetadataRecord::SetMaintenance { broker, on } => {
                self.brokers
                    .get_mut(broker)
                    .expect("validated: registered")
                    .maintenance = *on;
            }
            _ => unreachable!("apply_valid routes only broker records here"),
        }
    }

    fn apply_topic_record(&mut self, record: &MetadataRecord) {
        match record {
            MetadataRecord::CreateTopic {
                topic_id,
                name,
                partitions,
                configs,
                ..
            } => {
                let mut topic = Topic {
                    id: *topic_id,
                    name: name.clone(),
                    partitions: Vec::with_capacity(partitions.len()),
                    configs: configs.clone(),
                };
                topic.partitions.extend(
                    partitions
                        .iter()
                        .map(|replicas| self.new_partition(replicas)),
                );
                self.topic_names.insert(*topic_id, name.clone());
                self.topics.insert(name.clone(), topic);
            }
            MetadataRecord::DeleteTopic { name } => {
                let topic = self.topics.remove(name).expect("validated: exists");
                self.topic_names.remove(&topic.id);
            }
            MetadataRecord::CreatePartitions { name, partitions } => {
                let added: Vec<_> = partitions
                    .iter()
                    .map(|replicas| self.new_partition(replicas))
                    .collect();
                self.topics
                    .get_mut(name)
                    .expect("validated: exists")
                    .partitions
                    .extend(added);
            }
            MetadataRecord::SetTopicConfig { name, key, value } => {
                let configs = &mut self
                    .topics
                    .get_mut(name)
                    .expect("validated: exists")
                    .configs;
                match value {
                    Some(value) => configs.insert(key.clone(), value.clone()),
                    None => configs.remove(key),
                };
            }
            MetadataRecord::PartitionLeaderChange {
                name,
                partition,
                leader,
            } => {
                let entry = self.partition_mut(name, *partition);
                set_leader(entry, *leader);
            }
            MetadataRecord::IsrChange {
                name,
                partition,
                isr,
            } => {
                self.partition_mut(name, *partition).isr = isr.clone();
                self.settle(name, *partition);
            }
            MetadataRecord::ReassignReplicas {
                name,
                partition,
                target,
            } => {
                let entry = self.partition_mut(name, *partition);
                let removing: Vec<_> = entry
                    .replicas
                    .iter()
                    .copied()
                    .filter(|b| !target.contains(b))
                    .collect();
                entry.replicas = target.iter().chain(&removing).copied().collect();
                entry.removing = removing;
                self.settle(name, *partition);
            }
            MetadataRecord::PartitionState {
                name,
                partition,
                term,
                leader,
                isr,
            } => {
                // A fenced broker is not counted in sync, whatever the
                // group says (fencing may have happened after the report).
                let isr: Vec<_> = isr
                    .iter()
                    .copied()
                    .filter(|broker| broker == leader || !self.is_fenced(*broker))
                    .collect();
                let entry = self.partition_mut(name, *partition);
                entry.raft_term = *term;
                entry.isr = isr;
                set_leader(entry, Some(*leader));
                // A reassignment completes once its target is in sync.
                self.settle(name, *partition);
            }
            _ => unreachable!("apply_valid routes only topic records here"),
        }
    }

    /// Fences `broker`: it leaves every ISR where it is not the last member and
    /// every partition it led elects a new leader.
    fn fence(&mut self, broker: BrokerId) {
        self.brokers
            .get_mut(&broker)
            .expect("fencing a registered broker")
            .fenced = true;
        self.reelect_all(|partition| {
            if partition.isr.len() > 1 {
                partition.isr.retain(|member| *member != broker);
            }
            partition.leader == Some(broker)
        });
    }

    /// Unfences `broker`: leaderless partitions it is in sync for elect again.
    fn unfence(&mut self, broker: BrokerId) {
        let entry = self
            .brokers
            .get_mut(&broker)
            .expect("unfencing a registered broker");
        entry.fenced = false;
        entry.catching_up = false;
        self.reelect_all(|partition| partition.leader.is_none() && partition.isr.contains(&broker));
    }

    /// Runs `touch` on every partition and elects anew where it returns true.
    fn reelect_all(&mut self, mut touch: impl FnMut(&mut Partition) -> bool) {
        let mut topics = std::mem::take(&mut self.topics);
        for topic in topics.values_mut() {
            for partition in &mut topic.partitions {
                if touch(partition) {
                    let leader = self.elect(partition);
                    set_leader(partition, leader);
                }
            }
        }
        self.topics = topics;
    }

    /// After an ISR change or reassignment: completes a reassignment whose
    /// target is fully in sync, and elects a leader if there is none or the
    /// leader left the replicas.
    fn settle(&mut self, name: &TopicName, index: u32) {
        let mut partition = self.partition_mut(name, index).clone();
        if !partition.removing.is_empty()
            && partition
                .target()
                .all(|broker| partition.isr.contains(&broker))
        {
            let removing = std::mem::take(&mut partition.removing);
            partition
                .replicas
                .retain(|broker| !removing.contains(broker));
            partition.isr.retain(|broker| !removing.contains(broker));
        }
        if partition
            .leader
            .is_none_or(|leader| !partition.isr.contains(&leader))
        {
            let leader = self.elect(&partition);
            set_leader(&mut partition, leader);
        }
        *self.partition_mut(name, index) = partition;
    }

    fn new_partition(&self, replicas: &[BrokerId]) -> Partition {
        let live: Vec<_> = replicas
            .iter()
            .copied()
            .filter(|broker| !self.is_fenced(*broker))
            .collect();
        let mut partition = Partition {
            replicas: replicas.to_vec(),
            isr: if live.is_empty() {
                replicas.to_vec()
            } else {
                live
            },
            leader: None,
            leader_epoch: LeaderEpoch(0),
            raft_term: 0,
            removing: Vec::new(),
        };
        partition.leader = self.elect(&partition);
        partition
    }

    fn partition_mut(&mut self, name: &TopicName, index: u32) -> &mut Partition {
        let topic = self.topics.get_mut(name).expect("validated: topic exists");
        let index = usize::try_from(index).expect("validated: partition exists");
        topic
            .partitions
            .get_mut(index)
            .expect("validated: partition exists")
    }

    pub(crate) fn topic_of(&self, name: &TopicName) -> Result<&Topic> {
        self.topics
            .get(name)
            .ok_or_else(|| Error::UnknownTopic(name.clone()))
    }

    pub(crate) fn broker_of(&self, broker: BrokerId) -> Result<&Broker> {
        self.brokers
            .get(&broker)
            .ok_or(Error::UnknownBroker(broker))
    }

    pub(crate) fn partition_of(&self, name: &TopicName, index: u32) -> Result<&Partition> {
        let topic = self.topic_of(name)?;
        usize::try_from(index)
            .ok()
            .and_then(|index| topic.partitions.get(index))
            .ok_or_else(|| Error::UnknownPartition {
                topic: name.clone(),
                partition: index,
            })
    }

    fn check_incarnation(&self, broker: BrokerId, incarnation: Incarnation) -> Result<()> {
        let current = self.broker_of(broker)?.incarnation;
        if current != incarnation {
            return Err(Error::StaleIncarnation {
                broker,
                current: current.0,
                given: incarnation.0,
            });
        }
        Ok(())
    }
}

/// Sets the leader, bumping the epoch when it changes.
fn set_leader(partition: &mut Partition, leader: Option<BrokerId>) {
    if partition.leader != leader {
        partition.leader = leader;
        partition.leader_epoch = partition.leader_epoch.next();
    }
}

pub(crate) fn check_config_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::InvalidConfig("a config key is empty".into()));
    }
    Ok(())
}

/// Rejects an empty, oversized or duplicated broker list.
pub(crate) fn check_distinct(replicas: &[BrokerId]) -> Result<()> {
    if replicas.is_empty() || replicas.len() > REPLICAS_MAX {
        return Err(Error::InvalidAssignment(format!(
            "a partition has 1 to {REPLICAS_MAX} replicas, not {}",
            replicas.len()
        )));
    }
    let distinct: BTreeSet<_> = replicas.iter().collect();
    if distinct.len() != replicas.len() {
        return Err(Error::InvalidAssignment(format!(
            "duplicate replica in {replicas:?}"
        )));
    }
    Ok(())
}
