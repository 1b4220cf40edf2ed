//! One container as a local process: start, probe, restart with backoff,
//! stop with SIGTERM then SIGKILL. Reports [`ContainerSnapshot`]s on a
//! watch channel; the Pod worker turns them into the Pod's status.
//!
//! States: `Waiting(ContainerCreating)` → `Running` (ready per the readiness
//! probe, or at once without one) → on exit, with `restartPolicy` `Always`
//! (or `OnFailure` and a non-zero exit) `Waiting(CrashLoopBackOff)` for the
//! backoff and `restartCount + 1`, else `Terminated` for good. A failed
//! liveness probe stops the process as a deletion would and restarts it.

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use super::backoff::RestartBackoff;
use super::launch::LaunchPlan;
use super::pod_status::{ContainerPhase, ContainerSnapshot, Termination};
use super::probe::{ProbeSpec, ProbeTracker};

/// What the Pod worker asks of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Signal {
    /// Kill the process now (a fault: it counts as a crash and restarts).
    Kill,
    /// Stop for good: SIGTERM, SIGKILL after `grace`.
    Stop { grace: Duration },
}

/// Where a container task sends its snapshots: the Pod worker's channel,
/// tagged with the container's index in the Pod spec.
#[derive(Debug, Clone)]
pub(super) struct Reporter {
    pub index: usize,
    pub sender: mpsc::UnboundedSender<(usize, ContainerSnapshot)>,
}

impl Reporter {
    fn send_replace(&self, snapshot: ContainerSnapshot) {
        // The worker went away only when the Pod is gone; nothing to tell.
        let _ignored = self.sender.send((self.index, snapshot));
    }
}

/// Everything the container task needs.
#[derive(Debug)]
pub(super) struct ContainerTask {
    pub name: String,
    pub image: String,
    pub plan: LaunchPlan,
    pub readiness: Option<ProbeSpec>,
    pub liveness: Option<ProbeSpec>,
    pub restart_policy: String,
    pub backoff: RestartBackoff,
    pub log_file: PathBuf,
    pub pid_file: PathBuf,
}

fn now() -> Time {
    Time(Timestamp::now())
}

fn signal_group(child: &Child, signal: rustix::process::Signal) {
    let Some(pid) = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .and_then(rustix::process::Pid::from_raw)
    else {
        return;
    };
    // The process leads its own group (process_group(0)), so children it
    // forked get the signal too; fall back to the process alone.
    if rustix::process::kill_process_group(pid, signal).is_err() {
        let _ignored = rustix::process::kill_process(pid, signal);
    }
}

/// Exit code and signal of an ended process, as Kubernetes reports them
/// (a signal `n` shows as exit code `128 + n`).
fn exit_of(status: std::process::ExitStatus) -> (i32, Option<i32>) {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => (code, None),
        (None, Some(signal)) => (128 + signal, Some(signal)),
        (None, None) => (-1, None),
    }
}

