//! The decision: may this principal, from this host, do this operation on
//! this resource? Kafka's `StandardAuthorizer` rules:
//!
//! 1. A super user may do anything.
//! 2. A DENY binding that names the resource, concerns the principal and
//!    host, and is for the operation (or `ALL`) denies: deny wins.
//! 3. Else an ALLOW binding that names the resource, concerns the principal
//!    and host, and is for the operation, `ALL`, or an operation implying
//!    it ([`AclOperation::allows`]) allows.
//! 4. Else, when no binding at all names the resource, the policy's
//!    `allow_everyone_if_no_acl_found` decides; otherwise it is denied.

use std::collections::BTreeSet;

use super::binding::{AclBinding, AclOperation, Permission, ResourceType};
use super::filter::AclFilter;

/// What the configuration says beyond the bindings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Principals (`User:admin`) allowed everything (Kafka's `super.users`).
    pub super_users: BTreeSet<String>,
    /// Allow a resource no binding names (Kafka's
    /// `allow.everyone.if.no.acl.found`; off by default).
    pub allow_everyone_if_no_acl_found: bool,
}

/// One thing a request wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action<'a> {
    /// `User:alice`.
    pub principal: &'a str,
    /// The client's IP address.
    pub host: &'a str,
    pub operation: AclOperation,
    pub resource_type: ResourceType,
    pub resource_name: &'a str,
}

/// The answer, with the rule that gave it (for logs and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    AllowedSuperUser,
    AllowedByBinding,
    AllowedNoAclFound,
    DeniedByBinding,
    /// No ALLOW binding matched.
    Denied,
}

impl Decision {
    pub fn allowed(self) -> bool {
        matches!(
            self,
            Decision::AllowedSuperUser | Decision::AllowedByBinding | Decision::AllowedNoAclFound
        )
    }
}

/// Every binding of a cluster (or of a single broker).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AclSet {
    bindings: BTreeSet<AclBinding>,
}

impl AclSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.bindings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bindings.is_empty()
    }

    pub fn contains(&self, binding: &AclBinding) -> bool {
        self.bindings.contains(binding)
    }

    /// Adds a binding; false when it was there already.
    pub fn insert(&mut self, binding: AclBinding) -> bool {
        self.bindings.insert(binding)
    }

    /// Removes a binding; false when it was not there.
    pub fn remove(&mut self, binding: &AclBinding) -> bool {
        self.bindings.remove(binding)
    }

    pub fn iter(&self) -> impl Iterator<Item = &AclBinding> {
        self.bindings.iter()
    }

    /// The bindings `filter` matches, in order.
    pub fn matching<'a>(&'a self, filter: &'a AclFilter) -> impl Iterator<Item = &'a AclBinding> {
        self.bindings
            .iter()
            .filter(move |binding| filter.matches(binding))
    }

    /// The bindings of one resource type (the set is ordered by it first).
    fn of_type(&self, resource_type: ResourceType) -> impl Iterator<Item = &AclBinding> {
        self.bindings
            .iter()
            .skip_while(move |binding| binding.resource_type < resource_type)
            .take_while(move |binding| binding.resource_type == resource_type)
    }

    /// Decides `action` (see the module documentation for the rules).
    pub fn authorize(&self, policy: &Policy, action: &Action<'_>) -> Decision {
        if policy.super_users.contains(action.principal) {
            return Decision::AllowedSuperUser;
        }
        let mut named = false;
        let mut allowed = false;
        for binding in self.of_type(action.resource_type) {
            if !binding.names(action.resource_type, action.resource_name) {
                continue;
            }
            named = true;
            if !binding.concerns(action.principal, action.host) {
                continue;
            }
            match binding.permission {
                Permission::Deny
                    if binding.operation == AclOperation::All
                        || binding.operation == action.operation =>
                {
                    return Decision::DeniedByBinding;
                }
                Permission::Deny => {}
                Permission::Allow => allowed |= binding.operation.allows(action.operation),
            }
        }
        if allowed {
            Decision::AllowedByBinding
        } else if !named && policy.allow_everyone_if_no_acl_found {
            Decision::AllowedNoAclFound
        } else {
            Decision::Denied
        }
    }

    /// Whether the principal may do `operation` on at least one resource of
    /// `resource_type` (Kafka's `authorizeByResourceType`, used for
    /// idempotent producers: WRITE on any topic). True when some ALLOW
    /// binding for it names a resource it is not denied on at the same time.
    pub fn authorize_any(
        &self,
        policy: &Policy,
        principal: &str,
        host: &str,
        operation: AclOperation,
        resource_type: ResourceType,
    ) -> bool {
        if policy.super_users.contains(principal) {
            return true;
        }
        if policy.allow_everyone_if_no_acl_found && self.of_type(resource_type).next().is_none() {
            return true;
        }
        self.of_type(resource_type)
            .filter(|binding| {
                binding.permission == Permission::Allow
                    && binding.concerns(principal, host)
                    && binding.operation.allows(operation)
            })
            .any(|binding| {
                let action = Action {
                    principal,
                    host,
                    operation,
                    resource_type,
                    resource_name: &binding.resource_name,
                };
                self.authorize(policy, &action).allowed()
            })
    }
}

impl FromIterator<AclBinding> for AclSet {
    fn from_iter<I: IntoIterator<Item = AclBinding>>(bindings: I) -> Self {
        Self {
            bindings: bindings.into_iter().collect(),
        }
    }
}
