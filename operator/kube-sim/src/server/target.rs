//! Which objects a request addresses.

use crate::discovery::ResourceTypeRef;
use crate::status::ApiStatus;
use crate::store::ObjectKey;

/// A resource type, optionally narrowed to a namespace, an object and a subresource.
#[derive(Debug, Clone)]
pub struct Target {
    pub resource_type: ResourceTypeRef,
    /// The namespace of the URL (`None` for cluster-scoped types and all-namespace lists).
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// `status` (the only subresource served).
    pub subresource: Option<String>,
}

impl Target {
    /// All objects of a type (in one namespace, if given).
    pub fn collection(resource_type: ResourceTypeRef, namespace: Option<&str>) -> Self {
        Self {
            resource_type,
            namespace: namespace.map(str::to_owned),
            name: None,
            subresource: None,
        }
    }

    /// One object.
    pub fn object(resource_type: ResourceTypeRef, namespace: Option<&str>, name: &str) -> Self {
        Self {
            resource_type,
            namespace: namespace.map(str::to_owned),
            name: Some(name.to_owned()),
            subresource: None,
        }
    }

    /// The same object's `status` subresource.
    pub fn status(mut self) -> Self {
        self.subresource = Some("status".to_owned());
        self
    }

    /// Whether the request is for the status subresource.
    pub fn is_status(&self) -> bool {
        self.subresource.as_deref() == Some("status")
    }

    /// The namespace objects of this target live in ("" when cluster-scoped).
    pub fn storage_namespace(&self) -> &str {
        if self.resource_type.namespaced {
            self.namespace.as_deref().unwrap_or("")
        } else {
            ""
        }
    }

    /// The store key of the named object.
    pub fn key(&self) -> Result<ObjectKey, ApiStatus> {
        let name = self
            .name
            .as_deref()
            .ok_or_else(|| ApiStatus::method_not_allowed("a name is required for this request"))?;
        if self.resource_type.namespaced && self.namespace.is_none() {
            return Err(ApiStatus::bad_request(
                "a namespace is required for a namespaced resource",
            ));
        }
        Ok(ObjectKey::new(self.storage_namespace(), name))
    }

    /// `NotFound` for the named object.
    pub fn not_found(&self) -> ApiStatus {
        let resource_type = &self.resource_type;
        let name = self.name.as_deref().unwrap_or("");
        ApiStatus::not_found(&resource_type.group_resource().qualified(), name).with_details(
            &resource_type.group,
            &resource_type.plural,
            name,
        )
    }
}
