//! The running local platform: Postgres, moto, the control plane with the
//! console, kube-sim and `fjord-operator` registered to the `local`
//! environment of the `dev` organization.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::json;

use super::kube::{self, KubeSim, Registration};
use super::rest::{Rest, text};
use super::{STARTUP_TIMEOUT, binaries_dir, seed_console_user, seed_inventory};
use crate::moto::Moto;
use crate::postgres::Postgres;
use crate::process::{self, Supervised};
use crate::step;

/// Name of the environment the dev stack's agent serves.
pub(crate) const ENVIRONMENT: &str = "local";

/// The running platform; dropping it stops every process it started.
#[derive(Debug)]
pub(crate) struct Stack {
    pub(crate) control_plane_url: String,
    /// Admin API key of the `dev` organization, when this run created it.
    pub(crate) api_key: Option<String>,
    /// Email and password of the `dev` organization's first console user,
    /// when this run created it.
    pub(crate) console_user: Option<(String, String)>,
    /// The `local` environment the operator's agent is registered to.
    pub(crate) environment_id: String,
    /// The local AWS (`moto_server`) the control plane provisions in.
    pub(crate) aws_url: String,
    pub(crate) operator_health: SocketAddr,
    // Field order is drop order: the operator stops first, then kube-sim
    // (its kubelet stops the brokers), then the control plane, moto and
    // Postgres.
    operator: Supervised,
    pub(crate) kube: KubeSim,
    control_plane: Supervised,
    _moto: Moto,
    postgres: Arc<Postgres>,
}

impl Stack {
    /// Starts everything against `postgres` and waits until the `local`
    /// environment is connected.
    pub(crate) fn start(postgres: Arc<Postgres>, console_dir: &Path) -> anyhow::Result<Self> {
        let bin = binaries_dir();
        let address = SocketAddr::from(([127, 0, 0, 1], process::free_port(8080)?));
        // A local AWS, so the environment checklist and provisioning are real
        // (docs/provisioning.md); dummy credentials, trust policies emulated.
        let moto = Moto::start()?;
        step(&format!("starting the control plane on {address}"));
        let mut control_plane = Supervised::spawn(
            "fjord-control-plane",
            Command::new(bin.join("fjord-control-plane"))
                .env("DATABASE_URL", &postgres.url)
                .env("AWS_EC2_METADATA_DISABLED", "true")
                .arg("--listen")
                .arg(address.to_string())
                .arg("--console-dir")
                .arg(console_dir)
                .args(["--aws-access-key-id", "testing"])
                .args(["--aws-secret-access-key", "testing"])
                .arg("--aws-endpoint-url")
                .arg(&moto.url)
                .arg("--aws-emulate-trust-policies")
                // Shown disconnected 15 s after the agent's last call.
                .args(["--agent-disconnected-after-seconds", "15"]),
        )?;
        process::wait_for_port(address, STARTUP_TIMEOUT, &mut control_plane)?;
        let control_plane_url = format!("http://{address}");
        let api_key = seed_inventory(&bin, &postgres.url);
        let console_user = api_key
            .as_ref()
            .and_then(|_| seed_console_user(&bin, &postgres.url));
        let key = api_key.as_deref().context(
            "the dev organization already exists in DATABASE_URL and its admin key is unknown; \
             use a fresh database (unset DATABASE_URL) for cargo xtask dev",
        )?;
        let api = Rest::new(&control_plane_url, Some(key));
        let (environment_id, token) = create_environment(&api)?;
        let signing_key =
            Rest::new(&control_plane_url, None).expect("GET", "/v1/signing-key", None, 200)?;
        let registration = Registration {
            control_plane_url: control_plane_url.clone(),
            token,
            public_key: text(&signing_key, "/public_key")?,
            key_id: text(&signing_key, "/key_id")?,
        };

        let kube = KubeSim::start()?;
        let operator_health = SocketAddr::from(([127, 0, 0, 1], process::free_port(8090)?));
        let operator = kube::start_operator(&kube, &registration, operator_health)?;
        step("waiting for the local environment's agent to connect");
        let path = format!("/v1/environments/{environment_id}");
        kube::wait_for("the local environment connected", STARTUP_TIMEOUT, || {
            let view = api.expect("GET", &path, None, 200)?;
            Ok((view["connection"]["state"] == "connected").then_some(()))
        })?;
        Ok(Self {
            control_plane_url,
            api_key,
            console_user,
            environment_id,
            aws_url: moto.url.clone(),
            operator_health,
            operator,
            kube,
            control_plane,
            _moto: moto,
            postgres,
        })
    }

