//! What an environment's network should be, and what was found or made.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::cidr::Ipv4Cidr;
use crate::error::{Error, Result};

/// Tag key: the environment a resource belongs to.
pub const TAG_ENVIRONMENT: &str = "fjord:environment-id";
/// Tag key: `created` (Fjord deletes it on teardown) or `adopted` (never).
pub const TAG_OWNERSHIP: &str = "fjord:ownership";
/// Tag key on subnets: the availability zone the subnet serves.
pub const TAG_ZONE: &str = "fjord:zone";

/// Kafka clients.
pub const BROKER_PORT: i32 = 9092;
/// Replication between brokers.
pub const REPLICATION_PORT: i32 = 9093;
/// The broker's admin API (health, maintenance, probes).
pub const ADMIN_PORT: i32 = 9644;
/// Every port the security group opens, each only from inside the VPC.
pub const PORTS: [(i32, &str); 3] = [
    (BROKER_PORT, "fjord kafka clients"),
    (REPLICATION_PORT, "fjord replication"),
    (ADMIN_PORT, "fjord admin api"),
];

/// Most zones an environment spans.
pub const MAX_ZONES: u8 = 6;

/// Who owns a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ownership {
    /// Fjord made it; teardown deletes it.
    Created,
    /// The customer's; never deleted, only tagged.
    Adopted,
}

impl Ownership {
    pub fn tag_value(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Adopted => "adopted",
        }
    }

    pub fn from_tag(value: &str) -> Option<Self> {
        match value {
            "created" => Some(Self::Created),
            "adopted" => Some(Self::Adopted),
            _ => None,
        }
    }
}

/// Create a VPC, or adopt the customer's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum VpcSpec {
    /// A new VPC with this IPv4 CIDR (`/16` to `/24`); zone *i* gets the
    /// *i*-th subnet four bits longer.
    Create { cidr: String },
    /// The customer's VPC and its subnets, one or more per zone.
    Adopt {
        vpc_id: String,
        subnet_ids: Vec<String>,
    },
}

/// The network an environment asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkSpec {
    pub environment_id: Uuid,
    /// Used in `Name` tags.
    pub environment_name: String,
    /// Availability zones to span (1 to [`MAX_ZONES`]).
    pub zone_count: u8,
    /// Brokers planned across the zones (for the free-address check).
    pub broker_count: u16,
    pub vpc: VpcSpec,
}

impl NetworkSpec {
    /// Checks what can be checked without AWS.
    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_ZONES).contains(&self.zone_count) {
            return Err(Error::Invalid(format!(
                "zone_count must be between 1 and {MAX_ZONES}, not {}",
                self.zone_count
            )));
        }
        if self.broker_count == 0 {
            return Err(Error::Invalid("broker_count must be at least 1".into()));
        }
        match &self.vpc {
            VpcSpec::Create { cidr } => {
                let cidr = Ipv4Cidr::parse(cidr)?;
                if !(16..=24).contains(&cidr.prefix) {
                    return Err(Error::Invalid(format!(
                        "a new VPC's CIDR must be /16 to /24, not /{}",
                        cidr.prefix
                    )));
                }
            }
            VpcSpec::Adopt { vpc_id, subnet_ids } => {
                if !is_aws_id(vpc_id, "vpc-") {
                    return Err(Error::Invalid(format!("{vpc_id:?} is not a VPC id")));
                }
                if subnet_ids.is_empty() {
                    return Err(Error::Invalid(
                        "adopting a VPC needs its subnets (subnet_ids)".into(),
                    ));
                }
                if let Some(bad) = subnet_ids.iter().find(|id| !is_aws_id(id, "subnet-")) {
                    return Err(Error::Invalid(format!("{bad:?} is not a subnet id")));
                }
            }
        }
        Ok(())
    }

    /// Addresses each zone needs free: its share of the brokers plus five
    /// spare (load balancers, a broker replaced during a roll).
    pub fn addresses_per_zone(&self) -> i64 {
        let zones = u16::from(self.zone_count.max(1));
        i64::from(self.broker_count.div_ceil(zones)) + 5
    }
}

