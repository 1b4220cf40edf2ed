//! SCRAM credentials in the controller log, so every broker authenticates
//! every user (docs/security.md, "Users"). A record sets or deletes one
//! user's credential for one mechanism; it carries the salt, the iteration
//! count and the derived keys, never a password.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::image::MetadataImage;
use crate::record::MetadataRecord;

/// The SCRAM mechanisms a credential may be for.
pub const SCRAM_MECHANISMS: [&str; 2] = ["SCRAM-SHA-256", "SCRAM-SHA-512"];
/// Longest user name.
pub const USER_NAME_BYTES_MAX: usize = 256;
/// Longest salt.
pub const SALT_BYTES_MAX: usize = 1024;
/// Longest derived key (SHA-512's output).
pub const KEY_BYTES_MAX: usize = 64;
/// Iteration counts a credential may have.
pub const ITERATIONS: std::ops::RangeInclusive<u32> = 4096..=16_384;

/// What the cluster keeps of one user's password for one mechanism.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScramCredentialRecord {
    pub salt: Vec<u8>,
    pub iterations: u32,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

/// Checks a `SetScramCredential` record's fields against their limits.
pub(crate) fn check_limits(
    user: &str,
    mechanism: &str,
    credential: Option<&ScramCredentialRecord>,
) -> Result<()> {
    if user.is_empty() || user.len() > USER_NAME_BYTES_MAX {
        return Err(Error::Decode(format!(
            "a user name must be 1 to {USER_NAME_BYTES_MAX} bytes"
        )));
    }
    if !SCRAM_MECHANISMS.contains(&mechanism) {
        return Err(Error::Decode(format!(
            "unknown SCRAM mechanism {mechanism:?}"
        )));
    }
    let Some(credential) = credential else {
        return Ok(());
    };
    let keys_fit = [&credential.stored_key, &credential.server_key]
        .iter()
        .all(|key| !key.is_empty() && key.len() <= KEY_BYTES_MAX);
    if credential.salt.is_empty() || credential.salt.len() > SALT_BYTES_MAX || !keys_fit {
        return Err(Error::Decode("SCRAM salt or key of a wrong length".into()));
    }
    if !ITERATIONS.contains(&credential.iterations) {
        return Err(Error::Decode(format!(
            "SCRAM iterations must be within {ITERATIONS:?}"
        )));
    }
    Ok(())
}

impl MetadataImage {
    /// The credential of `user` for `mechanism`.
    pub fn scram_credential(&self, user: &str, mechanism: &str) -> Option<&ScramCredentialRecord> {
        self.scram_credentials
            .get(&(user.to_owned(), mechanism.to_owned()))
    }

    /// Every (user, mechanism, credential), by user then mechanism.
    pub fn scram_credentials(&self) -> impl Iterator<Item = (&str, &str, &ScramCredentialRecord)> {
        self.scram_credentials
            .iter()
            .map(|((user, mechanism), credential)| (user.as_str(), mechanism.as_str(), credential))
    }

    pub(crate) fn apply_user_record(&mut self, record: &MetadataRecord) {
        let MetadataRecord::SetScramCredential {
            user,
            mechanism,
            credential,
        } = record
        else {
            unreachable!("apply_valid routes only user records here");
        };
        let key = (user.clone(), mechanism.clone());
        match credential {
            Some(credential) => {
                self.scram_credentials.insert(key, credential.clone());
            }
            None => {
                self.scram_credentials.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credential() -> ScramCredentialRecord {
        ScramCredentialRecord {
            salt: vec![1; 16],
            iterations: 4096,
            stored_key: vec![2; 64],
            server_key: vec![3; 64],
        }
    }

    #[test]
    fn credentials_are_set_replaced_and_deleted_by_records() {
        let mut image = MetadataImage::new();
        let set = MetadataRecord::SetScramCredential {
            user: "alice".into(),
            mechanism: "SCRAM-SHA-512".into(),
            credential: Some(credential()),
        };
        let decoded = MetadataRecord::decode(&set.encode().unwrap()).unwrap();
        image.apply(&decoded).unwrap();
        assert_eq!(
            image.scram_credential("alice", "SCRAM-SHA-512"),
            Some(&credential())
        );
        assert_eq!(image.scram_credential("alice", "SCRAM-SHA-256"), None);
        image
            .apply(&MetadataRecord::SetScramCredential {
                user: "alice".into(),
                mechanism: "SCRAM-SHA-512".into(),
                credential: None,
            })
            .unwrap();
        assert_eq!(image.scram_credentials().count(), 0);
    }

    #[test]
    fn out_of_limit_credentials_are_refused() {
        let record = |user: &str, mechanism: &str, credential| MetadataRecord::SetScramCredential {
            user: user.into(),
            mechanism: mechanism.into(),
            credential,
        };
        let mut weak = credential();
        weak.iterations = 1;
        let mut long_key = credential();
        long_key.stored_key = vec![0; 65];
        for refused in [
            record("", "SCRAM-SHA-512", None),
            record("alice", "PLAIN", None),
            record("alice", "SCRAM-SHA-512", Some(weak)),
            record("alice", "SCRAM-SHA-512", Some(long_key)),
            record(&"x".repeat(257), "SCRAM-SHA-256", None),
        ] {
            assert!(refused.encode().is_err(), "{refused:?}");
            assert!(MetadataImage::new().validate(&refused).is_err());
        }
    }
}
