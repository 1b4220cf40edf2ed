//! Provisioning an environment's network, step by step (docs/provisioning.md).
//!
//! Every step first looks for its resources by the environment's tags and
//! creates only what is missing, with the tags in the `Create*` call; so a
//! run interrupted anywhere is finished by running again from the first
//! step, and a run over a finished network creates nothing.

mod group;
mod subnets;

use aws_sdk_ec2::types::ResourceType;

use crate::access::Access;
use crate::cidr::Ipv4Cidr;
use crate::ec2::{self, environment_filter, tag, tag_filter, tag_value};
use crate::error::{AwsError, Error, Result};
use crate::network::{
    Network, NetworkSpec, Ownership, Resource, Step, StepReport, TAG_ENVIRONMENT, TAG_OWNERSHIP,
    TAG_ZONE, VpcSpec,
};

/// Each zone's subnet is this many bits longer than the VPC's block.
const SUBNET_EXTRA_BITS: u8 = 4;

/// Runs the steps of one environment's provisioning.
#[derive(Debug)]
pub struct Provisioner<'a> {
    access: &'a mut Access,
    spec: &'a NetworkSpec,
    network: Network,
}

impl<'a> Provisioner<'a> {
    pub fn new(access: &'a mut Access, spec: &'a NetworkSpec) -> Result<Self> {
        spec.validate()?;
        Ok(Self {
            access,
            spec,
            network: Network::default(),
        })
    }

    /// What the steps run so far found or made.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// Runs one step; steps must run in [`Step::ALL`] order in one run.
    pub async fn run_step(&mut self, step: Step) -> Result<StepReport> {
        let report = match step {
            Step::Vpc => self.vpc().await?,
            Step::Subnets => self.subnets().await?,
            Step::SecurityGroup => self.security_group().await?,
            Step::Ingress => self.ingress().await?,
        };
        tracing::info!(environment_id = %self.spec.environment_id, summary = report.summary(), "provisioning step done");
        Ok(report)
    }

    fn name(&self) -> String {
        format!("fjord-{}", self.spec.environment_name)
    }

    async fn vpc(&mut self) -> Result<StepReport> {
        let client = self.access.ec2().await?;
        let ec2 = &client;
        let retry = self.access.config().retry;
        let environment_id = self.spec.environment_id;
        let mut report = StepReport::new(Step::Vpc);
        let (resource, cidr) = match &self.spec.vpc {
            VpcSpec::Create { cidr } => {
                let filters = [
                    environment_filter(environment_id),
                    tag_filter(TAG_OWNERSHIP, Ownership::Created.tag_value()),
                ];
                let found = ec2::describe_vpcs(ec2, &retry, &[], &filters).await?;
                match found.as_slice() {
                    [] => {
                        let tags =
                            ec2::created_tags(ResourceType::Vpc, environment_id, &self.name(), &[]);
                        let tags = &tags;
                        let output = retry
                            .run(false, || async move {
                                ec2.create_vpc()
                                    .cidr_block(cidr)
                                    .tag_specifications(tags.clone())
                                    .send()
                                    .await
                                    .map_err(|error| AwsError::from_sdk("CreateVpc", &error))
                            })
                            .await?;
                        let id = output
                            .vpc()
                            .and_then(|vpc| vpc.vpc_id())
                            .ok_or(Error::Missing {
                                operation: "CreateVpc",
                                what: "VpcId",
                            })?
                            .to_owned();
                        report.created.push(id.clone());
                        (
                            Resource {
                                id,
                                ownership: Ownership::Created,
                            },
                            cidr.clone(),
                        )
                    }
                    [vpc] => {
                        let id = vpc.vpc_id().ok_or(Error::Missing {
                            operation: "DescribeVpcs",
                            what: "VpcId",
                        })?;
                        let cidr = vpc.cidr_block().unwrap_or(cidr).to_owned();
                        report.found.push(id.to_owned());
                        (
                            Resource {
                                id: id.to_owned(),
                                ownership: Ownership::Created,
                            },
                            cidr,
                        )
                    }
                    many => {
                        return Err(duplicates(
                            "VPCs",
                            environment_id,
                            many.iter().filter_map(|vpc| vpc.vpc_id()),
                        ));
                    }
                }
            }
            VpcSpec::Adopt { vpc_id, .. } => {
                let found =
                    ec2::describe_vpcs(ec2, &retry, std::slice::from_ref(vpc_id), &[]).await?;
                let [vpc] = found.as_slice() else {
                    return Err(Error::Conflict(format!(
                        "the VPC {vpc_id} to adopt was not found"
                    )));
                };
                claim(vpc.tags(), vpc_id, environment_id)?;
                ec2::add_tags(ec2, &retry, vpc_id, &adopted_tags(environment_id, None)).await?;
                report.adopted.push(vpc_id.clone());
                let cidr = vpc.cidr_block().ok_or(Error::Missing {
                    operation: "DescribeVpcs",
                    what: "CidrBlock",
                })?;
                (
                    Resource {
                        id: vpc_id.clone(),
                        ownership: Ownership::Adopted,
                    },
                    cidr.to_owned(),
                )
            }
        };
        self.network.vpc = Some(resource);
        self.network.vpc_cidr = Some(cidr);
        Ok(report)
    }

