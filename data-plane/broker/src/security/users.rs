//! The users a broker authenticates. A single broker keeps their SCRAM
//! credentials in `DATA_DIR/scram-credentials.json` (written atomically:
//! temporary file, fsync, rename, fsync of the directory; a crash leaves the
//! old or the new file, never a mix). A cluster broker reads them from the
//! controller's metadata image and changes them through the controller
//! leader (`SetScramCredential` records), so every broker knows every user.
//!
//! Only salts, iteration counts and derived keys are stored, never a
//! password (docs/security.md, "SASL").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use fjord_metadata::users::ScramCredentialRecord;

use super::scram::{ScramCredential, ScramMechanism};
use crate::cluster::requests::{ControllerReply, ControllerRequest, ScramChange};
use crate::cluster::{Controller, ControllerClient};
use crate::{Error, Result};

const FILE: &str = "scram-credentials.json";
/// Most users a broker keeps (each a few hundred bytes).
pub const USERS_MAX: usize = 100_000;
/// Longest user name accepted.
pub const USER_NAME_BYTES_MAX: usize = 256;

type Credentials = BTreeMap<String, BTreeMap<ScramMechanism, ScramCredential>>;

/// One change to a user's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialChange {
    Set(ScramCredential),
    Delete(ScramMechanism),
}

/// Why a credential change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialRefusal {
    #[error("user name must be 1 to {USER_NAME_BYTES_MAX} bytes")]
    UserName,
    #[error(
        "iterations must be within {}..={}",
        super::scram::ITERATIONS_MIN,
        super::scram::ITERATIONS_MAX
    )]
    Iterations,
    #[error("salt and salted password must not be empty")]
    Empty,
    #[error("no {0} credential for this user")]
    NotFound(&'static str),
    #[error("too many users")]
    TooMany,
}

/// Why a change to users could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("cannot store the credentials: {0}")]
    Storage(#[from] std::io::Error),
    #[error("the controller did not take the change: {0}")]
    Controller(String),
}

/// Where a cluster broker's users live.
#[derive(Debug)]
struct ClusterUsers {
    controller: Arc<Controller>,
    client: Arc<ControllerClient>,
}

/// The users this broker authenticates.
#[derive(Debug)]
pub struct ScramUsers {
    path: Option<PathBuf>,
    credentials: RwLock<Credentials>,
    cluster: Option<ClusterUsers>,
}

impl ScramUsers {
    /// Users held in memory only (tests).
    pub fn in_memory() -> Self {
        Self {
            path: None,
            credentials: RwLock::new(BTreeMap::new()),
            cluster: None,
        }
    }

    /// A cluster broker's users: the controller's.
    pub fn for_cluster(controller: Arc<Controller>, client: Arc<ControllerClient>) -> Self {
        Self {
            path: None,
            credentials: RwLock::new(BTreeMap::new()),
            cluster: Some(ClusterUsers { controller, client }),
        }
    }

    /// Every credential now: the local set, or the controller image's.
    fn snapshot(&self) -> Credentials {
        let Some(cluster) = &self.cluster else {
            return self
                .credentials
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
        };
        let image = cluster.controller.image();
        let mut credentials = Credentials::new();
        for (user, mechanism, record) in image.scram_credentials() {
            if let Some(mechanism) = ScramMechanism::from_name(mechanism) {
                credentials
                    .entry(user.to_owned())
                    .or_default()
                    .insert(mechanism, from_record(mechanism, record));
            }
        }
        credentials
    }

