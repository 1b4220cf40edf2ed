//! The table of served resource types: built-ins plus those installed by CRDs.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::builtin::builtin_types;
use super::resource_type::{GroupResource, ResourceType, ResourceTypeRef};

/// Served types by (group, version, plural).
#[derive(Debug, Clone)]
pub struct Registry {
    types: BTreeMap<(String, String, String), ResourceTypeRef>,
}

impl Default for Registry {
    fn default() -> Self {
        let mut registry = Self {
            types: BTreeMap::new(),
        };
        for resource_type in builtin_types() {
            registry.insert(resource_type);
        }
        registry
    }
}

impl Registry {
    /// Adds or replaces a served type.
    pub fn insert(&mut self, resource_type: ResourceType) {
        let key = (
            resource_type.group.clone(),
            resource_type.version.clone(),
            resource_type.plural.clone(),
        );
        self.types.insert(key, Arc::new(resource_type));
    }

    /// Stops serving every version of a group resource.
    pub fn remove(&mut self, group_resource: &GroupResource) {
        self.types.retain(|(group, _, plural), _| {
            !(group == &group_resource.group && plural == &group_resource.resource)
        });
    }

    /// The type served at `group/version/plural`.
    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<ResourceTypeRef> {
        self.types
            .get(&(group.to_owned(), version.to_owned(), plural.to_owned()))
            .cloned()
    }

    /// The type with this `apiVersion` and `kind`.
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<ResourceTypeRef> {
        let (group, version) = match api_version.split_once('/') {
            Some((group, version)) => (group, version),
            None => ("", api_version),
        };
        self.types
            .values()
            .find(|t| t.group == group && t.version == version && t.kind == kind)
            .cloned()
    }

    /// Every served type, ordered by group, version, plural.
    pub fn all(&self) -> impl Iterator<Item = &ResourceTypeRef> {
        self.types.values()
    }

    /// Every version served for a group resource.
    pub fn versions_of(&self, group_resource: &GroupResource) -> Vec<ResourceTypeRef> {
        self.types
            .values()
            .filter(|t| t.group == group_resource.group && t.plural == group_resource.resource)
            .cloned()
            .collect()
    }

    /// Groups and their versions, core group first, in a stable order.
    pub fn group_versions(&self) -> Vec<(String, Vec<String>)> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for resource_type in self.types.values() {
            match groups.iter_mut().find(|(g, _)| g == &resource_type.group) {
                Some((_, versions)) => {
                    if !versions.contains(&resource_type.version) {
                        versions.push(resource_type.version.clone());
                    }
                }
                None => groups.push((
                    resource_type.group.clone(),
                    vec![resource_type.version.clone()],
                )),
            }
        }
        groups
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_types_are_found_by_path_and_by_kind() {
        let registry = Registry::default();
        let sts = registry.get("apps", "v1", "statefulsets").unwrap();
        assert_eq!(sts.kind, "StatefulSet");
        let pod = registry.by_kind("v1", "Pod").unwrap();
        assert_eq!(pod.plural, "pods");
        assert!(registry.get("apps", "v1", "widgets").is_none());
    }

    #[test]
    fn group_versions_list_the_core_group_first() {
        let registry = Registry::default();
        let groups = registry.group_versions();
        assert_eq!(groups[0], (String::new(), vec!["v1".to_owned()]));
        assert!(groups.iter().any(|(g, _)| g == "apps"));
    }
}
