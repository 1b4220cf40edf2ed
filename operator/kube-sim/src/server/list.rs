//! LIST with selectors and paging (`limit` / `continue`).

use base64::Engine;
use serde_json::{Value, json};

use super::{ApiServer, Target, write::with_served_version};
use crate::error::Result;
use crate::status::ApiStatus;
use crate::store::ObjectKey;
use crate::store::selector::{FieldSelector, LabelSelector};

/// Query parameters of a LIST.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub label_selector: LabelSelector,
    pub field_selector: FieldSelector,
    /// At most this many items (0: all).
    pub limit: usize,
    /// The `continue` token of the previous page.
    pub continue_token: Option<String>,
}

/// Paging position: the list's resource version and the last key returned.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Continue {
    #[serde(rename = "rv")]
    resource_version: u64,
    #[serde(rename = "ns")]
    namespace: String,
    name: String,
}

/// Encodes a continue token (opaque to clients).
pub fn list_continue_token(resource_version: u64, key: &ObjectKey) -> String {
    let token = Continue {
        resource_version,
        namespace: key.namespace.clone(),
        name: key.name.clone(),
    };
    let bytes = serde_json::to_vec(&token).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn decode_token(token: &str) -> Result<Continue, ApiStatus> {
    let invalid =
        || ApiStatus::bad_request("continue key is not valid: illegal base64 data or JSON");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| invalid())?;
    serde_json::from_slice(&bytes).map_err(|_| invalid())
}

impl ApiServer {
    /// A `...List` object of the matching objects, in namespace/name order.
    pub fn list(&self, target: &Target, options: &ListOptions) -> Result<Value> {
        let state = self.lock();
        let resource_type = &target.resource_type;
        let resource = resource_type.group_resource();
        let (list_version, after) = match &options.continue_token {
            Some(token) => {
                let token = decode_token(token)?;
                if token.resource_version < state.store.compacted_through() {
                    return Err(ApiStatus::expired(
                        "The provided continue parameter is too old to display a consistent list result. \
                         You can start a new list without the continue parameter.",
                    )
                    .into());
                }
                (
                    token.resource_version,
                    Some(ObjectKey::new(&token.namespace, &token.name)),
                )
            }
            None => (state.store.resource_version(), None),
        };
        let namespace = if resource_type.namespaced {
            target.namespace.as_deref()
        } else {
            None
        };
        let mut matching = state
            .store
            .list(&resource, namespace)
            .filter(|(key, _)| after.as_ref().is_none_or(|after| *key > after))
            .filter(|(_, object)| {
                options.label_selector.matches(object) && options.field_selector.matches(object)
            });
        let mut items = Vec::new();
        let mut last_key = None;
        for (key, object) in matching.by_ref() {
            if options.limit > 0 && items.len() == options.limit {
                break;
            }
            items.push(with_served_version(object.clone(), resource_type));
            last_key = Some(key.clone());
        }
        let remaining = matching.count();
        let mut metadata = json!({"resourceVersion": list_version.to_string()});
        if options.limit > 0
            && items.len() == options.limit
            && let Some(last) = last_key
        {
            // `matching` stopped at the first item past the page: count it back in.
            let left = remaining + 1;
            let more = state
                .store
                .list(&resource, namespace)
                .filter(|(key, _)| **key > last)
                .any(|(_, o)| {
                    options.label_selector.matches(o) && options.field_selector.matches(o)
                });
            if more {
                metadata["continue"] = json!(list_continue_token(list_version, &last));
                metadata["remainingItemCount"] = json!(left);
            }
        }
        Ok(json!({
            "apiVersion": resource_type.api_version(),
            "kind": resource_type.list_kind,
            "metadata": metadata,
            "items": items,
        }))
    }
}
