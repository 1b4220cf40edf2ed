//! Cluster mode for the topic registry: it mirrors the controller's image
//! ([`Topics::mirror`], [`Topics::install`]) and sends changes to the
//! controller ([`RemoteTopics`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::{Topic, TopicError, Topics};
use crate::disk::DataDisk;
use crate::topic_config::{Overrides, TopicDefaults};

/// Where topic changes go in cluster mode: the controller. The registry
/// itself then only mirrors the controller's image (see
/// `cluster::reconcile`). Every method blocks; call from a blocking thread.
pub trait RemoteTopics: Send + Sync + std::fmt::Debug {
    /// The new topic's id (nil when `validate_only`).
    fn create(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: &Overrides,
        validate_only: bool,
    ) -> Result<Uuid, TopicError>;
    fn delete(&self, name: &str) -> Result<(), TopicError>;
    fn add_partitions(&self, name: &str, total: i32, validate_only: bool)
    -> Result<(), TopicError>;
    /// Replaces the topic's config overrides.
    fn set_configs(&self, name: &str, configs: &Overrides) -> Result<(), TopicError>;
}

/// How long a change made through the controller may take to show in this
/// broker's registry before the request answers anyway.
pub(super) const MIRROR_WAIT: Duration = Duration::from_secs(10);

impl Topics {
    /// An empty registry for cluster mode: topics arrive through
    /// [`Topics::install`] as the controller's image says, and changes go to
    /// `remote`. Nothing is read from or written to `topics.json`.
    pub fn mirror(
        data_dir: &Path,
        disk: Arc<DataDisk>,
        defaults: TopicDefaults,
        remote: Arc<dyn RemoteTopics>,
    ) -> Self {
        Self {
            remote: Some(remote),
            data_dir: data_dir.to_owned(),
            disk,
            defaults: RwLock::new(defaults),
            topics: RwLock::new(BTreeMap::new()),
            changes: Mutex::new(()),
        }
    }

    /// Cluster mode: puts (or replaces) a topic as the image says.
    pub fn install(&self, topic: Topic) {
        self.write().insert(topic.name.clone(), Arc::new(topic));
    }

    /// Cluster mode: drops a topic the image no longer has.
    pub fn uninstall(&self, name: &str) -> Option<Arc<Topic>> {
        self.write().remove(name)
    }

    /// Waits until `done` holds for the registry (a change made through the
    /// controller reaches it through the image).
    pub(super) fn await_mirror(&self, done: impl Fn(&BTreeMap<String, Arc<Topic>>) -> bool) {
        let deadline = Instant::now() + MIRROR_WAIT;
        while !done(&self.read()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
