//! Init containers, as a kubelet runs them: one after another, each to
//! successful completion (exit 0) before the next one starts, and all of
//! them before any app container. One that fails is started again after the
//! restart backoff (`CrashLoopBackOff`), unless the Pod's `restartPolicy` is
//! `Never`: then the Pod is `Failed` and nothing else runs. Until they are
//! done the Pod is `Pending`, `Initialized` is False and the app containers
//! wait in `PodInitializing`.

use kube::ResourceExt;
use tokio::sync::mpsc;

use super::{PodMessage, PodWorker};
use crate::kubelet::container::{ContainerTask, Reporter, Signal};
use crate::kubelet::pod_status::{ContainerSnapshot, completed};

impl PodWorker {
    /// Runs the init containers in order. True once every one completed;
    /// false when the Pod was stopped first, or an init container failed
    /// for good (the Pod is then `Failed` until it is deleted).
    pub(super) async fn run_init(
        &mut self,
        tasks: Vec<ContainerTask>,
        messages: &mut mpsc::UnboundedReceiver<PodMessage>,
    ) -> bool {
        let apps = self.waiting(&self.app_containers(), "PodInitializing", None);
        for (index, task) in tasks.into_iter().enumerate() {
            let name = task.name.clone();
            tracing::info!(pod = %self.pod.name_any(), container = %name, "running init container");
            let (report, mut reports) = mpsc::unbounded_channel();
            let (signals, receiver) = mpsc::channel(4);
            let reporter = Reporter {
                index,
                sender: report,
            };
            let mut running = tokio::spawn(task.run(reporter, receiver));
            loop {
                tokio::select! {
                    // `None` once the task ended (it held the only sender).
                    report = reports.recv() => match report {
                        Some((index, snapshot)) => {
                            self.record_init(index, snapshot);
                            while let Ok((index, snapshot)) = reports.try_recv() {
                                self.record_init(index, snapshot);
                            }
                            self.write_status(&apps).await;
                        }
                        None => break,
                    },
                    message = messages.recv() => match message {
                        Some(PodMessage::Update(pod)) => {
                            if self.update(*pod) {
                                let _ignored = signals.send(Signal::Kill).await;
                            }
                        }
                        Some(PodMessage::Kill) => {
                            let _ignored = signals.send(Signal::Kill).await;
                        }
                        Some(PodMessage::Stop { grace, finalize }) => {
                            let _ignored = signals.send(Signal::Stop { grace }).await;
                            let _ignored = (&mut running).await;
                            while let Ok((index, snapshot)) = reports.try_recv() {
                                self.record_init(index, snapshot);
                            }
                            if finalize {
                                self.write_status(&apps).await;
                                self.finalize().await;
                            }
                            return false;
                        }
                        None => {
                            let _ignored = signals.send(Signal::Stop { grace: std::time::Duration::ZERO }).await;
                            return false;
                        }
                    },
                }
            }
            let succeeded = self.init_snapshots.get(index).is_some_and(completed);
            if !succeeded {
                tracing::warn!(pod = %self.pod.name_any(), container = %name, "init container failed and is not restarted; the pod failed");
                self.write_status(&apps).await;
                self.wait_for_stop(messages).await;
                return false;
            }
            tracing::info!(pod = %self.pod.name_any(), container = %name, "init container completed");
        }
        true
    }

    fn record_init(&mut self, index: usize, snapshot: ContainerSnapshot) {
        if let Some(slot) = self.init_snapshots.get_mut(index) {
            *slot = snapshot;
        }
    }

    /// Waits, with nothing running, until the Pod is stopped.
    async fn wait_for_stop(&mut self, messages: &mut mpsc::UnboundedReceiver<PodMessage>) {
        while let Some(message) = messages.recv().await {
            match message {
                PodMessage::Stop { finalize, .. } => {
                    if finalize {
                        self.finalize().await;
                    }
                    return;
                }
                PodMessage::Update(pod) => {
                    self.update(*pod);
                }
                PodMessage::Kill => {}
            }
        }
    }
}