    /// The REST API with the `dev` organization's admin key.
    pub(crate) fn api(&self) -> anyhow::Result<Rest> {
        let key = self
            .api_key
            .as_deref()
            .context("the dev organization's API key is unknown")?;
        Ok(Rest::new(&self.control_plane_url, Some(key)))
    }

    pub(crate) fn print(&self) {
        let url = &self.control_plane_url;
        println!();
        println!("Fjord is running:");
        println!("  console       {url}/");
        if let Some((email, password)) = &self.console_user {
            println!("                sign in as {email} with password {password}");
        }
        println!("  REST API      {url}/v1   (OpenAPI: {url}/openapi.json)");
        println!(
            "  Postgres      {}   ({})",
            self.postgres.url,
            self.postgres.description()
        );
        println!(
            "  AWS (moto)    {}   (cloud accounts' roles, emulated)",
            self.aws_url
        );
        println!(
            "  Kubernetes    {}   (kube-sim; brokers run as local processes, logs under {}/pods)",
            self.kube.url,
            self.kube.state_dir.display()
        );
        println!("  kubeconfig    {}", self.kube.kubeconfig.display());
        println!(
            "  operator      namespace {}, health http://{}/readyz",
            kube::NAMESPACE,
            self.operator_health
        );
        println!(
            "  environment   {ENVIRONMENT} ({}), agent connected",
            self.environment_id
        );
        println!("  releases      0.1.0, 0.2.0 (both run this build's fjord-broker)");
        println!();
        if let Some(key) = &self.api_key {
            println!("Try:  export FJORD_KEY={key}");
            println!(
                "      curl -H \"Authorization: Bearer $FJORD_KEY\" -H 'Content-Type: application/json' \\"
            );
            println!(
                "        -d '{{\"environment_id\":\"{}\",\"name\":\"orders\",\"version\":\"0.1.0\",\"broker_count\":3,\"storage_gib\":1}}' {url}/v1/clusters",
                self.environment_id
            );
        }
        println!(
            "      KUBECONFIG={} kubectl -n {} get streamclusters,pods",
            self.kube.kubeconfig.display(),
            kube::NAMESPACE
        );
        println!("      kcat -b <status.bootstrapAddress of the StreamCluster> -L");
        println!("Ctrl-C stops everything.");
    }

    /// Runs a `fjord-control-plane` admin subcommand against this stack's
    /// database; returns its stdout.
    pub(crate) fn admin(&self, arguments: &[&str]) -> anyhow::Result<String> {
        process::output(
            Command::new(binaries_dir().join("fjord-control-plane"))
                .env("DATABASE_URL", &self.postgres.url)
                .args(arguments),
        )
    }

    /// The first process that exited on its own, if any.
    pub(crate) fn exited(&mut self) -> Option<String> {
        let mut own = [&mut self.control_plane, &mut self.operator];
        own.iter_mut()
            .find_map(|child| {
                child
                    .exited()
                    .map(|status| format!("{} exited with {status}", child.name))
            })
            .or_else(|| self.kube.exited())
    }
}

/// A cloud account (moto's default account) and the environment `local`;
/// returns its id and one-time registration token.
fn create_environment(api: &Rest) -> anyhow::Result<(String, String)> {
    let account = api.expect(
        "POST",
        "/v1/cloud-accounts",
        Some(&json!({"name": "local", "aws_account_id": "123456789012",
                     "role_arn": "arn:aws:iam::123456789012:role/fjord"})),
        201,
    )?;
    let created = api.call(
        "POST",
        "/v1/environments",
        Some(&json!({"name": ENVIRONMENT, "region": "eu-west-1",
                     "cloud_account_id": account["cloud_account_id"]})),
    )?;
    if created.0 != 201 {
        bail!(
            "creating environment {ENVIRONMENT}: {} {}",
            created.0,
            created.1
        );
    }
    Ok((
        text(&created.1, "/environment/environment_id")?,
        text(&created.1, "/registration_token")?,
    ))
}

/// How long the smoke check and people wait for a cluster.
pub(crate) const CLUSTER_TIMEOUT: Duration = Duration::from_secs(180);
