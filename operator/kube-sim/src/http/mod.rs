//! The HTTP face of the server: one axum router, usable in process as the
//! `tower::Service` behind a `kube::Client`, or served on a loopback socket.

mod admin;
mod columns;
mod path;
mod query;
mod render;
mod resource;
mod response;

#[cfg(test)]
mod http_test;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::middleware::from_fn_with_state;
use axum::response::Response;
use axum::routing::get;
use fjord_telemetry::{HttpMetrics, Metrics, Readiness};

use self::path::ApiPath;
use self::query::Query;
use self::resource::ResourceCall;
use crate::discovery::{
    api_group_list, api_resource_list, api_versions, openapi_group_version, openapi_root,
    version_info,
};
use crate::server::ApiServer;
use crate::status::ApiStatus;

/// The router without metrics (for in-process clients).
pub(crate) fn api_router(server: ApiServer) -> Router {
    Router::new()
        .route(
            "/version",
            get(|| async { response::json(StatusCode::OK, &version_info(), &[]) }),
        )
        .route("/livez", get(|| async { "ok" }))
        .merge(admin::router())
        .fallback(api)
        .with_state(server)
}

/// The router with `/metrics`, `/healthz` and `/readyz` (for the served binary).
pub(crate) fn served_router(server: ApiServer) -> Router {
    let mut metrics = Metrics::new("fjord-kube-sim");
    let http_metrics = Arc::new(HttpMetrics::register(&mut metrics));
    api_router(server)
        .merge(fjord_telemetry::endpoints_router(
            Arc::new(metrics),
            Readiness::default(),
        ))
        .layer(from_fn_with_state(http_metrics, HttpMetrics::track))
}

async fn api(
    State(server): State<ApiServer>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    if path == "/api" || path == "/api/" {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1");
        return response::json(StatusCode::OK, &api_versions(host), &[]);
    }
    if path == "/apis" || path == "/apis/" {
        let groups = api_group_list(&server.lock().registry, None);
        return response::json(StatusCode::OK, &groups.unwrap_or_default(), &[]);
    }
    if path == "/openapi/v3" {
        return response::json(StatusCode::OK, &openapi_root(&server.lock().registry), &[]);
    }
    if let Some(rest) = path.strip_prefix("/openapi/v3/") {
        let segments: Vec<&str> = rest.split('/').collect();
        let document = match segments.as_slice() {
            ["api", version] => openapi_group_version(&server.lock().registry, "", version),
            ["apis", group, version] => {
                openapi_group_version(&server.lock().registry, group, version)
            }
            _ => None,
        };
        return match document {
            Some(document) => response::json(StatusCode::OK, &document, &[]),
            None => response::failure(&ApiStatus::no_route(path)),
        };
    }
    let found = match path::parse(path) {
        Some(ApiPath::Group(group)) => api_group_list(&server.lock().registry, Some(&group)),
        Some(ApiPath::GroupVersion { group, version }) => {
            api_resource_list(&server.lock().registry, &group, &version)
        }
        Some(ApiPath::Resource(resource)) => {
            let call = ResourceCall {
                method: method.clone(),
                path: resource,
                query: Query::parse(uri.query()),
                headers,
                body,
            };
            let response = resource::serve(&server, call).await;
            tracing::debug!(%method, path, query = uri.query().unwrap_or(""), status = response.status().as_u16(), "api request");
            return response;
        }
        None => None,
    };
    match found {
        Some(document) => response::json(StatusCode::OK, &document, &[]),
        None => response::failure(&ApiStatus::no_route(path)),
    }
}
