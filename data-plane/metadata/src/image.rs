//! The metadata image: what the controller log says the cluster is, after
//! applying every committed record in order. `check_invariants` states what
//! must hold after every apply.

use std::collections::{BTreeMap, BTreeSet};

use crate::record::Listener;
use crate::types::{BrokerId, Incarnation, LeaderEpoch, Millis, PartitionRef, TopicId, TopicName};

/// A registered broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broker {
    pub id: BrokerId,
    pub incarnation: Incarnation,
    pub rack: Option<String>,
    pub listeners: Vec<Listener>,
    /// When the controller last heard from this incarnation.
    pub last_heartbeat: Millis,
    /// A fenced broker leads nothing and is not counted as in sync.
    pub fenced: bool,
    /// Registered as a new incarnation and not yet heartbeated: the broker is
    /// still replaying the controller log (it heartbeats, and so unfences,
    /// only once caught up). Always fenced while set.
    pub catching_up: bool,
    /// Takes no new leadership while on.
    pub maintenance: bool,
    /// Being drained: gets no new replicas and no new leadership.
    pub decommissioning: bool,
}

impl Broker {
    /// May lead, or be given leadership by a planner.
    pub fn can_lead(&self) -> bool {
        !self.fenced && !self.maintenance && !self.decommissioning
    }

    /// May receive new replicas.
    pub fn can_host(&self) -> bool {
        !self.fenced && !self.decommissioning
    }
}

/// One partition's assignment and replication state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// Preferred leader first. During a reassignment: target, then `removing`.
    pub replicas: Vec<BrokerId>,
    pub isr: Vec<BrokerId>,
    pub leader: Option<BrokerId>,
    pub leader_epoch: LeaderEpoch,
    /// The newest Raft term its group reported (`PartitionState`); the
    /// leader epoch Kafka clients see. 0 until the first report.
    pub raft_term: i32,
    /// Replicas that leave once every other replica is in sync.
    pub removing: Vec<BrokerId>,
}

impl Partition {
    /// The replicas a completed reassignment keeps.
    pub fn target(&self) -> impl Iterator<Item = BrokerId> + '_ {
        self.replicas
            .iter()
            .copied()
            .filter(|broker| !self.removing.contains(broker))
    }
}

/// A topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    pub id: TopicId,
    pub name: TopicName,
    pub partitions: Vec<Partition>,
    pub configs: BTreeMap<String, String>,
}

/// The cluster as the controller log describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataImage {
    pub(crate) brokers: BTreeMap<BrokerId, Broker>,
    pub(crate) topics: BTreeMap<TopicName, Topic>,
    pub(crate) topic_names: BTreeMap<TopicId, TopicName>,
    /// SCRAM credentials by (user, mechanism).
    pub(crate) scram_credentials: BTreeMap<(String, String), crate::users::ScramCredentialRecord>,
    /// ACL bindings.
    pub(crate) acls: crate::acl::AclSet,
    /// Records applied (refused ones included): the log position applied.
    pub(crate) applied: u64,
}

impl MetadataImage {
    pub fn new() -> MetadataImage {
        MetadataImage::default()
    }

    pub fn brokers(&self) -> impl Iterator<Item = &Broker> {
        self.brokers.values()
    }

    pub fn broker(&self, id: BrokerId) -> Option<&Broker> {
        self.brokers.get(&id)
    }

    pub fn topics(&self) -> impl Iterator<Item = &Topic> {
        self.topics.values()
    }

    pub fn topic(&self, name: &TopicName) -> Option<&Topic> {
        self.topics.get(name)
    }

    pub fn topic_by_id(&self, id: TopicId) -> Option<&Topic> {
        self.topic_names
            .get(&id)
            .and_then(|name| self.topics.get(name))
    }

    pub fn partition(&self, at: &PartitionRef) -> Option<&Partition> {
        let index = usize::try_from(at.partition).ok()?;
        self.topics.get(&at.topic)?.partitions.get(index)
    }

