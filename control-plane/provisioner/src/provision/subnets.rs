//! The `subnets` step: one subnet per zone, created or adopted.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::ResourceType;

use super::{Provisioner, SUBNET_EXTRA_BITS, adopted_tags, claim, duplicates};
use crate::ec2::{self, environment_filter, filter, tag_value};
use crate::error::{AwsError, Error, Result};
use crate::network::{Ownership, Step, StepReport, SubnetResource, TAG_ZONE, VpcSpec};

impl Provisioner<'_> {
    pub(super) async fn subnets(&mut self) -> Result<StepReport> {
        let client = self.access.ec2().await?;
        let ec2 = &client;
        let retry = self.access.config().retry;
        let environment_id = self.spec.environment_id;
        let zone_count = usize::from(self.spec.zone_count);
        let (vpc_id, vpc_cidr) = self.vpc_so_far()?;
        let mut report = StepReport::new(Step::Subnets);
        let mut subnets = Vec::new();
        match &self.spec.vpc {
            VpcSpec::Create { .. } => {
                let zones = ec2::available_zones(ec2, &retry).await?;
                if zones.len() < zone_count {
                    return Err(Error::Conflict(format!(
                        "the region has {} available zones, the environment asks for {zone_count}",
                        zones.len()
                    )));
                }
                let filters = [
                    filter("vpc-id", &vpc_id),
                    environment_filter(environment_id),
                ];
                let existing = ec2::describe_subnets(ec2, &retry, &[], &filters).await?;
                for (index, zone) in zones.iter().take(zone_count).enumerate() {
                    let in_zone: Vec<_> = existing
                        .iter()
                        .filter(|subnet| tag_value(subnet.tags(), TAG_ZONE) == Some(zone.as_str()))
                        .collect();
                    let subnet = match in_zone.as_slice() {
                        [] => {
                            let index = u32::try_from(index)
                                .map_err(|_| Error::Invalid("too many zones".into()))?;
                            let cidr = vpc_cidr.subnet(SUBNET_EXTRA_BITS, index)?.to_string();
                            let name = format!("{}-{zone}", self.name());
                            let tags = ec2::created_tags(
                                ResourceType::Subnet,
                                environment_id,
                                &name,
                                &[(TAG_ZONE, zone.as_str())],
                            );
                            let (vpc_id, cidr_ref, tags) = (&vpc_id, cidr.as_str(), &tags);
                            let output = retry
                                // The VPC may not be visible yet right after it was made.
                                .run(true, || async move {
                                    ec2.create_subnet()
                                        .vpc_id(vpc_id)
                                        .cidr_block(cidr_ref)
                                        .availability_zone(zone)
                                        .tag_specifications(tags.clone())
                                        .send()
                                        .await
                                        .map_err(|error| AwsError::from_sdk("CreateSubnet", &error))
                                })
                                .await?;
                            let id = output
                                .subnet()
                                .and_then(|subnet| subnet.subnet_id())
                                .ok_or(Error::Missing {
                                    operation: "CreateSubnet",
                                    what: "SubnetId",
                                })?
                                .to_owned();
                            report.created.push(id.clone());
                            SubnetResource {
                                id,
                                zone: zone.clone(),
                                cidr,
                                ownership: Ownership::Created,
                            }
                        }
                        [one] => {
                            let id = one.subnet_id().ok_or(Error::Missing {
                                operation: "DescribeSubnets",
                                what: "SubnetId",
                            })?;
                            report.found.push(id.to_owned());
                            SubnetResource {
                                id: id.to_owned(),
                                zone: zone.clone(),
                                cidr: one.cidr_block().unwrap_or_default().to_owned(),
                                ownership: Ownership::Created,
                            }
                        }
                        many => {
                            return Err(duplicates(
                                "subnets in one zone",
                                environment_id,
                                many.iter().filter_map(|subnet| subnet.subnet_id()),
                            ));
                        }
                    };
                    subnets.push(subnet);
                }
            }
            VpcSpec::Adopt { subnet_ids, .. } => {
                let found = ec2::describe_subnets(ec2, &retry, subnet_ids, &[]).await?;
                let mut zones = BTreeMap::new();
                for subnet in &found {
                    let id = subnet.subnet_id().ok_or(Error::Missing {
                        operation: "DescribeSubnets",
                        what: "SubnetId",
                    })?;
                    if subnet.vpc_id() != Some(vpc_id.as_str()) {
                        return Err(Error::Conflict(format!(
                            "the subnet {id} is not in the VPC {vpc_id}"
                        )));
                    }
                    claim(subnet.tags(), id, environment_id)?;
                    let zone = subnet.availability_zone().ok_or(Error::Missing {
                        operation: "DescribeSubnets",
                        what: "AvailabilityZone",
                    })?;
                    *zones.entry(zone.to_owned()).or_insert(0) += 1;
                    ec2::add_tags(ec2, &retry, id, &adopted_tags(environment_id, Some(zone)))
                        .await?;
                    report.adopted.push(id.to_owned());
                    subnets.push(SubnetResource {
                        id: id.to_owned(),
                        zone: zone.to_owned(),
                        cidr: subnet.cidr_block().unwrap_or_default().to_owned(),
                        ownership: Ownership::Adopted,
                    });
                }
                if found.len() != subnet_ids.len() {
                    return Err(Error::Conflict(format!(
                        "of the subnets {} only {} were found",
                        subnet_ids.join(", "),
                        found.len()
                    )));
                }
                if zones.len() < zone_count {
                    return Err(Error::Conflict(format!(
                        "the adopted subnets span {} zones ({}), the environment asks for {zone_count}",
                        zones.len(),
                        zones.keys().cloned().collect::<Vec<_>>().join(", ")
                    )));
                }
            }
        }
        self.network.subnets = subnets;
        Ok(report)
    }
}
