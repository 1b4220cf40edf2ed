//! Provisioning and teardown with the real SDK against `moto_server`.

mod common;

use common::{Customer, REGION, create_spec, inventory, tag_of};
use fjord_provisioner::aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use fjord_provisioner::{Error, NetworkSpec, Ownership, Step, VpcSpec, provision, teardown};

const VPC_CIDR: &str = "10.64.0.0/16";

fn expected_rules() -> Vec<(i32, String)> {
    vec![
        (9092, VPC_CIDR.to_owned()),
        (9093, VPC_CIDR.to_owned()),
        (9644, VPC_CIDR.to_owned()),
    ]
}

#[tokio::test]
async fn a_full_provision_makes_a_tagged_vpc_a_subnet_per_zone_and_a_vpc_only_group() {
    let customer = Customer::new();
    let spec = create_spec(3);
    let mut access = customer.access();
    let (network, reports) = provision(&mut access, &spec, |_| Ok(()))
        .await
        .expect("provisioning succeeds");

    assert_eq!(
        reports.iter().map(|r| r.step).collect::<Vec<_>>(),
        Step::ALL
    );
    let ec2 = customer.ec2().await;
    let found = inventory(&ec2, spec.environment_id).await;
    assert_eq!(found.vpcs.len(), 1);
    assert_eq!(found.subnets.len(), 3);
    assert_eq!(found.groups.len(), 1);
    assert_eq!(
        found.rules,
        expected_rules(),
        "only the broker ports, only from the VPC"
    );

    let vpc = network.vpc.expect("a vpc");
    assert_eq!(vpc.ownership, Ownership::Created);
    assert_eq!(found.vpcs, std::slice::from_ref(&vpc.id));
    let subnets = ec2
        .describe_subnets()
        .set_subnet_ids(Some(found.subnets.clone()))
        .send()
        .await
        .expect("describe");
    let mut zones: Vec<&str> = subnets
        .subnets()
        .iter()
        .map(|subnet| {
            assert_eq!(subnet.vpc_id(), Some(vpc.id.as_str()));
            assert_eq!(tag_of(subnet.tags(), "fjord:ownership"), Some("created"));
            let zone = subnet.availability_zone().expect("a zone");
            assert_eq!(tag_of(subnet.tags(), "fjord:zone"), Some(zone));
            zone
        })
        .collect();
    zones.sort_unstable();
    zones.dedup();
    assert_eq!(zones.len(), 3, "one subnet in each of three zones");
    let vpcs = ec2
        .describe_vpcs()
        .vpc_ids(vpc.id.clone())
        .send()
        .await
        .expect("describe");
    let tags = vpcs.vpcs()[0].tags();
    assert_eq!(
        tag_of(tags, "fjord:environment-id"),
        Some(spec.environment_id.to_string().as_str())
    );
    assert_eq!(tag_of(tags, "fjord:ownership"), Some("created"));
    assert_eq!(tag_of(tags, "Name"), Some("fjord-prod"));
    assert_eq!(
        access.sessions_assumed(),
        1,
        "one short session serves the run"
    );
}

#[tokio::test]
async fn a_rerun_of_a_finished_provision_changes_nothing() {
    let customer = Customer::new();
    let spec = create_spec(3);
    let (first, _) = provision(&mut customer.access(), &spec, |_| Ok(()))
        .await
        .expect("first run");
    let ec2 = customer.ec2().await;
    let before = inventory(&ec2, spec.environment_id).await;

    let (second, reports) = provision(&mut customer.access(), &spec, |_| Ok(()))
        .await
        .expect("second run");
    for report in &reports {
        assert!(report.changed_nothing(), "{}", report.summary());
    }
    assert_eq!(first, second);
    assert_eq!(inventory(&ec2, spec.environment_id).await, before);
}

#[tokio::test]
async fn a_crash_after_any_step_is_resumed_to_the_same_resources_without_duplicates() {
    for crash_after in Step::ALL {
        let customer = Customer::new();
        let spec = create_spec(3);
        let crashed = provision(&mut customer.access(), &spec, |report| {
            if report.step == crash_after {
                Err(Error::Stopped(report.step.name().into()))
            } else {
                Ok(())
            }
        })
        .await;
        assert!(
            matches!(crashed, Err(Error::Stopped(_))),
            "the crash after {crash_after:?} stops the run: {crashed:?}"
        );
        let ec2 = customer.ec2().await;
        let left = inventory(&ec2, spec.environment_id).await;

        let (network, reports) = provision(&mut customer.access(), &spec, |_| Ok(()))
            .await
            .expect("the resumed run finishes");
        let after = inventory(&ec2, spec.environment_id).await;
        assert_eq!(after.vpcs.len(), 1, "crash after {crash_after:?}");
        assert_eq!(after.subnets.len(), 3, "crash after {crash_after:?}");
        assert_eq!(after.groups.len(), 1, "crash after {crash_after:?}");
        assert_eq!(after.rules, expected_rules(), "crash after {crash_after:?}");
        // What the crashed run made is what the resumed run uses.
        assert!(left.vpcs.iter().all(|id| after.vpcs.contains(id)));
        assert!(left.subnets.iter().all(|id| after.subnets.contains(id)));
        assert!(left.groups.iter().all(|id| after.groups.contains(id)));
        assert_eq!(network.vpc.map(|vpc| vpc.id), after.vpcs.first().cloned());
        // Steps up to the crash found their resources instead of making them.
        for report in reports.iter().take_while(|r| r.step != crash_after) {
            assert!(
                report.changed_nothing(),
                "after a crash: {}",
                report.summary()
            );
        }
    }
}

