//! Builders shared by the integration tests.
#![allow(dead_code, reason = "each test crate uses a different subset")]

use std::collections::BTreeMap;

use fjord_metadata::{
    BrokerId, Incarnation, MetadataImage, MetadataRecord, Millis, TopicId, TopicName,
};

pub(crate) fn incarnation(broker: u32, generation: u32) -> Incarnation {
    Incarnation(uuid::Uuid::from_u128(
        (u128::from(broker) << 32) | u128::from(generation) | 1 << 100,
    ))
}

pub(crate) fn name(text: &str) -> TopicName {
    TopicName::new(text).expect("test topic names are valid")
}

pub(crate) fn register(broker: u32, rack: Option<&str>, at: u64) -> MetadataRecord {
    MetadataRecord::RegisterBroker {
        broker: BrokerId(broker),
        incarnation: incarnation(broker, 0),
        rack: rack.map(str::to_owned),
        listeners: Vec::new(),
        at: Millis(at),
    }
}

pub(crate) fn heartbeat(broker: u32, at: u64) -> MetadataRecord {
    MetadataRecord::BrokerHeartbeat {
        broker: BrokerId(broker),
        incarnation: incarnation(broker, 0),
        at: Millis(at),
    }
}

pub(crate) fn create(id: u128, topic: &str, partitions: &[&[u32]]) -> MetadataRecord {
    MetadataRecord::CreateTopic {
        topic_id: TopicId(uuid::Uuid::from_u128(id)),
        name: name(topic),
        partitions: partitions
            .iter()
            .map(|replicas| replicas.iter().copied().map(BrokerId).collect())
            .collect(),
        configs: BTreeMap::new(),
        allow_replication_above_brokers: false,
    }
}

/// A cluster of live brokers, broker `i` in rack `racks[i]`.
pub(crate) fn cluster(racks: &[u32]) -> MetadataImage {
    let mut image = MetadataImage::new();
    for (index, rack) in racks.iter().enumerate() {
        let broker = u32::try_from(index).expect("small") + 1;
        image
            .apply(&register(broker, Some(&format!("rack-{rack}")), 0))
            .expect("register");
        image.apply(&heartbeat(broker, 0)).expect("heartbeat");
    }
    image
}

pub(crate) fn brokers(ids: &[u32]) -> Vec<BrokerId> {
    ids.iter().copied().map(BrokerId).collect()
}
