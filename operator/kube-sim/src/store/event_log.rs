//! The bounded log of changes that watches replay from.

use std::collections::VecDeque;
use std::sync::Arc;

use serde_json::Value;

use super::ObjectKey;
use crate::discovery::GroupResource;

/// Kind of change, as a watch event's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    /// The watch event `type` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change of one object.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub resource_version: u64,
    pub event_type: EventType,
    pub resource: GroupResource,
    pub key: ObjectKey,
    /// The object after the change (before it, for a deletion).
    pub object: Value,
    /// The object before a modification (watches with selectors need it to turn a
    /// change that leaves or enters the selection into DELETED or ADDED).
    pub previous: Option<Value>,
}

/// Changes with versions in `(compacted_through, newest]`, oldest first.
#[derive(Debug)]
pub struct EventLog {
    events: VecDeque<Arc<StoredEvent>>,
    capacity: usize,
    compacted_through: u64,
}

impl EventLog {
    /// An empty log starting after version `start`.
    pub fn new(capacity: usize, start: u64) -> Self {
        assert!(capacity > 0, "the change log must hold at least one event");
        Self {
            events: VecDeque::new(),
            capacity,
            compacted_through: start,
        }
    }

    /// Appends a change; drops the oldest past capacity.
    pub fn push(&mut self, event: Arc<StoredEvent>) {
        if let Some(last) = self.events.back() {
            assert!(
                event.resource_version > last.resource_version,
                "the change log is in version order"
            );
        }
        self.events.push_back(event);
        while self.events.len() > self.capacity {
            if let Some(dropped) = self.events.pop_front() {
                self.compacted_through = dropped.resource_version;
            }
        }
    }

    /// Changes after `version`, or `None` if some of them were dropped.
    pub fn after(&self, version: u64) -> Option<Vec<Arc<StoredEvent>>> {
        if version < self.compacted_through {
            return None;
        }
        Some(
            self.events
                .iter()
                .filter(|e| e.resource_version > version)
                .cloned()
                .collect(),
        )
    }

    /// Drops every change up to `version`.
    pub fn compact_through(&mut self, version: u64) {
        self.events.retain(|e| e.resource_version > version);
        self.compacted_through = self.compacted_through.max(version);
    }

    /// The oldest version a replay can start after.
    pub fn compacted_through(&self) -> u64 {
        self.compacted_through
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(version: u64) -> Arc<StoredEvent> {
        Arc::new(StoredEvent {
            resource_version: version,
            event_type: EventType::Added,
            resource: GroupResource {
                group: String::new(),
                resource: "pods".into(),
            },
            key: ObjectKey::new("", "a"),
            object: Value::Null,
            previous: None,
        })
    }

    #[test]
    fn a_full_log_forgets_its_oldest_changes_and_refuses_replays_from_before_them() {
        let mut log = EventLog::new(2, 1);
        for version in 2..=4 {
            log.push(event(version));
        }
        assert_eq!(log.compacted_through(), 2);
        assert!(log.after(1).is_none());
        assert_eq!(log.after(2).unwrap().len(), 2);
        assert_eq!(log.after(3).unwrap().len(), 1);
    }
}
