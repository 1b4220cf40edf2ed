//! A small client for the Fjord REST API: bearer auth, problem+json errors,
//! `Idempotency-Key` on creates, `If-Match` on updates, and retries of
//! requests that never got an answer (safe because every retried mutation
//! carries the same idempotency key).

use std::time::Duration;

use fjord_api::{PROBLEM_JSON, Problem};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// How many times a request that got no answer is sent again.
const TRANSPORT_RETRIES: u32 = 3;

/// A request's optional headers.
#[derive(Debug, Default, Clone)]
pub struct Headers<'a> {
    /// Sent on creates; the server replays the stored answer for a repeat.
    pub idempotency_key: Option<&'a str>,
    /// The `ETag` the change is based on (412 if someone changed it since).
    pub if_match: Option<&'a str>,
}

/// An answer: the decoded body and its `ETag`.
#[derive(Debug)]
pub struct Answer<T> {
    pub body: T,
    pub etag: Option<String>,
}

/// The API client the resources share.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
    /// How often waits poll the API.
    pub poll_interval: Duration,
}

impl Client {
    pub fn new(endpoint: &str, api_key: &str, poll_interval: Duration) -> Result<Self> {
        // reqwest's TLS uses the process's rustls provider; ring is already
        // in the tree. This fails only if a provider is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let base = endpoint.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::Endpoint {
                endpoint: endpoint.to_owned(),
            });
        }
        let mut headers = HeaderMap::new();
        let mut bearer = HeaderValue::from_str(&format!("Bearer {api_key}"))
            .map_err(|_| Error::InvalidApiKey)?;
        bearer.set_sensitive(true);
        headers.insert(header::AUTHORIZATION, bearer);
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!(
                "terraform-provider-fjord/",
                env!("CARGO_PKG_VERSION")
            ))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|source| Error::Transport {
                url: base.clone(),
                source,
            })?;
        Ok(Self {
            base,
            http,
            poll_interval,
        })
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<Answer<T>> {
        self.send::<(), T>(Method::GET, path, None, Headers::default())
            .await
    }

    /// A GET that answers `None` for 404 (the object is gone).
    pub async fn find<T: DeserializeOwned>(&self, path: &str) -> Result<Option<Answer<T>>> {
        match self.get(path).await {
            Ok(answer) => Ok(Some(answer)),
            Err(error) if error.status() == Some(404) => Ok(None),
            Err(error) => Err(error),
        }
    }

    pub async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        headers: Headers<'_>,
    ) -> Result<Answer<T>> {
        let url = format!("{}{path}", self.base);
        let mut attempt = 0;
        let response = loop {
            let mut request = self.http.request(method.clone(), &url);
            if let Some(body) = body {
                request = request.json(body);
            }
            if let Some(key) = headers.idempotency_key {
                request = request.header("Idempotency-Key", key);
            }
            if let Some(tag) = headers.if_match {
                request = request.header(header::IF_MATCH, tag);
            }
            match request.send().await {
                Ok(response) => break response,
                // A mutation without an idempotency key is not safe to repeat
                // blindly; reads and keyed mutations are.
                Err(source)
                    if attempt < TRANSPORT_RETRIES
                        && (method == Method::GET || headers.idempotency_key.is_some()) =>
                {
                    attempt += 1;
                    tracing::warn!(%url, attempt, error = %source, "request got no answer, retrying");
                    tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
                }
                Err(source) => return Err(Error::Transport { url, source }),
            }
        };
        decode(url, response).await
    }

    /// A DELETE; a 404 counts as done (someone deleted it already).
    pub async fn delete(&self, path: &str, if_match: Option<&str>) -> Result<()> {
        let headers = Headers {
            idempotency_key: None,
            if_match,
        };
        match self
            .send::<(), serde_json::Value>(Method::DELETE, path, None, headers)
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if error.status() == Some(404) => Ok(()),
            Err(error) => Err(error),
        }
    }
}

async fn decode<T: DeserializeOwned>(
    url: String,
    response: reqwest::Response,
) -> Result<Answer<T>> {
    let status = response.status();
    let etag = response
        .headers()
        .get(header::ETAG)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with(PROBLEM_JSON));
    let bytes = response.bytes().await.map_err(|source| Error::Transport {
        url: url.clone(),
        source,
    })?;
    if !status.is_success() {
        let problem = if is_problem {
            serde_json::from_slice::<Problem>(&bytes).ok()
        } else {
            None
        };
        return Err(match problem {
            Some(problem) => Error::Problem {
                problem: Box::new(problem),
            },
            None => Error::Unexpected {
                url,
                status: status.as_u16(),
                message: String::from_utf8_lossy(&bytes).chars().take(500).collect(),
            },
        });
    }
    // 204 and empty bodies decode as JSON null (T = () or Value).
    let body = if status == StatusCode::NO_CONTENT || bytes.is_empty() {
        serde_json::from_value(serde_json::Value::Null)
    } else {
        serde_json::from_slice(&bytes)
    }
    .map_err(|error| Error::Unexpected {
        url,
        status: status.as_u16(),
        message: error.to_string(),
    })?;
    Ok(Answer { body, etag })
}