impl ContainerTask {
    fn spawn(&self) -> std::io::Result<Child> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_file)?;
        let mut command = Command::new(&self.plan.program);
        command
            .args(&self.plan.args)
            .env_clear()
            .envs(&self.plan.env)
            .current_dir(&self.plan.working_dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .kill_on_drop(true);
        let child = command.spawn()?;
        if let Some(pid) = child.id() {
            std::fs::write(&self.pid_file, format!("{pid}\n"))?;
        }
        Ok(child)
    }

    /// Runs the container until it is stopped (or ends for good).
    pub(super) async fn run(self, snapshots: Reporter, mut signals: mpsc::Receiver<Signal>) {
        let mut snapshot = ContainerSnapshot {
            name: self.name.clone(),
            image: self.image.clone(),
            container_id: None,
            phase: ContainerPhase::Waiting {
                reason: "ContainerCreating".into(),
                message: None,
            },
            last_termination: None,
            restart_count: 0,
            ready: false,
        };
        snapshots.send_replace(snapshot.clone());
        let mut crashes = 0_u32;
        loop {
            let started = Instant::now();
            let started_at = now();
            let mut child = match self.spawn() {
                Ok(child) => child,
                Err(error) => {
                    tracing::warn!(container = %self.name, program = %self.plan.program.display(), %error, "container did not start");
                    snapshot.phase = ContainerPhase::Waiting {
                        reason: "RunContainerError".into(),
                        message: Some(error.to_string()),
                    };
                    snapshots.send_replace(snapshot.clone());
                    crashes = crashes.saturating_add(1);
                    if wait_or_stop(self.backoff.delay(crashes), &mut signals).await {
                        return;
                    }
                    continue;
                }
            };
            tracing::info!(container = %self.name, pid = ?child.id(), "container started");
            snapshot.container_id = child.id().map(|pid| format!("process://{pid}"));
            snapshot.phase = ContainerPhase::Running {
                started_at: started_at.clone(),
            };
            snapshot.ready = self.readiness.is_none();
            snapshots.send_replace(snapshot.clone());
            let (status, stopping) = self
                .supervise(&mut child, &snapshots, &mut snapshot, &mut signals)
                .await;
            let (exit_code, signal) = exit_of(status);
            let termination = Termination {
                exit_code,
                signal,
                started_at,
                finished_at: now(),
            };
            tracing::info!(container = %self.name, exit_code, ?signal, "container exited");
            snapshot.ready = false;
            snapshot.container_id = None;
            let restart = !stopping
                && match self.restart_policy.as_str() {
                    "Never" => false,
                    "OnFailure" => exit_code != 0,
                    _ => true,
                };
            if !restart {
                snapshot.phase = ContainerPhase::Terminated(termination);
                snapshots.send_replace(snapshot);
                return;
            }
            crashes = self.backoff.next_crash_count(crashes, started.elapsed());
            snapshot.last_termination = Some(termination);
            snapshot.restart_count = snapshot.restart_count.saturating_add(1);
            snapshot.phase = ContainerPhase::Waiting {
                reason: "CrashLoopBackOff".into(),
                message: Some(format!(
                    "back-off {:?} restarting failed container",
                    self.backoff.delay(crashes)
                )),
            };
            snapshots.send_replace(snapshot.clone());
            if wait_or_stop(self.backoff.delay(crashes), &mut signals).await {
                snapshot.phase = ContainerPhase::Terminated(
                    snapshot.last_termination.clone().expect("set just above"),
                );
                snapshots.send_replace(snapshot);
                return;
            }
        }
    }

    /// Watches a running process; returns how it ended and whether it was
    /// stopped for good.
    async fn supervise(
        &self,
        child: &mut Child,
        snapshots: &Reporter,
        snapshot: &mut ContainerSnapshot,
        signals: &mut mpsc::Receiver<Signal>,
    ) -> (std::process::ExitStatus, bool) {
        let mut readiness = self.readiness.as_ref().map(|spec| {
            (
                spec,
                ProbeTracker::readiness(spec),
                tokio::time::Instant::now() + spec.initial_delay,
            )
        });
        let mut liveness = self.liveness.as_ref().map(|spec| {
            (
                spec,
                ProbeTracker::liveness(spec),
                tokio::time::Instant::now() + spec.initial_delay,
            )
        });
        let far = tokio::time::Instant::now() + Duration::from_secs(86_400 * 365);
        loop {
            let ready_at = readiness.as_ref().map_or(far, |(_, _, at)| *at);
            let live_at = liveness.as_ref().map_or(far, |(_, _, at)| *at);
            tokio::select! {
                status = child.wait() => {
                    return (status.unwrap_or_else(|_| std::os::unix::process::ExitStatusExt::from_raw(-1)), false);
                }
                signal = signals.recv() => match signal {
                    Some(Signal::Kill) => {
                        tracing::info!(container = %self.name, "killing container (fault)");
                        signal_group(child, rustix::process::Signal::KILL);
                    }
                    Some(Signal::Stop { grace }) => return (self.stop(child, grace).await, true),
                    None => return (self.stop(child, Duration::ZERO).await, true),
                },
                () = tokio::time::sleep_until(ready_at), if readiness.is_some() => {
                    if let Some((spec, tracker, at)) = readiness.as_mut() {
                        let passing = tracker.observe(spec.check().await);
                        *at = tokio::time::Instant::now() + spec.period;
                        if passing != snapshot.ready {
                            tracing::info!(container = %self.name, ready = passing, "readiness changed");
                            snapshot.ready = passing;
                            snapshots.send_replace(snapshot.clone());
                        }
                    }
                }
                () = tokio::time::sleep_until(live_at), if liveness.is_some() => {
                    if let Some((spec, tracker, at)) = liveness.as_mut() {
                        *at = tokio::time::Instant::now() + spec.period;
                        if !tracker.observe(spec.check().await) {
                            tracing::info!(container = %self.name, "liveness probe failed; restarting container");
                            return (self.stop(child, Duration::from_secs(30)).await, false);
                        }
                    }
                }
            }
        }
    }

    /// SIGTERM, then SIGKILL after `grace` if the process is still there.
    async fn stop(&self, child: &mut Child, grace: Duration) -> std::process::ExitStatus {
        signal_group(child, rustix::process::Signal::TERM);
        if let Ok(Ok(status)) = tokio::time::timeout(grace, child.wait()).await {
            return status;
        }
        tracing::info!(container = %self.name, ?grace, "grace period over; sending SIGKILL");
        signal_group(child, rustix::process::Signal::KILL);
        child
            .wait()
            .await
            .unwrap_or_else(|_| std::os::unix::process::ExitStatusExt::from_raw(-1))
    }
}

/// Sleeps `delay` unless told to stop first; true if told to stop.
async fn wait_or_stop(delay: Duration, signals: &mut mpsc::Receiver<Signal>) -> bool {
    let deadline = tokio::time::Instant::now() + delay;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => return false,
            signal = signals.recv() => match signal {
                Some(Signal::Kill) => {}
                Some(Signal::Stop { .. }) | None => return true,
            },
        }
    }
}
