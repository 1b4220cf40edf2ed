//! Cloud provisioning through the REST API, with the real AWS SDK against
//! the `moto_server` that `cargo xtask test` starts (`FJORD_TEST_MOTO_URL`).
//!
//! moto does not evaluate IAM trust policies (every `AssumeRole` succeeds),
//! so the customers' trust policies are emulated in front of the real STS
//! call (`TrustEmulation`): a role trusts only the external id the test
//! records for it, as a customer's policy with `sts:ExternalId` does.
//! Refusals below are injected that way. Each test uses AWS accounts of its
//! own, so tests share the server without resetting it.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::TestApp;
use fjord_provisioner::aws_sdk_ec2::types::Filter;
use fjord_provisioner::{Access, CloudConfig, RoleTarget, TrustEmulation};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

const REGION: &str = "us-east-1";

fn moto_url() -> String {
    std::env::var("FJORD_TEST_MOTO_URL").unwrap_or_else(|_| {
        panic!("FJORD_TEST_MOTO_URL must name a running moto_server (cargo xtask test starts one)")
    })
}

fn cloud(trust: &TrustEmulation) -> CloudConfig {
    let mut config = CloudConfig::moto(moto_url(), trust.clone());
    config.retry.first_delay = Duration::from_millis(20);
    config.retry.attempts = 4;
    config
}

async fn app(pool: PgPool, trust: &TrustEmulation) -> anyhow::Result<TestApp> {
    let config = cloud(trust);
    TestApp::with_state(pool, move |state| state.cloud = Some(config)).await
}

fn fresh_account() -> String {
    format!("{:012}", Uuid::now_v7().as_u128() % 1_000_000_000_000)
}

/// Runs every due job, as the workers would.
async fn run_jobs(app: &TestApp) -> anyhow::Result<()> {
    while fjord_control_plane::jobs::run_once(&app.state).await? {}
    Ok(())
}

