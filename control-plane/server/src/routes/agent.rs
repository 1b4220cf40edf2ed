//! The agent channel. Agents only ever connect out to these endpoints:
//! register once with the one-time token, trade the credential for
//! short-lived access tokens, long-poll for intents, report status.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use fjord_api::{
    AccessToken, AgentIntentReport, AgentRegistration, AgentRegistrationRequest,
    AgentStatusAccepted, AgentStatusReport, INTENT_DELTA_JSON, Intent, IntentDelta,
    IntentReportRecord, validate,
};
use fjord_store::audit::NewAuditRecord;
use fjord_store::cluster::ReportedStatus;
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::Problems;
use crate::auth::{self, Agent, AgentCredential};
use crate::error::AppError;
use crate::extract::{AppJson, AppQuery};
use crate::intent::bodies::{self, IntentBody};
use crate::intent::watch::SharedRead;
use crate::secret::{self, TokenKind};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register_agent))
        .routes(routes!(issue_access_token))
        .routes(routes!(poll_intents))
        .routes(routes!(report_status))
        .routes(routes!(report_intent))
}

/// Trades a one-time registration token for the agent's credential.
#[utoipa::path(
    post,
    path = "/v1/agent/register",
    tag = "agent",
    request_body = AgentRegistrationRequest,
    responses(
        (status = 201, description = "The agent credential, shown once", body = AgentRegistration),
        Problems,
    )
)]
pub(crate) async fn register_agent(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
    AppJson(body): AppJson<AgentRegistrationRequest>,
) -> Result<Response, AppError> {
    if TokenKind::of(&body.registration_token) != Some(TokenKind::Registration) {
        return Err(AppError::Unauthenticated(
            "registration_token is not a registration token".into(),
        ));
    }
    if let Some(version) = &body.agent_version {
        validate::display_name("agent_version", version).map_err(AppError::Invalid)?;
    }
    let (credential, credential_hash) = secret::generate(TokenKind::AgentCredential)?;
    let mut transaction = state.pool.begin().await?;
    let (organization_id, environment_id) = fjord_store::environment::register_agent(
        &mut *transaction,
        &secret::hash(&body.registration_token),
        &credential_hash,
        body.agent_version.as_deref(),
    )
    .await?
    .ok_or_else(|| {
        AppError::Unauthenticated("unknown or already used registration token".into())
    })?;
    let source = auth::source(&parts);
    fjord_store::audit::insert(
        &mut *transaction,
        NewAuditRecord {
            organization_id,
            actor: &format!("agent:{environment_id}"),
            action: "environment.agent-register",
            object_type: "environment",
            object_id: environment_id,
            source: source.as_deref(),
            detail: json!({"agent_version": body.agent_version}),
        },
    )
    .await?;
    transaction.commit().await?;
    tracing::info!(%environment_id, "agent registered");
    let body = AgentRegistration {
        environment_id,
        organization_id,
        agent_credential: credential,
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Trades the agent credential (bearer) for a short-lived access token.
#[utoipa::path(
    post,
    path = "/v1/agent/token",
    tag = "agent",
    security(("agent_credential" = [])),
    responses(
        (status = 201, description = "A fresh access token", body = AccessToken),
        Problems,
    )
)]
pub(crate) async fn issue_access_token(
    State(state): State<AppState>,
    AgentCredential {
        organization_id,
        environment_id,
    }: AgentCredential,
) -> Result<Response, AppError> {
    let (token, token_hash) = secret::generate(TokenKind::AgentAccess)?;
    let lifetime = chrono::Duration::from_std(state.agent.access_token_lifetime)
        .map_err(anyhow::Error::new)?;
    let expires_at = Utc::now() + lifetime;
    let mut transaction = state.pool.begin().await?;
    fjord_store::agent_token::insert(
        &mut *transaction,
        organization_id,
        environment_id,
        &token_hash,
        expires_at,
    )
    .await?;
    fjord_store::environment::record_agent_contact(
        &mut *transaction,
        organization_id,
        environment_id,
        None,
        None,
    )
    .await?;
    fjord_store::agent_token::delete_expired(&mut *transaction).await?;
    transaction.commit().await?;
    let body = AccessToken {
        access_token: token,
        expires_at,
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// The long-poll.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PollQuery {
    /// The generation the agent has; answers only with a newer one.
    #[param(minimum = 0)]
    after: Option<i64>,
    /// How long to wait for a newer generation, 0 to 30 s (default 30).
    #[param(minimum = 0, maximum = 30)]
    wait_seconds: Option<u64>,
    /// The agent holds generation `after`, verified, and can apply a delta:
    /// when the newer generation is `after + 1` the answer may be an
    /// `IntentDelta` (media type `application/vnd.fjord.intent-delta+json`)
    /// instead of the full intent. Default false.
    delta: Option<bool>,
}

/// The latest intent of the agent's environment if it is newer than
/// `after`: at once when there is one, else as soon as one is published,
/// else 204 after `wait_seconds`.
#[utoipa::path(
    get,
    path = "/v1/agent/intents",
    tag = "agent",
    security(("agent_token" = [])),
    params(PollQuery),
    responses(
        (status = 200, description = "A newer intent, or with `delta=true` possibly the change to it from generation `after`; gzip-compressed (`Content-Encoding: gzip`) when the request's `Accept-Encoding` accepts gzip", content(
            (Intent = "application/json"),
            (IntentDelta = "application/vnd.fjord.intent-delta+json"),
        )),
        (status = 204, description = "Nothing newer within the wait"),
        Problems,
    )
)]
pub(crate) async fn poll_intents(
    State(state): State<AppState>,
    agent: Agent,
    headers: HeaderMap,
    AppQuery(query): AppQuery<PollQuery>,
) -> Result<Response, AppError> {
    let after = query.after.unwrap_or(0);
    if after < 0 {
        return Err(AppError::BadRequest(format!(
            "after must be 0 or more, got {after}"
        )));
    }
    let wait_max = state.agent.long_poll_max;
    let wait = query.wait_seconds.map_or(wait_max, Duration::from_secs);
    if wait > wait_max {
        return Err(AppError::BadRequest(format!(
            "wait_seconds must be at most {}",
            wait_max.as_secs()
        )));
    }
    // Every poll is contact, but one write per period per replica says so:
    // after a new generation every agent re-polls at once.
    if state
        .agent_contacts
        .due(agent.environment_id, state.agent.contact_period())
    {
        fjord_store::environment::record_agent_contact(
            &state.pool,
            agent.organization_id,
            agent.environment_id,
            None,
            None,
        )
        .await?;
    }
    // Subscribe before reading, so a publish between the read and the wait
    // still wakes this waiter.
    let mut subscription = state.intents.subscribe(agent.environment_id);
    let deadline = tokio::time::Instant::now() + wait;
    let (organization_id, environment_id) = (agent.organization_id, agent.environment_id);
    let mut shared: Option<SharedRead> = None;
    loop {
        // The first look is this waiter's own; after a wake-up, every
        // waiter of the environment shares one look made after the commit
        // that woke them. Either way the body is built once per generation.
        let body = match &shared {
            None => {
                state
                    .intent_bodies
                    .latest_after(&state.pool, organization_id, environment_id, after)
                    .await?
            }
            Some(read) => read
                .get_or_try_init(|| {
                    state.intent_bodies.latest_after(
                        &state.pool,
                        organization_id,
                        environment_id,
                        0,
                    )
                })
                .await?
                .clone(),
        };
        // The shared look was made for this environment; check the tenant
        // anyway, per request.
        if let Some(body) = body.filter(|body| {
            body.generation > after
                && body.organization_id == organization_id
                && body.environment_id == environment_id
        }) {
            return respond(
                &state,
                &headers,
                &body,
                query.delta == Some(true) && after == body.generation - 1,
            )
            .await;
        }
        tokio::select! {
            read = subscription.changed() => shared = Some(read),
            () = tokio::time::sleep_until(deadline) => return Ok(StatusCode::NO_CONTENT.into_response()),
        }
    }
}