/// A customer's own VPC with a subnet in each of `zones` zones.
async fn customer_vpc(customer: &Customer, zones: usize) -> (String, Vec<String>) {
    let ec2 = customer.ec2().await;
    let owner = TagSpecification::builder()
        .resource_type(ResourceType::Vpc)
        .tags(Tag::builder().key("team").value("payments").build())
        .build();
    let vpc = ec2
        .create_vpc()
        .cidr_block("172.20.0.0/16")
        .tag_specifications(owner)
        .send()
        .await
        .expect("create the customer's vpc");
    let vpc_id = vpc
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("an id")
        .to_owned();
    let mut subnets = Vec::new();
    for (index, zone) in ["a", "b", "c"].iter().take(zones).enumerate() {
        let subnet = ec2
            .create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block(format!("172.20.{index}.0/24"))
            .availability_zone(format!("{REGION}{zone}"))
            .send()
            .await
            .expect("create the customer's subnet");
        subnets.push(
            subnet
                .subnet()
                .and_then(|s| s.subnet_id())
                .expect("an id")
                .to_owned(),
        );
    }
    (vpc_id, subnets)
}

fn adopt_spec(vpc_id: &str, subnet_ids: &[String]) -> NetworkSpec {
    NetworkSpec {
        vpc: VpcSpec::Adopt {
            vpc_id: vpc_id.to_owned(),
            subnet_ids: subnet_ids.to_vec(),
        },
        ..create_spec(3)
    }
}

#[tokio::test]
async fn adopting_a_vpc_tags_it_and_teardown_leaves_it_and_removes_only_ours() {
    let customer = Customer::new();
    let (vpc_id, subnet_ids) = customer_vpc(&customer, 3).await;
    let spec = adopt_spec(&vpc_id, &subnet_ids);
    let (network, _) = provision(&mut customer.access(), &spec, |_| Ok(()))
        .await
        .expect("adopting succeeds");
    let vpc = network.vpc.expect("a vpc");
    assert_eq!(
        (vpc.id.as_str(), vpc.ownership),
        (vpc_id.as_str(), Ownership::Adopted)
    );
    assert!(
        network
            .subnets
            .iter()
            .all(|s| s.ownership == Ownership::Adopted)
    );
    let ec2 = customer.ec2().await;
    let found = inventory(&ec2, spec.environment_id).await;
    assert_eq!(found.vpcs, std::slice::from_ref(&vpc.id));
    assert_eq!(found.groups.len(), 1, "the group is Fjord's own");
    assert_eq!(
        found.rules,
        vec![
            (9092, "172.20.0.0/16".to_owned()),
            (9093, "172.20.0.0/16".to_owned()),
            (9644, "172.20.0.0/16".to_owned()),
        ]
    );

    let report = teardown(&mut customer.access(), spec.environment_id)
        .await
        .expect("teardown succeeds");
    assert_eq!(
        report.deleted, found.groups,
        "only the group Fjord made is deleted"
    );
    let gone = inventory(&ec2, spec.environment_id).await;
    assert!(gone.vpcs.is_empty() && gone.subnets.is_empty() && gone.groups.is_empty());
    let vpcs = ec2
        .describe_vpcs()
        .vpc_ids(vpc_id.clone())
        .send()
        .await
        .expect("still there");
    let tags = vpcs.vpcs()[0].tags();
    assert_eq!(
        tag_of(tags, "team"),
        Some("payments"),
        "the customer's own tags stay"
    );
    assert_eq!(
        tag_of(tags, "fjord:environment-id"),
        None,
        "Fjord's tags are removed"
    );
    let subnets = ec2
        .describe_subnets()
        .set_subnet_ids(Some(subnet_ids.clone()))
        .send()
        .await
        .expect("the subnets are still there");
    assert_eq!(subnets.subnets().len(), 3);
}

#[tokio::test]
async fn adopting_refuses_subnets_that_span_too_few_zones() {
    let customer = Customer::new();
    let (vpc_id, subnet_ids) = customer_vpc(&customer, 2).await;
    let spec = adopt_spec(&vpc_id, &subnet_ids);
    let error = provision(&mut customer.access(), &spec, |_| Ok(()))
        .await
        .expect_err("two zones are not three");
    assert!(
        matches!(&error, Error::Conflict(message) if message.contains("span 2 zones")),
        "{error}"
    );
}

#[tokio::test]
async fn teardown_removes_what_fjord_created_and_can_run_again() {
    let customer = Customer::new();
    let spec = create_spec(2);
    provision(&mut customer.access(), &spec, |_| Ok(()))
        .await
        .expect("provisioning succeeds");
    let ec2 = customer.ec2().await;
    let before = inventory(&ec2, spec.environment_id).await;
    let all_vpcs_before = ec2
        .describe_vpcs()
        .send()
        .await
        .expect("describe")
        .vpcs()
        .len();

    let report = teardown(&mut customer.access(), spec.environment_id)
        .await
        .expect("teardown succeeds");
    assert_eq!(report.deleted.len(), 1 + 2 + 1);
    assert!(report.released.is_empty());
    let after = inventory(&ec2, spec.environment_id).await;
    assert!(after.vpcs.is_empty() && after.subnets.is_empty() && after.groups.is_empty());
    let all_vpcs_after = ec2
        .describe_vpcs()
        .send()
        .await
        .expect("describe")
        .vpcs()
        .len();
    assert_eq!(all_vpcs_after, all_vpcs_before - 1, "only Fjord's VPC went");
    assert!(before.vpcs.iter().all(|id| report.deleted.contains(id)));

    let again = teardown(&mut customer.access(), spec.environment_id)
        .await
        .expect("a second teardown succeeds");
    assert!(again.deleted.is_empty());
}
