//! Request decoding and response encoding around the message codecs.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::{Decodable, Encodable};

use super::{bounds, versions};

/// Bytes of the fixed request prefix: api key, api version, correlation id.
const FIXED_PREFIX_BYTES: usize = 8;

/// A request ready to be handled.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "built once per request and moved, never stored"
)]
pub enum DecodedRequest {
    /// A request of a supported API and version.
    Request {
        api_key: ApiKey,
        header: RequestHeader,
        body: RequestKind,
    },
    /// ApiVersions of a version we do not know: answer with v0 and
    /// UNSUPPORTED_VERSION (KIP-511) instead of closing the connection.
    UnsupportedApiVersions { correlation_id: i32 },
}

/// Why a request could not be decoded; each closes the connection.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("request of {length} bytes is shorter than the 8-byte header prefix")]
    TooShort { length: usize },
    #[error("unknown api key {api_key}")]
    UnknownApiKey { api_key: i16 },
    #[error("{api_key:?} version {version} is not supported")]
    UnsupportedVersion { api_key: ApiKey, version: i16 },
    #[error("malformed {api_key:?} v{version} request header: {reason}")]
    Header {
        api_key: ApiKey,
        version: i16,
        reason: String,
    },
    #[error("malformed {api_key:?} v{version} request body: {reason}")]
    Body {
        api_key: ApiKey,
        version: i16,
        reason: String,
    },
}

/// Decodes one request frame (the payload after the length prefix).
pub fn decode_request(mut frame: Bytes) -> Result<DecodedRequest, RequestError> {
    if frame.len() < FIXED_PREFIX_BYTES {
        return Err(RequestError::TooShort {
            length: frame.len(),
        });
    }
    let raw_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let api_key =
        ApiKey::try_from(raw_key).map_err(|()| RequestError::UnknownApiKey { api_key: raw_key })?;
    if !versions::accepts(api_key, version) {
        if api_key == ApiKey::ApiVersions && version >= 0 {
            return Ok(DecodedRequest::UnsupportedApiVersions { correlation_id });
        }
        return Err(RequestError::UnsupportedVersion { api_key, version });
    }
    let header_version = api_key.request_header_version(version);
    let header = RequestHeader::decode(&mut frame, header_version).map_err(|error| {
        RequestError::Header {
            api_key,
            version,
            reason: error.to_string(),
        }
    })?;
    debug_assert_eq!(header.request_api_version, version);
    bounds::check_declared_lengths(api_key, version, &frame).map_err(|reason| {
        RequestError::Body {
            api_key,
            version,
            reason,
        }
    })?;
    let body =
        RequestKind::decode(api_key, &mut frame, version).map_err(|error| RequestError::Body {
            api_key,
            version,
            reason: error.to_string(),
        })?;
    if frame.has_remaining() {
        tracing::debug!(
            ?api_key,
            version,
            trailing = frame.remaining(),
            "ignoring trailing bytes"
        );
    }
    Ok(DecodedRequest::Request {
        api_key,
        header,
        body,
    })
}

