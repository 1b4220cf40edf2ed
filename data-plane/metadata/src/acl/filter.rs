//! Filters over bindings, as DescribeAcls and DeleteAcls send them: every
//! field may be "any"; the pattern may also be `MATCH`, which selects the
//! bindings that would apply to the named resource (the literal name, the
//! `*` wildcard and every prefix of it).

use super::binding::{AclBinding, AclOperation, PatternType, Permission, ResourceType, WILDCARD};

/// Which pattern types a filter selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternFilter {
    /// Every pattern type; a given name must be the binding's own.
    Any,
    /// The bindings that apply to the given name.
    Match,
    /// This pattern type only.
    Exactly(PatternType),
}

impl PatternFilter {
    /// From Kafka's code: 1 ANY, 2 MATCH, 3 LITERAL, 4 PREFIXED.
    pub fn from_code(code: i8) -> Option<Self> {
        match code {
            1 => Some(PatternFilter::Any),
            2 => Some(PatternFilter::Match),
            code => PatternType::from_code(code).map(PatternFilter::Exactly),
        }
    }
}

/// A selection of bindings; `None` is Kafka's "any".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclFilter {
    pub resource_type: Option<ResourceType>,
    pub resource_name: Option<String>,
    pub pattern: PatternFilter,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: Option<AclOperation>,
    pub permission: Option<Permission>,
}

impl AclFilter {
    /// The filter selecting every binding.
    pub fn any() -> Self {
        Self {
            resource_type: None,
            resource_name: None,
            pattern: PatternFilter::Any,
            principal: None,
            host: None,
            operation: None,
            permission: None,
        }
    }

    pub fn matches(&self, binding: &AclBinding) -> bool {
        let same = |wanted: &Option<String>, actual: &str| {
            wanted.as_deref().is_none_or(|wanted| wanted == actual)
        };
        self.resource_type
            .is_none_or(|kind| kind == binding.resource_type)
            && self.pattern_matches(binding)
            && same(&self.principal, &binding.principal)
            && same(&self.host, &binding.host)
            && self
                .operation
                .is_none_or(|operation| operation == binding.operation)
            && self
                .permission
                .is_none_or(|permission| permission == binding.permission)
    }

    fn pattern_matches(&self, binding: &AclBinding) -> bool {
        let Some(name) = self.resource_name.as_deref() else {
            return match self.pattern {
                PatternFilter::Any | PatternFilter::Match => true,
                PatternFilter::Exactly(pattern) => pattern == binding.pattern_type,
            };
        };
        match self.pattern {
            PatternFilter::Any => binding.resource_name == name,
            PatternFilter::Exactly(pattern) => {
                pattern == binding.pattern_type && binding.resource_name == name
            }
            PatternFilter::Match => match binding.pattern_type {
                PatternType::Literal => {
                    binding.resource_name == name || binding.resource_name == WILDCARD
                }
                PatternType::Prefixed => name.starts_with(&binding.resource_name),
            },
        }
    }
}
