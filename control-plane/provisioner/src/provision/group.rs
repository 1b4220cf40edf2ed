//! The `security-group` and `ingress` steps: Fjord's own group in the VPC,
//! opening only the broker ports and only to the VPC's CIDR.

use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType};

use super::{Provisioner, duplicates};
use crate::ec2::{self, environment_filter, filter};
use crate::error::{AwsError, Error, Result};
use crate::network::{Ownership, PORTS, Resource, Step, StepReport};

impl Provisioner<'_> {
    pub(super) async fn security_group(&mut self) -> Result<StepReport> {
        let client = self.access.ec2().await?;
        let ec2 = &client;
        let retry = self.access.config().retry;
        let environment_id = self.spec.environment_id;
        let (vpc_id, _) = self.vpc_so_far()?;
        let mut report = StepReport::new(Step::SecurityGroup);
        let filters = [
            filter("vpc-id", &vpc_id),
            environment_filter(environment_id),
        ];
        let found = ec2::describe_security_groups(ec2, &retry, &[], &filters).await?;
        let id = match found.as_slice() {
            [] => {
                let group_name = format!("fjord-{environment_id}");
                let description = format!(
                    "Fjord brokers of environment {}",
                    self.spec.environment_name
                );
                let tags = ec2::created_tags(
                    ResourceType::SecurityGroup,
                    environment_id,
                    &self.name(),
                    &[],
                );
                let (group_name, description, vpc_id, tags) =
                    (&group_name, &description, &vpc_id, &tags);
                let created = retry
                    .run(true, || async move {
                        ec2.create_security_group()
                            .group_name(group_name)
                            .description(description)
                            .vpc_id(vpc_id)
                            .tag_specifications(tags.clone())
                            .send()
                            .await
                            .map_err(|error| AwsError::from_sdk("CreateSecurityGroup", &error))
                    })
                    .await;
                match created {
                    Ok(output) => {
                        let id = output
                            .group_id()
                            .ok_or(Error::Missing {
                                operation: "CreateSecurityGroup",
                                what: "GroupId",
                            })?
                            .to_owned();
                        report.created.push(id.clone());
                        id
                    }
                    // Made by an earlier run whose tags are not visible yet: same name, same VPC.
                    Err(error) if error.code.as_deref() == Some("InvalidGroup.Duplicate") => {
                        let by_name = [filter("vpc-id", vpc_id), filter("group-name", group_name)];
                        let found =
                            ec2::describe_security_groups(ec2, &retry, &[], &by_name).await?;
                        let id = found
                            .first()
                            .and_then(|group| group.group_id())
                            .ok_or(Error::Aws(error))?
                            .to_owned();
                        report.found.push(id.clone());
                        id
                    }
                    Err(error) => return Err(error.into()),
                }
            }
            [group] => {
                let id = group.group_id().ok_or(Error::Missing {
                    operation: "DescribeSecurityGroups",
                    what: "GroupId",
                })?;
                report.found.push(id.to_owned());
                id.to_owned()
            }
            many => {
                return Err(duplicates(
                    "security groups",
                    environment_id,
                    many.iter().filter_map(|group| group.group_id()),
                ));
            }
        };
        self.network.security_group = Some(Resource {
            id,
            ownership: Ownership::Created,
        });
        Ok(report)
    }

    pub(super) async fn ingress(&mut self) -> Result<StepReport> {
        let client = self.access.ec2().await?;
        let ec2 = &client;
        let retry = self.access.config().retry;
        let (_, vpc_cidr) = self.vpc_so_far()?;
        let vpc_cidr = vpc_cidr.to_string();
        let group_id = self
            .network
            .security_group
            .as_ref()
            .map(|group| group.id.clone())
            .ok_or_else(|| {
                Error::Invalid("the security-group step has not run in this run".into())
            })?;
        let mut report = StepReport::new(Step::Ingress);
        let groups =
            ec2::describe_security_groups(ec2, &retry, std::slice::from_ref(&group_id), &[])
                .await?;
        let rules = groups
            .first()
            .map(|group| group.ip_permissions().to_vec())
            .unwrap_or_default();
        let present = |port: i32| {
            rules.iter().any(|rule| {
                rule.ip_protocol() == Some("tcp")
                    && rule.from_port() == Some(port)
                    && rule.to_port() == Some(port)
                    && rule
                        .ip_ranges()
                        .iter()
                        .any(|range| range.cidr_ip() == Some(vpc_cidr.as_str()))
            })
        };
        let missing: Vec<IpPermission> = PORTS
            .iter()
            .filter(|(port, _)| !present(*port))
            .map(|(port, what)| {
                IpPermission::builder()
                    .ip_protocol("tcp")
                    .from_port(*port)
                    .to_port(*port)
                    .ip_ranges(
                        IpRange::builder()
                            .cidr_ip(&vpc_cidr)
                            .description(*what)
                            .build(),
                    )
                    .build()
            })
            .collect();
        for rule in &missing {
            // The invariant of the group: nothing is opened beyond the VPC.
            assert!(
                rule.ip_ranges()
                    .iter()
                    .all(|range| range.cidr_ip() == Some(vpc_cidr.as_str())),
                "an ingress rule's source is the VPC's CIDR"
            );
        }
        if !missing.is_empty() {
            let (group_id, missing) = (&group_id, &missing);
            let authorized = retry
                .run(true, || async move {
                    ec2.authorize_security_group_ingress()
                        .group_id(group_id)
                        .set_ip_permissions(Some(missing.clone()))
                        .send()
                        .await
                        .map_err(|error| {
                            AwsError::from_sdk("AuthorizeSecurityGroupIngress", &error)
                        })
                })
                .await;
            match authorized {
                Ok(_) => {}
                // Another run added them between our read and our write.
                Err(error) if error.code.as_deref() == Some("InvalidPermission.Duplicate") => {}
                Err(error) => return Err(error.into()),
            }
            for rule in missing {
                report.created.push(format!(
                    "{group_id}:{}",
                    rule.from_port().unwrap_or_default()
                ));
            }
        }
        for (port, _) in PORTS.iter().filter(|(port, _)| present(*port)) {
            report.found.push(format!("{group_id}:{port}"));
        }
        Ok(report)
    }
}
