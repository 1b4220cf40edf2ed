//! Small helpers over the EC2 client: tags, filters, and the describe
//! calls every step starts with (each retried as `crate::retry` says).

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{
    AvailabilityZoneState, Filter, ResourceType, SecurityGroup, Subnet, Tag, TagSpecification, Vpc,
};
use uuid::Uuid;

use crate::error::{AwsError, Result};
use crate::network::{Ownership, TAG_ENVIRONMENT, TAG_OWNERSHIP};
use crate::retry::RetryPolicy;

pub(crate) fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

/// The value of tag `key`, if the resource has it.
pub(crate) fn tag_value<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|tag| tag.key() == Some(key))
        .and_then(Tag::value)
}

/// The tags of a resource Fjord creates, given with its `Create*` call so
/// it never exists untagged.
pub(crate) fn created_tags(
    resource_type: ResourceType,
    environment_id: Uuid,
    name: &str,
    extra: &[(&str, &str)],
) -> TagSpecification {
    let environment = environment_id.to_string();
    let mut builder = TagSpecification::builder()
        .resource_type(resource_type)
        .tags(tag(TAG_ENVIRONMENT, &environment))
        .tags(tag(TAG_OWNERSHIP, Ownership::Created.tag_value()))
        .tags(tag("Name", name));
    for (key, value) in extra {
        builder = builder.tags(tag(key, value));
    }
    builder.build()
}

pub(crate) fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// A filter on tag `key`.
pub(crate) fn tag_filter(key: &str, value: &str) -> Filter {
    filter(&format!("tag:{key}"), value)
}

pub(crate) fn environment_filter(environment_id: Uuid) -> Filter {
    tag_filter(TAG_ENVIRONMENT, &environment_id.to_string())
}

/// The ownership a resource's tags record (`None`: not Fjord's).
pub(crate) fn ownership(tags: &[Tag]) -> Option<Ownership> {
    tag_value(tags, TAG_OWNERSHIP).and_then(Ownership::from_tag)
}

pub(crate) async fn describe_vpcs(
    ec2: &Client,
    retry: &RetryPolicy,
    ids: &[String],
    filters: &[Filter],
) -> Result<Vec<Vpc>> {
    let output = retry
        .run(false, || async move {
            ec2.describe_vpcs()
                .set_vpc_ids((!ids.is_empty()).then(|| ids.to_vec()))
                .set_filters((!filters.is_empty()).then(|| filters.to_vec()))
                .send()
                .await
                .map_err(|error| AwsError::from_sdk("DescribeVpcs", &error))
        })
        .await?;
    Ok(output.vpcs().to_vec())
}

pub(crate) async fn describe_subnets(
    ec2: &Client,
    retry: &RetryPolicy,
    ids: &[String],
    filters: &[Filter],
) -> Result<Vec<Subnet>> {
    let output = retry
        .run(false, || async move {
            ec2.describe_subnets()
                .set_subnet_ids((!ids.is_empty()).then(|| ids.to_vec()))
                .set_filters((!filters.is_empty()).then(|| filters.to_vec()))
                .send()
                .await
                .map_err(|error| AwsError::from_sdk("DescribeSubnets", &error))
        })
        .await?;
    Ok(output.subnets().to_vec())
}

/// Security groups by id (ids Fjord made or found: a `NotFound` is
/// retried) or by filters.
pub(crate) async fn describe_security_groups(
    ec2: &Client,
    retry: &RetryPolicy,
    ids: &[String],
    filters: &[Filter],
) -> Result<Vec<SecurityGroup>> {
    let output = retry
        .run(!ids.is_empty(), || async move {
            ec2.describe_security_groups()
                .set_group_ids((!ids.is_empty()).then(|| ids.to_vec()))
                .set_filters((!filters.is_empty()).then(|| filters.to_vec()))
                .send()
                .await
                .map_err(|error| AwsError::from_sdk("DescribeSecurityGroups", &error))
        })
        .await?;
    Ok(output.security_groups().to_vec())
}

/// The region's available zones, sorted by name.
pub(crate) async fn available_zones(ec2: &Client, retry: &RetryPolicy) -> Result<Vec<String>> {
    let output = retry
        .run(false, || async move {
            ec2.describe_availability_zones()
                .send()
                .await
                .map_err(|error| AwsError::from_sdk("DescribeAvailabilityZones", &error))
        })
        .await?;
    let mut zones: Vec<String> = output
        .availability_zones()
        .iter()
        .filter(|zone| {
            zone.state()
                .is_none_or(|state| *state == AvailabilityZoneState::Available)
        })
        .filter_map(|zone| zone.zone_name().map(str::to_owned))
        .collect();
    zones.sort();
    zones.dedup();
    Ok(zones)
}

/// Adds tags to existing resources (idempotent in EC2).
pub(crate) async fn add_tags(
    ec2: &Client,
    retry: &RetryPolicy,
    resource_id: &str,
    tags: &[Tag],
) -> Result<()> {
    retry
        .run(true, || async move {
            ec2.create_tags()
                .resources(resource_id)
                .set_tags(Some(tags.to_vec()))
                .send()
                .await
                .map_err(|error| AwsError::from_sdk("CreateTags", &error))
        })
        .await?;
    Ok(())
}
