//! The router: API, OpenAPI document, health and metrics, console.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use fjord_telemetry::{HttpMetrics, Metrics, Readiness};
use sqlx::PgPool;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::console;
use crate::error::problem_response;
use crate::routes::info;

/// Shared state of every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub console_dir: Option<PathBuf>,
    pub metrics: Arc<Metrics>,
    pub http_metrics: Arc<HttpMetrics>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Fjord control plane API",
        description = "Manage Fjord streaming clusters running in your own cloud account.",
    ),
    tags((name = "service", description = "About this control plane"))
)]
struct ApiDoc;

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi()).routes(routes!(info::get_info))
}

/// The OpenAPI document of every `/v1` route.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_router().into_openapi()
}

/// The complete router.
pub fn app(state: AppState) -> Router {
    let (api, document) = api_router().split_for_parts();
    let document = Arc::new(document);
    let pool = state.pool.clone();
    let readiness = Readiness::default().with_check("database", move || {
        let pool = pool.clone();
        Box::pin(async move {
            fjord_store::ping(&pool)
                .await
                .map_err(|error| error.to_string())
        })
    });
    Router::new()
        .merge(api.with_state(state.clone()))
        .route(
            "/openapi.json",
            get(move || {
                let document = Arc::clone(&document);
                async move { axum::Json(document.as_ref().clone()) }
            }),
        )
        .merge(fjord_telemetry::endpoints_router(
            Arc::clone(&state.metrics),
            readiness,
        ))
        .route("/v1", any(api_not_found))
        .route("/v1/{*rest}", any(api_not_found))
        .fallback_service(console::service(state.console_dir.as_deref()))
        .layer(from_fn_with_state(
            Arc::clone(&state.http_metrics),
            HttpMetrics::track,
        ))
        .layer(TraceLayer::new_for_http())
}

/// `/v1/...` paths no route matched: a problem, never the console's page.
async fn api_not_found(request: Request) -> Response {
    problem_response(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        Some(format!(
            "no API route matches {} {}",
            request.method(),
            request.uri().path()
        )),
    )
    .into_response()
}
