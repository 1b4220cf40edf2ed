//! Fjord's controller group, sans-IO: the metadata records the controller
//! log holds, the state machine that applies them to a [`MetadataImage`],
//! broker liveness, and the planners (placement, leader balancing,
//! decommission, maintenance, pre-restart probe, cluster health) as pure
//! functions of the image. No I/O, no clock: time is an argument. See
//! `docs/controller.md`.

pub mod acl;
mod apply;
pub mod balance;
pub mod decommission;
mod error;
pub mod health;
mod image;
pub mod liveness;
pub mod placement;
pub mod record;
pub mod types;
pub mod users;
mod validate;

pub use apply::PARTITIONS_PER_TOPIC_MAX;
pub use error::{Error, Result};
pub use image::{Broker, MetadataImage, Partition, Topic};
pub use record::{Listener, MetadataRecord};
pub use types::{BrokerId, Incarnation, LeaderEpoch, Millis, PartitionRef, TopicId, TopicName};
