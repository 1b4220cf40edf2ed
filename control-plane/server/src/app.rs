//! The router: API, OpenAPI document and reference page, health and
//! metrics, console.

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use fjord_telemetry::{HttpMetrics, Readiness};
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::console;
use crate::error::problem_response;
use crate::routes;
use crate::state::AppState;
use crate::{auth, idempotency};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Fjord control plane API",
        description = "Manage Fjord streaming clusters running in your own cloud account. \
            Authenticate with `Authorization: Bearer <API key>`, or (the web console) sign in \
            at `POST /v1/session` and send the `fjord_session` cookie, plus the session's \
            `X-CSRF-Token` header on every change. Errors are RFC 7807 \
            `application/problem+json`. Mutations accept `Idempotency-Key`; updates accept \
            `If-Match` with the `ETag` of the last read. Lists page with `limit` and `cursor`.",
    ),
    modifiers(&BearerAuth),
    // Every route's `4XX` answer names it (`routes::openapi::Problems`), and
    // utoipa collects the schemas a route's response tuples name but not
    // those of an `IntoResponses` type.
    components(schemas(fjord_api::Problem)),
    tags(
        (name = "service", description = "About this control plane"),
        (name = "organization", description = "The caller's organization and its API keys"),
        (name = "inventory", description = "Cloud accounts, environments, clusters and topics"),
        (name = "releases", description = "The vendor's release catalog"),
        (name = "audit", description = "Who did what, when, from where"),
        (name = "intents", description = "Signed desired state per environment"),
        (name = "rollouts", description = "Fleet upgrades in waves, and the operations driving them"),
        (name = "agent", description = "The channel agents in customer clusters pull from"),
        (name = "users", description = "People who sign in to the console, their roles and sessions"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer =
            || SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build());
        components.add_security_scheme("api_key", bearer());
        components.add_security_scheme("agent_credential", bearer());
        components.add_security_scheme("agent_token", bearer());
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("fjord_session"))),
        );
    }
}

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(routes::router())
}

/// The OpenAPI document of every `/v1` route.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_router().into_openapi()
}

/// The complete router.
pub fn app(state: AppState) -> Router {
    let (api, document) = api_router().split_for_parts();
    let pool = state.pool.clone();
    let readiness = Readiness::default().with_check("database", move || {
        let pool = pool.clone();
        Box::pin(async move {
            fjord_store::ping(&pool)
                .await
                .map_err(|error| error.to_string())
        })
    });
    // Each route runs the layer added last first: a request is
    // authenticated before the idempotency middleware reads who is calling.
    let api = api
        .layer(from_fn_with_state(
            idempotency::IdempotencyState::new(state.clone(), &document),
            idempotency::middleware,
        ))
        .route_layer(from_fn_with_state(state.clone(), auth::middleware))
        .with_state(state.clone());
    Router::new()
        .merge(api)
        .merge(SwaggerUi::new("/docs").url("/openapi.json", document))
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