/// Registers the account's role; returns (cloud account id, external id).
async fn cloud_account(
    app: &TestApp,
    key: &str,
    account: &str,
) -> anyhow::Result<(String, String)> {
    let created = app
        .post(
            "/v1/cloud-accounts",
            key,
            json!({"name": "aws", "aws_account_id": account,
                   "role_arn": format!("arn:aws:iam::{account}:role/fjord")}),
        )
        .await?;
    let body = created.expect(StatusCode::CREATED);
    Ok((
        body["cloud_account_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        body["external_id"].as_str().unwrap_or_default().to_owned(),
    ))
}

async fn environment(app: &TestApp, key: &str, cloud_account_id: &str) -> anyhow::Result<String> {
    let created = app
        .post(
            "/v1/environments",
            key,
            json!({"name": "prod", "cloud_account_id": cloud_account_id, "region": REGION}),
        )
        .await?;
    Ok(
        created.expect(StatusCode::CREATED)["environment"]["environment_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// The VPC ids in `account` (as its owner sees them), optionally only
/// those tagged with an environment.
async fn vpcs(_: &TrustEmulation, account: &str, environment_id: Option<&str>) -> Vec<String> {
    let role_arn = format!("arn:aws:iam::{account}:role/fjord");
    let owner = format!("owner-{}", Uuid::now_v7().simple());
    // The owner's own view, apart from the control plane's trust.
    let trust = TrustEmulation::strict();
    trust.trust(&role_arn, &owner);
    let target = RoleTarget {
        organization_id: Uuid::now_v7(),
        job_id: Uuid::now_v7(),
        role_arn: role_arn.clone(),
        external_id: owner,
        region: REGION.into(),
    };
    let mut access = Access::new(cloud(&trust), target);
    let ec2 = access.ec2().await.expect("the owner can look");
    let mut request = ec2.describe_vpcs();
    if let Some(id) = environment_id {
        request = request.filters(
            Filter::builder()
                .name("tag:fjord:environment-id")
                .values(id)
                .build(),
        );
    }
    let output = request.send().await.expect("describe vpcs");
    output
        .vpcs()
        .iter()
        .filter_map(|vpc| vpc.vpc_id().map(str::to_owned))
        .collect()
}

fn statuses(checklist: &Value) -> Vec<(String, String)> {
    checklist["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|check| {
            (
                check["name"].as_str().unwrap_or_default().to_owned(),
                check["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn checklist_provisioning_and_teardown_through_the_api(pool: PgPool) -> anyhow::Result<()> {
    let trust = TrustEmulation::strict();
    let app = app(pool, &trust).await?;
    let key = app.organization("acme").await?;
    let account = fresh_account();
    let (cloud_account_id, external_id) = cloud_account(&app, &key, &account).await?;
    // The customer puts the external id in the role's trust policy.
    trust.trust(&format!("arn:aws:iam::{account}:role/fjord"), &external_id);
    let environment_id = environment(&app, &key, &cloud_account_id).await?;
    let base = format!("/v1/environments/{environment_id}");

    let before = app.get(&format!("{base}/checklist"), &key).await?;
    let before = before.expect(StatusCode::OK);
    assert_eq!(before["state"], "pending");
    assert!(
        statuses(before)
            .iter()
            .all(|(_, status)| status == "pending")
    );

    app.post(&format!("{base}/checklist"), &key, json!(null))
        .await?
        .expect(StatusCode::ACCEPTED);
    run_jobs(&app).await?;
    let checklist = app.get(&format!("{base}/checklist"), &key).await?;
    let checklist = checklist.expect(StatusCode::OK);
    assert_eq!(checklist["state"], "done");
    let names: Vec<String> = statuses(checklist)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
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
    for (name, status) in statuses(checklist) {
        assert_eq!(status, "ok", "{name}: {checklist}");
    }

    // Before any settings the network exists with the environment, in state
    // `unconfigured`; provisioning it is a conflict, not a 404.
    let unset = app.get(&format!("{base}/network"), &key).await?;
    let unset = unset.expect(StatusCode::OK);
    assert_eq!(unset["state"], "unconfigured", "{unset}");
    assert!(unset["settings"].is_null(), "{unset}");
    app.post(&format!("{base}/network/provision"), &key, json!(null))
        .await?
        .expect_problem(StatusCode::CONFLICT, "conflict");

    app.put(
        &format!("{base}/network"),
        &key,
        json!({"zone_count": 2, "broker_count": 3, "vpc_cidr": "10.70.0.0/16"}),
    )
    .await?
    .expect(StatusCode::OK);
    let started = app
        .post(&format!("{base}/network/provision"), &key, json!(null))
        .await?;
    let operation_id = started.expect(StatusCode::ACCEPTED)["operation_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    run_jobs(&app).await?;
    let network = app.get(&format!("{base}/network"), &key).await?;
    let network = network.expect(StatusCode::OK).clone();
    assert_eq!(network["state"], "ready", "{network}");
    assert_eq!(network["operation_id"], operation_id);
    let resources = &network["resources"];
    assert_eq!(resources["vpc_ownership"], "created");
    assert_eq!(resources["vpc_cidr"], "10.70.0.0/16");
    assert_eq!(resources["subnets"].as_array().map(Vec::len), Some(2));
    let steps: Vec<(&str, &str)> = network["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            (
                s["step"].as_str().unwrap_or(""),
                s["outcome"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("vpc", "ok"),
            ("subnets", "ok"),
            ("security-group", "ok"),
            ("ingress", "ok")
        ]
    );
    let vpc_id = resources["vpc_id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        vpcs(&trust, &account, Some(&environment_id)).await,
        std::slice::from_ref(&vpc_id)
    );
    let operation = app
        .get(&format!("/v1/operations/{operation_id}"), &key)
        .await?;
    assert_eq!(operation.expect(StatusCode::OK)["state"], "succeeded");
    let audit = app
        .get(
            &format!("/v1/audit-records?action=environment.network.vpc&object_id={environment_id}"),
            &key,
        )
        .await?;
    let audit = audit.expect(StatusCode::OK);
    assert_eq!(
        audit["items"][0]["actor"],
        format!("operation:{operation_id}")
    );

    // Again: finds everything, creates nothing.
    app.post(&format!("{base}/network/provision"), &key, json!(null))
        .await?
        .expect(StatusCode::ACCEPTED);
    run_jobs(&app).await?;
    let again = app.get(&format!("{base}/network"), &key).await?;
    let again = again.expect(StatusCode::OK);
    assert_eq!(again["state"], "ready");
    assert_eq!(again["resources"], network["resources"]);
    for step in again["steps"].as_array().into_iter().flatten() {
        let message = step["message"].as_str().unwrap_or_default();
        assert!(
            !message.contains("created"),
            "a re-run created something: {message}"
        );
    }

    // Teardown waits for the clusters to go.
    let cluster = app
        .post(
            "/v1/clusters",
            &key,
            json!({"environment_id": environment_id, "name": "orders", "version": "0.1.0",
                   "broker_count": 3, "storage_gib": 10}),
        )
        .await?;
    let cluster_id = cluster.expect(StatusCode::CREATED)["cluster_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    app.delete(&base, &key)
        .await?
        .expect_problem(StatusCode::CONFLICT, "conflict");
    assert_eq!(
        vpcs(&trust, &account, Some(&environment_id)).await,
        std::slice::from_ref(&vpc_id)
    );
    app.delete(&format!("/v1/clusters/{cluster_id}"), &key)
        .await?
        .expect(StatusCode::NO_CONTENT);
    app.delete(&base, &key)
        .await?
        .expect(StatusCode::NO_CONTENT);
    run_jobs(&app).await?;
    assert!(
        vpcs(&trust, &account, Some(&environment_id))
            .await
            .is_empty(),
        "teardown removed the VPC Fjord created"
    );
    assert!(!vpcs(&trust, &account, None).await.contains(&vpc_id));
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn one_organization_can_never_cause_calls_into_another_organizations_account(
    pool: PgPool,
) -> anyhow::Result<()> {
    let trust = TrustEmulation::strict();
    let app = app(pool, &trust).await?;
    let acme = app.organization("acme").await?;
    let globex = app.organization("globex").await?;
    let account = fresh_account();
    let (acme_account, acme_external_id) = cloud_account(&app, &acme, &account).await?;
    trust.trust(
        &format!("arn:aws:iam::{account}:role/fjord"),
        &acme_external_id,
    );
    let acme_environment = environment(&app, &acme, &acme_account).await?;
    // moto gives every account a default VPC: the account's VPCs before.
    let before = vpcs(&trust, &account, None).await;

    // Globex cannot reach acme's environment at all.
    let base = format!("/v1/environments/{acme_environment}");
    let settings = json!({"zone_count": 1, "broker_count": 1});
    app.post(&format!("{base}/checklist"), &globex, json!(null))
        .await?
        .expect_problem(StatusCode::NOT_FOUND, "not-found");
    app.put(&format!("{base}/network"), &globex, settings.clone())
        .await?
        .expect_problem(StatusCode::NOT_FOUND, "not-found");
    app.post(&format!("{base}/network/provision"), &globex, json!(null))
        .await?
        .expect_problem(StatusCode::NOT_FOUND, "not-found");
    run_jobs(&app).await?;

    // Globex registers acme's role as its own: it gets its own external id,
    // which acme's trust policy does not name.
    let (globex_account, globex_external_id) = cloud_account(&app, &globex, &account).await?;
    assert_ne!(globex_external_id, acme_external_id);
    let globex_environment = environment(&app, &globex, &globex_account).await?;
    let globex_base = format!("/v1/environments/{globex_environment}");
    app.post(&format!("{globex_base}/checklist"), &globex, json!(null))
        .await?
        .expect(StatusCode::ACCEPTED);
    app.put(&format!("{globex_base}/network"), &globex, settings)
        .await?
        .expect(StatusCode::OK);
    app.post(
        &format!("{globex_base}/network/provision"),
        &globex,
        json!(null),
    )
    .await?
    .expect(StatusCode::ACCEPTED);
    run_jobs(&app).await?;

    let checklist = app
        .get(&format!("{globex_base}/checklist"), &globex)
        .await?;
    let checklist = checklist.expect(StatusCode::OK);
    let first = &checklist["checks"][0];
    assert_eq!(first["name"], "assume-role");
    assert_eq!(first["status"], "failed");
    assert_eq!(first["aws_code"], "AccessDenied", "{checklist}");
    assert!(
        first["message"]
            .as_str()
            .unwrap_or_default()
            .contains("external id"),
        "a clear message: {first}"
    );
    let network = app.get(&format!("{globex_base}/network"), &globex).await?;
    let network = network.expect(StatusCode::OK);
    assert_eq!(network["state"], "failed", "{network}");
    assert!(
        network["message"]
            .as_str()
            .unwrap_or_default()
            .contains("AccessDenied")
    );
    assert_eq!(
        vpcs(&trust, &account, None).await,
        before,
        "nothing was made in acme's account"
    );
    assert!(
        vpcs(&trust, &account, Some(&globex_environment))
            .await
            .is_empty()
    );
    Ok(())
}
