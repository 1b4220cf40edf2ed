//! The kubelet's main loop: watches Pods and Services through the API,
//! runs one [`PodWorker`] per Pod incarnation (uid) on this node, hands each
//! Pod its loopback address, and keeps the cluster DNS hosts file current.
//!
//! A Pod is this node's when `spec.nodeName` is empty or names this node;
//! an unscheduled Pod is bound here first (`pods/binding`; if the API server
//! refuses binding, the Pod runs unbound). A new incarnation of a Pod name
//! starts only after the previous one's processes have exited, so the two
//! never share an address, port or data directory at once.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Binding, Node as K8sNode, ObjectReference, Pod, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::address::pod_address;
use super::config::KubeletConfig;
use super::dns::{PodRecord, ServiceRecord, render};
use super::handle::{Command, KubeletHandle};
use super::mounts::HostLayout;
use super::pod_worker::{PodMessage, PodWorker, WorkerContext};
use crate::error::{Error, Result};

#[derive(Debug)]
struct Worker {
    uid: String,
    address: Ipv4Addr,
    /// Unbounded, so a Stop is never lost behind a burst of updates.
    messages: mpsc::UnboundedSender<PodMessage>,
    done: watch::Receiver<bool>,
    stopping: bool,
}

type Key = (String, String);

fn key_of(pod: &Pod) -> Key {
    (
        pod.namespace().unwrap_or_else(|| "default".into()),
        pod.name_any(),
    )
}

fn grace_of(pod: &Pod, deleting: bool) -> Duration {
    let from_delete = if deleting {
        pod.metadata.deletion_grace_period_seconds
    } else {
        None
    };
    let seconds = from_delete
        .or_else(|| {
            pod.spec
                .as_ref()
                .and_then(|spec| spec.termination_grace_period_seconds)
        })
        .unwrap_or(30);
    Duration::from_secs(u64::try_from(seconds).unwrap_or(0))
}

enum Input {
    Pod(Box<watcher::Event<Pod>>),
    Service(Box<watcher::Event<Service>>),
}

struct Node {
    context: Arc<WorkerContext>,
    pods: BTreeMap<Key, Pod>,
    init_pods: Option<BTreeMap<Key, Pod>>,
    services: BTreeMap<Key, Service>,
    init_services: Option<BTreeMap<Key, Service>>,
    workers: BTreeMap<Key, Worker>,
    retired: Vec<(Key, Worker)>,
    tasks: JoinSet<()>,
    hosts: Option<String>,
}

impl Node {
    fn ours(&self, pod: &Pod) -> bool {
        pod.spec
            .as_ref()
            .and_then(|spec| spec.node_name.as_deref())
            .is_none_or(|node| node.is_empty() || node == self.context.node_name)
    }

    fn address_for(&self, key: &Key, pod: &Pod) -> Ipv4Addr {
        let in_use = |address: Ipv4Addr| {
            self.workers
                .iter()
                .any(|(k, w)| k != key && w.address == address)
                || self
                    .retired
                    .iter()
                    .any(|(k, w)| k != key && w.address == address && !*w.done.borrow())
        };
        let recorded = pod
            .status
            .as_ref()
            .and_then(|status| status.pod_ip.as_deref())
            .and_then(|ip| ip.parse::<Ipv4Addr>().ok())
            .filter(|ip| ip.octets()[0] == 127 && !in_use(*ip));
        recorded.unwrap_or_else(|| pod_address(&key.0, &key.1, in_use))
    }

