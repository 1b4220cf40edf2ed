//! The router: API, OpenAPI document and reference page, health and
//! metrics, console.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use fjord_telemetry::{HttpMetrics, Metrics, Readiness};
use sqlx::PgPool;
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::console;
use crate::error::problem_response;
use crate::idempotency;
use crate::jobs::JobSettings;
use crate::routes;
use crate::signer::IntentSigner;
use crate::watch::IntentWatch;

/// How the agent channel behaves.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    /// An environment whose agent was not heard from for this long is
    /// shown as disconnected.
    pub disconnected_after: Duration,
    /// Longest a long-poll for intents waits.
    pub long_poll_max: Duration,
    /// Lifetime of an agent access token.
    pub access_token_lifetime: Duration,
}

impl AgentSettings {
    /// How often a replica records that an environment's agent is polling:
    /// often enough that a polling agent never looks disconnected.
    pub(crate) fn contact_period(&self) -> Duration {
        (self.disconnected_after / 6).min(Duration::from_secs(10))
    }
}

impl Default for AgentSettings {
    fn default() -> Self {
        Self {
            disconnected_after: Duration::from_secs(90),
            long_poll_max: Duration::from_secs(30),
            access_token_lifetime: Duration::from_secs(15 * 60),
        }
    }
}

/// Shared state of every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub console_dir: Option<PathBuf>,
    pub metrics: Arc<Metrics>,
    pub http_metrics: Arc<HttpMetrics>,
    pub signer: Arc<IntentSigner>,
    pub intents: IntentWatch,
    pub agent: AgentSettings,
    pub jobs: JobSettings,
    pub sessions: crate::session::SessionSettings,
    pub(crate) sign_in_limiter: Arc<crate::session::SignInLimiter>,
    /// AWS for cloud provisioning (docs/provisioning.md); `None`: not
    /// configured, provisioning jobs fail saying so.
    pub cloud: Option<fjord_provisioner::CloudConfig>,
    pub(crate) api_key_uses: Arc<crate::auth::RecentUses>,
    pub(crate) agent_contacts: Arc<crate::auth::RecentUses>,
    pub(crate) intent_bodies: crate::intent_bodies::IntentBodies,
}

impl AppState {
    /// State with default settings and fresh metrics; call
    /// [`IntentWatch::listen`] on `intents` before serving agents.
    pub fn new(pool: PgPool, signer: IntentSigner) -> Self {
        let mut metrics = Metrics::new("fjord-control-plane");
        let http_metrics = Arc::new(HttpMetrics::register(&mut metrics));
        let intents = IntentWatch::default();
        intents.register(metrics.registry_mut());
        let intent_bodies = crate::intent_bodies::IntentBodies::default();
        intent_bodies.register(metrics.registry_mut());
        Self {
            pool,
            console_dir: None,
            metrics: Arc::new(metrics),
            http_metrics,
            signer: Arc::new(signer),
            intents,
            agent: AgentSettings::default(),
            jobs: JobSettings::default(),
            sessions: crate::session::SessionSettings::default(),
            sign_in_limiter: Arc::default(),
            cloud: None,
            api_key_uses: Arc::default(),
            agent_contacts: Arc::default(),
            intent_bodies,
        }
    }
}

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
    let api = api
        .layer(from_fn_with_state(
            idempotency::IdempotencyState::new(state.clone(), &document),
            idempotency::middleware,
        ))
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
