//! One Pod on this node: prepares its volumes and environment, runs its
//! containers, writes its status, and on deletion stops the containers and
//! removes the Pod object (finalizing the graceful delete as a kubelet
//! does: a DELETE with grace period 0 and the Pod's uid as precondition).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod, PodStatus, Secret};
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
use super::mounts::{HostLayout, HostVolume, MountMap, VolumeContent, host_volumes};
use super::pod_status::{ContainerPhase, ContainerSnapshot, StatusInput, pod_status};
use super::probe::ProbeSpec;
use crate::error::{Error, Result};

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

/// ConfigMaps and Secrets the Pod refers to, fetched from the API (absent
/// ones are left out; the env and volume code decides if that is an error).
async fn fetch_sources(client: &Client, pod: &Pod) -> Result<EnvSources> {
    let namespace = pod.namespace().unwrap_or_else(|| "default".into());
    let spec = pod.spec.clone().unwrap_or_default();
    let mut config_maps = BTreeSet::new();
    let mut secrets = BTreeSet::new();
    for container in &spec.containers {
        for from in container.env_from.as_deref().unwrap_or_default() {
            config_maps.extend(from.config_map_ref.as_ref().map(|r| r.name.clone()));
            secrets.extend(from.secret_ref.as_ref().map(|r| r.name.clone()));
        }
        for variable in container.env.as_deref().unwrap_or_default() {
            let from = variable.value_from.as_ref();
            config_maps.extend(
                from.and_then(|f| f.config_map_key_ref.as_ref())
                    .map(|r| r.name.clone()),
            );
            secrets.extend(
                from.and_then(|f| f.secret_key_ref.as_ref())
                    .map(|r| r.name.clone()),
            );
        }
    }
    for volume in spec.volumes.as_deref().unwrap_or_default() {
        config_maps.extend(volume.config_map.as_ref().map(|c| c.name.clone()));
        secrets.extend(volume.secret.as_ref().and_then(|s| s.secret_name.clone()));
    }
    let mut sources = EnvSources::default();
    let config_map_api = Api::<ConfigMap>::namespaced(client.clone(), &namespace);
    for name in config_maps {
        if let Some(map) = config_map_api.get_opt(&name).await? {
            sources
                .config_maps
                .insert(name, map.data.unwrap_or_default());
        }
    }
    let secret_api = Api::<Secret>::namespaced(client.clone(), &namespace);
    for name in secrets {
        if let Some(secret) = secret_api.get_opt(&name).await? {
            let mut data: BTreeMap<String, String> = secret.string_data.unwrap_or_default();
            for (key, value) in secret.data.unwrap_or_default() {
                data.insert(key, String::from_utf8_lossy(&value.0).into_owned());
            }
            sources.secrets.insert(name, data);
        }
    }
    Ok(sources)
}

fn io_error(action: &'static str, path: PathBuf) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io {
        action,
        path,
        source,
    }
}

/// Creates the volumes' directories and files on the host.
fn prepare_volumes(volumes: &[HostVolume]) -> Result<()> {
    for volume in volumes {
        std::fs::create_dir_all(&volume.host_dir).map_err(io_error(
            "create a volume directory",
            volume.host_dir.clone(),
        ))?;
        if let VolumeContent::Files(files) = &volume.content {
            for (name, content) in files {
                let path = volume.host_dir.join(name);
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(io_error("create a volume directory", parent.to_owned()))?;
                }
                std::fs::write(&path, content)
                    .map_err(io_error("write a volume file", path.clone()))?;
            }
        }
    }
    Ok(())
}

