//! The OpenAPI document declares every route and its problems; the
//! reference page is served without any internet fetch.

mod common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use sqlx::PgPool;

type TestResult = anyhow::Result<()>;

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn the_openapi_document_and_reference_page_are_served(pool: PgPool) -> TestResult {
    let app = TestApp::new(pool).await?;
    let document = app
        .send(Method::GET, "/openapi.json", None, None, &[])
        .await?;
    let paths = document.expect(StatusCode::OK)["paths"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for path in [
        "/v1/info",
        "/v1/organization",
        "/v1/api-keys",
        "/v1/api-keys/{api_key_id}",
        "/v1/api-keys/{api_key_id}/revoke",
        "/v1/cloud-accounts",
        "/v1/cloud-accounts/{cloud_account_id}",
        "/v1/environments",
        "/v1/environments/{environment_id}",
        "/v1/environments/{environment_id}/registration-token",
        "/v1/environments/{environment_id}/intents",
        "/v1/environments/{environment_id}/intents/{generation}",
        "/v1/clusters",
        "/v1/clusters/{cluster_id}",
        "/v1/clusters/{cluster_id}/status-history",
        "/v1/topics",
        "/v1/topics/{topic_id}",
        "/v1/releases",
        "/v1/audit-records",
        "/v1/signing-key",
        "/v1/agent/register",
        "/v1/agent/token",
        "/v1/agent/intents",
        "/v1/agent/status",
        "/v1/agent/intent-reports",
        "/v1/rollouts",
        "/v1/rollouts/{rollout_id}",
        "/v1/rollouts/{rollout_id}/pause",
        "/v1/rollouts/{rollout_id}/resume",
        "/v1/operations",
        "/v1/operations/{operation_id}",
        "/v1/session",
        "/v1/users",
        "/v1/users/{user_id}",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} is missing from /openapi.json"
        );
    }
    for (path, operations) in &paths {
        for (method, operation) in operations.as_object().into_iter().flatten() {
            let responses = operation["responses"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            if path != "/v1/info" && path != "/v1/signing-key" {
                assert!(
                    responses.contains_key("4XX"),
                    "{method} {path} declares no problem responses"
                );
            }
        }
    }
    assert_eq!(
        document.body["components"]["securitySchemes"]["session"]["in"], "cookie",
        "the console's session cookie is a declared way to authenticate"
    );
    let poll = &document.body["paths"]["/v1/agent/intents"]["get"]["responses"]["200"]["content"];
    for media_type in ["application/json", fjord_api::INTENT_DELTA_JSON] {
        assert!(
            poll.get(media_type).is_some(),
            "the long-poll does not declare {media_type}: {poll}"
        );
    }
    let text = document.body.to_string();
    let schemas = document.body["components"]["schemas"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for reference in text.split("\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap_or_default();
        assert!(schemas.contains_key(name), "$ref to missing schema {name}");
    }
    // What the console's cluster page reads: each broker and the bootstrap
    // address, in the cluster's status and in the agent's report.
    let status = &schemas["ClusterStatus"]["properties"];
    assert_eq!(
        status["brokers"]["items"]["$ref"], "#/components/schemas/BrokerStatus",
        "{status}"
    );
    assert!(status.get("bootstrap_address").is_some(), "{status}");
    let report = &schemas["ClusterStatusReport"]["properties"];
    assert!(report.get("brokers").is_some() && report.get("bootstrap_address").is_some());
    let broker = &schemas["BrokerStatus"];
    let required: Vec<&str> = broker["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|name| name.as_str())
        .collect();
    assert_eq!(required, ["broker_id", "state", "ready"], "{broker}");
    let page = app.send(Method::GET, "/docs/", None, None, &[]).await?;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .as_str()
            .is_some_and(|html| html.contains("swagger")),
        "the reference page is HTML"
    );
    Ok(())
}
