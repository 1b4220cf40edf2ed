//! Teardown: deletes exactly what Fjord created for an environment (found
//! by its tags) and only un-tags what it adopted. Safe to run again after a
//! crash: a resource already gone counts as deleted.

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::Tag;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::Access;
use crate::ec2::{self, environment_filter, ownership};
use crate::error::{AwsError, ErrorClass, Result};
use crate::network::{Ownership, TAG_ENVIRONMENT, TAG_OWNERSHIP, TAG_ZONE};
use crate::retry::RetryPolicy;

/// What a teardown did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeardownReport {
    /// Fjord's resources, deleted (or found already gone).
    pub deleted: Vec<String>,
    /// The customer's resources, left in place with Fjord's tags removed.
    pub released: Vec<String>,
}

/// Tears down the network of `environment_id`.
pub async fn teardown(access: &mut Access, environment_id: Uuid) -> Result<TeardownReport> {
    let client = access.ec2().await?;
    let ec2 = &client;
    let retry = access.config().retry;
    let filters = [environment_filter(environment_id)];
    let mut report = TeardownReport::default();

    let groups = ec2::describe_security_groups(ec2, &retry, &[], &filters).await?;
    for group in &groups {
        let Some(id) = group.group_id() else { continue };
        match ownership(group.tags()) {
            Some(Ownership::Created) => {
                delete(&retry, "DeleteSecurityGroup", || async move {
                    ec2.delete_security_group()
                        .group_id(id)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|error| AwsError::from_sdk("DeleteSecurityGroup", &error))
                })
                .await?;
                report.deleted.push(id.to_owned());
            }
            Some(Ownership::Adopted) | None => {
                release(ec2, &retry, id).await?;
                report.released.push(id.to_owned());
            }
        }
    }

    let subnets = ec2::describe_subnets(ec2, &retry, &[], &filters).await?;
    for subnet in &subnets {
        let Some(id) = subnet.subnet_id() else {
            continue;
        };
        match ownership(subnet.tags()) {
            Some(Ownership::Created) => {
                delete(&retry, "DeleteSubnet", || async move {
                    ec2.delete_subnet()
                        .subnet_id(id)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|error| AwsError::from_sdk("DeleteSubnet", &error))
                })
                .await?;
                report.deleted.push(id.to_owned());
            }
            Some(Ownership::Adopted) | None => {
                release(ec2, &retry, id).await?;
                report.released.push(id.to_owned());
            }
        }
    }

    let vpcs = ec2::describe_vpcs(ec2, &retry, &[], &filters).await?;
    for vpc in &vpcs {
        let Some(id) = vpc.vpc_id() else { continue };
        match ownership(vpc.tags()) {
            Some(Ownership::Created) => {
                delete(&retry, "DeleteVpc", || async move {
                    ec2.delete_vpc()
                        .vpc_id(id)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|error| AwsError::from_sdk("DeleteVpc", &error))
                })
                .await?;
                report.deleted.push(id.to_owned());
            }
            Some(Ownership::Adopted) | None => {
                release(ec2, &retry, id).await?;
                report.released.push(id.to_owned());
            }
        }
    }
    tracing::info!(%environment_id, deleted = ?report.deleted, released = ?report.released, "network torn down");
    Ok(report)
}

/// Deletes one resource: gone already counts as deleted; a
/// `DependencyViolation` is retried for a while (what depended on it may
/// have just been deleted and EC2 not caught up), then surfaced.
async fn delete<F, Fut>(retry: &RetryPolicy, operation: &'static str, mut call: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), AwsError>>,
{
    let outcome = retry
        .run(false, || {
            let attempt = call();
            async move {
                attempt.await.map_err(|mut error| {
                    if error.code.as_deref() == Some("DependencyViolation") {
                        error.class = ErrorClass::Unavailable;
                    }
                    error
                })
            }
        })
        .await;
    match outcome {
        Ok(()) => Ok(()),
        Err(error) if error.class == ErrorClass::NotFound => {
            tracing::info!(
                operation,
                code = error.code.as_deref().unwrap_or(""),
                "already gone"
            );
            Ok(())
        }
        Err(mut error) => {
            if error.code.as_deref() == Some("DependencyViolation") {
                error.class = ErrorClass::Other;
                error.message = format!(
                    "something else still uses it; Fjord deletes only what it created: {}",
                    error.message
                );
            }
            Err(error.into())
        }
    }
}

/// Removes Fjord's tags from a customer's resource.
async fn release(ec2: &Client, retry: &RetryPolicy, id: &str) -> Result<()> {
    let keys: Vec<Tag> = [TAG_ENVIRONMENT, TAG_OWNERSHIP, TAG_ZONE]
        .iter()
        .map(|key| Tag::builder().key(*key).build())
        .collect();
    let keys = &keys;
    retry
        .run(false, || async move {
            ec2.delete_tags()
                .resources(id)
                .set_tags(Some(keys.clone()))
                .send()
                .await
                .map(|_| ())
                .map_err(|error| AwsError::from_sdk("DeleteTags", &error))
        })
        .await?;
    Ok(())
}
