//! The in-memory API server with Fjord's CRDs and the agent's namespace,
//! also served over HTTP so kubectl can reach it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use fjord_crd::{StreamCluster, Topic};
use fjord_kube_sim::{ApiServer, kubeconfig_yaml, serve};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client};

/// The agent's namespace in these tests.
pub const NAMESPACE: &str = "fjord-system";

pub struct Kubernetes {
    pub server: ApiServer,
    pub client: Client,
    _dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl std::fmt::Debug for Kubernetes {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Kubernetes")
            .field("kubeconfig", &self.kubeconfig)
            .finish_non_exhaustive()
    }
}

impl Drop for Kubernetes {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Kubernetes {
    /// CRDs installed, namespace `fjord-system` created, served on loopback.
    pub async fn start() -> anyhow::Result<Self> {
        let server = ApiServer::default();
        let client = server.client();
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        for crd in fjord_crd::crds() {
            crds.create(&PostParams::default(), &crd).await?;
        }
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(NAMESPACE.to_owned()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &namespace)
            .await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve(server.clone(), listener, async move {
            let _ = stopped.await;
        }));
        let dir = tempfile::tempdir()?;
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, kubeconfig_yaml(&url))?;
        Ok(Self {
            server,
            client,
            _dir: dir,
            kubeconfig,
            stop: Some(stop),
        })
    }

    /// A Secret in the agent's namespace, as an installer creates it.
    pub async fn secret(&self, name: &str, pairs: &[(&str, &str)]) -> anyhow::Result<()> {
        let data = pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), ByteString(value.as_bytes().to_vec())))
            .collect();
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..ObjectMeta::default()
            },
            data: Some(data),
            ..Secret::default()
        };
        self.secrets()
            .create(&PostParams::default(), &secret)
            .await?;
        Ok(())
    }

    pub fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.client.clone(), NAMESPACE)
    }

    pub fn config_maps(&self) -> Api<ConfigMap> {
        Api::namespaced(self.client.clone(), NAMESPACE)
    }

    pub fn clusters(&self) -> Api<StreamCluster> {
        Api::namespaced(self.client.clone(), NAMESPACE)
    }

    pub fn topics(&self) -> Api<Topic> {
        Api::namespaced(self.client.clone(), NAMESPACE)
    }

    /// Sets (or, with `None`, removes) guardrail annotations on the agent's
    /// Namespace, as the customer's `kubectl annotate` would.
    pub async fn annotate_namespace(&self, pairs: &[(&str, Option<&str>)]) -> anyhow::Result<()> {
        let annotations: BTreeMap<_, _> = pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), value.map(str::to_owned)))
            .collect();
        Api::<Namespace>::all(self.client.clone())
            .patch(
                NAMESPACE,
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"metadata": {"annotations": annotations}})),
            )
            .await?;
        Ok(())
    }

    /// The agent's Events: (reason, note), oldest first.
    pub async fn events(&self) -> anyhow::Result<Vec<(String, String)>> {
        let events: Api<Event> = Api::namespaced(self.client.clone(), NAMESPACE);
        let mut list: Vec<_> = events.list(&ListParams::default()).await?.items;
        list.sort_by_key(|event| event.metadata.creation_timestamp.clone().map(|t| t.0));
        Ok(list
            .into_iter()
            .filter(|event| event.reporting_controller.as_deref() == Some("fjord-agent"))
            .map(|event| {
                (
                    event.reason.unwrap_or_default(),
                    event.note.unwrap_or_default(),
                )
            })
            .collect())
    }

    /// The names of the StreamClusters and Topics in the namespace.
    pub async fn resource_names(&self) -> anyhow::Result<(Vec<String>, Vec<String>)> {
        let clusters = self.clusters().list(&ListParams::default()).await?;
        let topics = self.topics().list(&ListParams::default()).await?;
        let names = |items: Vec<Option<String>>| items.into_iter().flatten().collect::<Vec<_>>();
        Ok((
            names(
                clusters
                    .items
                    .into_iter()
                    .map(|c| c.metadata.name)
                    .collect(),
            ),
            names(topics.items.into_iter().map(|t| t.metadata.name).collect()),
        ))
    }

    /// Runs kubectl against the served API; returns stdout.
    pub async fn kubectl(&self, args: &[&str]) -> anyhow::Result<String> {
        let program = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".to_owned());
        let output = tokio::time::timeout(
            Duration::from_secs(60),
            tokio::process::Command::new(&program)
                .env("KUBECONFIG", &self.kubeconfig)
                .env_remove("HTTPS_PROXY")
                .env_remove("HTTP_PROXY")
                .args(args)
                .kill_on_drop(true)
                .output(),
        )
        .await
        .map_err(|_| anyhow::anyhow!("kubectl {args:?} did not finish in 60 s"))?
        .map_err(|error| {
            anyhow::anyhow!(
                "cannot run {program} ({error}): `cargo xtask test` installs kubectl, or set KUBECTL"
            )
        })?;
        anyhow::ensure!(
            output.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}
