//! `CreateAcls`, `DescribeAcls` and `DeleteAcls` (v1–v3), answered by the
//! connection's gate. Creating and deleting bindings needs ALTER on the
//! cluster, listing them DESCRIBE (Kafka's rules; super users pass). With
//! `--authorizer=none` all three answer `SECURITY_DISABLED`, as Kafka does
//! without an authorizer.

use std::collections::BTreeMap;

use fjord_metadata::acl::{
    AclBinding, AclFilter, AclOperation, PatternFilter, PatternType, Permission, ResourceType,
};
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::{
    CreateAclsRequest, CreateAclsResponse, DeleteAclsRequest, DeleteAclsResponse,
    DescribeAclsRequest, DescribeAclsResponse, RequestKind, ResponseKind,
};
use kafka_protocol::protocol::StrBytes;
use tracing::{info, warn};

use crate::security::acl::Access;
use crate::server::ConnectionContext;

const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;
const INVALID_REQUEST: i16 = 42;
const SECURITY_DISABLED: i16 = 54;
const KAFKA_STORAGE_ERROR: i16 = 56;

type Refusal = (i16, String);

/// The answer to an ACL request, or `None` for any other.
pub(super) async fn answer(
    body: &RequestKind,
    access: &Access,
    context: &ConnectionContext,
) -> Option<ResponseKind> {
    Some(match body {
        RequestKind::CreateAcls(request) => {
            ResponseKind::CreateAcls(create(request, access, context).await)
        }
        RequestKind::DescribeAcls(request) => {
            ResponseKind::DescribeAcls(describe(request, access, context))
        }
        RequestKind::DeleteAcls(request) => {
            ResponseKind::DeleteAcls(delete(request, access, context).await)
        }
        _ => return None,
    })
}

fn text(value: impl Into<String>) -> Option<StrBytes> {
    Some(StrBytes::from_string(value.into()))
}

/// Refuses the whole request unless ACLs are on and the principal may do
/// `operation` on the cluster.
fn gate(access: &Access, operation: AclOperation) -> Result<(), Refusal> {
    if !access.enforced() {
        return Err((
            SECURITY_DISABLED,
            "no authorizer is configured on the broker (--authorizer=acl)".into(),
        ));
    }
    if !access.allowed_on_cluster(operation) {
        return Err((
            CLUSTER_AUTHORIZATION_FAILED,
            "cluster authorization failed".into(),
        ));
    }
    Ok(())
}

fn binding_of(creation: &AclCreation) -> Result<AclBinding, Refusal> {
    let invalid = |what: &str, code: i8| (INVALID_REQUEST, format!("invalid {what} {code}"));
    let binding = AclBinding {
        resource_type: ResourceType::from_code(creation.resource_type)
            .ok_or_else(|| invalid("resource type", creation.resource_type))?,
        resource_name: creation.resource_name.to_string(),
        pattern_type: PatternType::from_code(creation.resource_pattern_type)
            .ok_or_else(|| invalid("pattern type", creation.resource_pattern_type))?,
        principal: creation.principal.to_string(),
        host: creation.host.to_string(),
        operation: AclOperation::from_code(creation.operation)
            .ok_or_else(|| invalid("operation", creation.operation))?,
        permission: Permission::from_code(creation.permission_type)
            .ok_or_else(|| invalid("permission type", creation.permission_type))?,
    };
    binding
        .check()
        .map_err(|error| (INVALID_REQUEST, error.to_string()))?;
    Ok(binding)
}

async fn create(
    request: &CreateAclsRequest,
    access: &Access,
    context: &ConnectionContext,
) -> CreateAclsResponse {
    let outcomes: Vec<Result<AclBinding, Refusal>> = match gate(access, AclOperation::Alter) {
        Err(refusal) => vec![Err(refusal); request.creations.len()],
        Ok(()) => request.creations.iter().map(binding_of).collect(),
    };
    let accepted: Vec<AclBinding> = outcomes.iter().filter_map(|o| o.clone().ok()).collect();
    let store = context.authorizer.store();
    let stored = if accepted.is_empty() {
        Ok(())
    } else if !store.has_room_for(accepted.len()) {
        Err((
            INVALID_REQUEST,
            format!(
                "the cluster may hold at most {} bindings",
                fjord_metadata::acl::ACLS_MAX
            ),
        ))
    } else {
        match store.commit(accepted.clone(), Vec::new()).await {
            Ok(()) => {
                info!(
                    principal = access.principal(),
                    bindings = accepted.len(),
                    "acls created"
                );
                Ok(())
            }
            Err(error) => {
                warn!(%error, "cannot store acls");
                Err((KAFKA_STORAGE_ERROR, "the acls could not be stored".into()))
            }
        }
    };
    let results = outcomes
        .into_iter()
        .map(|outcome| match outcome.and(stored.clone()) {
            Ok(()) => AclCreationResult::default(),
            Err((code, message)) => AclCreationResult::default()
                .with_error_code(code)
                .with_error_message(text(message)),
        })
        .collect();
    CreateAclsResponse::default().with_results(results)
}

