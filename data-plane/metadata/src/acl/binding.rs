//! One ACL binding and the enumerations it is made of, with the numeric
//! codes Kafka's CreateAcls, DescribeAcls and DeleteAcls carry.

use serde::{Deserialize, Serialize};

/// The one name a `CLUSTER` resource has.
pub const CLUSTER_NAME: &str = "kafka-cluster";
/// A literal resource name or host that matches every name or host.
pub const WILDCARD: &str = "*";
/// The principal that matches every user.
pub const WILDCARD_PRINCIPAL: &str = "User:*";
/// Longest resource name, principal or host a binding may carry.
pub const TEXT_BYTES_MAX: usize = 1024;

/// What kind of resource a binding protects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ResourceType {
    Topic,
    Group,
    Cluster,
    TransactionalId,
}

impl ResourceType {
    pub const ALL: [ResourceType; 4] = [
        ResourceType::Topic,
        ResourceType::Group,
        ResourceType::Cluster,
        ResourceType::TransactionalId,
    ];

    /// Kafka's code (`ResourceType` in the protocol).
    pub fn code(self) -> i8 {
        match self {
            ResourceType::Topic => 2,
            ResourceType::Group => 3,
            ResourceType::Cluster => 4,
            ResourceType::TransactionalId => 5,
        }
    }

    pub fn from_code(code: i8) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.code() == code)
    }

    /// Lowercase name, as metrics and logs carry it.
    pub fn label(self) -> &'static str {
        match self {
            ResourceType::Topic => "topic",
            ResourceType::Group => "group",
            ResourceType::Cluster => "cluster",
            ResourceType::TransactionalId => "transactional_id",
        }
    }

    /// The operations a binding on this kind of resource may name, as
    /// Kafka accepts them.
    pub fn operations(self) -> &'static [AclOperation] {
        use AclOperation::*;
        match self {
            ResourceType::Topic => &[
                All,
                Read,
                Write,
                Create,
                Delete,
                Alter,
                Describe,
                DescribeConfigs,
                AlterConfigs,
            ],
            ResourceType::Group => &[All, Read, Delete, Describe],
            ResourceType::Cluster => &[
                All,
                Create,
                Alter,
                Describe,
                ClusterAction,
                DescribeConfigs,
                AlterConfigs,
                IdempotentWrite,
            ],
            ResourceType::TransactionalId => &[All, Write, Describe],
        }
    }
}

/// How a binding's resource name is matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PatternType {
    /// The name itself, or every name when it is `*`.
    Literal,
    /// Every name that starts with it.
    Prefixed,
}

impl PatternType {
    pub fn code(self) -> i8 {
        match self {
            PatternType::Literal => 3,
            PatternType::Prefixed => 4,
        }
    }

    pub fn from_code(code: i8) -> Option<Self> {
        [PatternType::Literal, PatternType::Prefixed]
            .into_iter()
            .find(|pattern| pattern.code() == code)
    }
}

/// What a principal does to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AclOperation {
    All,
    Read,
    Write,
    Create,
    Delete,
    Alter,
    Describe,
    ClusterAction,
    DescribeConfigs,
    AlterConfigs,
    IdempotentWrite,
}

impl AclOperation {
    pub const EVERY: [AclOperation; 11] = [
        AclOperation::All,
        AclOperation::Read,
        AclOperation::Write,
        AclOperation::Create,
        AclOperation::Delete,
        AclOperation::Alter,
        AclOperation::Describe,
        AclOperation::ClusterAction,
        AclOperation::DescribeConfigs,
        AclOperation::AlterConfigs,
        AclOperation::IdempotentWrite,
    ];

    /// Kafka's code (`AclOperation` in the protocol).
    pub fn code(self) -> i8 {
        match self {
            AclOperation::All => 2,
            AclOperation::Read => 3,
            AclOperation::Write => 4,
            AclOperation::Create => 5,
            AclOperation::Delete => 6,
            AclOperation::Alter => 7,
            AclOperation::Describe => 8,
            AclOperation::ClusterAction => 9,
            AclOperation::DescribeConfigs => 10,
            AclOperation::AlterConfigs => 11,
            AclOperation::IdempotentWrite => 12,
        }
    }

    pub fn from_code(code: i8) -> Option<Self> {
        Self::EVERY
            .into_iter()
            .find(|operation| operation.code() == code)
    }

