//! The connection's security gate, run by the executor before each
//! request: on a SASL listener it answers SaslHandshake and
//! SaslAuthenticate itself and lets nothing else through until the client
//! has authenticated (and again once its session expired, KIP-368); on
//! every listener it answers the user-credential APIs, which only super
//! users may use.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use bytes::Bytes;
use kafka_protocol::messages::{
    RequestKind, ResponseKind, SaslAuthenticateResponse, SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;
use tracing::{info, warn};

use super::{ConnectionError, Pending, encode};
use crate::metrics::MechanismLabels;
use crate::protocol::DecodedRequest;
use crate::security::Principal;
use crate::security::acl::Access;
use crate::security::sasl::{SaslError, SaslSession, Step};
use crate::server::ConnectionContext;

/// Closes the connection (cancels `closing`) if it has not authenticated
/// within the SASL listener's timeout; never returns otherwise.
pub(super) async fn authentication_deadline(
    context: &ConnectionContext,
    authenticated: &AtomicBool,
    peer: SocketAddr,
    closing: &tokio_util::sync::CancellationToken,
) {
    if let Some(sasl) = &context.sasl {
        tokio::time::sleep(sasl.authentication_timeout).await;
        if !authenticated.load(Ordering::Acquire) {
            context
                .metrics
                .connections_closed_by_error
                .get_or_create(&crate::metrics::ReasonLabels {
                    reason: "authentication_timeout",
                })
                .inc();
            warn!(%peer, timeout = ?sasl.authentication_timeout, "no authentication in time: closing");
            closing.cancel();
            return;
        }
    }
    std::future::pending::<()>().await;
}

/// Who the connection is, as far as the broker knows so far.
#[derive(Debug)]
pub(super) struct Identity {
    /// Set once the connection first authenticates (always, without SASL).
    authenticated: Arc<AtomicBool>,
    peer: SocketAddr,
    /// From the client certificate, or anonymous.
    transport: Principal,
    /// `Some` on a SASL listener.
    sasl: Option<SaslSession>,
}

impl Identity {
    pub(super) fn new(peer: SocketAddr, transport: Principal, context: &ConnectionContext) -> Self {
        Self {
            authenticated: Arc::new(AtomicBool::new(context.sasl.is_none())),
            peer,
            transport,
            sasl: context.sasl.as_ref().map(|_| SaslSession::new()),
        }
    }

    /// The flag the authentication deadline watches.
    pub(super) fn authenticated(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.authenticated)
    }

    /// The principal requests run as, if the connection may run any.
    pub(super) fn principal(&self, now: Instant) -> Option<&Principal> {
        match &self.sasl {
            None => Some(&self.transport),
            Some(session) => session.principal(now),
        }
    }
}

/// What the gate decided for one request.
#[expect(
    clippy::large_enum_variant,
    reason = "built once per request and moved, never stored"
)]
pub(super) enum Admission {
    /// Serve it as usual, with what its principal may do.
    Pass(DecodedRequest, Access),
    /// Already answered here.
    Answered(Pending),
}

pub(super) async fn admit(
    request: DecodedRequest,
    identity: &mut Identity,
    context: &ConnectionContext,
) -> Admission {
    let (api_key, header, body) = match request {
        DecodedRequest::Request {
            api_key,
            header,
            body,
        } => (api_key, header, body),
        other => return Admission::Pass(other, anonymous(identity, context)),
    };
    let correlation_id = header.correlation_id;
    let version = header.request_api_version;
    let respond = |response: ResponseKind| encode(correlation_id, api_key, version, &response);
    let access = match &body {
        RequestKind::ApiVersions(_) => anonymous(identity, context),
        RequestKind::SaslHandshake(request) => {
            let (response, error) = handshake(identity, context, request.mechanism.as_str());
            let encoded = respond(ResponseKind::SaslHandshake(response)).map(Some);
            return Admission::Answered(match error {
                None => Pending::Ready(encoded),
                Some(error) => Pending::Final(encoded, error.into()),
            });
        }
        RequestKind::SaslAuthenticate(request) => {
            let bytes = request.auth_bytes.clone();
            let (response, error) = authenticate(identity, context, bytes, version).await;
            let encoded = respond(ResponseKind::SaslAuthenticate(response)).map(Some);
            return Admission::Answered(match error {
                None => Pending::Ready(encoded),
                Some(error) => Pending::Final(encoded, error.into()),
            });
        }
        body => {
            let Some(principal) = identity.principal(Instant::now()) else {
                return Admission::Answered(Pending::Ready(Err(
                    ConnectionError::Unauthenticated { api_key },
                )));
            };
            let access = Access::new(
                Arc::clone(&context.authorizer),
                principal,
                identity.peer.ip(),
                context.metrics.clone(),
            );
            if let Some(response) = super::users::answer(body, &access, context).await {
                return Admission::Answered(Pending::Ready(respond(response).map(Some)));
            }
            if let Some(response) = super::acls::answer(body, &access, context).await {
                return Admission::Answered(Pending::Ready(respond(response).map(Some)));
            }
            access
        }
    };
    Admission::Pass(
        DecodedRequest::Request {
            api_key,
            header,
            body,
        },
        access,
    )
}