    /// Every partition, in topic-name then index order.
    pub fn partitions(&self) -> impl Iterator<Item = (PartitionRef, &Partition)> {
        self.topics.values().flat_map(|topic| {
            topic
                .partitions
                .iter()
                .enumerate()
                .map(|(index, partition)| {
                    let partition_index = u32::try_from(index).expect("partition counts fit u32");
                    (
                        PartitionRef {
                            topic: topic.name.clone(),
                            partition: partition_index,
                        },
                        partition,
                    )
                })
        })
    }

    /// Number of records applied so far.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    pub(crate) fn is_fenced(&self, id: BrokerId) -> bool {
        self.brokers.get(&id).is_none_or(|broker| broker.fenced)
    }

    /// The leader an election picks for `partition` now: the first ISR member
    /// in replica order that can lead and is not being removed, else the first
    /// that can lead, else the first unfenced one (availability over the
    /// maintenance preference), else none.
    pub(crate) fn elect(&self, partition: &Partition) -> Option<BrokerId> {
        let in_sync = || {
            partition
                .replicas
                .iter()
                .copied()
                .filter(|broker| partition.isr.contains(broker))
        };
        let can_lead = |broker: &BrokerId| self.brokers.get(broker).is_some_and(Broker::can_lead);
        in_sync()
            .find(|broker| can_lead(broker) && !partition.removing.contains(broker))
            .or_else(|| in_sync().find(can_lead))
            .or_else(|| in_sync().find(|broker| !self.is_fenced(*broker)))
    }

    /// Panics if the image breaks an invariant: after an apply this means a
    /// bug in validation, and continuing would spread corrupt metadata.
    pub fn check_invariants(&self) {
        assert_eq!(
            self.topics.len(),
            self.topic_names.len(),
            "topic indexes agree"
        );
        for (id, name) in &self.topic_names {
            let topic = self
                .topics
                .get(name)
                .expect("the id index names existing topics");
            assert_eq!(topic.id, *id, "topic {name} has the id its index says");
        }
        for (name, topic) in &self.topics {
            assert_eq!(&topic.name, name, "topics are keyed by their name");
            assert!(name.is_valid(), "topic name {name} is a valid kafka name");
            for (index, partition) in topic.partitions.iter().enumerate() {
                self.check_partition(name, index, partition);
            }
        }
        for (id, broker) in &self.brokers {
            assert_eq!(broker.id, *id, "brokers are keyed by their id");
            assert!(
                !broker.catching_up || broker.fenced,
                "broker {id} catching up is fenced"
            );
        }
    }

    fn check_partition(&self, name: &TopicName, index: usize, partition: &Partition) {
        let replicas: BTreeSet<_> = partition.replicas.iter().collect();
        assert_eq!(
            replicas.len(),
            partition.replicas.len(),
            "{name}-{index}: no duplicate replicas"
        );
        assert!(
            !partition.replicas.is_empty(),
            "{name}-{index}: at least one replica"
        );
        for broker in &partition.replicas {
            assert!(
                self.brokers.contains_key(broker),
                "{name}-{index}: replica {broker} is registered"
            );
        }
        assert!(
            !partition.isr.is_empty(),
            "{name}-{index}: the isr is never empty"
        );
        let isr: BTreeSet<_> = partition.isr.iter().collect();
        assert_eq!(
            isr.len(),
            partition.isr.len(),
            "{name}-{index}: no duplicate isr members"
        );
        assert!(
            isr.is_subset(&replicas),
            "{name}-{index}: isr within replicas"
        );
        assert!(
            partition
                .removing
                .iter()
                .all(|broker| replicas.contains(broker)),
            "{name}-{index}: removing within replicas"
        );
        assert!(
            partition.target().next().is_some(),
            "{name}-{index}: a reassignment keeps a replica"
        );
        if let Some(leader) = partition.leader {
            assert!(
                isr.contains(&leader),
                "{name}-{index}: leader {leader} is in sync"
            );
            assert!(
                !self.is_fenced(leader),
                "{name}-{index}: leader {leader} is not fenced"
            );
        }
    }
}
