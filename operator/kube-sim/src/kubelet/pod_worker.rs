//! One Pod on this node: prepares its volumes and environment, runs its
//! init containers one after another to completion (`init.rs`), then its
//! app containers, writes its status, and on deletion stops the containers and
//! removes the Pod object (finalizing the graceful delete as a kubelet
//! does: a DELETE with grace period 0 and the Pod's uid as precondition).

mod init;
mod setup;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Pod, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::backoff::RestartBackoff;
use super::container::{ContainerTask, Reporter, Signal};
use super::env::{Downward, EnvSources, container_env};
use super::image::ImageTable;
use super::launch::launch_plan;
use super::mounts::{HostLayout, HostVolume, MountMap, host_volumes};
use super::pod_status::{ContainerPhase, ContainerSnapshot, StatusInput, pod_status};
use super::probe::ProbeSpec;
use crate::error::Result;
use setup::{add_api_access, bind_claims, fetch_sources, io_error, prepare_volumes};

/// Annotation whose change of value kills the Pod's processes (a fault
/// injected from outside, e.g. `kubectl annotate --overwrite pod/x
/// kube-sim.fjord.dev/kill=$(date +%s)`).
pub const KILL_ANNOTATION: &str = "kube-sim.fjord.dev/kill";

/// What every Pod worker of a kubelet shares.
pub(super) struct WorkerContext {
    pub client: Client,
    pub layout: HostLayout,
    pub images: ImageTable,
    pub backoff: RestartBackoff,
    pub node_name: String,
    pub host_address: Ipv4Addr,
    /// Given to every container as `KUBECONFIG` (its API access).
    pub pod_kubeconfig: Option<PathBuf>,
}

impl std::fmt::Debug for WorkerContext {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("WorkerContext")
            .field("layout", &self.layout)
            .field("node_name", &self.node_name)
            .finish_non_exhaustive()
    }
}

/// What the kubelet tells a Pod worker.
#[derive(Debug, Clone)]
pub(super) enum PodMessage {
    /// The Pod object changed.
    Update(Box<Pod>),
    /// Kill the containers' processes (they restart).
    Kill,
    /// Stop the containers (SIGTERM, SIGKILL after `grace`); when
    /// `finalize`, then delete the Pod object.
    Stop { grace: Duration, finalize: bool },
}

/// A worker for one Pod incarnation (one uid).
#[derive(Debug)]
pub(super) struct PodWorker {
    context: Arc<WorkerContext>,
    pod: Pod,
    address: Ipv4Addr,
    start_time: Time,
    last_status: Option<PodStatus>,
    kill_token: Option<String>,
    /// The init containers as last reported (completed ones stay).
    init_snapshots: Vec<ContainerSnapshot>,
}

/// The init containers' and the app containers' tasks, in spec order.
struct Tasks {
    init: Vec<ContainerTask>,
    app: Vec<ContainerTask>,
}

impl PodWorker {
    pub(super) fn new(context: Arc<WorkerContext>, pod: Pod, address: Ipv4Addr) -> Self {
        let kill_token = pod.annotations().get(KILL_ANNOTATION).cloned();
        let last_status = pod.status.clone();
        let mut worker = Self {
            context,
            pod,
            address,
            start_time: Time(Timestamp::now()),
            last_status,
            kill_token,
            init_snapshots: Vec::new(),
        };
        worker.init_snapshots = worker.waiting(&worker.init_containers(), "PodInitializing", None);
        worker
    }

    fn init_containers(&self) -> Vec<Container> {
        self.pod
            .spec
            .as_ref()
            .and_then(|spec| spec.init_containers.clone())
            .unwrap_or_default()
    }

    fn app_containers(&self) -> Vec<Container> {
        self.pod
            .spec
            .as_ref()
            .map(|spec| spec.containers.clone())
            .unwrap_or_default()
    }

    /// Takes a new version of the Pod; true if its kill annotation changed
    /// (the fault of killing its processes was asked for).
    fn update(&mut self, pod: Pod) -> bool {
        let token = pod.annotations().get(KILL_ANNOTATION).cloned();
        self.pod = pod;
        if token.is_some() && token != self.kill_token {
            self.kill_token = token;
            tracing::info!(pod = %self.pod.name_any(), "kill annotation changed: killing the pod's processes");
            return true;
        }
        false
    }

    fn namespace(&self) -> String {
        self.pod.namespace().unwrap_or_else(|| "default".into())
    }

    fn api(&self) -> Api<Pod> {
        Api::namespaced(self.context.client.clone(), &self.namespace())
    }

