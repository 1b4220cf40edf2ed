//! The Fjord broker: serves the Apache Kafka protocol so that existing Kafka
//! clients (librdkafka and kcat, confluent-kafka, kafka-python, Java) work
//! unchanged.
//!
//! Layers, outside in:
//! - [`server`]: TCP accept loop, one task per connection, graceful shutdown;
//!   each connection is a pipeline (read, ordered execution, in-order
//!   writes) bounded by in-flight requests and bytes (`connection`);
//! - [`security`]: the listener's security protocol, TLS from PEM files
//!   (reloaded when they change) and client-certificate principals;
//! - [`protocol`]: Kafka framing, request-header decoding, the ApiVersions
//!   table and KIP-511 fallback, response encoding;
//! - [`handler`]: answers each decoded request;
//! - [`topics`]: the persisted topic registry;
//! - [`producer`]: idempotent producer ids and per-partition sequence state;
//! - [`topic_config`]: per-topic configs, validated and mapped to the log;
//! - [`partition`]: the replication-layer trait and its single-replica
//!   implementation on the storage core;
//! - [`cluster`]: cluster mode (Raft-replicated partitions, the controller
//!   group, the operator's probes);
//! - [`admin`]: the admin HTTP API (health, readiness, metrics);
//! - [`live`]: the settings taken while running, and their admin routes;
//! - [`data_dir`]: ownership and identity of the data directory.

pub mod admin;
pub mod cluster;
pub mod config;
pub mod config_file;
mod connection;
pub mod data_dir;
pub mod disk;
mod error;
pub mod group;
pub mod handler;
mod inflate;
pub mod live;
pub mod metrics;
pub mod partition;
pub mod producer;
pub mod protocol;
pub mod security;
pub mod server;
pub mod topic_config;
pub mod topics;

pub use config::BrokerConfig;
pub use error::{Error, Result};
