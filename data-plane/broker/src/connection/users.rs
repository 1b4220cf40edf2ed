//! `DescribeUserScramCredentials` and `AlterUserScramCredentials`: Kafka
//! asks for DESCRIBE and ALTER on the cluster, so with `--authorizer=acl`
//! those bindings decide (super users pass); without an authorizer only
//! super users may list or change users. Answers carry mechanisms and
//! iteration counts, never salts or keys.

use std::collections::BTreeMap;

use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse, RequestKind,
    ResponseKind,
};
use kafka_protocol::protocol::StrBytes;
use tracing::{info, warn};

use fjord_metadata::acl::AclOperation;

use crate::security::acl::Access;
use crate::security::scram::{ScramCredential, ScramMechanism};
use crate::security::users::{CredentialChange, CredentialRefusal};
use crate::server::ConnectionContext;

const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;
const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
const KAFKA_STORAGE_ERROR: i16 = 56;
const RESOURCE_NOT_FOUND: i16 = 91;
const DUPLICATE_RESOURCE: i16 = 92;
const UNACCEPTABLE_CREDENTIAL: i16 = 93;

/// The answer to a user-credential request, or `None` for any other.
pub(super) async fn answer(
    body: &RequestKind,
    access: &Access,
    context: &ConnectionContext,
) -> Option<ResponseKind> {
    let allowed = |operation| {
        if access.enforced() {
            access.allowed_on_cluster(operation)
        } else {
            access.is_super_user()
        }
    };
    Some(match body {
        RequestKind::DescribeUserScramCredentials(request) => {
            let allowed = allowed(AclOperation::Describe);
            ResponseKind::DescribeUserScramCredentials(describe(request, allowed, context))
        }
        RequestKind::AlterUserScramCredentials(request) => {
            let allowed = allowed(AclOperation::Alter);
            ResponseKind::AlterUserScramCredentials(
                alter(request, access.principal(), allowed, context).await,
            )
        }
        _ => return None,
    })
}

fn text(value: impl Into<String>) -> Option<StrBytes> {
    Some(StrBytes::from_string(value.into()))
}

fn describe(
    request: &DescribeUserScramCredentialsRequest,
    allowed: bool,
    context: &ConnectionContext,
) -> DescribeUserScramCredentialsResponse {
    let response = DescribeUserScramCredentialsResponse::default();
    if !allowed {
        // As Kafka answers it: the code alone.
        return response.with_error_code(CLUSTER_AUTHORIZATION_FAILED);
    }
    // Null or empty: every user.
    let asked: Option<Vec<String>> = request
        .users
        .as_ref()
        .filter(|users| !users.is_empty())
        .map(|users| users.iter().map(|user| user.name.to_string()).collect());
    let found = context.users.describe(asked.as_deref());
    let names = asked.unwrap_or_else(|| found.keys().cloned().collect());
    let results = names
        .into_iter()
        .map(|user| {
            let result = DescribeUserScramCredentialsResult::default()
                .with_user(StrBytes::from_string(user.clone()));
            match found.get(&user) {
                Some(credentials) => result.with_credential_infos(
                    credentials
                        .iter()
                        .map(|(mechanism, iterations)| {
                            CredentialInfo::default()
                                .with_mechanism(mechanism.kafka_type())
                                .with_iterations(i32::try_from(*iterations).unwrap_or(i32::MAX))
                        })
                        .collect(),
                ),
                None => result
                    .with_error_code(RESOURCE_NOT_FOUND)
                    .with_error_message(text(format!(
                        "attempt to describe a user credential that does not exist: {user}"
                    ))),
            }
        })
        .collect();
    response.with_results(results)
}

