//! One tenant can never read or change another's objects.
//!
//! Two organizations, each with one of everything. The table below holds,
//! for every route in the OpenAPI document, a request by `globex` aimed at
//! `acme`'s objects (acme's ids in the path, the query or the body) and what
//! it must get. The test fails if a route has no row, so a new route cannot
//! ship without its cross-tenant case. The table runs with globex's API key,
//! then again with a signed-in globex admin's session cookie (every case
//! that aims at acme's objects). Afterwards acme's objects must read exactly
//! as before.

mod common;
mod cross_tenant_cases;

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use common::{Browser, Inventory, TestApp, add_user, connect_agent, populate};
use cross_tenant_cases::{ACME_USER, Case, Expect, Extra, cases, path};
use serde_json::{Value, json};
use sqlx::PgPool;

/// What acme can see of its own objects.
async fn snapshot(app: &TestApp, acme: &Inventory, extra: &Extra) -> anyhow::Result<Vec<Value>> {
    let mut reads = Vec::new();
    for route in [
        "/v1/api-keys/{api_key_id}",
        "/v1/cloud-accounts/{cloud_account_id}",
        "/v1/environments/{environment_id}/intents",
        "/v1/clusters/{cluster_id}",
        "/v1/topics/{topic_id}",
        "/v1/rollouts/{rollout_id}",
        "/v1/operations/{operation_id}",
        "/v1/users/{user_id}",
    ] {
        let response = app.get(&path(route, acme, extra), &acme.key).await?;
        reads.push(response.expect(StatusCode::OK).clone());
    }
    let mut environment = app
        .get(
            &path("/v1/environments/{environment_id}", acme, extra),
            &acme.key,
        )
        .await?
        .body;
    environment["connection"] = Value::Null; // the clock moves; the rest must not
    reads.push(environment);
    Ok(reads)
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn no_route_lets_one_tenant_reach_another(pool: PgPool) -> anyhow::Result<()> {
    let app = TestApp::new(pool).await?;
    let acme = populate(&app, "acme").await?;
    let globex = populate(&app, "globex").await?;
    let (globex_credential, globex_agent) = connect_agent(&app, &globex.registration_token).await?;
    add_user(&app, "acme", ACME_USER, "admin").await?;
    let globex_password = add_user(&app, "globex", "grace@globex.example", "admin").await?;
    let globex_browser = Browser::sign_in(&app, "grace@globex.example", &globex_password).await?;
    let acme_user_id = app.get("/v1/users", &acme.key).await?.body["items"][0]["user_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let rollout = app
        .post(
            "/v1/rollouts",
            &acme.key,
            json!({"target_version": "0.2.0", "waves": [[acme.cluster_id]], "max_in_flight": 1}),
        )
        .await?;
    let rollout = rollout.expect(StatusCode::CREATED);
    let extra = Extra {
        rollout_id: rollout["rollout_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        operation_id: rollout["operation_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        user_id: acme_user_id,
    };
    let before = snapshot(&app, &acme, &extra).await?;
    let acme_ids = [
        &acme.api_key_id,
        &acme.cloud_account_id,
        &acme.environment_id,
        &acme.cluster_id,
        &acme.topic_id,
        &extra.user_id,
    ];

    let document = app
        .send(Method::GET, "/openapi.json", None, None, &[])
        .await?
        .body;
    let mut routes = BTreeSet::new();
    for (route, operations) in document["paths"].as_object().into_iter().flatten() {
        for method in operations
            .as_object()
            .into_iter()
            .flatten()
            .map(|(method, _)| method.to_uppercase())
        {
            routes.insert((method, route.clone()));
        }
    }
    let table = cases(&acme);
    let covered: BTreeSet<_> = table
        .iter()
        .map(|c| (c.method.to_string(), c.route.to_owned()))
        .collect();
    assert_eq!(
        covered, routes,
        "every route in /openapi.json needs a cross-tenant case"
    );

    for case in &table {
        let token = match (case.agent, case.route) {
            (true, "/v1/agent/token") => globex_credential.as_str(),
            (true, _) => globex_agent.as_str(),
            (false, _) => globex.key.as_str(),
        };
        let target = format!("{}{}", path(case.route, &acme, &extra), case.query);
        let response = app
            .send(
                case.method.clone(),
                &target,
                Some(token),
                case.body.clone(),
                &[],
            )
            .await?;
        check(case, &response, &target, &acme, &acme_ids);
    }
    // Again as a signed-in globex admin: every case aimed at acme's objects
    // (creations in globex's own organization were shown above; signing in
    // and out are about the session itself, not acme's data).
    for case in table.iter().filter(|case| {
        !case.agent
            && !case.route.starts_with("/v1/session")
            && !case.route.starts_with("/v1/agent/")
            && (case.expect != Expect::NothingOfAcme || case.method == Method::GET)
    }) {
        let target = format!("{}{}", path(case.route, &acme, &extra), case.query);
        let response = globex_browser
            .send(&app, case.method.clone(), &target, case.body.clone())
            .await?;
        check(case, &response, &target, &acme, &acme_ids);
    }

    // Credentials of one kind never work as another.
    app.get("/v1/clusters", &globex_agent)
        .await?
        .expect_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    app.send(
        Method::GET,
        "/v1/agent/intents?wait_seconds=0",
        Some(&acme.key),
        None,
        &[],
    )
    .await?
    .expect_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    app.send(Method::POST, "/v1/agent/token", Some(&acme.key), None, &[])
        .await?
        .expect_problem(StatusCode::UNAUTHORIZED, "unauthenticated");

    assert_eq!(
        snapshot(&app, &acme, &extra).await?,
        before,
        "acme's objects are unchanged"
    );
    let acme_log = app.get("/v1/audit-records?limit=200", &acme.key).await?;
    let actors: BTreeSet<String> = acme_log.body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|record| record["actor"].as_str().map(str::to_owned))
        .collect();
    assert!(
        actors
            .iter()
            .all(|actor| actor == "admin-cli" || actor.starts_with("api-key:")),
        "{actors:?}"
    );
    assert_eq!(
        acme_log.body["items"].as_array().map(Vec::len),
        Some(9),
        "only acme's own nine changes: organization, two keys, account, environment, cluster, topic, rollout, user"
    );
    Ok(())
}

/// Asserts that `response` is what `case` expects.
#[track_caller]
fn check(
    case: &Case,
    response: &common::Response,
    target: &str,
    acme: &Inventory,
    acme_ids: &[&String],
) {
    let what = format!("{} {target}", case.method);
    match case.expect {
        Expect::NotFound => {
            response.expect_problem(StatusCode::NOT_FOUND, "not-found");
        }
        Expect::Invalid => {
            response.expect_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid-body");
        }
        Expect::Unauthenticated => {
            response.expect_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
        }
        Expect::NothingOfAcme => {
            let text = response.body.to_string();
            if case.route == "/v1/agent/register" {
                response.expect_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
                return;
            }
            assert!(
                response.status.is_success(),
                "{what}: {} {text}",
                response.status
            );
            for id in acme_ids {
                let echoed = case.route == "/v1/agent/status" && **id == acme.cluster_id;
                if echoed {
                    assert_eq!(
                        response.body["unknown_cluster_ids"],
                        json!([acme.cluster_id]),
                        "{what}"
                    );
                } else {
                    assert!(
                        !text.contains(id.as_str()),
                        "{what} leaked acme's {id}: {text}"
                    );
                }
            }
        }
    }
}
