use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::api_router;
use crate::server::ApiServer;

async fn call(server: &ApiServer, request: Request<Body>) -> (StatusCode, Value) {
    let response = api_router(server.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

fn post(uri: &str, body: &Value) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

#[tokio::test]
async fn discovery_lists_groups_and_the_resources_of_a_group_version() {
    let server = ApiServer::default();
    let (status, groups) = call(&server, get("/apis")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(groups["kind"], "APIGroupList");
    let (_, core) = call(&server, get("/api/v1")).await;
    assert!(
        core["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "pods")
    );
    let (_, version) = call(&server, get("/version")).await;
    assert_eq!(version["major"], "1");
}

#[tokio::test]
async fn a_missing_object_is_a_404_status_body() {
    let server = ApiServer::default();
    let (status, body) = call(&server, get("/api/v1/namespaces/default/configmaps/nope")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["kind"], "Status");
    assert_eq!(body["reason"], "NotFound");
    assert_eq!(body["message"], "configmaps \"nope\" not found");
}

#[tokio::test]
async fn a_table_request_gets_name_and_age_columns() {
    let server = ApiServer::default();
    let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}});
    let (status, _) = call(
        &server,
        post("/api/v1/namespaces/default/configmaps", &config_map),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let request = Request::get("/api/v1/namespaces/default/configmaps")
        .header(
            "accept",
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
        )
        .body(Body::empty())
        .unwrap();
    let (_, table) = call(&server, request).await;
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["columnDefinitions"][0]["name"], "Name");
    assert_eq!(table["rows"][0]["cells"][0], "a");
}

#[tokio::test]
async fn injected_failures_answer_api_requests_with_the_injected_code() {
    let server = ApiServer::default();
    let (status, _) = call(
        &server,
        post(
            "/admin/faults",
            &json!({"failNext": {"code": 429, "count": 1}}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(&server, get("/api/v1/namespaces")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["reason"], "TooManyRequests");
    let (status, _) = call(&server, get("/api/v1/namespaces")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_watch_streams_one_json_event_per_line() {
    let server = ApiServer::default();
    let request = get("/api/v1/namespaces?watch=true&timeoutSeconds=1");
    let response = api_router(server.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let lines: Vec<Value> = bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        4,
        "the four standard namespaces as ADDED events"
    );
    assert!(lines.iter().all(|e| e["type"] == "ADDED"));
}
