//! ACL bindings in the controller log: a `CreateAcl` or `DeleteAcl` record
//! adds or removes one binding, so every broker of a cluster authorizes
//! from the same set.

use super::authorize::AclSet;
use super::binding::AclBinding;
use crate::error::{Error, Result};
use crate::image::MetadataImage;
use crate::record::MetadataRecord;

/// Most bindings a cluster keeps (each is checked in a linear scan of its
/// resource type, so the set stays small).
pub const ACLS_MAX: usize = 10_000;

/// Checks a binding record's fields against their limits.
pub(crate) fn check_limits(binding: &AclBinding) -> Result<()> {
    binding
        .check()
        .map_err(|error| Error::InvalidAcl(error.to_string()))
}

impl MetadataImage {
    /// Every binding of the cluster.
    pub fn acls(&self) -> &AclSet {
        &self.acls
    }

    pub(crate) fn check_acl_record(&self, record: &MetadataRecord) -> Result<()> {
        match record {
            MetadataRecord::CreateAcl { binding }
                if !self.acls.contains(binding) && self.acls.len() >= ACLS_MAX =>
            {
                Err(Error::InvalidAcl(format!(
                    "the cluster already has {ACLS_MAX} bindings"
                )))
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn apply_acl_record(&mut self, record: &MetadataRecord) {
        match record {
            MetadataRecord::CreateAcl { binding } => {
                self.acls.insert(binding.clone());
            }
            MetadataRecord::DeleteAcl { binding } => {
                self.acls.remove(binding);
            }
            _ => unreachable!("apply_valid routes only ACL records here"),
        }
    }
}