    /// Opens the store in `data_dir`, empty when there is no file yet.
    pub fn open(data_dir: &Path) -> Result<Self> {
        let path = data_dir.join(FILE);
        let credentials = match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|error| Error::DataDirMetadata {
                    path: path.clone(),
                    reason: error.to_string(),
                })?
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => return Err(Error::DataDir { path, source }),
        };
        Ok(Self {
            path: Some(path),
            credentials: RwLock::new(credentials),
            cluster: None,
        })
    }

    /// The credential of `user` for `mechanism`.
    pub fn get(&self, user: &str, mechanism: ScramMechanism) -> Option<ScramCredential> {
        if let Some(cluster) = &self.cluster {
            let image = cluster.controller.image();
            let record = image.scram_credential(user, mechanism.name())?;
            return Some(from_record(mechanism, record));
        }
        self.credentials
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(user)?
            .get(&mechanism)
            .cloned()
    }

    /// Users and the (mechanism, iterations) of their credentials; every
    /// user when `only` is `None`.
    pub fn describe(
        &self,
        only: Option<&[String]>,
    ) -> BTreeMap<String, Vec<(ScramMechanism, u32)>> {
        let credentials = self.snapshot();
        let summary = |mechanisms: &BTreeMap<ScramMechanism, ScramCredential>| {
            mechanisms
                .values()
                .map(|credential| (credential.mechanism, credential.iterations))
                .collect::<Vec<_>>()
        };
        match only {
            None => credentials
                .iter()
                .map(|(user, mechanisms)| (user.clone(), summary(mechanisms)))
                .collect(),
            Some(users) => users
                .iter()
                .filter_map(|user| Some((user.clone(), summary(credentials.get(user)?))))
                .collect(),
        }
    }

    /// Checks a change without applying it.
    pub fn check(&self, user: &str, change: &CredentialChange) -> Result<(), CredentialRefusal> {
        if user.is_empty() || user.len() > USER_NAME_BYTES_MAX {
            return Err(CredentialRefusal::UserName);
        }
        match change {
            CredentialChange::Set(credential) => {
                let iterations = super::scram::ITERATIONS_MIN..=super::scram::ITERATIONS_MAX;
                if !iterations.contains(&credential.iterations) {
                    return Err(CredentialRefusal::Iterations);
                }
                if credential.salt.is_empty() || credential.stored_key.is_empty() {
                    return Err(CredentialRefusal::Empty);
                }
                let credentials = self.snapshot();
                if !credentials.contains_key(user) && credentials.len() >= USERS_MAX {
                    return Err(CredentialRefusal::TooMany);
                }
                Ok(())
            }
            CredentialChange::Delete(mechanism) => self
                .get(user, *mechanism)
                .map(|_| ())
                .ok_or(CredentialRefusal::NotFound(mechanism.name())),
        }
    }

    /// The changes that create `user` from the password in `password_file`
    /// (first line) for every SCRAM mechanism it has no credential for yet;
    /// none when it has them all. An existing credential is left alone:
    /// later password changes go through `AlterUserScramCredentials`.
    pub fn bootstrap_changes(
        &self,
        user: &str,
        password_file: &Path,
    ) -> Result<Vec<(String, CredentialChange)>> {
        let text = std::fs::read_to_string(password_file).map_err(|source| Error::DataDir {
            path: password_file.to_owned(),
            source,
        })?;
        let password = text.lines().next().unwrap_or_default();
        if password.is_empty() {
            return Err(Error::Config(format!(
                "--sasl-bootstrap-password-file {} holds no password",
                password_file.display()
            )));
        }
        let iterations = std::num::NonZeroU32::new(super::scram::ITERATIONS_MIN)
            .expect("the minimum is not zero");
        Ok(ScramMechanism::ALL
            .into_iter()
            .filter(|mechanism| self.get(user, *mechanism).is_none())
            .map(|mechanism| {
                let credential = ScramCredential::from_password(
                    mechanism,
                    password.as_bytes(),
                    super::random_salt(),
                    iterations,
                );
                (user.to_owned(), CredentialChange::Set(credential))
            })
            .collect())
    }

    /// Makes checked changes: on a single broker, applied together and
    /// persisted before returning (a small file's fsync, on the calling
    /// task: user changes are rare); in a cluster, committed to the
    /// controller log, from which every broker applies them.
    pub async fn commit(&self, changes: &[(String, CredentialChange)]) -> Result<(), CommitError> {
        let Some(cluster) = &self.cluster else {
            return Ok(self.apply(changes)?);
        };
        let changes = changes
            .iter()
            .map(|(user, change)| ScramChange {
                user: user.clone(),
                mechanism: match change {
                    CredentialChange::Set(credential) => credential.mechanism.name(),
                    CredentialChange::Delete(mechanism) => mechanism.name(),
                }
                .to_owned(),
                credential: match change {
                    CredentialChange::Set(credential) => Some(to_record(credential)),
                    CredentialChange::Delete(_) => None,
                },
            })
            .collect();
        match cluster
            .client
            .call(&ControllerRequest::SetScramCredentials { changes })
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

    /// Applies checked changes to the local set together and persists them
    /// before returning (a single broker; tests).
    pub fn apply(&self, changes: &[(String, CredentialChange)]) -> std::io::Result<()> {
        let mut credentials = self
            .credentials
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let mut next = credentials.clone();
        for (user, change) in changes {
            match change {
                CredentialChange::Set(credential) => {
                    next.entry(user.clone())
                        .or_default()
                        .insert(credential.mechanism, credential.clone());
                }
                CredentialChange::Delete(mechanism) => {
                    if let Some(mechanisms) = next.get_mut(user) {
                        mechanisms.remove(mechanism);
                        if mechanisms.is_empty() {
                            next.remove(user);
                        }
                    }
                }
            }
        }
        if let Some(path) = &self.path {
            write_atomically(path, &next)?;
        }
        // Only what is durable is used to authenticate.
        *credentials = next;
        Ok(())
    }
}

