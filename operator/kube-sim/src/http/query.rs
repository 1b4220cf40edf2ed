//! Query parameters of resource requests.

use std::collections::HashMap;
use std::time::Duration;

use crate::server::{FieldValidation, ListOptions};
use crate::status::ApiStatus;
use crate::store::selector::{FieldSelector, LabelSelector};

/// The raw query, decoded.
#[derive(Debug, Clone, Default)]
pub(crate) struct Query(pub HashMap<String, String>);

impl Query {
    /// Decodes a URL query string.
    pub(crate) fn parse(query: Option<&str>) -> Self {
        let pairs = query
            .map(|q| {
                q.split('&')
                    .filter(|p| !p.is_empty())
                    .map(|pair| {
                        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                        (decode(key), decode(value))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self(pairs)
    }

    /// A parameter, if present.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// A boolean parameter (`true`/`1`).
    pub(crate) fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }

    /// `labelSelector`, `fieldSelector`, `limit`, `continue`.
    pub(crate) fn list_options(&self) -> Result<ListOptions, ApiStatus> {
        Ok(ListOptions {
            label_selector: LabelSelector::parse(self.get("labelSelector").unwrap_or(""))?,
            field_selector: FieldSelector::parse(self.get("fieldSelector").unwrap_or(""))?,
            limit: match self.get("limit") {
                Some(limit) => limit
                    .parse()
                    .map_err(|_| ApiStatus::bad_request(format!("invalid limit {limit:?}")))?,
                None => 0,
            },
            continue_token: self
                .get("continue")
                .filter(|c| !c.is_empty())
                .map(str::to_owned),
        })
    }

    /// `fieldValidation`.
    pub(crate) fn field_validation(&self) -> Result<FieldValidation, ApiStatus> {
        match self.get("fieldValidation") {
            None | Some("" | "Warn") => Ok(FieldValidation::Warn),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some(other) => Err(ApiStatus::bad_request(format!(
                "fieldValidation parameter unsupported: {other}; must be one of Ignore, Warn, Strict"
            ))),
        }
    }

    /// `timeoutSeconds` of a watch (30 minutes when absent).
    pub(crate) fn timeout(&self) -> Duration {
        self.get("timeoutSeconds")
            .and_then(|t| t.parse::<u64>().ok())
            .filter(|t| *t > 0)
            .map_or(Duration::from_secs(1800), Duration::from_secs)
    }

    /// `resourceVersion` as a start point: absent, empty and "0" mean "now, with the
    /// current objects first".
    pub(crate) fn start_version(&self) -> Result<Option<u64>, ApiStatus> {
        match self.get("resourceVersion") {
            None | Some("" | "0") => Ok(None),
            Some(version) => version.parse().map(Some).map_err(|_| {
                ApiStatus::bad_request(format!("invalid resource version: {version}"))
            }),
        }
    }
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => out.push(b' '),
            b'%' if index + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        index += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_decoded() {
        let query = Query::parse(Some(
            "labelSelector=app%3Dweb%2Ctier+in+%28a%29&watch=true&limit=5",
        ));
        assert_eq!(query.get("labelSelector"), Some("app=web,tier in (a)"));
        assert!(query.flag("watch"));
        assert_eq!(query.list_options().unwrap().limit, 5);
        assert_eq!(
            Query::parse(Some("resourceVersion=0"))
                .start_version()
                .unwrap(),
            None
        );
        assert_eq!(
            Query::parse(Some("resourceVersion=12"))
                .start_version()
                .unwrap(),
            Some(12)
        );
    }
}
