//! The Kubernetes side of the dev stack: kube-sim's API server, StatefulSet
//! controller and process kubelet (each broker Pod a local `fjord-broker`
//! process on its own loopback address), Fjord's CRDs, and `fjord-operator
//! run` (controllers + agent) registered to the control plane.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;

use super::rest::Rest;
use super::{STARTUP_TIMEOUT, binaries_dir, fresh_dir};
use crate::process::{self, Supervised};
use crate::{step, target_dir};

/// The namespace of the operator, its agent and the clusters it runs.
pub(crate) const NAMESPACE: &str = "fjord-system";

/// kube-sim's three pieces, stopped (kubelet first: it kills the brokers)
/// on drop.
#[derive(Debug)]
pub(crate) struct KubeSim {
    pub(crate) url: String,
    pub(crate) kubeconfig: PathBuf,
    pub(crate) state_dir: PathBuf,
    /// Stop order: kubelet, StatefulSet controller, API server.
    processes: Vec<Supervised>,
}

impl KubeSim {
    /// Starts the API server on a free port near 6443 (kubeconfig in
    /// `target/dev/kubeconfig`), the StatefulSet controller and the kubelet
    /// (image `fjord/broker`, every tag, is this build's `fjord-broker`, and
    /// `fjord/fjord-operator` its `fjord-operator`; the node is in zone `local`);
    /// installs the CRDs and the namespace.
    pub(crate) fn start() -> anyhow::Result<Self> {
        let bin = binaries_dir();
        let dev = target_dir().join("dev");
        std::fs::create_dir_all(&dev).context("cannot create target/dev")?;
        let kubeconfig = dev.join("kubeconfig");
        let state_dir = fresh_dir(&dev.join("kubelet"))?;
        let address = SocketAddr::from(([127, 0, 0, 1], process::free_port(6443)?));
        step(&format!(
            "starting the Kubernetes API (kube-sim) on {address}"
        ));
        let mut server = Supervised::spawn(
            "fjord-kube-sim",
            Command::new(bin.join("fjord-kube-sim"))
                .arg("--listen")
                .arg(address.to_string())
                .arg("--kubeconfig")
                .arg(&kubeconfig),
        )?;
        process::wait_for_port(address, STARTUP_TIMEOUT, &mut server)?;
        let url = format!("http://{address}");
        install(&Rest::new(&url, None), &bin)?;
        let controller = Supervised::spawn(
            "statefulset-controller",
            Command::new(bin.join("fjord-kube-sim"))
                .arg("statefulset-controller")
                .arg("--kubeconfig")
                .arg(&kubeconfig),
        )?;
        let kubelet = Supervised::spawn(
            "kubelet",
            Command::new(bin.join("fjord-kube-sim"))
                .arg("kubelet")
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .arg("--state-dir")
                .arg(&state_dir)
                .arg("--image")
                .arg(format!(
                    "fjord/broker={}",
                    bin.join("fjord-broker").display()
                ))
                // Rack-aware brokers' init container runs the operator's image.
                .arg("--image")
                .arg(format!(
                    "fjord/fjord-operator={}",
                    bin.join("fjord-operator").display()
                ))
                .arg("--node-label")
                .arg("topology.kubernetes.io/zone=local"),
        )?;
        Ok(Self {
            url,
            kubeconfig,
            state_dir,
            processes: vec![kubelet, controller, server],
        })
    }

    /// The first piece that exited on its own, if any.
    pub(crate) fn exited(&mut self) -> Option<String> {
        exited(&mut self.processes)
    }

    /// The Kubernetes API, for the smoke check's reads.
    pub(crate) fn api(&self) -> Rest {
        Rest::new(&self.url, None)
    }
}

/// Fjord's CRDs (as `fjord-operator crd` prints them) and the namespace.
fn install(api: &Rest, bin: &Path) -> anyhow::Result<()> {
    let crds = process::output(Command::new(bin.join("fjord-operator")).arg("crd"))?;
    for document in crds.split("\n---") {
        if document.trim().is_empty() {
            continue;
        }
        let (status, answer) = api.send(
            "POST",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            Some((document.to_owned(), "application/yaml")),
        )?;
        if status != 201 && status != 409 {
            bail!("installing a CRD answered {status}: {answer}");
        }
    }
    let namespace =
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}});
    let (status, answer) = api.call("POST", "/api/v1/namespaces", Some(&namespace))?;
    if status != 201 && status != 409 {
        bail!("creating namespace {NAMESPACE} answered {status}: {answer}");
    }
    Ok(())
}

/// What the agent needs to register: from the control plane.
#[derive(Debug)]
pub(crate) struct Registration {
    pub(crate) control_plane_url: String,
    pub(crate) token: String,
    pub(crate) public_key: String,
    pub(crate) key_id: String,
}

/// `fjord-operator run` against kube-sim: every controller, the agent,
/// brokers reached at their loopback Pod addresses.
pub(crate) fn start_operator(
    kube: &KubeSim,
    registration: &Registration,
    listen: SocketAddr,
) -> anyhow::Result<Supervised> {
    step(&format!(
        "starting fjord-operator (controllers and agent), health on {listen}"
    ));
    let mut operator = Supervised::spawn(
        "fjord-operator",
        Command::new(binaries_dir().join("fjord-operator"))
            .env("KUBECONFIG", &kube.kubeconfig)
            .env("FJORD_REGISTRATION_TOKEN", &registration.token)
            .args([
                "run",
                "--namespace",
                NAMESPACE,
                "--lease-namespace",
                NAMESPACE,
            ])
            .arg("--listen")
            .arg(listen.to_string())
            .args(["--pod-addresses", "kube-sim"])
            // Rolls in seconds, not the production pacing of minutes.
            .args([
                "--roll-pause-seconds-max",
                "2",
                "--roll-health-timeout-seconds-max",
                "60",
            ])
            .arg("--control-plane-url")
            .arg(&registration.control_plane_url)
            .arg("--signing-public-key")
            .arg(&registration.public_key)
            .arg("--signing-key-id")
            .arg(&registration.key_id),
    )?;
    process::wait_for_port(listen, STARTUP_TIMEOUT, &mut operator)?;
    Ok(operator)
}

/// Waits until `done` answers `Some`, polling every half second.
pub(crate) fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut done: impl FnMut() -> anyhow::Result<Option<T>>,
) -> anyhow::Result<T> {
    let deadline = Instant::now() + timeout;
    let mut last_error = None;
    loop {
        match done() {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(error) => last_error = Some(error),
        }
        if Instant::now() > deadline {
            match last_error {
                Some(error) => bail!("{what}: not within {timeout:?} (last error: {error:#})"),
                None => bail!("{what}: not within {timeout:?}"),
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The first of `processes` that exited on its own, if any.
pub(crate) fn exited(processes: &mut [Supervised]) -> Option<String> {
    processes.iter_mut().find_map(|child| {
        child
            .exited()
            .map(|status| format!("{} exited with {status}", child.name))
    })
}
