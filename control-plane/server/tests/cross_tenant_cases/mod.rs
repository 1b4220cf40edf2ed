//! The cross-tenant table: for every route, a request by `globex` aimed at
//! `acme`'s objects and what it must get (see `cross_tenant.rs`).

use axum::http::Method;
use serde_json::{Value, json};

use crate::common::Inventory;

/// Acme's console user.
pub(crate) const ACME_USER: &str = "ada@acme.example";

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Expect {
    /// 404: the object does not exist for this caller.
    NotFound,
    /// 422: a referenced id does not exist for this caller.
    Invalid,
    /// 2xx, and no acme id anywhere in the body.
    NothingOfAcme,
    /// 401: this credential cannot use the route at all.
    Unauthenticated,
}

pub(crate) struct Case {
    pub(crate) method: Method,
    pub(crate) route: &'static str,
    pub(crate) query: String,
    pub(crate) body: Option<Value>,
    pub(crate) agent: bool,
    pub(crate) expect: Expect,
}

fn case(method: Method, route: &'static str, body: Option<Value>, expect: Expect) -> Case {
    Case {
        method,
        route,
        query: String::new(),
        body,
        agent: false,
        expect,
    }
}

/// Acme's ids beyond the common inventory.
pub(crate) struct Extra {
    pub(crate) rollout_id: String,
    pub(crate) operation_id: String,
    pub(crate) user_id: String,
}

