//! The preflight checklist with the real SDK against `moto_server`.
//!
//! moto does not evaluate IAM trust policies: every `AssumeRole` succeeds.
//! The customer's trust policy (require the control plane's external id) is
//! therefore emulated by `TrustEmulation` in front of the real STS call;
//! refusals in these tests are injected through it.

mod common;

use common::{Customer, create_spec};
use fjord_provisioner::{Check, CheckStatus, NetworkSpec, VpcSpec, preflight};

fn status<'a>(checks: &'a [Check], name: &str) -> &'a Check {
    checks
        .iter()
        .find(|check| check.name == name)
        .unwrap_or_else(|| panic!("no check {name} in {checks:?}"))
}

#[tokio::test]
async fn a_well_set_up_account_passes_every_check() {
    let customer = Customer::new();
    let spec = create_spec(3);
    let checks = preflight(&mut customer.access(), &spec).await;
    for check in &checks {
        assert_eq!(check.status, CheckStatus::Ok, "{check:?}");
    }
    let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "assume-role",
            "external-id-required",
            "region-enabled",
            "availability-zones",
            "permissions"
        ]
    );
}

#[tokio::test]
async fn a_refused_assume_role_fails_the_first_check_with_access_denied_and_leaves_the_rest_pending()
 {
    let customer = Customer::new();
    // The customer's trust policy names another external id (injected: see above).
    customer
        .trust
        .trust(&customer.role_arn, "fjord-some-other-id");
    let checks = preflight(&mut customer.access(), &create_spec(3)).await;
    let first = status(&checks, "assume-role");
    assert_eq!(first.status, CheckStatus::Failed);
    assert_eq!(first.aws_code.as_deref(), Some("AccessDenied"));
    assert!(
        first.message.contains(&customer.role_arn),
        "{}",
        first.message
    );
    assert!(first.message.contains("external id"), "{}", first.message);
    for check in &checks[1..] {
        assert_eq!(check.status, CheckStatus::Pending, "{check:?}");
    }
}

#[tokio::test]
async fn adopting_checks_the_vpc_the_zones_and_free_addresses() {
    let customer = Customer::new();
    let ec2 = customer.ec2().await;
    let vpc = ec2
        .create_vpc()
        .cidr_block("172.21.0.0/16")
        .send()
        .await
        .expect("vpc");
    let vpc_id = vpc.vpc().and_then(|v| v.vpc_id()).expect("id").to_owned();
    let mut subnet_ids = Vec::new();
    // Two zones, and the second subnet a /28: 11 usable addresses.
    for (cidr, zone) in [
        ("172.21.0.0/24", "us-east-1a"),
        ("172.21.1.0/28", "us-east-1b"),
    ] {
        let subnet = ec2
            .create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block(cidr)
            .availability_zone(zone)
            .send()
            .await
            .expect("subnet");
        subnet_ids.push(
            subnet
                .subnet()
                .and_then(|s| s.subnet_id())
                .expect("id")
                .to_owned(),
        );
    }
    let spec = |zone_count: u8, broker_count: u16| NetworkSpec {
        zone_count,
        broker_count,
        vpc: VpcSpec::Adopt {
            vpc_id: vpc_id.clone(),
            subnet_ids: subnet_ids.clone(),
        },
        ..create_spec(zone_count)
    };
    let checks = preflight(&mut customer.access(), &spec(2, 4)).await;
    for name in ["vpc", "subnets", "free-addresses"] {
        assert_eq!(status(&checks, name).status, CheckStatus::Ok, "{checks:?}");
    }
    let three_zones = preflight(&mut customer.access(), &spec(3, 3)).await;
    let subnets = status(&three_zones, "subnets");
    assert_eq!(subnets.status, CheckStatus::Failed);
    assert!(
        subnets.message.contains("span 2 zones"),
        "{}",
        subnets.message
    );
    let crowded = preflight(&mut customer.access(), &spec(2, 20)).await;
    let free = status(&crowded, "free-addresses");
    assert_eq!(free.status, CheckStatus::Failed, "{free:?}");
    assert!(
        free.message.contains("us-east-1b has 11"),
        "{}",
        free.message
    );

    let missing = NetworkSpec {
        vpc: VpcSpec::Adopt {
            vpc_id: "vpc-0000000000000dead".into(),
            subnet_ids: subnet_ids.clone(),
        },
        ..create_spec(2)
    };
    let checks = preflight(&mut customer.access(), &missing).await;
    let vpc = status(&checks, "vpc");
    assert_eq!(vpc.status, CheckStatus::Failed);
    assert_eq!(
        vpc.aws_code.as_deref(),
        Some("InvalidVpcID.NotFound"),
        "{vpc:?}"
    );
}

#[tokio::test]
async fn another_organization_with_the_same_role_is_refused_for_want_of_its_external_id() {
    let customer = Customer::new();
    // Another tenant registers the same role ARN; the control plane gives
    // it a different external id, which the customer's policy does not name.
    let mut intruder = customer.clone();
    intruder.external_id = "fjord-intruders-own-id".into();
    intruder.organization_id = uuid::Uuid::now_v7();
    let checks = preflight(&mut intruder.access(), &create_spec(3)).await;
    let first = status(&checks, "assume-role");
    assert_eq!(first.status, CheckStatus::Failed);
    assert_eq!(first.aws_code.as_deref(), Some("AccessDenied"));
    let own = preflight(&mut customer.access(), &create_spec(3)).await;
    assert_eq!(status(&own, "assume-role").status, CheckStatus::Ok);
}
