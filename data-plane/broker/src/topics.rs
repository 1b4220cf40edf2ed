//! The topic registry: which topics exist, their ids and partition counts,
//! persisted in `DATA_DIR/topics.json` (written atomically: temporary file,
//! fsync, rename, fsync of the directory) and the partitions' logs under
//! `DATA_DIR/logs/<topic id>/<partition>`. Logs are keyed by topic id so a
//! topic deleted and created again under the same name starts empty.
//!
//! Every method may block on disk I/O: call from a blocking thread.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use kafka_protocol::ResponseError;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use mirror::RemoteTopics;
pub use validate::{validate_name, validate_shape};

use crate::disk::DataDisk;
use crate::partition::{LocalReplica, PartitionReplica, ReplicaError};
use crate::topic_config::{self, InvalidConfig, Overrides, TopicDefaults};

const REGISTRY_FILE: &str = "topics.json";
const FORMAT_VERSION: u32 = 1;
/// Kafka's limit on topic name length.
const TOPIC_NAME_MAX: usize = 249;
/// Upper bound on partitions per topic, to keep a request from opening
/// millions of logs.
pub const PARTITIONS_MAX: i32 = 10_000;
/// A single broker's topics have one replica.
pub const REPLICATION_FACTOR: i16 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TopicRecord {
    id: Uuid,
    partitions: i32,
    /// Config overrides, validated (see [`topic_config`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    configs: Overrides,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryFile {
    format_version: u32,
    topics: BTreeMap<String, TopicRecord>,
}

/// A topic and its open partitions.
#[derive(Debug)]
pub struct Topic {
    pub name: String,
    pub id: Uuid,
    pub partitions: Vec<Arc<dyn PartitionReplica>>,
    /// Config overrides; everything else is the broker default.
    pub configs: Overrides,
}

impl Topic {
    pub fn partition(&self, index: i32) -> Option<&Arc<dyn PartitionReplica>> {
        usize::try_from(index)
            .ok()
            .and_then(|index| self.partitions.get(index))
    }
}

