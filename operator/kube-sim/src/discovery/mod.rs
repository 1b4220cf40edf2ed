//! What the server serves: the resource type table and the discovery documents
//! (`/api`, `/apis`, `/version`, resource lists) built from it.

mod builtin;
mod documents;
mod openapi;
mod registry;
mod resource_type;

pub use documents::{api_group_list, api_resource_list, api_versions, version_info};
pub use openapi::{openapi_group_version, openapi_root};
pub use registry::Registry;
pub use resource_type::{
    GroupResource, Normalize, Origin, PrinterColumn, ResourceType, ResourceTypeRef,
};