    fn vpc_so_far(&self) -> Result<(String, Ipv4Cidr)> {
        let (Some(vpc), Some(cidr)) = (&self.network.vpc, &self.network.vpc_cidr) else {
            return Err(Error::Invalid(
                "the vpc step has not run in this run".into(),
            ));
        };
        Ok((vpc.id.clone(), Ipv4Cidr::parse(cidr)?))
    }
}

/// The tags that mark a customer's resource as adopted by the environment.
fn adopted_tags(environment_id: uuid::Uuid, zone: Option<&str>) -> Vec<aws_sdk_ec2::types::Tag> {
    let mut tags = vec![
        tag(TAG_ENVIRONMENT, &environment_id.to_string()),
        tag(TAG_OWNERSHIP, Ownership::Adopted.tag_value()),
    ];
    if let Some(zone) = zone {
        tags.push(tag(TAG_ZONE, zone));
    }
    tags
}

/// Refuses to adopt a resource another environment already claims.
fn claim(tags: &[aws_sdk_ec2::types::Tag], id: &str, environment_id: uuid::Uuid) -> Result<()> {
    match tag_value(tags, TAG_ENVIRONMENT) {
        Some(other) if other != environment_id.to_string() => Err(Error::Conflict(format!(
            "{id} already belongs to Fjord environment {other}"
        ))),
        _ => Ok(()),
    }
}

fn duplicates<'s>(
    what: &str,
    environment_id: uuid::Uuid,
    ids: impl Iterator<Item = &'s str>,
) -> Error {
    Error::Conflict(format!(
        "environment {environment_id} has more than one Fjord {what} ({}); teardown removes all of them",
        ids.collect::<Vec<_>>().join(", ")
    ))
}

/// Runs every step in order, calling `after_step` after each (it may stop
/// the run by returning an error: the control plane records the step there,
/// tests inject crashes there). Returns the network and the steps' reports.
pub async fn provision(
    access: &mut Access,
    spec: &NetworkSpec,
    mut after_step: impl FnMut(&StepReport) -> Result<()>,
) -> Result<(Network, Vec<StepReport>)> {
    let mut provisioner = Provisioner::new(access, spec)?;
    let mut reports = Vec::new();
    for step in Step::ALL {
        let report = provisioner.run_step(step).await?;
        after_step(&report)?;
        reports.push(report);
    }
    let network = provisioner.network().clone();
    assert!(
        network.vpc.is_some() && network.security_group.is_some(),
        "a finished run has a VPC and a group"
    );
    assert!(
        network.subnets.len() >= usize::from(spec.zone_count)
            || matches!(spec.vpc, VpcSpec::Adopt { .. })
    );
    Ok((network, reports))
}
