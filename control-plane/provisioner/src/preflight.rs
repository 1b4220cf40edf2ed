//! The preflight checklist of an environment (docs/provisioning.md): each
//! check ok, failed (with a plain message and the AWS code) or pending.

use std::collections::BTreeMap;

use aws_sdk_ec2::Client;
use serde::{Deserialize, Serialize};

use crate::access::Access;
use crate::ec2;
use crate::error::{AwsError, Error, ErrorClass};
use crate::network::{NetworkSpec, VpcSpec};

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckStatus {
    Pending,
    Ok,
    Failed,
}

/// One line of the checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// `assume-role`, `external-id-required`, `region-enabled`, …
    pub name: String,
    pub status: CheckStatus,
    pub message: String,
    /// The AWS error code behind a failure, when AWS gave one.
    pub aws_code: Option<String>,
}

impl Check {
    fn pending(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            status: CheckStatus::Pending,
            message: "not checked yet".into(),
            aws_code: None,
        }
    }

    fn ok(name: &str, message: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            status: CheckStatus::Ok,
            message: message.into(),
            aws_code: None,
        }
    }

    fn failed(name: &str, message: impl Into<String>, aws_code: Option<&str>) -> Self {
        Self {
            name: name.to_owned(),
            status: CheckStatus::Failed,
            message: message.into(),
            aws_code: aws_code.map(str::to_owned),
        }
    }

    fn from_error(name: &str, error: &Error) -> Self {
        Self::failed(name, error.to_string(), error.aws_code())
    }
}

/// The checks of `spec`, in the order they run, all pending.
pub fn pending_checklist(spec: &NetworkSpec) -> Vec<Check> {
    check_names(spec).into_iter().map(Check::pending).collect()
}

fn check_names(spec: &NetworkSpec) -> Vec<&'static str> {
    let mut names = vec![
        "assume-role",
        "external-id-required",
        "region-enabled",
        "availability-zones",
    ];
    if matches!(spec.vpc, VpcSpec::Adopt { .. }) {
        names.extend(["vpc", "subnets", "free-addresses"]);
    }
    names.push("permissions");
    names
}

/// The actions Fjord needs, checked with `DryRun`.
pub const DRY_RUN_ACTIONS: [&str; 8] = [
    "CreateVpc",
    "CreateSubnet",
    "CreateSecurityGroup",
    "AuthorizeSecurityGroupIngress",
    "CreateTags",
    "DeleteSubnet",
    "DeleteSecurityGroup",
    "DeleteVpc",
];

/// Actions moto performs even with `DryRun=true` (it honours the flag for
/// the others): against the emulator they are not sent, so that a check
/// never creates or deletes anything.
pub const EMULATOR_IGNORES_DRY_RUN: [&str; 4] =
    ["CreateVpc", "CreateSubnet", "DeleteSubnet", "DeleteVpc"];

/// Runs every check. Checks after a failed `assume-role` stay pending.
pub async fn preflight(access: &mut Access, spec: &NetworkSpec) -> Vec<Check> {
    let mut checks = pending_checklist(spec);
    let mut set = |check: Check| {
        if let Some(slot) = checks.iter_mut().find(|slot| slot.name == check.name) {
            *slot = check;
        }
    };
    if let Err(error) = spec.validate() {
        set(Check::from_error("assume-role", &error));
        return checks;
    }
    let ec2 = match access.ec2().await {
        Ok(ec2) => {
            set(Check::ok(
                "assume-role",
                format!("assumed {} with the external id", access.target().role_arn),
            ));
            ec2
        }
        Err(error) => {
            set(Check::from_error("assume-role", &error));
            return checks;
        }
    };
    set(match access.assume(None).await {
        Ok(_) => Check::failed(
            "external-id-required",
            "the role can be assumed without the external id: add the condition sts:ExternalId to its trust policy",
            None,
        ),
        Err(error) if error.aws_code() == Some("AccessDenied") => Check::ok(
            "external-id-required",
            "the role refuses a call without the external id",
        ),
        Err(error) => Check::from_error("external-id-required", &error),
    });
    let retry = access.config().retry;
    let region = access.target().region.clone();
    set(region_enabled(&ec2, &retry, &region).await);
    set(match ec2::available_zones(&ec2, &retry).await {
        Ok(zones) if zones.len() >= usize::from(spec.zone_count) => Check::ok(
            "availability-zones",
            format!("{} available zones: {}", zones.len(), zones.join(", ")),
        ),
        Ok(zones) => Check::failed(
            "availability-zones",
            format!(
                "{region} has {} available zones, the environment asks for {}",
                zones.len(),
                spec.zone_count
            ),
            None,
        ),
        Err(error) => Check::from_error("availability-zones", &error),
    });
    if let VpcSpec::Adopt { vpc_id, subnet_ids } = &spec.vpc {
        for check in adopted_network(&ec2, &retry, spec, vpc_id, subnet_ids).await {
            set(check);
        }
    }
    let emulator = access.config().trust_emulation.is_some();
    set(permissions(&ec2, emulator).await);
    checks
}

