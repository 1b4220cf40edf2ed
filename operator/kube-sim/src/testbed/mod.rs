//! A whole in-process stand-in for a Kubernetes cluster that runs real
//! processes: the API server, the StatefulSet controller and a process
//! kubelet, with custom resource definitions and one namespace installed.
//! The operator's broker tests and `cargo xtask bench rollout` start their
//! clusters on it.

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use tokio::task::JoinHandle;

use crate::kubelet::{self, KubeletConfig, KubeletHandle};
use crate::{ApiServer, Result, statefulset};

/// The API server with its StatefulSet controller and process kubelet
/// running; dropping it stops both (and the kubelet's processes with it).
pub struct Testbed {
    pub server: ApiServer,
    pub client: Client,
    pub kubelet: KubeletHandle,
    tasks: Vec<JoinHandle<()>>,
}

impl Testbed {
    /// Starts the controllers, creates `crds` and the namespace `namespace`.
    pub async fn start(
        kubelet_config: KubeletConfig,
        crds: &[CustomResourceDefinition],
        namespace: &str,
    ) -> Result<Self> {
        let server = ApiServer::default();
        let client = server.client();
        let (kubelet, kubelet_run) = kubelet::start(client.clone(), kubelet_config)?;
        let tasks = vec![
            tokio::spawn(async move {
                if let Err(error) = kubelet_run.await {
                    tracing::error!(%error, "kubelet failed");
                }
            }),
            tokio::spawn(statefulset::run(client.clone())),
        ];
        let testbed = Self {
            server,
            client,
            kubelet,
            tasks,
        };
        let definitions = Api::<CustomResourceDefinition>::all(testbed.client.clone());
        for crd in crds {
            definitions.create(&PostParams::default(), crd).await?;
        }
        let object = Namespace {
            metadata: ObjectMeta {
                name: Some(namespace.to_owned()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        Api::<Namespace>::all(testbed.client.clone())
            .create(&PostParams::default(), &object)
            .await?;
        Ok(testbed)
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl std::fmt::Debug for Testbed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Testbed")
            .field("tasks", &self.tasks.len())
            .finish_non_exhaustive()
    }
}