/// `vpc-0a1b…`: the prefix and 8 or 17 lowercase hex digits.
fn is_aws_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|hex| {
        (8..=17).contains(&hex.len())
            && hex
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

/// One resource Fjord found, made or adopted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    pub id: String,
    pub ownership: Ownership,
}

/// A subnet serving one zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetResource {
    pub id: String,
    pub zone: String,
    pub cidr: String,
    pub ownership: Ownership,
}

/// An environment's network as provisioned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub vpc: Option<Resource>,
    pub vpc_cidr: Option<String>,
    pub subnets: Vec<SubnetResource>,
    pub security_group: Option<Resource>,
}

/// The provisioning steps, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    Vpc,
    Subnets,
    SecurityGroup,
    Ingress,
}

impl Step {
    pub const ALL: [Self; 4] = [Self::Vpc, Self::Subnets, Self::SecurityGroup, Self::Ingress];

    pub fn name(self) -> &'static str {
        match self {
            Self::Vpc => "vpc",
            Self::Subnets => "subnets",
            Self::SecurityGroup => "security-group",
            Self::Ingress => "ingress",
        }
    }
}

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepReport {
    pub step: Step,
    /// Resources (or rules, as `<group>:<port>`) this run created.
    pub created: Vec<String>,
    /// Resources Fjord made earlier, found again by their tags.
    pub found: Vec<String>,
    /// The customer's resources, tagged as adopted.
    pub adopted: Vec<String>,
}

impl StepReport {
    pub(crate) fn new(step: Step) -> Self {
        Self {
            step,
            created: Vec::new(),
            found: Vec::new(),
            adopted: Vec::new(),
        }
    }

    /// Whether the step changed nothing in AWS (beyond adopting tags).
    pub fn changed_nothing(&self) -> bool {
        self.created.is_empty()
    }

    /// One line for people: `vpc: created vpc-1`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        for (verb, ids) in [
            ("created", &self.created),
            ("found", &self.found),
            ("adopted", &self.adopted),
        ] {
            if !ids.is_empty() {
                parts.push(format!("{verb} {}", ids.join(", ")));
            }
        }
        if parts.is_empty() {
            parts.push("nothing to do".into());
        }
        format!("{}: {}", self.step.name(), parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(vpc: VpcSpec) -> NetworkSpec {
        NetworkSpec {
            environment_id: Uuid::now_v7(),
            environment_name: "prod".into(),
            zone_count: 3,
            broker_count: 3,
            vpc,
        }
    }

    #[test]
    fn specs_are_validated_before_any_call() {
        let create = |cidr: &str| spec(VpcSpec::Create { cidr: cidr.into() });
        assert!(create("10.64.0.0/16").validate().is_ok());
        assert!(create("10.64.0.0/8").validate().is_err());
        assert!(create("10.64.0.0/25").validate().is_err());
        assert!(create("banana").validate().is_err());
        let adopt = |vpc: &str, subnets: &[&str]| {
            spec(VpcSpec::Adopt {
                vpc_id: vpc.into(),
                subnet_ids: subnets.iter().map(|s| (*s).to_owned()).collect(),
            })
        };
        assert!(
            adopt("vpc-0123abcd", &["subnet-0123abcd"])
                .validate()
                .is_ok()
        );
        assert!(adopt("vpc-0123abcd", &[]).validate().is_err());
        assert!(
            adopt("sg-0123abcd", &["subnet-0123abcd"])
                .validate()
                .is_err()
        );
        assert!(adopt("vpc-0123abcd", &["subnet-XYZ"]).validate().is_err());
        let mut zero = create("10.0.0.0/16");
        zero.zone_count = 0;
        assert!(zero.validate().is_err());
    }

    #[test]
    fn each_zone_needs_its_share_of_brokers_and_spares() {
        let mut spec = spec(VpcSpec::Create {
            cidr: "10.0.0.0/16".into(),
        });
        spec.broker_count = 7;
        assert_eq!(spec.addresses_per_zone(), 3 + 5);
    }
}