/// The access of a request that needs no principal (ApiVersions), which
/// may come before authentication.
fn anonymous(identity: &Identity, context: &ConnectionContext) -> Access {
    Access::new(
        Arc::clone(&context.authorizer),
        &Principal::anonymous(),
        identity.peer.ip(),
        context.metrics.clone(),
    )
}

fn handshake(
    identity: &mut Identity,
    context: &ConnectionContext,
    mechanism: &str,
) -> (SaslHandshakeResponse, Option<SaslError>) {
    let enabled = context
        .sasl
        .as_ref()
        .map(|sasl| sasl.mechanisms.clone())
        .unwrap_or_default();
    let names = enabled
        .iter()
        .map(|mechanism| StrBytes::from_static_str(mechanism.name()))
        .collect();
    let response = SaslHandshakeResponse::default().with_mechanisms(names);
    let Some(session) = identity.sasl.as_mut() else {
        // As Kafka: a listener without SASL answers ILLEGAL_SASL_STATE.
        let error = SaslError::IllegalState;
        return (response.with_error_code(error.code()), Some(error));
    };
    match session.handshake(mechanism, &enabled) {
        Ok(_) => (response, None),
        Err(error) => {
            count_failure(context, identity.peer, &error);
            (response.with_error_code(error.code()), Some(error))
        }
    }
}

async fn authenticate(
    identity: &mut Identity,
    context: &ConnectionContext,
    auth_bytes: Bytes,
    version: i16,
) -> (SaslAuthenticateResponse, Option<SaslError>) {
    let (Some(sasl), Some(mut session)) = (context.sasl.as_ref(), identity.sasl.take()) else {
        let error = SaslError::IllegalState;
        let response = SaslAuthenticateResponse::default()
            .with_error_code(error.code())
            .with_error_message(Some(StrBytes::from_string(error.client_message())));
        return (response, Some(error));
    };
    let users = Arc::clone(&sasl.users);
    let lifetime = sasl.session_lifetime;
    let nonce = crate::security::random_nonce();
    // PLAIN derives a key (PBKDF2): off the async workers, so a slow
    // login holds only this connection.
    let outcome = tokio::task::spawn_blocking(move || {
        let step = session.authenticate(&auth_bytes, &users, &nonce, Instant::now(), lifetime);
        (session, step)
    })
    .await;
    let (session, step) = match outcome {
        Ok(outcome) => outcome,
        Err(_) => (SaslSession::new(), Err(SaslError::IllegalState)),
    };
    identity.sasl = Some(session);
    match step {
        Ok(Step::Continue(bytes)) => (
            SaslAuthenticateResponse::default().with_auth_bytes(Bytes::from(bytes)),
            None,
        ),
        Ok(Step::Done {
            response,
            principal,
            lifetime,
            mechanism,
        }) => {
            context
                .metrics
                .authentications
                .get_or_create(&MechanismLabels { mechanism })
                .inc();
            identity.authenticated.store(true, Ordering::Release);
            info!(peer = %identity.peer, %principal, mechanism, "sasl authentication succeeded");
            // The lifetime field exists from v1 (KIP-368).
            let lifetime_ms = lifetime.filter(|_| version >= 1).map_or(0, |lifetime| {
                i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX)
            });
            (
                SaslAuthenticateResponse::default()
                    .with_auth_bytes(Bytes::from(response))
                    .with_session_lifetime_ms(lifetime_ms),
                None,
            )
        }
        Err(error) => {
            count_failure(context, identity.peer, &error);
            let response = SaslAuthenticateResponse::default()
                .with_error_code(error.code())
                .with_error_message(Some(StrBytes::from_string(error.client_message())));
            (response, Some(error))
        }
    }
}

/// Counts and logs a refused authentication: the user name and the reason,
/// never a password or proof.
fn count_failure(context: &ConnectionContext, peer: SocketAddr, error: &SaslError) {
    context
        .metrics
        .authentication_failures
        .get_or_create(&MechanismLabels {
            mechanism: error.mechanism(),
        })
        .inc();
    warn!(%peer, %error, "sasl authentication refused");
}
