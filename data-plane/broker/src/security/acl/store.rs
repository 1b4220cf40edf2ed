//! Where a broker's ACL bindings live. A single broker keeps them in
//! `DATA_DIR/acls.json` (written atomically, like the users: a crash leaves
//! the old or the new set). A cluster broker reads them from the
//! controller's metadata image and changes them through the controller
//! leader (`CreateAcl`/`DeleteAcl` records), exactly as users are
//! replicated, so a binding created through one broker is enforced by all
//! once they have applied the record.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use fjord_metadata::acl::{ACLS_MAX, AclBinding, AclSet};
use serde::{Deserialize, Serialize};

use crate::cluster::requests::{ControllerReply, ControllerRequest};
use crate::cluster::{Controller, ControllerClient};
use crate::security::users::{CommitError, write_atomically};
use crate::{Error, Result};

const FILE: &str = "acls.json";

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AclFile {
    bindings: Vec<AclBinding>,
}

#[derive(Debug)]
struct ClusterAcls {
    controller: Arc<Controller>,
    client: Arc<ControllerClient>,
}

/// The bindings this broker authorizes with.
#[derive(Debug)]
pub struct AclStore {
    path: Option<PathBuf>,
    local: RwLock<AclSet>,
    cluster: Option<ClusterAcls>,
}

impl AclStore {
    /// Bindings held in memory only (tests).
    pub fn in_memory() -> Self {
        Self {
            path: None,
            local: RwLock::new(AclSet::new()),
            cluster: None,
        }
    }

    /// A cluster broker's bindings: the controller's.
    pub fn for_cluster(controller: Arc<Controller>, client: Arc<ControllerClient>) -> Self {
        Self {
            path: None,
            local: RwLock::new(AclSet::new()),
            cluster: Some(ClusterAcls { controller, client }),
        }
    }

    /// Opens the store in `data_dir`, empty when there is no file yet. A
    /// file holding an invalid binding is refused (the broker does not
    /// start on bindings it cannot understand).
    pub fn open(data_dir: &Path) -> Result<Self> {
        let path = data_dir.join(FILE);
        let invalid = |reason: String| Error::DataDirMetadata {
            path: path.clone(),
            reason,
        };
        let file: AclFile = match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|error| invalid(error.to_string()))?
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => AclFile::default(),
            Err(source) => return Err(Error::DataDir { path, source }),
        };
        for binding in &file.bindings {
            binding
                .check()
                .map_err(|error| invalid(error.to_string()))?;
        }
        Ok(Self {
            local: RwLock::new(file.bindings.into_iter().collect()),
            path: Some(path),
            cluster: None,
        })
    }

    /// Runs `read` over the current bindings.
    pub fn with_acls<R>(&self, read: impl FnOnce(&AclSet) -> R) -> R {
        match &self.cluster {
            Some(cluster) => read(cluster.controller.image().acls()),
            None => read(&self.local.read().unwrap_or_else(PoisonError::into_inner)),
        }
    }

    /// Whether `creations` more bindings fit under [`ACLS_MAX`].
    pub fn has_room_for(&self, creations: usize) -> bool {
        self.with_acls(|acls| acls.len().saturating_add(creations) <= ACLS_MAX)
    }

    /// Adds `create` and removes `delete` (both checked): on a single
    /// broker together and persisted before returning; in a cluster
    /// committed to the controller log, one record per binding.
    pub async fn commit(
        &self,
        create: Vec<AclBinding>,
        delete: Vec<AclBinding>,
    ) -> Result<(), CommitError> {
        let Some(cluster) = &self.cluster else {
            return Ok(self.apply(&create, &delete)?);
        };
        match cluster
            .client
            .call(&ControllerRequest::SetAcls { create, delete })
            .await
        {
            ControllerReply::Done { .. } => Ok(()),
            ControllerReply::Refused { message, .. } | ControllerReply::Failed { message } => {
                Err(CommitError::Controller(message))
            }
            ControllerReply::NotLeader { .. } => {
                Err(CommitError::Controller("no controller leader".to_owned()))
            }
        }
    }

    fn apply(&self, create: &[AclBinding], delete: &[AclBinding]) -> std::io::Result<()> {
        let mut local = self.local.write().unwrap_or_else(PoisonError::into_inner);
        let mut next = local.clone();
        for binding in delete {
            next.remove(binding);
        }
        for binding in create {
            next.insert(binding.clone());
        }
        if let Some(path) = &self.path {
            let file = AclFile {
                bindings: next.iter().cloned().collect(),
            };
            write_atomically(path, &file)?;
        }
        // Only what is durable is enforced.
        *local = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use fjord_metadata::acl::{AclOperation, PatternType, Permission, ResourceType};

    use super::*;

    fn binding(name: &str) -> AclBinding {
        AclBinding {
            resource_type: ResourceType::Topic,
            resource_name: name.into(),
            pattern_type: PatternType::Prefixed,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: AclOperation::Write,
            permission: Permission::Allow,
        }
    }

    #[tokio::test]
    async fn bindings_survive_a_reopen_and_deletes_remove_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = AclStore::open(dir.path()).unwrap();
        store
            .commit(vec![binding("orders."), binding("logs.")], vec![])
            .await
            .unwrap();
        let reopened = AclStore::open(dir.path()).unwrap();
        assert_eq!(reopened.with_acls(AclSet::len), 2);
        reopened
            .commit(vec![], vec![binding("orders.")])
            .await
            .unwrap();
        let again = AclStore::open(dir.path()).unwrap();
        let names: Vec<String> =
            again.with_acls(|acls| acls.iter().map(|b| b.resource_name.clone()).collect());
        assert_eq!(names, vec!["logs.".to_owned()]);
    }

    #[test]
    fn a_file_with_an_invalid_binding_is_refused_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let mut bad = binding("t");
        bad.principal = "alice".into();
        let text = serde_json::to_vec(&AclFile {
            bindings: vec![bad],
        })
        .unwrap();
        std::fs::write(dir.path().join(FILE), text).unwrap();
        let error = AclStore::open(dir.path()).unwrap_err().to_string();
        assert!(error.contains("acls.json"), "{error}");
    }
}
