//! Read-only views: the release catalog and the organization's
//! environments.

mod environments;
mod releases;

pub(crate) use environments::EnvironmentsDataSource;
pub(crate) use releases::ReleasesDataSource;