/// The changes of one request, grouped per user; a user with any refused
/// change gets that error and none of its changes are applied.
async fn alter(
    request: &AlterUserScramCredentialsRequest,
    principal: &str,
    allowed: bool,
    context: &ConnectionContext,
) -> AlterUserScramCredentialsResponse {
    let mut per_user: BTreeMap<String, Result<Vec<CredentialChange>, (i16, String)>> =
        BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    let changes = request
        .deletions
        .iter()
        .map(|deletion| (deletion.name.to_string(), deletion.mechanism, None))
        .chain(request.upsertions.iter().map(|upsertion| {
            (
                upsertion.name.to_string(),
                upsertion.mechanism,
                Some(upsertion),
            )
        }));
    for (user, mechanism_type, upsertion) in changes {
        let change = change(&user, mechanism_type, upsertion, allowed, context);
        let duplicate = !seen.insert((user.clone(), mechanism_type));
        let entry = per_user.entry(user).or_insert_with(|| Ok(Vec::new()));
        if entry.is_err() {
            continue;
        }
        match change {
            _ if duplicate => {
                *entry = Err((
                    DUPLICATE_RESOURCE,
                    "a mechanism of this user appears twice".into(),
                ));
            }
            Err(refusal) => *entry = Err(refusal),
            Ok(change) => {
                if let Ok(list) = entry {
                    list.push(change);
                }
            }
        }
    }
    let accepted: Vec<(String, CredentialChange)> = per_user
        .iter()
        .filter_map(|(user, changes)| Some((user, changes.as_ref().ok()?)))
        .flat_map(|(user, changes)| {
            changes
                .iter()
                .map(move |change| (user.clone(), change.clone()))
        })
        .collect();
    let stored = if accepted.is_empty() {
        Ok(())
    } else {
        context.users.commit(&accepted).await
    };
    if let Err(error) = &stored {
        warn!(%error, "cannot persist user credentials");
    } else if !accepted.is_empty() {
        info!(%principal, changes = accepted.len(), "user credentials changed");
    }
    let results = per_user
        .into_iter()
        .map(|(user, outcome)| {
            let result =
                AlterUserScramCredentialsResult::default().with_user(StrBytes::from_string(user));
            match (outcome, &stored) {
                (Err((code, message)), _) => result
                    .with_error_code(code)
                    .with_error_message(text(message)),
                (Ok(_), Err(_)) => result
                    .with_error_code(KAFKA_STORAGE_ERROR)
                    .with_error_message(text("credentials could not be stored")),
                (Ok(_), Ok(())) => result,
            }
        })
        .collect();
    AlterUserScramCredentialsResponse::default().with_results(results)
}

fn change(
    user: &str,
    mechanism_type: i8,
    upsertion: Option<
        &kafka_protocol::messages::alter_user_scram_credentials_request::ScramCredentialUpsertion,
    >,
    allowed: bool,
    context: &ConnectionContext,
) -> Result<CredentialChange, (i16, String)> {
    if !allowed {
        return Err((
            CLUSTER_AUTHORIZATION_FAILED,
            "changing users needs a super user".into(),
        ));
    }
    let mechanism = ScramMechanism::from_kafka_type(mechanism_type).ok_or_else(|| {
        (
            UNSUPPORTED_SASL_MECHANISM,
            format!("unknown SCRAM mechanism {mechanism_type}"),
        )
    })?;
    let change = match upsertion {
        None => CredentialChange::Delete(mechanism),
        Some(upsertion) => {
            let iterations = u32::try_from(upsertion.iterations).unwrap_or(0);
            if upsertion.salted_password.len() != mechanism.hash_bytes() {
                return Err((
                    UNACCEPTABLE_CREDENTIAL,
                    "salted password has the wrong length".into(),
                ));
            }
            CredentialChange::Set(ScramCredential::from_salted_password(
                mechanism,
                upsertion.salt.to_vec(),
                iterations,
                &upsertion.salted_password,
            ))
        }
    };
    context.users.check(user, &change).map_err(|refusal| {
        let code = match refusal {
            CredentialRefusal::NotFound(_) => RESOURCE_NOT_FOUND,
            _ => UNACCEPTABLE_CREDENTIAL,
        };
        (code, refusal.to_string())
    })?;
    Ok(change)
}
