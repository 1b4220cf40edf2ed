//! What the server knows about one served resource (one group/version/plural).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A resource independent of its version: the unit objects are stored under.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GroupResource {
    /// API group; empty for the core group.
    pub group: String,
    /// Plural resource name, e.g. `pods`.
    pub resource: String,
}

impl GroupResource {
    /// `resource.group`, as Kubernetes writes it in messages (`pods`, `statefulsets.apps`).
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.resource.clone()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }
}

/// Turns a built-in object into its canonical JSON (unknown fields dropped) or fails
/// the way the API server's decoder would.
pub type Normalize = fn(Value) -> Result<Value, serde_json::Error>;

/// A printer column of a CRD (`additionalPrinterColumns`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrinterColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub column_type: String,
    #[serde(default)]
    pub format: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub priority: i32,
    pub json_path: String,
}

/// Where a resource type comes from.
#[derive(Clone, Debug)]
pub enum Origin {
    /// Compiled in from k8s-openapi.
    Builtin { normalize: Normalize },
    /// Installed by a CustomResourceDefinition.
    Custom {
        /// The version's `schema.openAPIV3Schema`.
        schema: Option<Value>,
        /// The version's `additionalPrinterColumns`.
        printer_columns: Vec<PrinterColumn>,
        /// Name of the CRD that serves it.
        crd_name: String,
    },
}

/// One served resource.
#[derive(Clone, Debug)]
pub struct ResourceType {
    pub group: String,
    pub version: String,
    pub kind: String,
    /// Plural name, the URL path segment.
    pub plural: String,
    pub singular: String,
    pub list_kind: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// Whether `/status` is a subresource (then the main resource ignores status).
    pub status_subresource: bool,
    /// Whether `metadata.generation` is kept (bumped on every non-metadata, non-status change).
    pub tracks_generation: bool,
    pub origin: Origin,
}

/// Shared handle to a resource type.
pub type ResourceTypeRef = Arc<ResourceType>;

impl ResourceType {
    /// The version-independent key objects of this type are stored under.
    pub fn group_resource(&self) -> GroupResource {
        GroupResource {
            group: self.group.clone(),
            resource: self.plural.clone(),
        }
    }

    /// `group/version`, or just `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Whether this type is a custom resource.
    pub fn is_custom(&self) -> bool {
        matches!(self.origin, Origin::Custom { .. })
    }

    /// The URL prefix of this type's group version (`/api/v1`, `/apis/apps/v1`).
    pub fn group_version_path(&self) -> String {
        if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        }
    }
}
