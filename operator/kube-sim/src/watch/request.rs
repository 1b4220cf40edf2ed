//! What a watch asks for.

use std::time::Duration;

use serde_json::{Value, json};

use crate::discovery::ResourceTypeRef;
use crate::store::StoredEvent;
use crate::store::selector::{FieldSelector, LabelSelector};

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

    /// Whether a change concerns this watch.
    pub fn matches(&self, change: &StoredEvent) -> bool {
        change.resource == self.resource_type.group_resource()
            && (!self.resource_type.namespaced
                || self
                    .namespace
                    .as_deref()
                    .is_none_or(|ns| ns == change.key.namespace))
            && self.selects(&change.object)
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