pub(crate) fn cases(acme: &Inventory) -> Vec<Case> {
    use Expect::*;
    let q = |mut case: Case, query: String| {
        case.query = query;
        case
    };
    let agent = |mut case: Case| {
        case.agent = true;
        case
    };
    vec![
        case(Method::GET, "/v1/info", None, NothingOfAcme),
        case(Method::GET, "/v1/organization", None, NothingOfAcme),
        case(Method::GET, "/v1/signing-key", None, NothingOfAcme),
        case(Method::GET, "/v1/releases", None, NothingOfAcme),
        case(Method::GET, "/v1/api-keys", None, NothingOfAcme),
        case(
            Method::POST,
            "/v1/api-keys",
            Some(json!({"name": "x", "scope": "admin"})),
            NothingOfAcme,
        ),
        case(Method::GET, "/v1/api-keys/{api_key_id}", None, NotFound),
        case(
            Method::POST,
            "/v1/api-keys/{api_key_id}/revoke",
            None,
            NotFound,
        ),
        case(Method::GET, "/v1/cloud-accounts", None, NothingOfAcme),
        case(
            Method::POST,
            "/v1/cloud-accounts",
            Some(
                json!({"name": "prod2", "aws_account_id": "123456789012", "role_arn": "arn:aws:iam::123456789012:role/x"}),
            ),
            NothingOfAcme,
        ),
        case(
            Method::GET,
            "/v1/cloud-accounts/{cloud_account_id}",
            None,
            NotFound,
        ),
        case(
            Method::PATCH,
            "/v1/cloud-accounts/{cloud_account_id}",
            Some(json!({"role_arn": "arn:aws:iam::123456789012:role/evil"})),
            NotFound,
        ),
        case(
            Method::DELETE,
            "/v1/cloud-accounts/{cloud_account_id}",
            None,
            NotFound,
        ),
        case(Method::GET, "/v1/environments", None, NothingOfAcme),
        case(
            Method::POST,
            "/v1/environments",
            Some(
                json!({"name": "e2", "cloud_account_id": acme.cloud_account_id, "region": "eu-west-1"}),
            ),
            Invalid,
        ),
        case(
            Method::GET,
            "/v1/environments/{environment_id}",
            None,
            NotFound,
        ),
        case(
            Method::PATCH,
            "/v1/environments/{environment_id}",
            Some(json!({"name": "stolen"})),
            NotFound,
        ),
        case(
            Method::DELETE,
            "/v1/environments/{environment_id}",
            None,
            NotFound,
        ),
        case(
            Method::POST,
            "/v1/environments/{environment_id}/registration-token",
            None,
            NotFound,
        ),
        case(
            Method::GET,
            "/v1/environments/{environment_id}/intents",
            None,
            NotFound,
        ),
        case(
            Method::GET,
            "/v1/environments/{environment_id}/intents/{generation}",
            None,
            NotFound,
        ),
        case(
            Method::GET,
            "/v1/environments/{environment_id}/network",
            None,
            NotFound,
        ),
        case(
            Method::PUT,
            "/v1/environments/{environment_id}/network",
            Some(json!({"zone_count": 1, "broker_count": 1})),
            NotFound,
        ),
        case(
            Method::POST,
            "/v1/environments/{environment_id}/network/provision",
            None,
            NotFound,
        ),
        case(
            Method::GET,
            "/v1/environments/{environment_id}/checklist",
            None,
            NotFound,
        ),
        case(
            Method::POST,
            "/v1/environments/{environment_id}/checklist",
            None,
            NotFound,
        ),
        q(
            case(Method::GET, "/v1/clusters", None, NothingOfAcme),
            format!("?environment_id={}", acme.environment_id),
        ),
        case(
            Method::POST,
            "/v1/clusters",
            Some(
                json!({"environment_id": acme.environment_id, "name": "c", "version": "0.1.0", "broker_count": 1, "storage_gib": 1}),
            ),
            Invalid,
        ),
        case(Method::GET, "/v1/clusters/{cluster_id}", None, NotFound),
        case(
            Method::PATCH,
            "/v1/clusters/{cluster_id}",
            Some(json!({"broker_count": 1})),
            NotFound,
        ),
        case(Method::DELETE, "/v1/clusters/{cluster_id}", None, NotFound),
        q(
            case(Method::GET, "/v1/topics", None, NothingOfAcme),
            format!("?cluster_id={}", acme.cluster_id),
        ),
        case(
            Method::POST,
            "/v1/topics",
            Some(
                json!({"cluster_id": acme.cluster_id, "name": "t", "partitions": 1, "replication_factor": 1}),
            ),
            Invalid,
        ),
        case(Method::GET, "/v1/topics/{topic_id}", None, NotFound),
        case(
            Method::PATCH,
            "/v1/topics/{topic_id}",
            Some(json!({"partitions": 100})),
            NotFound,
        ),
        case(Method::DELETE, "/v1/topics/{topic_id}", None, NotFound),
        q(
            case(Method::GET, "/v1/audit-records", None, NothingOfAcme),
            format!("?object_id={}", acme.cluster_id),
        ),
        case(Method::GET, "/v1/rollouts", None, NothingOfAcme),
        case(
            Method::POST,
            "/v1/rollouts",
            Some(
                json!({"target_version": "0.2.0", "waves": [[acme.cluster_id]], "max_in_flight": 1}),
            ),
            Invalid,
        ),
        case(Method::GET, "/v1/rollouts/{rollout_id}", None, NotFound),
        case(
            Method::POST,
            "/v1/rollouts/{rollout_id}/pause",
            None,
            NotFound,
        ),
        case(
            Method::POST,
            "/v1/rollouts/{rollout_id}/resume",
            None,
            NotFound,
        ),
        case(Method::GET, "/v1/operations", None, NothingOfAcme),
        case(Method::GET, "/v1/operations/{operation_id}", None, NotFound),
        // The agent of globex's environment, aiming at acme's cluster.
        agent(case(
            Method::POST,
            "/v1/agent/status",
            Some(
                json!({"observed_generation": 1, "clusters": [{"cluster_id": acme.cluster_id, "phase": "failed"}]}),
            ),
            NothingOfAcme,
        )),
        agent(q(
            case(Method::GET, "/v1/agent/intents", None, NothingOfAcme),
            "?after=0&wait_seconds=0".to_owned(),
        )),
        agent(case(Method::POST, "/v1/agent/token", None, NothingOfAcme)),
        agent(case(
            Method::POST,
            "/v1/agent/intent-reports",
            Some(
                json!({"generation": 1, "outcome": "refused", "check": "signature", "message": "forged"}),
            ),
            NothingOfAcme,
        )),
        case(
            Method::GET,
            "/v1/clusters/{cluster_id}/status-history",
            None,
            NotFound,
        ),
        case(
            Method::POST,
            "/v1/agent/register",
            Some(json!({"registration_token": "fjr_guessed"})),
            NothingOfAcme,
        ),
        // Console sign-in: acme's user with a guessed password.
        case(
            Method::POST,
            "/v1/session",
            Some(json!({"email": ACME_USER, "password": "a guessed password"})),
            Unauthenticated,
        ),
        case(Method::GET, "/v1/session", None, Unauthenticated),
        case(Method::DELETE, "/v1/session", None, Unauthenticated),
        case(Method::GET, "/v1/users", None, NothingOfAcme),
        case(
            Method::POST,
            "/v1/users",
            Some(
                json!({"email": "new@globex.example", "password": "twelve chars!", "role": "viewer"}),
            ),
            NothingOfAcme,
        ),
        case(Method::GET, "/v1/users/{user_id}", None, NotFound),
        case(
            Method::PATCH,
            "/v1/users/{user_id}",
            Some(json!({"role": "viewer"})),
            NotFound,
        ),
        case(Method::DELETE, "/v1/users/{user_id}", None, NotFound),
    ]
}

pub(crate) fn path(route: &str, acme: &Inventory, extra: &Extra) -> String {
    route
        .replace("{user_id}", &extra.user_id)
        .replace("{rollout_id}", &extra.rollout_id)
        .replace("{operation_id}", &extra.operation_id)
        .replace("{api_key_id}", &acme.api_key_id)
        .replace("{cloud_account_id}", &acme.cloud_account_id)
        .replace("{environment_id}", &acme.environment_id)
        .replace("{cluster_id}", &acme.cluster_id)
        .replace("{topic_id}", &acme.topic_id)
        .replace("{generation}", "1")
}
