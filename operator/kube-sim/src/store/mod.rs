//! Object storage: every object as JSON under its group resource, one global rising
//! `resourceVersion`, and a bounded log of changes that watches replay from.
//!
//! Invariants: every write takes the next resource version; the log holds the changes
//! with versions in `(compacted_through, resource_version]` in order, so a watch from
//! any version at or after `compacted_through` sees every later change exactly once.

mod event_log;
pub mod object;
pub mod selector;
mod state_file;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::broadcast;

pub use event_log::{EventLog, EventType, StoredEvent};
pub use state_file::StateFile;

use crate::discovery::GroupResource;

/// Where an object lives within its group resource; namespace is "" for cluster scope.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    /// Key of a namespaced (or, with "", cluster-scoped) object.
    pub fn new(namespace: &str, name: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }
}

/// A receiver of every change from now on.
pub type Changes = broadcast::Receiver<Arc<StoredEvent>>;

/// All objects and the change log.
#[derive(Debug)]
pub struct Store {
    objects: BTreeMap<GroupResource, BTreeMap<ObjectKey, Value>>,
    resource_version: u64,
    log: EventLog,
    changes: broadcast::Sender<Arc<StoredEvent>>,
}

/// Events a watch may fall behind by before it is closed (it then re-watches from its
/// last version, replayed from the log).
const WATCH_CHANNEL_CAPACITY: usize = 4096;

impl Store {
    /// An empty store whose log keeps the last `log_capacity` changes.
    pub fn new(log_capacity: usize) -> Self {
        let (changes, _) = broadcast::channel(WATCH_CHANNEL_CAPACITY);
        Self {
            objects: BTreeMap::new(),
            resource_version: 1,
            log: EventLog::new(log_capacity, 1),
            changes,
        }
    }

    /// The latest resource version handed out.
    pub fn resource_version(&self) -> u64 {
        self.resource_version
    }

    /// The object stored under `key`.
    pub fn get(&self, resource: &GroupResource, key: &ObjectKey) -> Option<&Value> {
        self.objects
            .get(resource)
            .and_then(|objects| objects.get(key))
    }

    /// Objects of a group resource in key order, optionally of one namespace.
    pub fn list<'a>(
        &'a self,
        resource: &GroupResource,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a ObjectKey, &'a Value)> + 'a {
        self.objects
            .get(resource)
            .into_iter()
            .flat_map(|objects| objects.iter())
            .filter(move |(key, _)| namespace.is_none_or(|ns| key.namespace == ns))
    }

    /// Group resources that hold at least one object.
    pub fn resources(&self) -> Vec<GroupResource> {
        self.objects
            .iter()
            .filter(|(_, objects)| !objects.is_empty())
            .map(|(resource, _)| resource.clone())
            .collect()
    }

    /// Stores an object under the next resource version, which it returns (and writes
    /// into `metadata.resourceVersion`).
    pub fn put(&mut self, resource: &GroupResource, key: ObjectKey, mut object: Value) -> Value {
        self.resource_version += 1;
        let version = self.resource_version;
        object::metadata_mut(&mut object)
            .insert("resourceVersion".into(), Value::String(version.to_string()));
        let objects = self.objects.entry(resource.clone()).or_default();
        let previous = objects.insert(key.clone(), object.clone());
        let event_type = if previous.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.record(event_type, resource, key, object.clone(), previous);
        object
    }

    /// Removes an object; the `DELETED` event carries a fresh resource version.
    pub fn remove(&mut self, resource: &GroupResource, key: &ObjectKey) -> Option<Value> {
        let mut object = self.objects.get_mut(resource)?.remove(key)?;
        self.resource_version += 1;
        object::metadata_mut(&mut object).insert(
            "resourceVersion".into(),
            Value::String(self.resource_version.to_string()),
        );
        self.record(
            EventType::Deleted,
            resource,
            key.clone(),
            object.clone(),
            None,
        );
        Some(object)
    }

    fn record(
        &mut self,
        event_type: EventType,
        resource: &GroupResource,
        key: ObjectKey,
        object: Value,
        previous: Option<Value>,
    ) {
        let event = Arc::new(StoredEvent {
            resource_version: self.resource_version,
            event_type,
            resource: resource.clone(),
            key,
            object,
            previous,
        });
        self.log.push(Arc::clone(&event));
        // No receiver is fine: nobody is watching.
        let _ = self.changes.send(event);
    }

    /// A receiver of every later change, plus the logged changes after `after`;
    /// `None` if `after` is older than the log reaches (the watch must answer 410).
    pub fn subscribe_after(&self, after: u64) -> Option<(Vec<Arc<StoredEvent>>, Changes)> {
        let replay = self.log.after(after)?;
        Some((replay, self.changes.subscribe()))
    }

    /// A receiver of every later change (for watches that start from "now").
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<StoredEvent>> {
        self.changes.subscribe()
    }

    /// Forgets the change log up to now: watches from any earlier version get 410.
    pub fn compact(&mut self) {
        self.log.compact_through(self.resource_version);
    }

    /// The oldest version a watch can start from.
    pub fn compacted_through(&self) -> u64 {
        self.log.compacted_through()
    }

    /// Everything, for the state file.
    pub fn snapshot(&self) -> StateFile {
        StateFile::from_objects(self.resource_version, &self.objects)
    }

    /// Replaces everything with a loaded state; watches start after its version.
    pub fn restore(&mut self, state: StateFile) {
        let (resource_version, objects) = state.into_objects();
        assert!(
            resource_version >= 1,
            "a state file's version is at least 1"
        );
        self.objects = objects;
        self.resource_version = resource_version;
        self.log.compact_through(resource_version);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pods() -> GroupResource {
        GroupResource {
            group: String::new(),
            resource: "pods".into(),
        }
    }

    #[test]
    fn every_write_takes_the_next_resource_version() {
        let mut store = Store::new(100);
        let a = store.put(
            &pods(),
            ObjectKey::new("ns", "a"),
            json!({"metadata": {"name": "a"}}),
        );
        let b = store.put(
            &pods(),
            ObjectKey::new("ns", "b"),
            json!({"metadata": {"name": "b"}}),
        );
        assert_eq!(a["metadata"]["resourceVersion"], "2");
        assert_eq!(b["metadata"]["resourceVersion"], "3");
        let removed = store.remove(&pods(), &ObjectKey::new("ns", "a")).unwrap();
        assert_eq!(removed["metadata"]["resourceVersion"], "4");
        assert_eq!(store.list(&pods(), Some("ns")).count(), 1);
    }

    #[test]
    fn replay_after_a_version_returns_later_changes_until_compacted() {
        let mut store = Store::new(100);
        store.put(&pods(), ObjectKey::new("ns", "a"), json!({}));
        store.put(&pods(), ObjectKey::new("ns", "a"), json!({}));
        let (replay, _) = store.subscribe_after(2).unwrap();
        assert_eq!(replay.len(), 1);
        assert_eq!(replay[0].event_type, EventType::Modified);
        store.compact();
        assert!(store.subscribe_after(2).is_none());
        assert!(store.subscribe_after(3).is_some());
    }
}
