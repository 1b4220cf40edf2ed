//! A small client for the Fjord REST API: bearer auth, problem+json errors,
//! `Idempotency-Key` on creates, `If-Match` on updates, and retries of
//! requests that never got an answer (safe because every retried mutation
//! carries the same idempotency key).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fjord_api::{PROBLEM_JSON, Problem};
use http::header::{self, HeaderValue};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// How many times a request that got no answer is sent again.
const TRANSPORT_RETRIES: u32 = 3;
/// How long one request may take, answer included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

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
    authorization: HeaderValue,
    http: HyperClient<HttpsConnector<HttpConnector>, Full<Bytes>>,
    /// How often waits poll the API.
    pub poll_interval: Duration,
}

impl Client {
    /// A client for `endpoint` (`http://` or `https://`, verified against
    /// the bundled web PKI roots).
    pub fn new(endpoint: &str, api_key: &str, poll_interval: Duration) -> Result<Self> {
        let base = endpoint.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::Endpoint {
                endpoint: endpoint.to_owned(),
            });
        }
        let mut authorization = HeaderValue::from_str(&format!("Bearer {api_key}"))
            .map_err(|_| Error::InvalidApiKey)?;
        authorization.set_sensitive(true);
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|error| Error::Tls(error.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let http = HyperClient::builder(TokioExecutor::new()).build(connector);
        Ok(Self {
            base,
            authorization,
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
        let body = match body {
            Some(body) => Some(Bytes::from(serde_json::to_vec(body).map_err(|error| {
                Error::Unexpected {
                    url: url.clone(),
                    status: 0,
                    message: format!("cannot encode the request: {error}"),
                }
            })?)),
            None => None,
        };
        // A mutation without an idempotency key is not safe to repeat
        // blindly; reads and keyed mutations are.
        let retryable = method == Method::GET || headers.idempotency_key.is_some();
        let mut attempt = 0;
        loop {
            let request = self.request(&method, &url, body.clone(), &headers)?;
            match self.exchange(&url, request).await {
                Ok(answer) => return decode(url, answer),
                Err(error) if retryable && attempt < TRANSPORT_RETRIES => {
                    attempt += 1;
                    tracing::warn!(%url, attempt, %error, "request got no answer, retrying");
                    tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
                }
                Err(error) => return Err(error),
            }
        }
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

    fn request(
        &self,
        method: &Method,
        url: &str,
        body: Option<Bytes>,
        headers: &Headers<'_>,
    ) -> Result<Request<Full<Bytes>>> {
        let mut request = Request::builder()
            .method(method.clone())
            .uri(url)
            .header(header::AUTHORIZATION, self.authorization.clone())
            .header(header::ACCEPT, "application/json")
            .header(
                header::USER_AGENT,
                concat!("terraform-provider-fjord/", env!("CARGO_PKG_VERSION")),
            );
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        if let Some(key) = headers.idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(tag) = headers.if_match {
            request = request.header(header::IF_MATCH, tag);
        }
        request
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|error| Error::Unexpected {
                url: url.to_owned(),
                status: 0,
                message: format!("cannot build the request: {error}"),
            })
    }

    /// Sends one request and reads its whole answer.
    async fn exchange(&self, url: &str, request: Request<Full<Bytes>>) -> Result<Raw> {
        let transport = |message: String| Error::Transport {
            url: url.to_owned(),
            message,
        };
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|error| transport(error.to_string()))?;
            let (parts, body) = response.into_parts();
            let bytes = body
                .collect()
                .await
                .map_err(|error| transport(error.to_string()))?
                .to_bytes();
            Ok(Raw {
                status: parts.status,
                headers: parts.headers,
                bytes,
            })
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| transport(format!("no answer within {}s", REQUEST_TIMEOUT.as_secs())))?
    }
}

/// A whole answer, not decoded yet.
struct Raw {
    status: StatusCode,
    headers: http::HeaderMap,
    bytes: Bytes,
}

fn decode<T: DeserializeOwned>(url: String, raw: Raw) -> Result<Answer<T>> {
    let Raw {
        status,
        headers,
        bytes,
    } = raw;
    let etag = headers
        .get(header::ETAG)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let is_problem = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with(PROBLEM_JSON));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_and_http_endpoints_make_a_client_and_other_schemes_do_not() {
        let poll = Duration::from_secs(1);
        assert!(Client::new("https://api.fjord.example/", "fjk_x", poll).is_ok());
        assert!(Client::new("http://127.0.0.1:8080", "fjk_x", poll).is_ok());
        assert!(matches!(
            Client::new("ftp://api.fjord.example", "fjk_x", poll),
            Err(Error::Endpoint { .. })
        ));
        assert!(matches!(
            Client::new("https://api.fjord.example", "fjk_\nx", poll),
            Err(Error::InvalidApiKey)
        ));
    }
}