async fn region_enabled(ec2: &Client, retry: &crate::retry::RetryPolicy, region: &str) -> Check {
    let output = retry
        .run(false, || async move {
            ec2.describe_regions()
                .region_names(region)
                .all_regions(true)
                .send()
                .await
                .map_err(|error| AwsError::from_sdk("DescribeRegions", &error))
        })
        .await;
    match output {
        Ok(output) => match output
            .regions()
            .iter()
            .find(|r| r.region_name() == Some(region))
        {
            Some(found) => match found.opt_in_status() {
                None | Some("opt-in-not-required" | "opted-in") => {
                    Check::ok("region-enabled", format!("{region} is enabled"))
                }
                Some(status) => Check::failed(
                    "region-enabled",
                    format!(
                        "{region} is not enabled for the account ({status}): enable it in the account settings"
                    ),
                    None,
                ),
            },
            None => Check::failed(
                "region-enabled",
                format!("{region} is not a region of this account"),
                None,
            ),
        },
        Err(error) => Check::from_error("region-enabled", &error.into()),
    }
}

async fn adopted_network(
    ec2: &Client,
    retry: &crate::retry::RetryPolicy,
    spec: &NetworkSpec,
    vpc_id: &str,
    subnet_ids: &[String],
) -> Vec<Check> {
    match ec2::describe_vpcs(ec2, retry, &[vpc_id.to_owned()], &[]).await {
        Ok(vpcs) if !vpcs.is_empty() => {}
        Ok(_) => {
            return vec![Check::failed(
                "vpc",
                format!("the VPC {vpc_id} does not exist"),
                None,
            )];
        }
        Err(error) => return vec![Check::from_error("vpc", &error)],
    }
    let mut checks = vec![Check::ok("vpc", format!("the VPC {vpc_id} exists"))];
    let subnets = match ec2::describe_subnets(ec2, retry, subnet_ids, &[]).await {
        Ok(subnets) => subnets,
        Err(error) => {
            checks.push(Check::from_error("subnets", &error));
            return checks;
        }
    };
    let outside: Vec<&str> = subnets
        .iter()
        .filter(|subnet| subnet.vpc_id() != Some(vpc_id))
        .filter_map(|subnet| subnet.subnet_id())
        .collect();
    let mut free_by_zone: BTreeMap<String, i64> = BTreeMap::new();
    for subnet in &subnets {
        let zone = subnet.availability_zone().unwrap_or("unknown").to_owned();
        *free_by_zone.entry(zone).or_default() +=
            i64::from(subnet.available_ip_address_count().unwrap_or(0));
    }
    let zone_count = usize::from(spec.zone_count);
    checks.push(if subnets.len() != subnet_ids.len() {
        Check::failed(
            "subnets",
            format!(
                "of {} subnets only {} exist",
                subnet_ids.len(),
                subnets.len()
            ),
            None,
        )
    } else if !outside.is_empty() {
        Check::failed(
            "subnets",
            format!("not in the VPC {vpc_id}: {}", outside.join(", ")),
            None,
        )
    } else if free_by_zone.len() < zone_count {
        Check::failed(
            "subnets",
            format!(
                "the subnets span {} zones ({}), the environment asks for {zone_count}",
                free_by_zone.len(),
                free_by_zone.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
            None,
        )
    } else {
        Check::ok(
            "subnets",
            format!("{} subnets in {} zones", subnets.len(), free_by_zone.len()),
        )
    });
    let needed = spec.addresses_per_zone();
    // The zones the brokers go to: those with the most room.
    let mut zones: Vec<(&String, &i64)> = free_by_zone.iter().collect();
    zones.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let short: Vec<String> = zones
        .iter()
        .take(zone_count)
        .filter(|(_, free)| **free < needed)
        .map(|(zone, free)| format!("{zone} has {free}"))
        .collect();
    checks.push(if short.is_empty() && zones.len() >= zone_count {
        Check::ok(
            "free-addresses",
            format!("each zone has at least {needed} free addresses"),
        )
    } else {
        Check::failed(
            "free-addresses",
            format!(
                "each zone needs {needed} free addresses for {} brokers: {}",
                spec.broker_count,
                short.join(", ")
            ),
            None,
        )
    });
    checks
}

/// Dry runs of every action Fjord needs: `DryRunOperation` means allowed,
/// `UnauthorizedOperation` means not.
async fn permissions(ec2: &Client, emulator: bool) -> Check {
    let placeholder_vpc = "vpc-00000000000000000";
    let placeholder_subnet = "subnet-00000000000000000";
    let placeholder_group = "sg-00000000000000000";
    let mut denied = Vec::new();
    let mut skipped = Vec::new();
    for action in DRY_RUN_ACTIONS {
        if emulator && EMULATOR_IGNORES_DRY_RUN.contains(&action) {
            skipped.push(action);
            continue;
        }
        let outcome = match action {
            "CreateVpc" => ec2
                .create_vpc()
                .dry_run(true)
                .cidr_block("10.0.0.0/16")
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk(action, &e)),
            "CreateSubnet" => ec2
                .create_subnet()
                .dry_run(true)
                .vpc_id(placeholder_vpc)
                .cidr_block("10.0.0.0/20")
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk(action, &e)),
            "CreateSecurityGroup" => ec2
                .create_security_group()
                .dry_run(true)
                .group_name("fjord-dry-run")
                .description("dry run")
                .vpc_id(placeholder_vpc)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk(action, &e)),
            "AuthorizeSecurityGroupIngress" => ec2
                .authorize_security_group_ingress()
                .dry_run(true)
                .group_id(placeholder_group)
                .ip_protocol("tcp")
                .from_port(9092)
                .to_port(9092)
                .cidr_ip("10.0.0.0/16")
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk(action, &e)),
            "CreateTags" => ec2
                .create_tags()
                .dry_run(true)
                .resources(placeholder_vpc)
                .tags(ec2::tag("fjord:dry-run", "1"))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk(action, &e)),
            "DeleteSubnet" => ec2
                .delete_subnet()
                .dry_run(true)
                .subnet_id(placeholder_subnet)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk(action, &e)),
            "DeleteSecurityGroup" => ec2
                .delete_security_group()
                .dry_run(true)
                .group_id(placeholder_group)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk(action, &e)),
            _ => ec2
                .delete_vpc()
                .dry_run(true)
                .vpc_id(placeholder_vpc)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk(action, &e)),
        };
        match outcome {
            Err(error) if error.code.as_deref() == Some("DryRunOperation") => {}
            // The dry runs name placeholder ids; EC2 authorizes a call before it
            // looks its resources up, so "not found" means the call was allowed.
            Err(error) if error.class == ErrorClass::NotFound => {}
            Err(error) if error.class == ErrorClass::AccessDenied => denied.push((action, error)),
            Err(error) => {
                return Check::failed(
                    "permissions",
                    format!("could not check {action}: {error}"),
                    error.code.as_deref(),
                );
            }
            Ok(()) => {
                return Check::failed(
                    "permissions",
                    format!(
                        "{action} with DryRun was not refused as a dry run; cannot tell whether it is allowed"
                    ),
                    None,
                );
            }
        }
    }
    if let Some((_, first)) = denied.first() {
        let actions: Vec<&str> = denied.iter().map(|(action, _)| *action).collect();
        return Check::failed(
            "permissions",
            format!("the role does not allow: ec2:{}", actions.join(", ec2:")),
            first.code.as_deref(),
        );
    }
    let mut message = format!(
        "allowed: {}",
        DRY_RUN_ACTIONS
            .iter()
            .filter(|a| !skipped.contains(a))
            .copied()
            .collect::<Vec<_>>()
            .join(", ")
    );
    if !skipped.is_empty() {
        message.push_str(&format!(
            "; not checked, the local emulator does not honour DryRun for: {}",
            skipped.join(", ")
        ));
    }
    Check::ok("permissions", message)
}
