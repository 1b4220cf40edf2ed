//! Authorization on the Kafka listener: the configured authorizer
//! (`--authorizer=none|acl`), the bindings it reads ([`AclStore`]), and the
//! per-request [`Access`] handlers ask. The decision itself is
//! `fjord_metadata::acl` (pure); this module feeds it the connection's
//! principal and address, counts denials in
//! `fjord_broker_authorization_denials_total{operation,resource_type}` and
//! logs them (principal, address, operation, resource; never a secret).

mod store;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use fjord_metadata::acl::{AclOperation, Action, CLUSTER_NAME, Policy, ResourceType};
use tracing::info;

pub use store::AclStore;

use crate::config::AuthorizerKind;
use crate::metrics::{BrokerMetrics, DenialLabels};
use crate::security::Principal;

/// The broker's authorizer.
#[derive(Debug)]
pub struct Authorizer {
    kind: AuthorizerKind,
    policy: Policy,
    store: Arc<AclStore>,
}

impl Authorizer {
    pub fn new(
        kind: AuthorizerKind,
        super_users: &BTreeSet<Principal>,
        allow_everyone_if_no_acl_found: bool,
        store: Arc<AclStore>,
    ) -> Self {
        Self {
            kind,
            policy: Policy {
                super_users: super_users.iter().map(ToString::to_string).collect(),
                allow_everyone_if_no_acl_found,
            },
            store,
        }
    }

    /// No authorizer: everything is allowed (tests, `--authorizer=none`).
    pub fn disabled() -> Self {
        Self::new(
            AuthorizerKind::None,
            &BTreeSet::new(),
            false,
            Arc::new(AclStore::in_memory()),
        )
    }

    /// Whether requests are checked against ACLs.
    pub fn enabled(&self) -> bool {
        self.kind == AuthorizerKind::Acl
    }

    pub fn store(&self) -> &AclStore {
        &self.store
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }
}

/// What one connection's principal may do; cheap to clone into a task.
#[derive(Debug, Clone)]
pub struct Access {
    authorizer: Arc<Authorizer>,
    principal: String,
    host: String,
    metrics: BrokerMetrics,
}

impl Access {
    pub fn new(
        authorizer: Arc<Authorizer>,
        principal: &Principal,
        host: IpAddr,
        metrics: BrokerMetrics,
    ) -> Self {
        Self {
            authorizer,
            principal: principal.to_string(),
            host: host.to_string(),
            metrics,
        }
    }

    /// Whether ACLs are enforced at all.
    pub fn enforced(&self) -> bool {
        self.authorizer.enabled()
    }

    pub fn principal(&self) -> &str {
        &self.principal
    }

    /// Whether the principal is a super user.
    pub fn is_super_user(&self) -> bool {
        self.authorizer.policy.super_users.contains(&self.principal)
    }

    fn decide(&self, operation: AclOperation, resource_type: ResourceType, name: &str) -> bool {
        if !self.authorizer.enabled() {
            return true;
        }
        let action = Action {
            principal: &self.principal,
            host: &self.host,
            operation,
            resource_type,
            resource_name: name,
        };
        self.authorizer
            .store
            .with_acls(|acls| acls.authorize(&self.authorizer.policy, &action))
            .allowed()
    }

    /// Checks one operation the request asks for; a denial is counted and
    /// logged.
    pub fn allowed(
        &self,
        operation: AclOperation,
        resource_type: ResourceType,
        name: &str,
    ) -> bool {
        let allowed = self.decide(operation, resource_type, name);
        if !allowed {
            self.metrics
                .authorization_denials
                .get_or_create(&DenialLabels {
                    operation: operation.label(),
                    resource_type: resource_type.label(),
                })
                .inc();
            info!(
                principal = %self.principal,
                host = %self.host,
                operation = operation.label(),
                resource_type = resource_type.label(),
                resource = name,
                "authorization denied"
            );
        }
        allowed
    }

    /// Checks an operation on the cluster resource.
    pub fn allowed_on_cluster(&self, operation: AclOperation) -> bool {
        self.allowed(operation, ResourceType::Cluster, CLUSTER_NAME)
    }

    /// Whether a listing may show the resource: decided like
    /// [`Access::allowed`] but neither counted nor logged (the client did
    /// not ask for that resource by name).
    pub fn may_see(&self, resource_type: ResourceType, name: &str) -> bool {
        self.decide(AclOperation::Describe, resource_type, name)
    }

    /// Decides without counting or logging: for a check that has a
    /// fallback (CREATE on the cluster, else on the topic).
    pub fn may(&self, operation: AclOperation, resource_type: ResourceType, name: &str) -> bool {
        self.decide(operation, resource_type, name)
    }

    /// Whether the principal may be an idempotent producer: WRITE on at
    /// least one topic, or IDEMPOTENT_WRITE on the cluster (Kafka 3's rule).
    pub fn allowed_idempotent_write(&self) -> bool {
        if !self.authorizer.enabled() {
            return true;
        }
        let allowed = self.authorizer.store.with_acls(|acls| {
            acls.authorize_any(
                &self.authorizer.policy,
                &self.principal,
                &self.host,
                AclOperation::Write,
                ResourceType::Topic,
            )
        });
        allowed || self.allowed_on_cluster(AclOperation::IdempotentWrite)
    }
}