    async fn bind(&self, pod: &Pod) {
        let namespace = pod.namespace().unwrap_or_else(|| "default".into());
        let api = Api::<Pod>::namespaced(self.context.client.clone(), &namespace);
        let binding = Binding {
            metadata: ObjectMeta {
                name: Some(pod.name_any()),
                namespace: Some(namespace),
                ..ObjectMeta::default()
            },
            target: ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Node".into()),
                name: Some(self.context.node_name.clone()),
                ..ObjectReference::default()
            },
        };
        let bound: std::result::Result<serde_json::Value, _> = api
            .create_subresource("binding", &pod.name_any(), &PostParams::default(), &binding)
            .await;
        let Err(error) = bound else {
            return;
        };
        // An API server that does not serve `pods/binding`:
        // set `spec.nodeName` directly, which a real one would refuse but
        // never gets asked, since it serves binding.
        tracing::debug!(pod = %pod.name_any(), %error, "binding refused; setting spec.nodeName instead");
        let patch =
            Patch::Merge(serde_json::json!({ "spec": { "nodeName": self.context.node_name } }));
        if let Err(error) = api
            .patch(&pod.name_any(), &PatchParams::default(), &patch)
            .await
        {
            tracing::warn!(pod = %pod.name_any(), %error, "could not bind the pod; it runs unbound");
        }
    }

    fn retire(&mut self, key: &Key, grace: Duration, finalize: bool) {
        if let Some(mut worker) = self.workers.remove(key) {
            if !worker.stopping {
                let _ignored = worker.messages.send(PodMessage::Stop { grace, finalize });
                worker.stopping = true;
            }
            self.retired.push((key.clone(), worker));
        }
    }

    async fn pod_changed(&mut self, pod: Pod) {
        let key = key_of(&pod);
        if !self.ours(&pod) {
            return;
        }
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let deleting = pod.metadata.deletion_timestamp.is_some();
        if self
            .workers
            .get(&key)
            .is_some_and(|worker| worker.uid != uid)
        {
            // A new incarnation under the same name: the old one is gone.
            self.retire(&key, grace_of(&pod, false), false);
        }
        if let Some(worker) = self.workers.get_mut(&key) {
            let _ignored = worker
                .messages
                .send(PodMessage::Update(Box::new(pod.clone())));
            if deleting && !worker.stopping {
                worker.stopping = true;
                let grace = grace_of(&pod, true);
                let _ignored = worker.messages.send(PodMessage::Stop {
                    grace,
                    finalize: true,
                });
            }
            return;
        }
        let phase = pod
            .status
            .as_ref()
            .and_then(|status| status.phase.as_deref());
        if matches!(phase, Some("Succeeded" | "Failed")) {
            return;
        }
        let address = self.address_for(&key, &pod);
        if pod
            .spec
            .as_ref()
            .and_then(|spec| spec.node_name.as_deref())
            .is_none_or(str::is_empty)
            && !deleting
        {
            self.bind(&pod).await;
        }
        let previous = self
            .retired
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, worker)| worker.done.clone());
        let (messages, receiver) = mpsc::unbounded_channel();
        let (done_sender, done) = watch::channel(false);
        let worker = PodWorker::new(self.context.clone(), pod.clone(), address);
        self.tasks.spawn(async move {
            worker.run(receiver, previous).await;
            done_sender.send_replace(true);
        });
        let mut entry = Worker {
            uid,
            address,
            messages,
            done,
            stopping: false,
        };
        if deleting {
            entry.stopping = true;
            let _ignored = entry.messages.send(PodMessage::Stop {
                grace: Duration::ZERO,
                finalize: true,
            });
        }
        self.workers.insert(key, entry);
    }

    fn pod_gone(&mut self, pod: &Pod) {
        let key = key_of(pod);
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        if self
            .workers
            .get(&key)
            .is_some_and(|worker| worker.uid == uid || uid.is_empty())
        {
            self.retire(&key, grace_of(pod, true), false);
        }
    }

    async fn handle(&mut self, input: Input) {
        match input {
            Input::Pod(event) => match *event {
                watcher::Event::Apply(pod) => {
                    self.pods.insert(key_of(&pod), pod.clone());
                    self.pod_changed(pod).await;
                }
                watcher::Event::Delete(pod) => {
                    self.pods.remove(&key_of(&pod));
                    self.pod_gone(&pod);
                }
                watcher::Event::Init => self.init_pods = Some(BTreeMap::new()),
                watcher::Event::InitApply(pod) => {
                    self.init_pods
                        .get_or_insert_with(BTreeMap::new)
                        .insert(key_of(&pod), pod);
                }
                watcher::Event::InitDone => {
                    let fresh = self.init_pods.take().unwrap_or_default();
                    let vanished: Vec<Pod> = self
                        .pods
                        .values()
                        .filter(|pod| !fresh.contains_key(&key_of(pod)))
                        .cloned()
                        .collect();
                    for pod in vanished {
                        self.pod_gone(&pod);
                    }
                    self.pods = fresh;
                    for pod in self.pods.values().cloned().collect::<Vec<_>>() {
                        self.pod_changed(pod).await;
                    }
                }
            },
            Input::Service(event) => match *event {
                watcher::Event::Apply(service) | watcher::Event::InitApply(service)
                    if self.init_services.is_some() =>
                {
                    let key = (service.namespace().unwrap_or_default(), service.name_any());
                    self.init_services
                        .get_or_insert_with(BTreeMap::new)
                        .insert(key, service);
                }
                watcher::Event::Apply(service) | watcher::Event::InitApply(service) => {
                    self.services.insert(
                        (service.namespace().unwrap_or_default(), service.name_any()),
                        service,
                    );
                }
                watcher::Event::Delete(service) => {
                    self.services
                        .remove(&(service.namespace().unwrap_or_default(), service.name_any()));
                }
                watcher::Event::Init => self.init_services = Some(BTreeMap::new()),
                watcher::Event::InitDone => {
                    self.services = self.init_services.take().unwrap_or_default()
                }
            },
        }
        self.retired.retain(|(_, worker)| !*worker.done.borrow());
        self.write_hosts();
    }

    fn write_hosts(&mut self) {
        let pods: Vec<PodRecord> = self
            .pods
            .values()
            .filter_map(|pod| {
                let status = pod.status.as_ref()?;
                let address = status.pod_ip.as_deref()?.parse().ok()?;
                if matches!(status.phase.as_deref(), Some("Succeeded" | "Failed")) {
                    return None;
                }
                let spec = pod.spec.as_ref()?;
                let ready = status
                    .conditions
                    .as_deref()
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True");
                Some(PodRecord {
                    namespace: pod.namespace().unwrap_or_else(|| "default".into()),
                    hostname: spec.hostname.clone().unwrap_or_else(|| pod.name_any()),
                    subdomain: spec.subdomain.clone(),
                    labels: pod.labels().clone(),
                    address,
                    ready,
                })
            })
            .collect();
        let services: Vec<ServiceRecord> = self
            .services
            .values()
            .map(|service| {
                let spec = service.spec.clone().unwrap_or_default();
                ServiceRecord {
                    namespace: service.namespace().unwrap_or_else(|| "default".into()),
                    name: service.name_any(),
                    selector: spec.selector,
                    publish_not_ready_addresses: spec.publish_not_ready_addresses.unwrap_or(false),
                }
            })
            .collect();
        let text = render(&pods, &services);
        if self.hosts.as_deref() == Some(text.as_str()) {
            return;
        }
        let path = self.context.layout.hosts_file();
        let temporary = path.with_extension("tmp");
        let written =
            std::fs::write(&temporary, &text).and_then(|()| std::fs::rename(&temporary, &path));
        match written {
            Ok(()) => self.hosts = Some(text),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "could not write the hosts file")
            }
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Kill {
                namespace,
                name,
                reply,
            } => {
                let found = self
                    .workers
                    .get(&(namespace, name))
                    .is_some_and(|worker| worker.messages.send(PodMessage::Kill).is_ok());
                let _ignored = reply.send(found);
            }
        }
    }
}

