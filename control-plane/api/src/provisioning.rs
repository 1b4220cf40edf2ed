//! Cloud provisioning of an environment's network (docs/provisioning.md):
//! what the network should be, its progress, and the preflight checklist.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::validate::Check;

/// Body of `PUT /v1/environments/{id}/network`: the network to create, or
/// the customer's VPC and subnets to adopt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkSettings {
    /// Availability zones to span (one subnet per zone).
    #[schema(minimum = 1, maximum = 6)]
    pub zone_count: i32,
    /// Brokers planned in the environment, for the free-address check.
    #[schema(minimum = 1, maximum = 1000)]
    pub broker_count: i32,
    /// CIDR of a VPC Fjord creates (`/16` to `/24`); default
    /// `10.64.0.0/16`. Not with `vpc_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 18, pattern = "^[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}$")]
    pub vpc_cidr: Option<String>,
    /// The customer's VPC to adopt instead (never deleted by Fjord).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 21, pattern = "^vpc-[0-9a-f]{8,17}$")]
    pub vpc_id: Option<String>,
    /// With `vpc_id`: its subnets to use, spanning `zone_count` zones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(max_items = 32)]
    pub subnet_ids: Vec<String>,
}

impl NetworkSettings {
    pub fn validate(&self) -> Check {
        if !(1..=6).contains(&self.zone_count) {
            return Err(format!(
                "zone_count must be 1 to 6, got {}",
                self.zone_count
            ));
        }
        if !(1..=1000).contains(&self.broker_count) {
            return Err(format!(
                "broker_count must be 1 to 1000, got {}",
                self.broker_count
            ));
        }
        if self.subnet_ids.len() > 32 {
            return Err("subnet_ids holds at most 32 subnets".into());
        }
        match (&self.vpc_id, &self.vpc_cidr) {
            (Some(_), Some(_)) => Err("give vpc_id (adopt) or vpc_cidr (create), not both".into()),
            (Some(vpc_id), None) => {
                aws_id("vpc_id", vpc_id, "vpc-")?;
                if self.subnet_ids.is_empty() {
                    return Err("adopting a VPC needs its subnet_ids".into());
                }
                self.subnet_ids
                    .iter()
                    .try_for_each(|id| aws_id("subnet_ids", id, "subnet-"))
            }
            (None, cidr) => {
                if !self.subnet_ids.is_empty() {
                    return Err("subnet_ids only go with vpc_id".into());
                }
                cidr.as_deref().map_or(Ok(()), ipv4_cidr)
            }
        }
    }
}

fn aws_id(field: &str, value: &str, prefix: &str) -> Check {
    let ok = value.strip_prefix(prefix).is_some_and(|hex| {
        (8..=17).contains(&hex.len())
            && hex
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{field} must hold ids like {prefix}0123abcd, got {value:?}"
        ))
    }
}

fn ipv4_cidr(value: &str) -> Check {
    let invalid = || format!("vpc_cidr must be an IPv4 CIDR block /16 to /24, got {value:?}");
    let (address, prefix) = value.split_once('/').ok_or_else(invalid)?;
    let address: std::net::Ipv4Addr = address.parse().map_err(|_| invalid())?;
    let prefix: u32 = prefix.parse().map_err(|_| invalid())?;
    if !(16..=24).contains(&prefix) || u32::from(address) & (u32::MAX >> prefix) != 0 {
        return Err(invalid());
    }
    Ok(())
}

/// An environment's network: what it asks for, how far provisioning got,
/// and what exists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EnvironmentNetwork {
    pub environment_id: Uuid,
    /// What was asked for with `PUT …/network`; `null` until then.
    pub settings: Option<NetworkSettings>,
    /// `unconfigured` (no settings yet), `pending` (not provisioned yet),
    /// `provisioning`, `ready` or `failed`.
    pub state: String,
    /// Why it failed: `<AWS code>: <plain message>` when AWS refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The latest provisioning operation (`GET /v1/operations/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<Uuid>,
    /// What the latest finished run found or made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<NetworkResources>,
    /// The steps of the latest operation, in order.
    pub steps: Vec<ProvisioningStep>,
    pub revision: i64,
    pub updated_at: DateTime<Utc>,
}

/// The AWS resources of an environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NetworkResources {
    pub vpc_id: String,
    /// `created` (Fjord deletes it with the environment) or `adopted`.
    pub vpc_ownership: String,
    pub vpc_cidr: String,
    pub subnets: Vec<NetworkSubnet>,
    pub security_group_id: String,
}

/// One subnet of an environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NetworkSubnet {
    pub subnet_id: String,
    pub zone: String,
    pub cidr: String,
    pub ownership: String,
}

/// One step of a provisioning operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProvisioningStep {
    /// `vpc`, `subnets`, `security-group`, `ingress` or `teardown`.
    pub step: String,
    /// `ok` or `failed`.
    pub outcome: String,
    /// What it did, e.g. `vpc: created vpc-0a1b…`, or why it failed.
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_code: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The preflight checklist of an environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Checklist {
    pub environment_id: Uuid,
    /// `running` while the checks run, `done` after.
    pub state: String,
    /// The operation running the checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<Uuid>,
    pub checks: Vec<ChecklistItem>,
    pub updated_at: DateTime<Utc>,
}

/// One check of the checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChecklistItem {
    /// `assume-role`, `external-id-required`, `region-enabled`,
    /// `availability-zones`, `vpc`, `subnets`, `free-addresses`,
    /// `permissions`.
    pub name: String,
    /// `pending`, `ok` or `failed`.
    pub status: String,
    pub message: String,
    /// The AWS error code behind a failure, when AWS gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_code: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> NetworkSettings {
        NetworkSettings {
            zone_count: 3,
            broker_count: 3,
            vpc_cidr: None,
            vpc_id: None,
            subnet_ids: Vec::new(),
        }
    }

    #[test]
    fn network_settings_say_what_is_wrong() {
        assert!(settings().validate().is_ok());
        let with = |f: fn(&mut NetworkSettings)| {
            let mut s = settings();
            f(&mut s);
            s.validate()
        };
        assert!(with(|s| s.vpc_cidr = Some("10.1.0.0/16".into())).is_ok());
        assert!(with(|s| s.vpc_cidr = Some("10.1.0.1/16".into())).is_err());
        assert!(with(|s| s.vpc_cidr = Some("10.1.0.0/8".into())).is_err());
        assert!(with(|s| s.zone_count = 0).is_err());
        assert!(
            with(|s| s.vpc_id = Some("vpc-0123abcd".into())).is_err(),
            "no subnets"
        );
        assert!(
            with(|s| {
                s.vpc_id = Some("vpc-0123abcd".into());
                s.subnet_ids = vec!["subnet-0123abcd".into()];
            })
            .is_ok()
        );
        assert!(with(|s| s.subnet_ids = vec!["subnet-0123abcd".into()]).is_err());
    }
}
