//! The control plane's fixed surface: health, metrics, OpenAPI, console,
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
//! and problem+json for unknown API routes. Each test gets a fresh, migrated
//! database from `#[sqlx::test]` (DATABASE_URL points at the server).

use std::path::Path;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use fjord_control_plane::{AppState, IntentSigner, app};
use http_body_util::BodyExt;
use sqlx::PgPool;
use tower::ServiceExt;

fn router(pool: PgPool, console_dir: Option<&Path>) -> Router {
    let mut state = AppState::new(pool, IntentSigner::from_seed(&[7; 32]));
    state.console_dir = console_dir.map(Path::to_owned);
    app(state)
}

async fn get(app: &Router, path: &str) -> (StatusCode, String, String) {
    let request = Request::get(path).body(Body::empty()).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        content_type,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn readiness_reports_the_database(pool: PgPool) {
    let app = router(pool, None);
    let (status, _, body) = get(&app, "/readyz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, r#"{"status":"ready","checks":{"database":"ok"}}"#);
    let (status, _, _) = get(&app, "/healthz").await;
    assert_eq!(status, StatusCode::OK);
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn readiness_fails_when_the_database_is_gone(pool: PgPool) {
    let app = router(pool.clone(), None);
    pool.close().await;
    let (status, _, body) = get(&app, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("\"status\":\"not_ready\""), "{body}");
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn openapi_document_lists_every_v1_route(pool: PgPool) {
    let app = router(pool, None);
    let (status, content_type, body) = get(&app, "/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/json");
    let document: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    assert!(
        document["paths"]["/v1/info"]["get"].is_object(),
        "{document}"
    );
    let (status, _, info) = get(&app, "/v1/info").await;
    assert_eq!(status, StatusCode::OK);
    assert!(info.contains("\"api_version\":\"v1\""), "{info}");
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn unknown_api_route_is_a_problem_not_the_console(pool: PgPool) {
    let console = tempfile::tempdir().unwrap();
    std::fs::write(
        console.path().join("index.html"),
        "<title>Fjord console</title>",
    )
    .unwrap();
    let app = router(pool, Some(console.path()));
    let (status, content_type, body) = get(&app, "/v1/no-such-thing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(content_type, "application/problem+json");
    let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["type"], "/problems/not-found");
    assert_eq!(problem["status"], 404);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("/v1/no-such-thing")
    );
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn console_is_served_at_root_and_for_its_own_routes(pool: PgPool) {
    let console = tempfile::tempdir().unwrap();
    std::fs::write(
        console.path().join("index.html"),
        "<title>Fjord console</title>",
    )
    .unwrap();
    std::fs::create_dir(console.path().join("assets")).unwrap();
    std::fs::write(console.path().join("assets/app.js"), "console.log(1)").unwrap();
    let app = router(pool, Some(console.path()));
    for path in ["/", "/clusters/orders"] {
        let (status, _, body) = get(&app, path).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, "<title>Fjord console</title>"),
            "{path}"
        );
    }
    let (status, content_type, body) = get(&app, "/assets/app.js").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "console.log(1)"));
    assert!(content_type.contains("javascript"), "{content_type}");
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn metrics_count_requests_by_route_template(pool: PgPool) {
    let app = router(pool, None);
    get(&app, "/v1/info").await;
    let (status, _, metrics) = get(&app, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        metrics
            .contains(r#"fjord_http_requests_total{method="GET",route="/v1/info",status="200"} 1"#),
        "{metrics}"
    );
}
