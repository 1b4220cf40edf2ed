//! The per-record checks behind `MetadataImage::validate` that need more than
//! a lookup.

use crate::apply::check_distinct;
use crate::error::{Error, Result};
use crate::image::{Broker, MetadataImage};
use crate::types::{BrokerId, TopicName};

impl MetadataImage {
    /// New partitions: distinct registered replicas, one replication factor,
    /// and, unless explicitly allowed, only on brokers able to host replicas
    /// (so the replication factor is at most the number of such brokers).
    pub(crate) fn check_new_partitions(
        &self,
        partitions: &[Vec<BrokerId>],
        allow_above_brokers: bool,
    ) -> Result<()> {
        let replication_factor = partitions.first().map_or(0, Vec::len);
        let hosts = self
            .brokers
            .values()
            .filter(|broker| broker.can_host())
            .count();
        if !allow_above_brokers && replication_factor > hosts {
            return Err(Error::ReplicationAboveBrokers {
                replication_factor,
                brokers: hosts,
            });
        }
        for replicas in partitions {
            check_distinct(replicas)?;
            if replicas.len() != replication_factor {
                return Err(Error::InvalidAssignment(
                    "every partition of one request has the same replication factor".into(),
                ));
            }
            for broker in replicas {
                let entry = self.broker_of(*broker)?;
                if !allow_above_brokers && !entry.can_host() {
                    return Err(Error::InvalidAssignment(format!(
                        "broker {broker} is fenced or decommissioning and takes no new replicas"
                    )));
                }
            }
        }
        Ok(())
    }

    pub(crate) fn check_leader_change(
        &self,
        name: &TopicName,
        index: u32,
        leader: Option<BrokerId>,
    ) -> Result<()> {
        let partition = self.partition_of(name, index)?;
        let Some(leader) = leader else {
            return Ok(());
        };
        if !partition.isr.contains(&leader) {
            return Err(Error::InvalidLeader(format!(
                "broker {leader} is not in sync for {name}-{index}"
            )));
        }
        if !self.broker_of(leader)?.can_lead() {
            return Err(Error::InvalidLeader(format!(
                "broker {leader} is fenced, in maintenance or decommissioning"
            )));
        }
        Ok(())
    }

    pub(crate) fn check_isr(&self, name: &TopicName, index: u32, isr: &[BrokerId]) -> Result<()> {
        let partition = self.partition_of(name, index)?;
        check_distinct(isr).map_err(|error| Error::InvalidIsr(error.to_string()))?;
        for broker in isr {
            if !partition.replicas.contains(broker) {
                return Err(Error::InvalidIsr(format!(
                    "broker {broker} is not a replica of {name}-{index}"
                )));
            }
            if !partition.isr.contains(broker) && self.is_fenced(*broker) {
                return Err(Error::InvalidIsr(format!(
                    "fenced broker {broker} cannot join the isr"
                )));
            }
        }
        if let Some(leader) = partition.leader
            && !isr.contains(&leader)
        {
            return Err(Error::InvalidIsr(format!(
                "the isr must keep leader {leader}"
            )));
        }
        Ok(())
    }

    /// A Raft group's report: not older than what is recorded, its leader a
    /// registered, unfenced replica, its ISR replicas holding the leader.
    pub(crate) fn check_partition_state(
        &self,
        name: &TopicName,
        index: u32,
        term: i32,
        leader: BrokerId,
        isr: &[BrokerId],
    ) -> Result<()> {
        let partition = self.partition_of(name, index)?;
        if term < partition.raft_term {
            return Err(Error::InvalidLeader(format!(
                "term {term} of {name}-{index} is older than the recorded {}",
                partition.raft_term
            )));
        }
        if !partition.replicas.contains(&leader) {
            return Err(Error::InvalidLeader(format!(
                "broker {leader} is not a replica of {name}-{index}"
            )));
        }
        if self.broker_of(leader)?.fenced {
            return Err(Error::InvalidLeader(format!(
                "broker {leader} is fenced and leads nothing"
            )));
        }
        check_distinct(isr).map_err(|error| Error::InvalidIsr(error.to_string()))?;
        if !isr.contains(&leader) {
            return Err(Error::InvalidIsr(format!(
                "the isr must hold leader {leader}"
            )));
        }
        if let Some(outside) = isr.iter().find(|b| !partition.replicas.contains(b)) {
            return Err(Error::InvalidIsr(format!(
                "broker {outside} is not a replica of {name}-{index}"
            )));
        }
        Ok(())
    }

    pub(crate) fn check_reassignment(
        &self,
        name: &TopicName,
        index: u32,
        target: &[BrokerId],
    ) -> Result<()> {
        let partition = self.partition_of(name, index)?;
        if !partition.removing.is_empty() {
            return Err(Error::InvalidAssignment(format!(
                "{name}-{index} is already being reassigned"
            )));
        }
        check_distinct(target)?;
        for broker in target {
            let entry = self.broker_of(*broker)?;
            if !partition.replicas.contains(broker) && !entry.can_host() {
                return Err(Error::InvalidAssignment(format!(
                    "broker {broker} is fenced or decommissioning and takes no new replicas"
                )));
            }
        }
        let kept_or_added = partition.replicas.len()
            + target
                .iter()
                .filter(|b| !partition.replicas.contains(b))
                .count();
        if kept_or_added > 2 * crate::record::REPLICAS_MAX {
            return Err(Error::InvalidAssignment(
                "too many replicas during the reassignment".into(),
            ));
        }
        Ok(())
    }

    pub(crate) fn check_end_decommission(&self, broker: BrokerId) -> Result<()> {
        let entry: &Broker = self.broker_of(broker)?;
        if !entry.decommissioning {
            return Err(Error::Decommission {
                broker,
                reason: "it is not being decommissioned".into(),
            });
        }
        let hosted = self
            .partitions()
            .filter(|(_, partition)| partition.replicas.contains(&broker))
            .count();
        if hosted > 0 {
            return Err(Error::Decommission {
                broker,
                reason: format!("it still hosts {hosted} replicas"),
            });
        }
        Ok(())
    }
}