/// Encodes a response frame, length prefix included.
pub fn encode_response(
    correlation_id: i32,
    api_key: ApiKey,
    version: i16,
    body: &ResponseKind,
) -> anyhow::Result<BytesMut> {
    let header_version = api_key.response_header_version(version);
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    // A fetch response carries the records it returns: size it first, so
    // they are copied in once instead of regrowing the buffer as they come.
    let body_bytes = match body {
        ResponseKind::Fetch(fetch) => fetch.compute_size(version)?,
        _ => 0,
    };
    let mut buffer = BytesMut::with_capacity(64 + body_bytes);
    buffer.put_i32(0);
    header.encode(&mut buffer, header_version)?;
    body.encode(&mut buffer, version)?;
    let length = i32::try_from(buffer.len() - 4)?;
    buffer[..4].copy_from_slice(&length.to_be_bytes());
    Ok(buffer)
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::ApiVersionsRequest;
    use kafka_protocol::protocol::StrBytes;

    use super::*;

    use super::super::samples::{frame, sample_request};
    #[test]
    fn api_versions_v3_round_trips_with_its_flexible_header() {
        let body = RequestKind::ApiVersions(
            ApiVersionsRequest::default()
                .with_client_software_name(StrBytes::from_static_str("kcat"))
                .with_client_software_version(StrBytes::from_static_str("1.7.1")),
        );
        let decoded = decode_request(frame(ApiKey::ApiVersions, 3, &body)).unwrap();
        let DecodedRequest::Request {
            api_key,
            header,
            body,
        } = decoded
        else {
            panic!("expected a request");
        };
        assert_eq!((api_key, header.correlation_id), (ApiKey::ApiVersions, 42));
        let RequestKind::ApiVersions(request) = body else {
            panic!("expected ApiVersions")
        };
        assert_eq!(request.client_software_name.as_str(), "kcat");
    }

    #[test]
    fn every_supported_api_and_version_has_a_declared_length_check() {
        for entry in versions::SUPPORTED_APIS {
            for version in entry.min..=entry.max {
                let body = sample_request(entry.key, version);
                let decoded = decode_request(frame(entry.key, version, &body));
                assert!(decoded.is_ok(), "{:?} v{version}: {decoded:?}", entry.key);
            }
        }
    }

    #[test]
    fn metadata_declaring_billions_of_topics_is_refused_before_allocating() {
        let mut bytes = BytesMut::new();
        let header = RequestHeader::default()
            .with_request_api_key(ApiKey::Metadata as i16)
            .with_request_api_version(4)
            .with_correlation_id(1);
        header.encode(&mut bytes, 1).unwrap();
        bytes.put_i32(i32::MAX);
        let error = decode_request(bytes.freeze()).unwrap_err();
        assert!(error.to_string().contains("2147483647 elements"), "{error}");
    }

    #[test]
    fn future_api_versions_version_falls_back_instead_of_failing() {
        let mut bytes = BytesMut::new();
        bytes.put_i16(ApiKey::ApiVersions as i16);
        bytes.put_i16(99);
        bytes.put_i32(7);
        bytes.put_slice(b"whatever a future header holds");
        let decoded = decode_request(bytes.freeze()).unwrap();
        assert!(matches!(
            decoded,
            DecodedRequest::UnsupportedApiVersions { correlation_id: 7 }
        ));
    }

    #[test]
    fn unknown_key_unsupported_version_and_garbage_are_errors_not_panics() {
        let prefix = |key: i16, version: i16| {
            let mut bytes = BytesMut::new();
            bytes.put_i16(key);
            bytes.put_i16(version);
            bytes.put_i32(1);
            bytes
        };
        let unknown = decode_request(prefix(12_345, 0).freeze()).unwrap_err();
        assert!(matches!(
            unknown,
            RequestError::UnknownApiKey { api_key: 12_345 }
        ));
        let unsupported = decode_request(prefix(ApiKey::Metadata as i16, 99).freeze()).unwrap_err();
        assert!(matches!(
            unsupported,
            RequestError::UnsupportedVersion { version: 99, .. }
        ));
        let mut garbage = prefix(ApiKey::Metadata as i16, 9);
        garbage.put_slice(&[0xff; 3]);
        assert!(decode_request(garbage.freeze()).is_err());
        assert!(matches!(
            decode_request(Bytes::from_static(b"abc")),
            Err(RequestError::TooShort { length: 3 })
        ));
    }

    #[test]
    fn response_frame_carries_its_own_length() {
        let body = ResponseKind::ApiVersions(versions::api_versions_response(None));
        let mut encoded = encode_response(9, ApiKey::ApiVersions, 3, &body).unwrap();
        let length = encoded.get_i32();
        assert_eq!(length as usize, encoded.len());
        assert_eq!(
            encoded.get_i32(),
            9,
            "ApiVersions responses use header v0: correlation id only"
        );
    }
}