    fn pod_dir(&self) -> PathBuf {
        let uid = self
            .pod
            .metadata
            .uid
            .clone()
            .unwrap_or_else(|| "no-uid".into());
        self.context
            .layout
            .pod_dir(&self.namespace(), &self.pod.name_any(), &uid)
    }

    /// Writes the status the snapshots add up to, if it changed.
    async fn write_status(&mut self, snapshots: &[ContainerSnapshot]) {
        let spec = self.pod.spec.clone().unwrap_or_default();
        let restart_policy = spec.restart_policy.unwrap_or_else(|| "Always".into());
        let status = pod_status(&StatusInput {
            init_containers: &self.init_snapshots,
            containers: snapshots,
            restart_policy: &restart_policy,
            pod_address: self.address.to_string(),
            host_address: self.context.host_address.to_string(),
            start_time: self.start_time.clone(),
            previous: self.last_status.as_ref(),
            now: Time(Timestamp::now()),
        });
        if self.last_status.as_ref() == Some(&status) {
            return;
        }
        let patch = Patch::Merge(json!({ "status": status }));
        match self
            .api()
            .patch_status(&self.pod.name_any(), &PatchParams::default(), &patch)
            .await
        {
            Ok(_) => self.last_status = Some(status),
            Err(error) => {
                tracing::debug!(pod = %self.pod.name_any(), %error, "could not write pod status")
            }
        }
    }

    /// Builds every container's task; an error is the Pod's config error.
    fn container_tasks(&self, sources: &EnvSources) -> Result<Tasks> {
        let volumes = host_volumes(&self.pod, &self.context.layout, sources)?;
        prepare_volumes(&volumes)?;
        let pod_dir = self.pod_dir();
        std::fs::create_dir_all(&pod_dir)
            .map_err(io_error("create the pod directory", pod_dir.clone()))?;
        let restart_policy = self
            .pod
            .spec
            .as_ref()
            .and_then(|spec| spec.restart_policy.clone())
            .unwrap_or_else(|| "Always".into());
        // An init container that fails is run again unless nothing in the
        // Pod is ever restarted; one that completed is not run again.
        let init_policy = if restart_policy == "Never" {
            "Never"
        } else {
            "OnFailure"
        };
        let build = |containers: Vec<Container>, policy: &str| -> Result<Vec<ContainerTask>> {
            containers
                .iter()
                .map(|container| self.task(container, sources, &volumes, &pod_dir, policy))
                .collect()
        };
        Ok(Tasks {
            init: build(self.init_containers(), init_policy)?,
            app: build(self.app_containers(), &restart_policy)?,
        })
    }

    fn task(
        &self,
        container: &Container,
        sources: &EnvSources,
        volumes: &[HostVolume],
        pod_dir: &std::path::Path,
        restart_policy: &str,
    ) -> Result<ContainerTask> {
        let address = self.address.to_string();
        let host = self.context.host_address.to_string();
        let downward = Downward {
            pod: &self.pod,
            pod_address: &address,
            host_address: &host,
            node_name: &self.context.node_name,
        };
        let kubelet_path = std::env::var("PATH").ok();
        let mut env = container_env(container, &downward, sources)?;
        add_api_access(&mut env, self.context.pod_kubeconfig.as_deref());
        let mounts = MountMap::new(container, volumes)?;
        let plan = launch_plan(
            container,
            &self.pod.name_any(),
            &self.context.images,
            &env,
            &mounts,
            pod_dir,
            kubelet_path.as_deref(),
        )?;
        let ip = std::net::IpAddr::V4(self.address);
        Ok(ContainerTask {
            name: container.name.clone(),
            image: container.image.clone().unwrap_or_default(),
            plan,
            readiness: container
                .readiness_probe
                .as_ref()
                .map(|p| ProbeSpec::from_probe(p, container, ip)),
            liveness: container
                .liveness_probe
                .as_ref()
                .map(|p| ProbeSpec::from_probe(p, container, ip)),
            restart_policy: restart_policy.to_owned(),
            backoff: self.context.backoff,
            log_file: pod_dir.join(format!("{}.log", container.name)),
            pid_file: pod_dir.join(format!("{}.pid", container.name)),
        })
    }

    fn waiting(
        &self,
        containers: &[Container],
        reason: &str,
        message: Option<String>,
    ) -> Vec<ContainerSnapshot> {
        containers
            .iter()
            .map(|container| ContainerSnapshot {
                name: container.name.clone(),
                image: container.image.clone().unwrap_or_default(),
                container_id: None,
                phase: ContainerPhase::Waiting {
                    reason: reason.to_owned(),
                    message: message.clone(),
                },
                last_termination: None,
                restart_count: 0,
                ready: false,
            })
            .collect()
    }