/// The response with `body`'s generation: its delta from `after` when
/// `delta` and one is served, else the full intent; gzip-compressed when
/// accepted (each built once per generation and shared).
async fn respond(
    state: &AppState,
    headers: &HeaderMap,
    body: &IntentBody,
    delta: bool,
) -> Result<Response, AppError> {
    let vary = (header::VARY, "Accept-Encoding");
    let gzip = bodies::accepts_gzip(headers);
    let encoding = (header::CONTENT_ENCODING, "gzip");
    if delta && let Some(delta) = state.intent_bodies.delta(&state.pool, body).await? {
        let media_type = (header::CONTENT_TYPE, INTENT_DELTA_JSON);
        if gzip {
            let bytes = state.intent_bodies.gzip_delta(body, delta).await?;
            return Ok(([media_type, vary, encoding], bytes).into_response());
        }
        return Ok(([media_type, vary], delta.json.clone()).into_response());
    }
    let json = (header::CONTENT_TYPE, "application/json");
    if gzip {
        let bytes = state.intent_bodies.gzip(body).await?;
        return Ok(([json, vary, encoding], bytes).into_response());
    }
    Ok(([json, vary], body.json.clone()).into_response())
}

/// What the agent observes: applied generation and per-cluster status.
/// Updates what users see; clusters of other environments are ignored.
#[utoipa::path(
    post,
    path = "/v1/agent/status",
    tag = "agent",
    security(("agent_token" = [])),
    request_body = AgentStatusReport,
    responses(
        (status = 200, description = "Accepted", body = AgentStatusAccepted),
        Problems,
    )
)]
pub(crate) async fn report_status(
    State(state): State<AppState>,
    agent: Agent,
    AppJson(report): AppJson<AgentStatusReport>,
) -> Result<Json<AgentStatusAccepted>, AppError> {
    report.validate().map_err(AppError::Invalid)?;
    if let Some(version) = &report.agent_version {
        validate::display_name("agent_version", version).map_err(AppError::Invalid)?;
    }
    // Lock clusters in id order, as the rollout driver does, so the two
    // cannot deadlock.
    let mut clusters: Vec<_> = report.clusters.iter().collect();
    clusters.sort_by_key(|cluster| cluster.cluster_id);
    let mut transaction = state.pool.begin().await?;
    let mut unknown_cluster_ids = Vec::new();
    for cluster in clusters {
        let status = ReportedStatus {
            phase: cluster.phase.clone(),
            observed_version: cluster.version.clone(),
            brokers_ready: cluster.brokers_ready,
            conditions: serde_json::to_value(&cluster.conditions).map_err(anyhow::Error::new)?,
            metrics: serde_json::to_value(&cluster.metrics).map_err(anyhow::Error::new)?,
            brokers: serde_json::to_value(&cluster.brokers).map_err(anyhow::Error::new)?,
            bootstrap_address: cluster
                .bootstrap_address
                .as_deref()
                .map(|address| address.trim().to_owned()),
        };
        let previous_phase = fjord_store::cluster::report_status(
            &mut *transaction,
            agent.organization_id,
            agent.environment_id,
            cluster.cluster_id,
            &status,
        )
        .await?;
        if let Some(previous_phase) = previous_phase {
            fjord_store::cluster_status_sample::insert(
                &mut transaction,
                agent.organization_id,
                cluster.cluster_id,
                &status,
            )
            .await?;
            if status.phase == "ready" && previous_phase != "ready" {
                // The creation is done the moment the agent says so, even if
                // the cluster is deleted before the operation's next check
                // (once, when the cluster turns ready: not on every report).
                fjord_store::job::succeed_for_cluster(
                    &mut *transaction,
                    agent.organization_id,
                    crate::cluster_operation::CREATE,
                    cluster.cluster_id,
                )
                .await?;
            }
        } else {
            unknown_cluster_ids.push(cluster.cluster_id);
        }
    }
    fjord_store::environment::record_agent_contact(
        &mut *transaction,
        agent.organization_id,
        agent.environment_id,
        report.agent_version.as_deref(),
        Some(report.observed_generation),
    )
    .await?;
    transaction.commit().await?;
    Ok(Json(AgentStatusAccepted {
        unknown_cluster_ids,
    }))
}

