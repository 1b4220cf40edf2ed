//! Access control lists, Kafka's model, sans-IO (docs/security.md,
//! "Authorization"). A binding allows or denies one principal, from one
//! host, one operation on the resources one pattern names; [`AclSet`]
//! decides a request from the bindings and a [`Policy`] (super users, what
//! to do when no binding names a resource). The broker feeds it the
//! connection's principal and address; nothing here does I/O.

mod authorize;
mod binding;
mod filter;
pub(crate) mod record;
#[cfg(test)]
mod tests;

pub use authorize::{AclSet, Action, Decision, Policy};
pub use binding::{
    AclBinding, AclOperation, BindingError, CLUSTER_NAME, PatternType, Permission, ResourceType,
    TEXT_BYTES_MAX, WILDCARD, WILDCARD_PRINCIPAL,
};
pub use filter::{AclFilter, PatternFilter};
pub use record::ACLS_MAX;
