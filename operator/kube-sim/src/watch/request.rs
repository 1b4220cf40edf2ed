//! What a watch asks for.

use std::time::Duration;

use serde_json::{Value, json};

use crate::discovery::ResourceTypeRef;
use crate::store::selector::{FieldSelector, LabelSelector};
use crate::store::{EventType, StoredEvent};

/// A watch's parameters.
#[derive(Debug, Clone)]
pub struct WatchRequest {
    pub resource_type: ResourceTypeRef,
    /// Only this namespace (`None`: all).
    pub namespace: Option<String>,
    pub label_selector: LabelSelector,
    pub field_selector: FieldSelector,
    /// Start after this version; `None` (absent or "0") starts with the current objects.
    pub resource_version: Option<u64>,
    pub allow_bookmarks: bool,
    pub send_initial_events: bool,
    pub timeout: Duration,
    pub bookmark_interval: Duration,
}

impl WatchRequest {
    /// Whether an object is selected (namespace aside).
    pub fn selects(&self, object: &Value) -> bool {
        self.label_selector.matches(object) && self.field_selector.matches(object)
    }

    /// The event type this watch sees for a change, if any: a modification that
    /// takes an object out of the selection is `DELETED`, one that brings it in `ADDED`.
    pub fn event_type(&self, change: &StoredEvent) -> Option<&'static str> {
        let concerned = change.resource == self.resource_type.group_resource()
            && (!self.resource_type.namespaced
                || self
                    .namespace
                    .as_deref()
                    .is_none_or(|ns| ns == change.key.namespace));
        if !concerned {
            return None;
        }
        let now = self.selects(&change.object);
        match change.event_type {
            EventType::Modified => {
                let before = change.previous.as_ref().is_some_and(|p| self.selects(p));
                match (before, now) {
                    (true, true) => Some("MODIFIED"),
                    (false, true) => Some("ADDED"),
                    (true, false) => Some("DELETED"),
                    (false, false) => None,
                }
            }
            other => now.then_some(other.as_str()),
        }
    }

    /// A BOOKMARK object at `version`.
    pub fn bookmark(&self, version: u64) -> Value {
        json!({
            "kind": self.resource_type.kind,
            "apiVersion": self.resource_type.api_version(),
            "metadata": {"resourceVersion": version.to_string()},
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::discovery::Registry;
    use crate::store::ObjectKey;

    fn labelled(tier: &str) -> Value {
        json!({"metadata": {"name": "a", "labels": {"tier": tier}}})
    }

    #[test]
    fn a_change_that_leaves_the_selection_is_deleted_and_one_that_enters_it_is_added() {
        let registry = Registry::default();
        let request = WatchRequest {
            resource_type: registry.get("", "v1", "configmaps").unwrap(),
            namespace: Some("ns".into()),
            label_selector: LabelSelector::parse("tier=front").unwrap(),
            field_selector: FieldSelector::default(),
            resource_version: None,
            allow_bookmarks: false,
            send_initial_events: false,
            timeout: Duration::from_secs(1),
            bookmark_interval: Duration::from_secs(1),
        };
        let change = |object: Value, previous: Option<Value>| StoredEvent {
            resource_version: 2,
            event_type: if previous.is_some() {
                EventType::Modified
            } else {
                EventType::Added
            },
            resource: request.resource_type.group_resource(),
            key: ObjectKey::new("ns", "a"),
            object,
            previous,
        };
        assert_eq!(
            request.event_type(&change(labelled("back"), Some(labelled("front")))),
            Some("DELETED")
        );
        assert_eq!(
            request.event_type(&change(labelled("front"), Some(labelled("back")))),
            Some("ADDED")
        );
        assert_eq!(
            request.event_type(&change(labelled("front"), Some(labelled("front")))),
            Some("MODIFIED")
        );
        assert_eq!(request.event_type(&change(labelled("back"), None)), None);
    }
}