/// The agent's decision on one intent: applied, refused by a check, or
/// waiting for a customer guardrail. Shown as the environment's
/// `connection.last_intent_report` and written to the audit log
/// (`environment.intent-applied`, `-refused`, `-waiting`).
#[utoipa::path(
    post,
    path = "/v1/agent/intent-reports",
    tag = "agent",
    security(("agent_token" = [])),
    request_body = AgentIntentReport,
    responses(
        (status = 204, description = "Recorded"),
        Problems,
    )
)]
pub(crate) async fn report_intent(
    State(state): State<AppState>,
    agent: Agent,
    AppJson(report): AppJson<AgentIntentReport>,
) -> Result<StatusCode, AppError> {
    report.validate().map_err(AppError::Invalid)?;
    let record = IntentReportRecord {
        generation: report.generation,
        outcome: report.outcome,
        check: report.check.clone(),
        message: report.message.clone(),
        reported_at: Utc::now(),
    };
    let record = serde_json::to_value(&record).map_err(anyhow::Error::new)?;
    let mut transaction = state.pool.begin().await?;
    fjord_store::environment::record_intent_report(
        &mut *transaction,
        agent.organization_id,
        agent.environment_id,
        &record,
    )
    .await?;
    fjord_store::audit::insert(
        &mut *transaction,
        NewAuditRecord {
            organization_id: agent.organization_id,
            actor: &format!("agent:{}", agent.environment_id),
            action: &format!("environment.intent-{}", report.outcome.as_str()),
            object_type: "environment",
            object_id: agent.environment_id,
            source: None,
            detail: json!({
                "generation": report.generation,
                "check": report.check,
                "message": report.message,
            }),
        },
    )
    .await?;
    transaction.commit().await?;
    tracing::info!(
        environment_id = %agent.environment_id,
        generation = report.generation,
        outcome = report.outcome.as_str(),
        check = report.check.as_deref().unwrap_or(""),
        "agent reported an intent decision"
    );
    Ok(StatusCode::NO_CONTENT)
}
