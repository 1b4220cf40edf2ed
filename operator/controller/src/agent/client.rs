//! The agent's calls to the control plane (docs/control-plane.md, "Agent
//! protocol"): register, trade the credential for access tokens, long-poll
//! with gzip, report status and decisions. Access tokens are kept in memory
//! and renewed a minute before they expire, or after a 401.

use std::io::Read as _;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use fjord_api::{
    AccessToken, AgentIntentReport, AgentRegistration, AgentRegistrationRequest, AgentStatusReport,
};
use http::header::{ACCEPT_ENCODING, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE};
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;

use super::transport::{Answer, Transport};
use crate::{Error, Result};

/// The most a decompressed intent may take (a 1,000-cluster intent is far
/// below): a larger body is refused, not inflated.
const BODY_BYTES_MAX: u64 = 64 << 20;

/// A long-poll answer: the media type and the (decompressed) body.
#[derive(Debug)]
pub(crate) struct Polled {
    pub(crate) media_type: String,
    pub(crate) body: Vec<u8>,
}

/// The control plane as the agent sees it.
#[derive(Debug)]
pub(crate) struct ControlPlane {
    http: Transport,
    base: String,
    credential: Mutex<Option<String>>,
    access: Mutex<Option<(String, DateTime<Utc>)>>,
}

impl ControlPlane {
    /// A client for `base` (`http://` or `https://`, verified against the
    /// web PKI roots or only the CAs of `ca_file`); calls time out after
    /// `long_poll_wait` plus 30 s.
    pub(crate) fn new(
        base: &str,
        long_poll_wait: Duration,
        ca_file: Option<&Path>,
    ) -> Result<Self> {
        let http = Transport::new(
            ca_file,
            long_poll_wait + Duration::from_secs(30),
            BODY_BYTES_MAX as usize,
        )?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            credential: Mutex::new(None),
            access: Mutex::new(None),
        })
    }

    /// The credential every access token is bought with.
    pub(crate) async fn set_credential(&self, credential: String) {
        *self.credential.lock().await = Some(credential);
        *self.access.lock().await = None;
    }

    /// Trades the one-time token for the agent's credential.
    pub(crate) async fn register(
        &self,
        registration_token: &str,
        agent_version: &str,
    ) -> Result<AgentRegistration> {
        let request = AgentRegistrationRequest {
            registration_token: registration_token.to_owned(),
            agent_version: Some(agent_version.to_owned()),
        };
        let url = format!("{}/v1/agent/register", self.base);
        let answer = self.http.send(post_json(&url, None, &request)?).await?;
        decode(checked(answer)?)
    }

    /// A valid access token, buying one when none is held or it expires
    /// within a minute.
    async fn access_token(&self) -> Result<String> {
        let mut access = self.access.lock().await;
        if let Some((token, expires_at)) = access.as_ref()
            && *expires_at - Utc::now() > chrono::Duration::minutes(1)
        {
            return Ok(token.clone());
        }
        let credential = self
            .credential
            .lock()
            .await
            .clone()
            .ok_or_else(|| Error::AgentConfig("no agent credential is held".to_owned()))?;
        let url = format!("{}/v1/agent/token", self.base);
        let request = request(Method::POST, &url, Some(&credential))
            .body(Full::default())
            .map_err(|source| Error::ControlPlaneRequest { url, source })?;
        let token: AccessToken = decode(checked(self.http.send(request).await?)?)?;
        *access = Some((token.access_token.clone(), token.expires_at));
        Ok(token.access_token)
    }

    /// Sends the request `build` makes with an access token; after a 401
    /// once more with a new token.
    async fn authorized(
        &self,
        build: impl Fn(&str) -> Result<Request<Full<Bytes>>>,
    ) -> Result<Answer> {
        for attempt in 0..2 {
            let token = self.access_token().await?;
            let answer = self.http.send(build(&token)?).await?;
            if answer.status == StatusCode::UNAUTHORIZED && attempt == 0 {
                tracing::info!("access token refused, taking a new one");
                *self.access.lock().await = None;
                continue;
            }
            return checked(answer);
        }
        unreachable!("the loop returns on its second attempt")
    }

    /// One long-poll: `Some` with a newer intent or delta, `None` after the
    /// wait with nothing newer.
    pub(crate) async fn poll(&self, query: &str, wait: Duration) -> Result<Option<Polled>> {
        // At least a second: a poll that answers 204 at once would spin.
        let url = format!(
            "{}/v1/agent/intents?{query}&wait_seconds={}",
            self.base,
            wait.as_secs().max(1)
        );
        let answer = self
            .authorized(|token| {
                request(Method::GET, &url, Some(token))
                    .header(ACCEPT_ENCODING, "gzip")
                    .body(Full::default())
                    .map_err(|source| Error::ControlPlaneRequest {
                        url: url.clone(),
                        source,
                    })
            })
            .await?;
        if answer.status == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        let media_type = answer
            .headers
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(|value| value.split(';').next().unwrap_or(value).trim().to_owned())
            .unwrap_or_default();
        let gzip = answer
            .headers
            .get(CONTENT_ENCODING)
            .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"gzip"));
        let body = if gzip {
            inflate(&answer.body)?
        } else {
            answer.body.to_vec()
        };
        Ok(Some(Polled { media_type, body }))
    }

    pub(crate) async fn report_status(&self, report: &AgentStatusReport) -> Result<()> {
        let url = format!("{}/v1/agent/status", self.base);
        self.authorized(|token| post_json(&url, Some(token), report))
            .await?;
        Ok(())
    }

    pub(crate) async fn report_intent(&self, report: &AgentIntentReport) -> Result<()> {
        let url = format!("{}/v1/agent/intent-reports", self.base);
        self.authorized(|token| post_json(&url, Some(token), report))
            .await?;
        Ok(())
    }
}