/// Why a topic operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    #[error("topic {0:?} already exists")]
    AlreadyExists(String),
    #[error("topic {0:?} does not exist")]
    Unknown(String),
    #[error("invalid topic name {0:?}: {1}")]
    InvalidName(String, &'static str),
    #[error("invalid partition count: {0}")]
    InvalidPartitions(String),
    #[error(
        "replication factor {0} is not supported: it must be between 1 and the number of brokers"
    )]
    InvalidReplicationFactor(i16),
    #[error(transparent)]
    InvalidConfig(#[from] InvalidConfig),
    #[error(transparent)]
    Replica(#[from] ReplicaError),
    #[error("topic registry {path}: {reason}")]
    Registry { path: PathBuf, reason: String },
    #[error("{message}")]
    Controller {
        code: ResponseError,
        message: String,
    },
}

impl TopicError {
    pub fn kafka_error(&self) -> ResponseError {
        match self {
            Self::AlreadyExists(_) => ResponseError::TopicAlreadyExists,
            Self::Unknown(_) => ResponseError::UnknownTopicOrPartition,
            Self::InvalidName(..) => ResponseError::InvalidTopicException,
            Self::InvalidPartitions(_) => ResponseError::InvalidPartitions,
            Self::InvalidReplicationFactor(_) => ResponseError::InvalidReplicationFactor,
            Self::InvalidConfig(_) => ResponseError::InvalidConfig,
            Self::Replica(error) => error.kafka_error(),
            Self::Registry { .. } => ResponseError::KafkaStorageError,
            Self::Controller { code, .. } => *code,
        }
    }
}

/// The topics of this broker.
#[derive(Debug)]
pub struct Topics {
    /// Set in cluster mode: changes go to the controller.
    remote: Option<Arc<dyn RemoteTopics>>,
    data_dir: PathBuf,
    disk: Arc<DataDisk>,
    /// Live: the broker's `message-bytes-max` may change ([`Self::set_defaults`]).
    defaults: RwLock<TopicDefaults>,
    topics: RwLock<BTreeMap<String, Arc<Topic>>>,
    /// Serializes changes (and registry writes).
    changes: Mutex<()>,
}

impl Topics {
    /// Loads the registry and opens every partition's log.
    pub fn open(
        data_dir: &Path,
        disk: Arc<DataDisk>,
        defaults: TopicDefaults,
    ) -> Result<Self, TopicError> {
        let path = data_dir.join(REGISTRY_FILE);
        let registry = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str::<RegistryFile>(&text).map_err(|error| {
                TopicError::Registry {
                    path: path.clone(),
                    reason: error.to_string(),
                }
            })?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => RegistryFile {
                format_version: FORMAT_VERSION,
                topics: BTreeMap::new(),
            },
            Err(error) => {
                return Err(TopicError::Registry {
                    path,
                    reason: error.to_string(),
                });
            }
        };
        if registry.format_version != FORMAT_VERSION {
            return Err(TopicError::Registry {
                path,
                reason: format!("unsupported format_version {}", registry.format_version),
            });
        }
        let this = Self {
            remote: None,
            data_dir: data_dir.to_owned(),
            disk,
            defaults: RwLock::new(defaults),
            topics: RwLock::new(BTreeMap::new()),
            changes: Mutex::new(()),
        };
        let mut topics = BTreeMap::new();
        for (name, record) in registry.topics {
            let configs = topic_config::validate_all(
                record
                    .configs
                    .iter()
                    .map(|(k, v)| (k.as_str(), Some(v.as_str()))),
                REPLICATION_FACTOR,
            )
            .map_err(|error| TopicError::Registry {
                path: path.clone(),
                reason: format!("topic {name:?}: {error}"),
            })?;
            let partitions = this.open_partitions(record.id, &configs, 0..record.partitions)?;
            topics.insert(
                name.clone(),
                Arc::new(Topic {
                    name,
                    id: record.id,
                    partitions,
                    configs,
                }),
            );
        }
        *this.topics.write().unwrap_or_else(|e| e.into_inner()) = topics;
        Ok(this)
    }

    pub fn get(&self, name: &str) -> Option<Arc<Topic>> {
        self.read().get(name).cloned()
    }

    pub fn list(&self) -> Vec<Arc<Topic>> {
        self.read().values().cloned().collect()
    }

    /// Every partition, for maintenance.
    pub fn all_partitions(&self) -> Vec<Arc<dyn PartitionReplica>> {
        self.read()
            .values()
            .flat_map(|topic| topic.partitions.iter().cloned())
            .collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<Topic>>> {
        self.topics.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<Topic>>> {
        self.topics.write().unwrap_or_else(|e| e.into_inner())
    }

    fn partition_dir(&self, id: Uuid, partition: i32) -> PathBuf {
        self.data_dir
            .join("logs")
            .join(id.simple().to_string())
            .join(partition.to_string())
    }

    /// Broker-wide values that topic configs default to, now.
    pub fn defaults(&self) -> TopicDefaults {
        *self.defaults.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the broker-wide defaults and applies them to every
    /// partition of every topic (a topic's override still wins).
    pub fn set_defaults(&self, defaults: TopicDefaults) {
        let _changes = self.changes.lock().unwrap_or_else(|e| e.into_inner());
        *self.defaults.write().unwrap_or_else(|e| e.into_inner()) = defaults;
        self.reapply_defaults();
    }

    /// Configures every partition with its topic's overrides over the
    /// current defaults.
    pub fn reapply_defaults(&self) {
        let defaults = self.defaults();
        for topic in self.list() {
            let settings = topic_config::partition_settings(&topic.configs, &defaults);
            for partition in &topic.partitions {
                if let Err(error) = partition.configure(&settings) {
                    tracing::warn!(topic = %topic.name, %error, "cannot apply the broker defaults to a partition");
                }
            }
        }
    }

    fn open_partitions(
        &self,
        id: Uuid,
        configs: &Overrides,
        range: std::ops::Range<i32>,
    ) -> Result<Vec<Arc<dyn PartitionReplica>>, TopicError> {
        let settings = topic_config::partition_settings(configs, &self.defaults());
        range
            .map(|partition| {
                let directory = self.partition_dir(id, partition);
                let replica = LocalReplica::open_with(&self.disk, &directory, &settings)?;
                Ok(Arc::new(replica) as Arc<dyn PartitionReplica>)
            })
            .collect()
    }

    /// Creates a topic (name, shape and configs already validated), or
    /// fails if it exists. `validate_only` checks without creating.
    pub fn create(
        &self,
        name: &str,
        partitions: i32,
        configs: Overrides,
        validate_only: bool,
    ) -> Result<Option<Arc<Topic>>, TopicError> {
        self.create_replicated(name, partitions, REPLICATION_FACTOR, configs, validate_only)
    }

    /// [`Topics::create`] with a replication factor (above 1 only in
    /// cluster mode).
    pub fn create_replicated(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: Overrides,
        validate_only: bool,
    ) -> Result<Option<Arc<Topic>>, TopicError> {
        if let Some(remote) = self.remote.as_ref() {
            let id = remote.create(
                name,
                partitions,
                replication_factor,
                &configs,
                validate_only,
            )?;
            if validate_only {
                return Ok(None);
            }
            self.await_mirror(|topics| topics.get(name).is_some_and(|topic| topic.id == id));
            return self
                .get(name)
                .map(Some)
                .ok_or_else(|| TopicError::Unknown(name.to_owned()));
        }
        if replication_factor != REPLICATION_FACTOR {
            return Err(TopicError::InvalidReplicationFactor(replication_factor));
        }
        let _changes = self.changes.lock().unwrap_or_else(|e| e.into_inner());
        if self.read().contains_key(name) {
            return Err(TopicError::AlreadyExists(name.to_owned()));
        }
        if validate_only {
            return Ok(None);
        }
        let id = Uuid::new_v4();
        let topic = Arc::new(Topic {
            name: name.to_owned(),
            id,
            partitions: self.open_partitions(id, &configs, 0..partitions)?,
            configs,
        });
        let mut next = self.read().clone();
        next.insert(name.to_owned(), Arc::clone(&topic));
        self.persist(&next)?;
        *self.write() = next;
        Ok(Some(topic))
    }

    /// Deletes a topic and its logs.
    pub fn delete(&self, name: &str) -> Result<Uuid, TopicError> {
        if let Some(remote) = self.remote.as_ref() {
            let id = self
                .get(name)
                .map(|topic| topic.id)
                .ok_or_else(|| TopicError::Unknown(name.to_owned()))?;
            remote.delete(name)?;
            self.await_mirror(|topics| !topics.contains_key(name));
            return Ok(id);
        }
        let _changes = self.changes.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = self.read().clone();
        let topic = next
            .remove(name)
            .ok_or_else(|| TopicError::Unknown(name.to_owned()))?;
        self.persist(&next)?;
        *self.write() = next;
        let directory = self
            .data_dir
            .join("logs")
            .join(topic.id.simple().to_string());
        for partition in 0..topic.partitions.len() {
            let log = self.partition_dir(topic.id, i32::try_from(partition).unwrap_or(i32::MAX));
            if let Err(error) = self.disk.forget_log(&log) {
                // Kept rather than deleted under a journal that still names it.
                tracing::warn!(topic = name, %error, "cannot unregister the logs of a deleted topic");
                return Ok(topic.id);
            }
        }
        if let Err(error) = std::fs::remove_dir_all(&directory) {
            tracing::warn!(topic = name, %error, "cannot remove the logs of a deleted topic");
        }
        Ok(topic.id)
    }

    /// Raises a topic's partition count to `total`.
    pub fn add_partitions(
        &self,
        name: &str,
        total: i32,
        validate_only: bool,
    ) -> Result<(), TopicError> {
        if let Some(remote) = self.remote.as_ref() {
            remote.add_partitions(name, total, validate_only)?;
            if !validate_only {
                let total = usize::try_from(total).unwrap_or(0);
                self.await_mirror(|topics| {
                    topics
                        .get(name)
                        .is_some_and(|t| t.partitions.len() >= total)
                });
            }
            return Ok(());
        }
        let _changes = self.changes.lock().unwrap_or_else(|e| e.into_inner());
        let topic = self
            .get(name)
            .ok_or_else(|| TopicError::Unknown(name.to_owned()))?;
        let current = i32::try_from(topic.partitions.len()).unwrap_or(i32::MAX);
        if total <= current || total > PARTITIONS_MAX {
            return Err(TopicError::InvalidPartitions(format!(
                "topic {name:?} has {current} partitions; the new count must be above that and at most {PARTITIONS_MAX}, got {total}"
            )));
        }
        if validate_only {
            return Ok(());
        }
        let mut partitions = topic.partitions.clone();
        partitions.extend(self.open_partitions(topic.id, &topic.configs, current..total)?);
        let mut next = self.read().clone();
        next.insert(
            name.to_owned(),
            Arc::new(Topic {
                name: name.to_owned(),
                id: topic.id,
                partitions,
                configs: topic.configs.clone(),
            }),
        );
        self.persist(&next)?;
        *self.write() = next;
        Ok(())
    }

    /// Edits a topic's config overrides with `edit`, then persists them and
    /// applies them to every partition's log (retention runs at once).
    /// `validate_only` checks without changing anything.
    pub fn alter_configs(
        &self,
        name: &str,
        validate_only: bool,
        edit: impl FnOnce(&mut Overrides, &TopicDefaults) -> Result<(), InvalidConfig>,
    ) -> Result<(), TopicError> {
        let _changes = self.changes.lock().unwrap_or_else(|e| e.into_inner());
        let topic = self
            .get(name)
            .ok_or_else(|| TopicError::Unknown(name.to_owned()))?;
        let mut configs = topic.configs.clone();
        edit(&mut configs, &self.defaults())?;
        if validate_only || configs == topic.configs {
            return Ok(());
        }
        if let Some(remote) = self.remote.as_ref() {
            remote.set_configs(name, &configs)?;
            self.await_mirror(|topics| topics.get(name).is_some_and(|t| t.configs == configs));
            return Ok(());
        }
        let mut next = self.read().clone();
        next.insert(
            name.to_owned(),
            Arc::new(Topic {
                name: name.to_owned(),
                id: topic.id,
                partitions: topic.partitions.clone(),
                configs: configs.clone(),
            }),
        );
        self.persist(&next)?;
        *self.write() = next;
        let settings = topic_config::partition_settings(&configs, &self.defaults());
        for partition in &topic.partitions {
            partition.configure(&settings)?;
        }
        Ok(())
    }

    fn persist(&self, topics: &BTreeMap<String, Arc<Topic>>) -> Result<(), TopicError> {
        let registry = RegistryFile {
            format_version: FORMAT_VERSION,
            topics: topics
                .iter()
                .map(|(name, topic)| {
                    let partitions = i32::try_from(topic.partitions.len()).unwrap_or(i32::MAX);
                    (
                        name.clone(),
                        TopicRecord {
                            id: topic.id,
                            partitions,
                            configs: topic.configs.clone(),
                        },
                    )
                })
                .collect(),
        };
        write_atomically(&self.data_dir, REGISTRY_FILE, &registry).map_err(|error| {
            TopicError::Registry {
                path: self.data_dir.join(REGISTRY_FILE),
                reason: error.to_string(),
            }
        })
    }
}

fn write_atomically(directory: &Path, name: &str, value: &RegistryFile) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    fjord_storage::replace_file(&directory.join(name), &text)
}

mod mirror;
mod validate;

#[cfg(test)]
mod tests;