/// Starts a kubelet: its handle, and the future that runs it (spawn it; it
/// ends only on a fatal error, and dropping it kills every process it runs).
pub fn start(
    client: Client,
    config: KubeletConfig,
) -> Result<(KubeletHandle, impl Future<Output = Result<()>>)> {
    let layout = HostLayout::new(config.state_dir.clone());
    std::fs::create_dir_all(&layout.state_dir).map_err(|source| Error::Io {
        action: "create the state directory",
        path: layout.state_dir.clone(),
        source,
    })?;
    let (commands, mut command_receiver) = mpsc::channel(16);
    let handle = KubeletHandle {
        commands,
        layout: layout.clone(),
    };
    let node_labels = config.node_labels;
    let context = Arc::new(WorkerContext {
        client: client.clone(),
        layout,
        images: config.images,
        backoff: config.backoff,
        node_name: config.node_name,
        host_address: config.host_address,
        pod_kubeconfig: config.pod_kubeconfig,
    });
    let run = async move {
        register_node(&client, &context.node_name, node_labels).await;
        let pods = watcher(Api::<Pod>::all(client.clone()), watcher::Config::default())
            .default_backoff()
            .map_ok(|event| Input::Pod(Box::new(event)));
        let services = watcher(Api::<Service>::all(client), watcher::Config::default())
            .default_backoff()
            .map_ok(|event| Input::Service(Box::new(event)));
        let mut inputs = futures::stream::select(pods.boxed(), services.boxed());
        let mut node = Node {
            context,
            pods: BTreeMap::new(),
            init_pods: None,
            services: BTreeMap::new(),
            init_services: None,
            workers: BTreeMap::new(),
            retired: Vec::new(),
            tasks: JoinSet::new(),
            hosts: None,
        };
        node.write_hosts();
        loop {
            tokio::select! {
                input = inputs.next() => match input {
                    Some(Ok(input)) => node.handle(input).await,
                    Some(Err(error)) => tracing::warn!(%error, "watch failed; retrying"),
                    None => return Ok(()),
                },
                Some(command) = command_receiver.recv() => node.command(command),
                Some(_) = node.tasks.join_next(), if !node.tasks.is_empty() => {}
            }
        }
    };
    Ok((handle, run))
}

/// Creates this node's `Node` object with its labels (server-side apply),
/// as a kubelet registers itself. Failure is logged: the Pods run without
/// it, only readers of the Node (a rack init container) miss it.
async fn register_node(client: &Client, name: &str, labels: BTreeMap<String, String>) {
    let nodes = Api::<K8sNode>::all(client.clone());
    let mut all_labels = labels;
    all_labels.insert("kubernetes.io/hostname".into(), name.to_owned());
    let node = serde_json::json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": all_labels},
    });
    let params = PatchParams::apply("fjord-kube-sim-kubelet").force();
    if let Err(error) = nodes.patch(name, &params, &Patch::Apply(&node)).await {
        tracing::warn!(node = %name, %error, "could not register the node");
    }
}

/// Runs a kubelet until a fatal error: the library form of
/// `fjord-kube-sim kubelet`.
pub async fn run(client: Client, config: KubeletConfig) -> Result<()> {
    let (_handle, kubelet) = start(client, config)?;
    Box::pin(kubelet).await
}
