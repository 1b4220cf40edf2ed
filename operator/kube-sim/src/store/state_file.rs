//! The state file: every object and the resource version, so a restart loses nothing.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ObjectKey;
use crate::discovery::GroupResource;
use crate::error::{Error, Result};

/// One stored object in the file.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct FileObject {
    group: String,
    resource: String,
    namespace: String,
    name: String,
    object: Value,
}

/// What `--state PATH` holds (JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StateFile {
    resource_version: u64,
    objects: Vec<FileObject>,
}

impl StateFile {
    pub(super) fn from_objects(
        resource_version: u64,
        objects: &BTreeMap<GroupResource, BTreeMap<ObjectKey, Value>>,
    ) -> Self {
        let objects = objects
            .iter()
            .flat_map(|(resource, objects)| {
                objects.iter().map(move |(key, object)| FileObject {
                    group: resource.group.clone(),
                    resource: resource.resource.clone(),
                    namespace: key.namespace.clone(),
                    name: key.name.clone(),
                    object: object.clone(),
                })
            })
            .collect();
        Self {
            resource_version,
            objects,
        }
    }

    pub(super) fn into_objects(self) -> (u64, BTreeMap<GroupResource, BTreeMap<ObjectKey, Value>>) {
        let mut objects: BTreeMap<GroupResource, BTreeMap<ObjectKey, Value>> = BTreeMap::new();
        for object in self.objects {
            objects
                .entry(GroupResource {
                    group: object.group,
                    resource: object.resource,
                })
                .or_default()
                .insert(
                    ObjectKey::new(&object.namespace, &object.name),
                    object.object,
                );
        }
        (self.resource_version.max(1), objects)
    }

    /// Objects in the file, for installing CRDs before the rest.
    pub fn objects_of(&self, group: &str, resource: &str) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|o| o.group == group && o.resource == resource)
            .map(|o| o.object.clone())
            .collect()
    }

    /// Writes the file atomically (temporary file, then rename).
    pub fn write(&self, path: &Path) -> Result<()> {
        let io = |source| Error::StateFile {
            path: path.to_owned(),
            source,
        };
        let text = serde_json::to_vec_pretty(self).map_err(|source| Error::StateDecode {
            path: path.to_owned(),
            source,
        })?;
        let temporary = path.with_extension("tmp");
        std::fs::write(&temporary, text).map_err(io)?;
        std::fs::rename(&temporary, path).map_err(io)
    }

    /// Reads the file; `None` if it does not exist yet.
    pub fn read(path: &Path) -> Result<Option<Self>> {
        match std::fs::read(path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|source| Error::StateDecode {
                        path: path.to_owned(),
                        source,
                    })
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::StateFile {
                path: path.to_owned(),
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_written_state_file_reads_back_the_same_objects_and_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut objects = BTreeMap::new();
        objects.insert(
            GroupResource {
                group: "apps".into(),
                resource: "statefulsets".into(),
            },
            BTreeMap::from([(
                ObjectKey::new("ns", "web"),
                json!({"spec": {"replicas": 3}}),
            )]),
        );
        StateFile::from_objects(42, &objects).write(&path).unwrap();
        let (version, read) = StateFile::read(&path).unwrap().unwrap().into_objects();
        assert_eq!(version, 42);
        assert_eq!(read, objects);
        assert!(
            StateFile::read(&dir.path().join("missing"))
                .unwrap()
                .is_none()
        );
    }
}
