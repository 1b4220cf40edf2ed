//! How placement cost grows with cluster size: places 10,000 partitions
//! (rf 3) on clusters of 3 racks and prints the time per partition, each as a
//! ratio against the 6-broker cluster measured in the same run.
//!
//! `cargo run --release -p fjord-metadata --example placement_cost`

use std::time::Instant;

use fjord_metadata::placement::place;
use fjord_metadata::{BrokerId, Incarnation, MetadataImage, MetadataRecord, Millis};

fn cluster(brokers: u32) -> MetadataImage {
    let mut image = MetadataImage::new();
    for broker in 1..=brokers {
        let incarnation = Incarnation(uuid::Uuid::from_u128(u128::from(broker)));
        let register = MetadataRecord::RegisterBroker {
            broker: BrokerId(broker),
            incarnation,
            rack: Some(format!("rack-{}", broker % 3)),
            listeners: Vec::new(),
            at: Millis(0),
        };
        let heartbeat = MetadataRecord::BrokerHeartbeat {
            broker: BrokerId(broker),
            incarnation,
            at: Millis(0),
        };
        image.apply(&register).expect("valid registration");
        image.apply(&heartbeat).expect("valid heartbeat");
    }
    image
}

fn main() {
    const PARTITIONS: usize = 10_000;
    let mut baseline = None;
    for brokers in [6, 30, 90, 300] {
        let image = cluster(brokers);
        let started = Instant::now();
        let plan = place(&image, PARTITIONS, 3, 1).expect("enough brokers");
        let elapsed = started.elapsed();
        assert_eq!(plan.len(), PARTITIONS);
        let per_partition = elapsed.as_secs_f64() / PARTITIONS as f64;
        let base = *baseline.get_or_insert(per_partition);
        println!(
            "brokers {brokers:>4}: {:>8.1} us per partition, {:>7.1}x the 6-broker cost, total {:?}",
            per_partition * 1e6,
            per_partition / base,
            elapsed
        );
    }
}
