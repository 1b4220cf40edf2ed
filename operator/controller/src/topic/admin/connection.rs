//! One Kafka protocol connection: length-prefixed frames, request headers
//! with a correlation id, one request in flight at a time.

use std::time::Duration;

use bytes::{Buf, BufMut, BytesMut};
use kafka_protocol::messages::{RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::KafkaError;

/// Largest response accepted (the biggest admin answer is a topic's full
/// config description; this is generous).
const RESPONSE_BYTES_MAX: u32 = 64 * 1024 * 1024;
const CLIENT_ID: &str = "fjord-operator";

/// A connection to one broker.
#[derive(Debug)]
pub(crate) struct Connection {
    stream: TcpStream,
    address: String,
    correlation: i32,
    timeout: Duration,
}

/// Splits `host:port[,host:port...]` (IPv6 hosts in brackets).
pub(crate) fn parse_bootstrap(bootstrap: &str) -> Result<Vec<(String, u16)>, KafkaError> {
    let bad = || KafkaError::BadBootstrap(bootstrap.to_owned());
    let addresses: Vec<(String, u16)> = bootstrap
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (host, port) = entry.rsplit_once(':').ok_or_else(bad)?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let port: u16 = port.parse().map_err(|_| bad())?;
            if host.is_empty() || port == 0 {
                return Err(bad());
            }
            Ok((host.to_owned(), port))
        })
        .collect::<Result<_, _>>()?;
    if addresses.is_empty() {
        return Err(bad());
    }
    Ok(addresses)
}

impl Connection {
    /// Connects to the first broker of `bootstrap` that accepts.
    pub(crate) async fn open(bootstrap: &str, timeout: Duration) -> Result<Self, KafkaError> {
        let mut last_error = None;
        for (host, port) in parse_bootstrap(bootstrap)? {
            let connect = TcpStream::connect((host.as_str(), port));
            let outcome = match tokio::time::timeout(timeout, connect).await {
                Ok(outcome) => outcome,
                Err(_) => Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("connecting to {host}:{port} timed out"),
                )),
            };
            match outcome {
                Ok(stream) => {
                    // Admin requests are small and latency matters more than batching.
                    let _ = stream.set_nodelay(true);
                    return Ok(Self {
                        stream,
                        address: format!("{host}:{port}"),
                        correlation: 0,
                        timeout,
                    });
                }
                Err(error) => last_error = Some(error),
            }
        }
        Err(KafkaError::Unreachable {
            bootstrap: bootstrap.to_owned(),
            source: last_error.unwrap_or_else(|| std::io::ErrorKind::NotFound.into()),
        })
    }

    /// The broker this connection reached.
    pub(crate) fn address(&self) -> &str {
        &self.address
    }

    /// Sends `request` as `version` and reads its response.
    pub(crate) async fn send<R: Request>(
        &mut self,
        api: &'static str,
        version: i16,
        request: &R,
    ) -> Result<R::Response, KafkaError> {
        let seconds = self.timeout.as_secs();
        tokio::time::timeout(self.timeout, self.exchange(api, version, request))
            .await
            .map_err(|_| KafkaError::Timeout { api, seconds })?
    }

    async fn exchange<R: Request>(
        &mut self,
        api: &'static str,
        version: i16,
        request: &R,
    ) -> Result<R::Response, KafkaError> {
        self.correlation = self.correlation.wrapping_add(1);
        let correlation = self.correlation;
        let frame = encode(api, version, correlation, request)?;
        let io = |source| KafkaError::Io {
            address: self.address.clone(),
            source,
        };
        self.stream.write_all(&frame).await.map_err(io)?;
        let length = self.stream.read_u32().await.map_err(io)?;
        if !(4..=RESPONSE_BYTES_MAX).contains(&length) {
            return Err(KafkaError::BadResponse {
                api,
                reason: format!("frame of {length} bytes"),
            });
        }
        let mut payload = BytesMut::zeroed(length as usize);
        self.stream.read_exact(&mut payload).await.map_err(io)?;
        let codec = |source| KafkaError::Codec { api, source };
        let header_version = R::Response::header_version(version);
        let header = ResponseHeader::decode(&mut payload, header_version).map_err(codec)?;
        if header.correlation_id != correlation {
            return Err(KafkaError::BadResponse {
                api,
                reason: format!(
                    "correlation id {} answers no request (sent {correlation})",
                    header.correlation_id
                ),
            });
        }
        let response = R::Response::decode(&mut payload, version).map_err(codec)?;
        if payload.has_remaining() {
            tracing::debug!(
                api,
                left = payload.remaining(),
                "response has trailing bytes"
            );
        }
        Ok(response)
    }
}

fn encode<R: Request>(
    api: &'static str,
    version: i16,
    correlation: i32,
    request: &R,
) -> Result<BytesMut, KafkaError> {
    let codec = |source| KafkaError::Codec { api, source };
    let header = RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(correlation)
        .with_client_id(Some(StrBytes::from_static_str(CLIENT_ID)));
    let mut frame = BytesMut::new();
    frame.put_i32(0);
    header
        .encode(&mut frame, R::header_version(version))
        .map_err(codec)?;
    request.encode(&mut frame, version).map_err(codec)?;
    let length = i32::try_from(frame.len() - 4).map_err(|_| KafkaError::BadResponse {
        api,
        reason: "request too large".to_owned(),
    })?;
    frame[..4].copy_from_slice(&length.to_be_bytes());
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use super::parse_bootstrap;

    #[test]
    fn bootstrap_lists_parse_and_bad_ones_are_refused() {
        assert_eq!(
            parse_bootstrap("a:9092, 127.0.0.1:19092,[::1]:9093").unwrap(),
            vec![
                ("a".to_owned(), 9092),
                ("127.0.0.1".to_owned(), 19092),
                ("::1".to_owned(), 9093)
            ]
        );
        for bad in ["", "a", "a:", ":9092", "a:0", "a:99999", " , "] {
            assert!(parse_bootstrap(bad).is_err(), "{bad:?} accepted");
        }
    }
}