/// Marks the Pod's claims Bound (this node is their provisioner: the data
/// lives in the claim's host directory).
async fn bind_claims(client: &Client, pod: &Pod) {
    let namespace = pod.namespace().unwrap_or_else(|| "default".into());
    let api = Api::<PersistentVolumeClaim>::namespaced(client.clone(), &namespace);
    let volumes = pod
        .spec
        .as_ref()
        .and_then(|spec| spec.volumes.clone())
        .unwrap_or_default();
    for claim in volumes
        .iter()
        .filter_map(|volume| volume.persistent_volume_claim.as_ref())
    {
        let Ok(Some(current)) = api.get_opt(&claim.claim_name).await else {
            continue;
        };
        let spec = current.spec.clone().unwrap_or_default();
        let bound = current
            .status
            .as_ref()
            .and_then(|status| status.phase.as_deref())
            == Some("Bound");
        if bound {
            continue;
        }
        let capacity = spec
            .resources
            .as_ref()
            .and_then(|resources| resources.requests.clone());
        let status = json!({ "status": {
            "phase": "Bound",
            "accessModes": spec.access_modes,
            "capacity": capacity,
        }});
        if let Err(error) = api
            .patch_status(
                &claim.claim_name,
                &PatchParams::default(),
                &Patch::Merge(status),
            )
            .await
        {
            tracing::debug!(claim = %claim.claim_name, %error, "could not mark claim bound");
        }
    }
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
}

impl PodWorker {
    pub(super) fn new(context: Arc<WorkerContext>, pod: Pod, address: Ipv4Addr) -> Self {
        let kill_token = pod.annotations().get(KILL_ANNOTATION).cloned();
        let last_status = pod.status.clone();
        Self {
            context,
            pod,
            address,
            start_time: Time(Timestamp::now()),
            last_status,
            kill_token,
        }
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
    fn container_tasks(&self, sources: &EnvSources) -> Result<Vec<ContainerTask>> {
        let volumes = host_volumes(&self.pod, &self.context.layout, sources)?;
        prepare_volumes(&volumes)?;
        let pod_dir = self.pod_dir();
        std::fs::create_dir_all(&pod_dir)
            .map_err(io_error("create the pod directory", pod_dir.clone()))?;
        let spec = self.pod.spec.clone().unwrap_or_default();
        let address = self.address.to_string();
        let host = self.context.host_address.to_string();
        let downward = Downward {
            pod: &self.pod,
            pod_address: &address,
            host_address: &host,
            node_name: &self.context.node_name,
        };
        let kubelet_path = std::env::var("PATH").ok();
        spec.containers
            .iter()
            .map(|container| {
                let env = container_env(container, &downward, sources)?;
                let mounts = MountMap::new(container, &volumes)?;
                let plan = launch_plan(
                    container,
                    &self.pod.name_any(),
                    &self.context.images,
                    &env,
                    &mounts,
                    &pod_dir,
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
                    restart_policy: spec
                        .restart_policy
                        .clone()
                        .unwrap_or_else(|| "Always".into()),
                    backoff: self.context.backoff,
                    log_file: pod_dir.join(format!("{}.log", container.name)),
                    pid_file: pod_dir.join(format!("{}.pid", container.name)),
                })
            })
            .collect()
    }

    fn waiting(&self, reason: &str, message: Option<String>) -> Vec<ContainerSnapshot> {
        let spec = self.pod.spec.clone().unwrap_or_default();
        spec.containers
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
        self.write_status(&self.waiting("ContainerCreating", None))
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
                    self.write_status(
                        &self.waiting("CreateContainerConfigError", Some(error.to_string())),
                    )
                    .await;
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

        let (report, mut reports) = mpsc::unbounded_channel();
        let mut snapshots = self.waiting("ContainerCreating", None);
        let mut signal_senders = Vec::new();
        let mut containers = JoinSet::new();
        for (index, task) in tasks.into_iter().enumerate() {
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
                        let token = pod.annotations().get(KILL_ANNOTATION).cloned();
                        self.pod = *pod;
                        if token.is_some() && token != self.kill_token {
                            self.kill_token = token;
                            tracing::info!(pod = %name, "kill annotation changed: killing the pod's processes");
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