    /// Lowercase name, as metrics and logs carry it.
    pub fn label(self) -> &'static str {
        match self {
            AclOperation::All => "all",
            AclOperation::Read => "read",
            AclOperation::Write => "write",
            AclOperation::Create => "create",
            AclOperation::Delete => "delete",
            AclOperation::Alter => "alter",
            AclOperation::Describe => "describe",
            AclOperation::ClusterAction => "cluster_action",
            AclOperation::DescribeConfigs => "describe_configs",
            AclOperation::AlterConfigs => "alter_configs",
            AclOperation::IdempotentWrite => "idempotent_write",
        }
    }

    /// Whether an ALLOW binding for `self` allows `asked`: `ALL` allows
    /// everything; `READ`, `WRITE`, `DELETE` and `ALTER` imply `DESCRIBE`;
    /// `ALTER_CONFIGS` implies `DESCRIBE_CONFIGS` (Kafka's implied
    /// operations). A DENY binding denies only its own operation, or every
    /// one when it is `ALL`.
    pub fn allows(self, asked: AclOperation) -> bool {
        use AclOperation::*;
        self == All
            || self == asked
            || (asked == Describe && matches!(self, Read | Write | Delete | Alter))
            || (asked == DescribeConfigs && self == AlterConfigs)
    }
}

/// Whether a binding allows or denies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Permission {
    Deny,
    Allow,
}

impl Permission {
    pub fn code(self) -> i8 {
        match self {
            Permission::Deny => 2,
            Permission::Allow => 3,
        }
    }

    pub fn from_code(code: i8) -> Option<Self> {
        [Permission::Deny, Permission::Allow]
            .into_iter()
            .find(|permission| permission.code() == code)
    }
}

/// One ACL: `permission` for `principal` from `host` to do `operation` on
/// the resources of `resource_type` that `resource_name` names under
/// `pattern_type`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AclBinding {
    pub resource_type: ResourceType,
    pub resource_name: String,
    pub pattern_type: PatternType,
    /// `User:alice`, or `User:*` for every user.
    pub principal: String,
    /// A client IP address as the broker sees it, or `*`.
    pub host: String,
    pub operation: AclOperation,
    pub permission: Permission,
}

/// Why a binding cannot be stored (Kafka answers `INVALID_REQUEST`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindingError {
    #[error("the resource name must not be empty")]
    EmptyName,
    #[error("a cluster resource is named {CLUSTER_NAME:?}")]
    ClusterName,
    #[error("the principal must be TYPE:NAME, got {0:?}")]
    Principal(String),
    #[error("the host must not be empty")]
    EmptyHost,
    #[error("operation {operation:?} does not apply to a {resource_type:?} resource")]
    Operation {
        operation: AclOperation,
        resource_type: ResourceType,
    },
    #[error("a resource name, principal or host is longer than {TEXT_BYTES_MAX} bytes")]
    TooLong,
}

impl AclBinding {
    /// Checks the binding as Kafka's CreateAcls does.
    pub fn check(&self) -> Result<(), BindingError> {
        if [&self.resource_name, &self.principal, &self.host]
            .iter()
            .any(|text| text.len() > TEXT_BYTES_MAX)
        {
            return Err(BindingError::TooLong);
        }
        if self.resource_name.is_empty() {
            return Err(BindingError::EmptyName);
        }
        if self.resource_type == ResourceType::Cluster
            && (self.resource_name != CLUSTER_NAME || self.pattern_type != PatternType::Literal)
        {
            return Err(BindingError::ClusterName);
        }
        let well_formed = self
            .principal
            .split_once(':')
            .is_some_and(|(kind, name)| !kind.is_empty() && !name.is_empty());
        if !well_formed {
            return Err(BindingError::Principal(self.principal.clone()));
        }
        if self.host.is_empty() {
            return Err(BindingError::EmptyHost);
        }
        if !self.resource_type.operations().contains(&self.operation) {
            return Err(BindingError::Operation {
                operation: self.operation,
                resource_type: self.resource_type,
            });
        }
        Ok(())
    }

    /// Whether the binding's pattern names `resource_name` of `resource_type`.
    pub fn names(&self, resource_type: ResourceType, resource_name: &str) -> bool {
        self.resource_type == resource_type
            && match self.pattern_type {
                PatternType::Literal => {
                    self.resource_name == resource_name || self.resource_name == WILDCARD
                }
                PatternType::Prefixed => resource_name.starts_with(&self.resource_name),
            }
    }

    /// Whether the binding is about `principal` connecting from `host`.
    pub fn concerns(&self, principal: &str, host: &str) -> bool {
        (self.principal == principal || self.principal == WILDCARD_PRINCIPAL)
            && (self.host == host || self.host == WILDCARD)
    }
}