    /// Runs the Pod until it is stopped. `previous` resolves when an earlier
    /// incarnation of the same Pod name has stopped its processes.
    pub(super) async fn run(
        mut self,
        mut messages: mpsc::UnboundedReceiver<PodMessage>,
        previous: Option<watch::Receiver<bool>>,
    ) {
        if let Some(mut previous) = previous {
            let _ignored = previous.wait_for(|done| *done).await;
        }
        let name = self.pod.name_any();
        tracing::info!(pod = %name, namespace = %self.namespace(), address = %self.address, "admitting pod");
        let initializing = !self.init_containers().is_empty();
        let first = if initializing {
            "PodInitializing"
        } else {
            "ContainerCreating"
        };
        self.write_status(&self.waiting(&self.app_containers(), first, None))
            .await;
        // Set up, retrying a configuration error (a missing ConfigMap, an
        // unknown image) until it is fixed or the Pod goes.
        let tasks = loop {
            let attempt = match fetch_sources(&self.context.client, &self.pod).await {
                Ok(sources) => self.container_tasks(&sources),
                Err(error) => Err(error),
            };
            match attempt {
                Ok(tasks) => break tasks,
                Err(error) => {
                    tracing::warn!(pod = %name, %error, "pod cannot start yet");
                    let message = Some(error.to_string());
                    let apps = self.app_containers();
                    let waiting = self.waiting(&apps, "CreateContainerConfigError", message);
                    self.write_status(&waiting).await;
                }
            }
            match tokio::time::timeout(Duration::from_secs(2), messages.recv()).await {
                Ok(Some(PodMessage::Stop { finalize, .. })) => {
                    if finalize {
                        self.finalize().await;
                    }
                    return;
                }
                Ok(Some(PodMessage::Update(pod))) => self.pod = *pod,
                Ok(None) => return,
                Ok(Some(PodMessage::Kill)) | Err(_) => {}
            }
        };
        bind_claims(&self.context.client, &self.pod).await;
        if !self.run_init(tasks.init, &mut messages).await {
            return;
        }

        let (report, mut reports) = mpsc::unbounded_channel();
        let mut snapshots = self.waiting(&self.app_containers(), "ContainerCreating", None);
        let mut signal_senders = Vec::new();
        let mut containers = JoinSet::new();
        for (index, task) in tasks.app.into_iter().enumerate() {
            let (sender, receiver) = mpsc::channel(4);
            signal_senders.push(sender);
            let reporter = Reporter {
                index,
                sender: report.clone(),
            };
            containers.spawn(task.run(reporter, receiver));
        }
        drop(report);
        loop {
            tokio::select! {
                Some((index, snapshot)) = reports.recv() => {
                    if let Some(slot) = snapshots.get_mut(index) {
                        *slot = snapshot;
                    }
                    while let Ok((index, snapshot)) = reports.try_recv() {
                        if let Some(slot) = snapshots.get_mut(index) {
                            *slot = snapshot;
                        }
                    }
                    self.write_status(&snapshots).await;
                }
                message = messages.recv() => match message {
                    Some(PodMessage::Update(pod)) => {
                        if self.update(*pod) {
                            for sender in &signal_senders {
                                let _ignored = sender.send(Signal::Kill).await;
                            }
                        }
                    }
                    Some(PodMessage::Kill) => {
                        for sender in &signal_senders {
                            let _ignored = sender.send(Signal::Kill).await;
                        }
                    }
                    Some(PodMessage::Stop { grace, finalize }) => {
                        tracing::info!(pod = %name, ?grace, "stopping pod");
                        for sender in &signal_senders {
                            let _ignored = sender.send(Signal::Stop { grace }).await;
                        }
                        while containers.join_next().await.is_some() {}
                        while let Ok((index, snapshot)) = reports.try_recv() {
                            if let Some(slot) = snapshots.get_mut(index) {
                                *slot = snapshot;
                            }
                        }
                        if finalize {
                            self.write_status(&snapshots).await;
                            self.finalize().await;
                        }
                        return;
                    }
                    None => return,
                },
            }
        }
    }

    /// Deletes the Pod object now that its processes are gone, and its
    /// Pod-lived directory.
    async fn finalize(&self) {
        let uid = self.pod.metadata.uid.clone();
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid,
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match self.api().delete(&self.pod.name_any(), &params).await {
            Ok(_) => tracing::info!(pod = %self.pod.name_any(), "pod removed"),
            Err(error) => {
                tracing::debug!(pod = %self.pod.name_any(), %error, "could not remove pod")
            }
        }
        let _ignored = std::fs::remove_dir_all(self.pod_dir().join("volumes"));
    }
}
