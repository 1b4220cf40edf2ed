//! JSON over HTTP for the dev stack, through `curl` (xtask stays free of an
//! HTTP client): the control plane's REST API and the Kubernetes API.

use std::process::Command;

use anyhow::{Context, bail};
use serde_json::Value;

/// A base URL and, for the control plane, an API key.
#[derive(Debug, Clone)]
pub(crate) struct Rest {
    pub(crate) base: String,
    key: Option<String>,
}

impl Rest {
    pub(crate) fn new(base: &str, key: Option<&str>) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            key: key.map(str::to_owned),
        }
    }

    /// One request; returns the status and the JSON body (`null` when empty).
    pub(crate) fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, Value)> {
        self.send(
            method,
            path,
            body.map(|b| (b.to_string(), "application/json")),
        )
    }

    /// As [`Self::call`] with a body of another content type (YAML).
    pub(crate) fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<(String, &str)>,
    ) -> anyhow::Result<(u16, Value)> {
        let url = format!("{}{path}", self.base);
        let mut command = Command::new("curl");
        command.args([
            "-sS",
            "-X",
            method,
            "-w",
            "\n%{http_code}",
            "--max-time",
            "30",
        ]);
        if let Some(key) = &self.key {
            command.args(["-H", &format!("Authorization: Bearer {key}")]);
        }
        if let Some((body, content_type)) = &body {
            command
                .args(["-H", &format!("Content-Type: {content_type}")])
                .args(["--data-binary", body]);
        }
        let output = command
            .arg(&url)
            .output()
            .with_context(|| format!("cannot run curl for {method} {url}"))?;
        if !output.status.success() {
            bail!(
                "{method} {url}: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let text = String::from_utf8_lossy(&output.stdout);
        let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
        let status: u16 = status
            .trim()
            .parse()
            .with_context(|| format!("{method} {url}: no status in curl's output"))?;
        let body = if body.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()))
        };
        Ok((status, body))
    }

    /// One request that must answer `status`; returns the body.
    pub(crate) fn expect(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        status: u16,
    ) -> anyhow::Result<Value> {
        let (got, answer) = self.call(method, path, body)?;
        if got != status {
            bail!("{method} {path}: expected {status}, got {got}: {answer}");
        }
        Ok(answer)
    }
}

/// The string at `pointer` (`/a/b`) of `value`, or an error naming it.
pub(crate) fn text(value: &Value, pointer: &str) -> anyhow::Result<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("no string at {pointer} in {value}"))
}