/// A protocol filter as the pure model's; `None` when a code is invalid.
fn filter_of(
    resource_type: i8,
    resource_name: Option<&StrBytes>,
    pattern_type: i8,
    principal: Option<&StrBytes>,
    host: Option<&StrBytes>,
    operation: i8,
    permission: i8,
) -> Result<AclFilter, Refusal> {
    const ANY: i8 = 1;
    let invalid = |what: &str, code: i8| (INVALID_REQUEST, format!("invalid {what} filter {code}"));
    Ok(AclFilter {
        resource_type: match resource_type {
            ANY => None,
            code => {
                Some(ResourceType::from_code(code).ok_or_else(|| invalid("resource type", code))?)
            }
        },
        resource_name: resource_name.map(ToString::to_string),
        pattern: PatternFilter::from_code(pattern_type)
            .ok_or_else(|| invalid("pattern type", pattern_type))?,
        principal: principal.map(ToString::to_string),
        host: host.map(ToString::to_string),
        operation: match operation {
            ANY => None,
            code => Some(AclOperation::from_code(code).ok_or_else(|| invalid("operation", code))?),
        },
        permission: match permission {
            ANY => None,
            code => Some(Permission::from_code(code).ok_or_else(|| invalid("permission", code))?),
        },
    })
}

fn describe(
    request: &DescribeAclsRequest,
    access: &Access,
    context: &ConnectionContext,
) -> DescribeAclsResponse {
    let filter = gate(access, AclOperation::Describe).and_then(|()| {
        filter_of(
            request.resource_type_filter,
            request.resource_name_filter.as_ref(),
            request.pattern_type_filter,
            request.principal_filter.as_ref(),
            request.host_filter.as_ref(),
            request.operation,
            request.permission_type,
        )
    });
    let filter = match filter {
        Ok(filter) => filter,
        Err((code, message)) => {
            return DescribeAclsResponse::default()
                .with_error_code(code)
                .with_error_message(text(message));
        }
    };
    let mut resources: BTreeMap<(ResourceType, String, PatternType), Vec<AclDescription>> =
        BTreeMap::new();
    context.authorizer.store().with_acls(|acls| {
        for binding in acls.matching(&filter) {
            let key = (
                binding.resource_type,
                binding.resource_name.clone(),
                binding.pattern_type,
            );
            resources.entry(key).or_default().push(
                AclDescription::default()
                    .with_principal(StrBytes::from_string(binding.principal.clone()))
                    .with_host(StrBytes::from_string(binding.host.clone()))
                    .with_operation(binding.operation.code())
                    .with_permission_type(binding.permission.code()),
            );
        }
    });
    let resources = resources
        .into_iter()
        .map(|((resource_type, name, pattern_type), acls)| {
            DescribeAclsResource::default()
                .with_resource_type(resource_type.code())
                .with_resource_name(StrBytes::from_string(name))
                .with_pattern_type(pattern_type.code())
                .with_acls(acls)
        })
        .collect();
    DescribeAclsResponse::default().with_resources(resources)
}

async fn delete(
    request: &DeleteAclsRequest,
    access: &Access,
    context: &ConnectionContext,
) -> DeleteAclsResponse {
    let store = context.authorizer.store();
    let allowed = gate(access, AclOperation::Alter);
    let selections: Vec<Result<Vec<AclBinding>, Refusal>> = request
        .filters
        .iter()
        .map(|filter| {
            allowed.clone()?;
            let filter = filter_of(
                filter.resource_type_filter,
                filter.resource_name_filter.as_ref(),
                filter.pattern_type_filter,
                filter.principal_filter.as_ref(),
                filter.host_filter.as_ref(),
                filter.operation,
                filter.permission_type,
            )?;
            Ok(store.with_acls(|acls| acls.matching(&filter).cloned().collect()))
        })
        .collect();
    let mut doomed: Vec<AclBinding> = selections
        .iter()
        .filter_map(|selection| selection.as_ref().ok())
        .flatten()
        .cloned()
        .collect();
    doomed.sort();
    doomed.dedup();
    let stored = if doomed.is_empty() {
        Ok(())
    } else {
        match store.commit(Vec::new(), doomed.clone()).await {
            Ok(()) => {
                info!(
                    principal = access.principal(),
                    bindings = doomed.len(),
                    "acls deleted"
                );
                Ok(())
            }
            Err(error) => {
                warn!(%error, "cannot delete acls");
                Err((
                    KAFKA_STORAGE_ERROR,
                    "the acls could not be deleted".to_owned(),
                ))
            }
        }
    };
    let results = selections
        .into_iter()
        .map(|selection| match selection {
            Err((code, message)) => DeleteAclsFilterResult::default()
                .with_error_code(code)
                .with_error_message(text(message)),
            Ok(bindings) => {
                let (code, message) = match &stored {
                    Ok(()) => (0, None),
                    Err((code, message)) => (*code, text(message.clone())),
                };
                DeleteAclsFilterResult::default().with_matching_acls(
                    bindings
                        .into_iter()
                        .map(|binding| matching_acl(binding, code, message.clone()))
                        .collect(),
                )
            }
        })
        .collect();
    DeleteAclsResponse::default().with_filter_results(results)
}

fn matching_acl(
    binding: AclBinding,
    code: i16,
    message: Option<StrBytes>,
) -> DeleteAclsMatchingAcl {
    DeleteAclsMatchingAcl::default()
        .with_error_code(code)
        .with_error_message(message)
        .with_resource_type(binding.resource_type.code())
        .with_resource_name(StrBytes::from_string(binding.resource_name))
        .with_pattern_type(binding.pattern_type.code())
        .with_principal(StrBytes::from_string(binding.principal))
        .with_host(StrBytes::from_string(binding.host))
        .with_operation(binding.operation.code())
        .with_permission_type(binding.permission.code())
}