fn from_record(mechanism: ScramMechanism, record: &ScramCredentialRecord) -> ScramCredential {
    ScramCredential {
        mechanism,
        salt: record.salt.clone(),
        iterations: record.iterations,
        stored_key: record.stored_key.clone(),
        server_key: record.server_key.clone(),
    }
}

fn to_record(credential: &ScramCredential) -> ScramCredentialRecord {
    ScramCredentialRecord {
        salt: credential.salt.clone(),
        iterations: credential.iterations,
        stored_key: credential.stored_key.clone(),
        server_key: credential.server_key.clone(),
    }
}

/// Writes `value` as JSON to `path` so that a crash leaves the old or the
/// new file: temporary file, fsync, rename, fsync of the directory.
pub(crate) fn write_atomically<T: serde::Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let text = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    fjord_storage::replace_file(path, &text)
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;

    fn credential(mechanism: ScramMechanism, password: &[u8]) -> ScramCredential {
        ScramCredential::from_password(
            mechanism,
            password,
            b"salt".to_vec(),
            NonZeroU32::new(4096).unwrap(),
        )
    }

    #[test]
    fn credentials_survive_a_reopen_and_deletes_remove_them() {
        let dir = tempfile::tempdir().unwrap();
        let users = ScramUsers::open(dir.path()).unwrap();
        let alice = credential(ScramMechanism::Sha512, b"secret");
        users
            .apply(&[("alice".into(), CredentialChange::Set(alice.clone()))])
            .unwrap();
        let reopened = ScramUsers::open(dir.path()).unwrap();
        assert_eq!(reopened.get("alice", ScramMechanism::Sha512), Some(alice));
        assert_eq!(reopened.get("alice", ScramMechanism::Sha256), None);
        assert_eq!(
            reopened.describe(None)["alice"],
            vec![(ScramMechanism::Sha512, 4096)]
        );
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert!(!text.contains("secret"));

        reopened
            .apply(&[(
                "alice".into(),
                CredentialChange::Delete(ScramMechanism::Sha512),
            )])
            .unwrap();
        assert!(
            ScramUsers::open(dir.path())
                .unwrap()
                .describe(None)
                .is_empty()
        );
    }

    #[test]
    fn bad_changes_are_refused_with_a_reason() {
        let users = ScramUsers::in_memory();
        let mut weak = credential(ScramMechanism::Sha256, b"x");
        weak.iterations = 10;
        assert_eq!(
            users.check("bob", &CredentialChange::Set(weak)),
            Err(CredentialRefusal::Iterations)
        );
        assert_eq!(
            users.check(
                "",
                &CredentialChange::Set(credential(ScramMechanism::Sha256, b"x"))
            ),
            Err(CredentialRefusal::UserName)
        );
        assert_eq!(
            users.check("bob", &CredentialChange::Delete(ScramMechanism::Sha256)),
            Err(CredentialRefusal::NotFound("SCRAM-SHA-256"))
        );
    }
}