/// A request to `url`, with `token` as its bearer when given.
fn request(method: Method, url: &str, token: Option<&str>) -> http::request::Builder {
    let builder = Request::builder().method(method).uri(url).header(
        http::header::USER_AGENT,
        concat!("fjord-agent/", env!("CARGO_PKG_VERSION")),
    );
    match token {
        Some(token) => builder.header(AUTHORIZATION, format!("Bearer {token}")),
        None => builder,
    }
}

/// A POST of `body` as JSON.
fn post_json(
    url: &str,
    token: Option<&str>,
    body: &impl Serialize,
) -> Result<Request<Full<Bytes>>> {
    let json = serde_json::to_vec(body)
        .map_err(|error| Error::Decode(format!("cannot encode the request: {error}")))?;
    request(Method::POST, url, token)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(json)))
        .map_err(|source| Error::ControlPlaneRequest {
            url: url.to_owned(),
            source,
        })
}

fn decode<T: DeserializeOwned>(answer: Answer) -> Result<T> {
    serde_json::from_slice(&answer.body).map_err(|error| Error::Decode(error.to_string()))
}

/// The answer if it succeeded, else the error its status says.
fn checked(answer: Answer) -> Result<Answer> {
    let status = answer.status;
    if status.is_success() {
        return Ok(answer);
    }
    // The problem's title and detail; bounded, the body is the server's.
    let detail: String = String::from_utf8_lossy(&answer.body)
        .chars()
        .take(500)
        .collect();
    if status == StatusCode::UNAUTHORIZED {
        return Err(Error::Unauthenticated(detail));
    }
    Err(Error::ControlPlane {
        status: status.as_u16(),
        detail,
    })
}

fn inflate(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(BODY_BYTES_MAX + 1)
        .read_to_end(&mut body)
        .map_err(|error| Error::Decode(format!("gzip: {error}")))?;
    if body.len() as u64 > BODY_BYTES_MAX {
        return Err(Error::Decode(format!(
            "the inflated body is over {BODY_BYTES_MAX} bytes"
        )));
    }
    Ok(body)
}
