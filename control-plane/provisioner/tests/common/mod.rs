//! A customer account of its own in the `moto_server` that `cargo xtask
//! test` starts (`FJORD_TEST_MOTO_URL`): each test uses a fresh AWS account
//! id, so tests share one server, run in parallel and need no reset.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use fjord_provisioner::aws_sdk_ec2::Client;
use fjord_provisioner::aws_sdk_ec2::types::{Filter, Tag};
use fjord_provisioner::retry::RetryPolicy;
use fjord_provisioner::{
    Access, CloudConfig, NetworkSpec, RoleTarget, TrustEmulation, VpcSpec, access,
};
use uuid::Uuid;

pub const MOTO_URL_ENV: &str = "FJORD_TEST_MOTO_URL";
pub const REGION: &str = "us-east-1";

pub fn moto_url() -> String {
    std::env::var(MOTO_URL_ENV).unwrap_or_else(|_| {
        panic!("{MOTO_URL_ENV} must name a running moto_server (cargo xtask test starts one)")
    })
}

/// One customer: their account, their role, the external id the control
/// plane generated, and a trust policy (emulated: moto evaluates none)
/// that requires it.
#[derive(Debug, Clone)]
pub struct Customer {
    pub account_id: String,
    pub role_arn: String,
    pub external_id: String,
    pub trust: TrustEmulation,
    pub organization_id: Uuid,
}

impl Customer {
    pub fn new() -> Self {
        let account_id = format!("{:012}", Uuid::now_v7().as_u128() % 1_000_000_000_000);
        let role_arn = format!("arn:aws:iam::{account_id}:role/fjord-provisioner");
        let external_id = format!("fjord-{}", Uuid::now_v7().simple());
        let trust = TrustEmulation::strict();
        trust.trust(&role_arn, &external_id);
        Self {
            account_id,
            role_arn,
            external_id,
            trust,
            organization_id: Uuid::now_v7(),
        }
    }

    pub fn config(&self) -> CloudConfig {
        let mut config = CloudConfig::moto(moto_url(), self.trust.clone());
        config.retry = RetryPolicy {
            attempts: 4,
            first_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
        };
        config
    }

    /// The access a job of this customer's organization gets.
    pub fn access(&self) -> Access {
        Access::new(
            self.config(),
            RoleTarget {
                organization_id: self.organization_id,
                job_id: Uuid::now_v7(),
                role_arn: self.role_arn.clone(),
                external_id: self.external_id.clone(),
                region: REGION.into(),
            },
        )
    }

    /// An EC2 client in the customer's account, as the customer (to set up
    /// what they already own and to look at what Fjord left).
    pub async fn ec2(&self) -> Client {
        let session = self
            .access()
            .assume(Some(&self.external_id))
            .await
            .expect("the customer's role can be assumed");
        access::ec2_client(&self.config(), REGION, session.credentials)
    }
}

pub fn create_spec(zone_count: u8) -> NetworkSpec {
    NetworkSpec {
        environment_id: Uuid::now_v7(),
        environment_name: "prod".into(),
        zone_count,
        broker_count: 3,
        vpc: VpcSpec::Create {
            cidr: "10.64.0.0/16".into(),
        },
    }
}

pub fn tag_of<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|tag| tag.key() == Some(key))
        .and_then(Tag::value)
}

fn environment_filter(environment_id: Uuid) -> Filter {
    Filter::builder()
        .name("tag:fjord:environment-id")
        .values(environment_id.to_string())
        .build()
}

/// What the customer sees in their account, by the environment's tag.
#[derive(Debug, PartialEq, Eq)]
pub struct Inventory {
    pub vpcs: Vec<String>,
    pub subnets: Vec<String>,
    pub groups: Vec<String>,
    /// `(port, source)` of every ingress rule of the tagged groups.
    pub rules: Vec<(i32, String)>,
}

pub async fn inventory(ec2: &Client, environment_id: Uuid) -> Inventory {
    let filter = environment_filter(environment_id);
    let vpcs = ec2
        .describe_vpcs()
        .filters(filter.clone())
        .send()
        .await
        .expect("describe vpcs");
    let subnets = ec2
        .describe_subnets()
        .filters(filter.clone())
        .send()
        .await
        .expect("describe subnets");
    let groups = ec2
        .describe_security_groups()
        .filters(filter)
        .send()
        .await
        .expect("describe groups");
    let mut rules: Vec<(i32, String)> = groups
        .security_groups()
        .iter()
        .flat_map(|group| group.ip_permissions())
        .flat_map(|rule| {
            let port = rule.from_port().unwrap_or(-1);
            rule.ip_ranges()
                .iter()
                .map(move |range| (port, range.cidr_ip().unwrap_or_default().to_owned()))
        })
        .collect();
    rules.sort();
    let mut inventory = Inventory {
        vpcs: vpcs
            .vpcs()
            .iter()
            .filter_map(|v| v.vpc_id().map(str::to_owned))
            .collect(),
        subnets: subnets
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_id().map(str::to_owned))
            .collect(),
        groups: groups
            .security_groups()
            .iter()
            .filter_map(|g| g.group_id().map(str::to_owned))
            .collect(),
        rules,
    };
    inventory.vpcs.sort();
    inventory.subnets.sort();
    inventory.groups.sort();
    inventory
}
