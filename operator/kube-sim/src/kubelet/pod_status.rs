//! A Pod's `status` from what the kubelet knows of its containers (pure).
//!
//! Phase, as Kubernetes defines it: `Pending` until every init container
//! has completed (exit 0) and an app container has started; `Failed` when
//! an init container failed and `restartPolicy` is `Never`; `Running` while
//! any container runs or will be restarted; `Succeeded`/`Failed` once every
//! container has terminated for good (only with `restartPolicy` `Never`, or
//! `OnFailure` after exit code 0).
//! Conditions: `PodScheduled` is true once the kubelet admits the Pod,
//! `Initialized` once every init container has completed (reason
//! `ContainersNotInitialized` until then), `ContainersReady` and `Ready`
//! when, besides, every app container is ready (readiness gates are not
//! evaluated). Init containers are listed in `initContainerStatuses`, ready
//! once completed. A condition keeps its `lastTransitionTime` while its
//! status stays the same.

use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// How a container ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Termination {
    pub exit_code: i32,
    pub signal: Option<i32>,
    pub started_at: Time,
    pub finished_at: Time,
}

impl Termination {
    fn reason(&self) -> &'static str {
        if self.exit_code == 0 && self.signal.is_none() {
            "Completed"
        } else {
            "Error"
        }
    }

    fn to_state(&self) -> ContainerStateTerminated {
        ContainerStateTerminated {
            exit_code: self.exit_code,
            signal: self.signal,
            reason: Some(self.reason().to_owned()),
            started_at: Some(self.started_at.clone()),
            finished_at: Some(self.finished_at.clone()),
            ..ContainerStateTerminated::default()
        }
    }
}

/// Where a container is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerPhase {
    /// Not running: `reason` is `ContainerCreating`, `CrashLoopBackOff`,
    /// `CreateContainerConfigError`, ….
    Waiting {
        reason: String,
        message: Option<String>,
    },
    Running {
        started_at: Time,
    },
    /// Ended and will not be restarted.
    Terminated(Termination),
}

/// One container as the kubelet tracks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSnapshot {
    pub name: String,
    pub image: String,
    /// `process://<pid>` of the running process, if any.
    pub container_id: Option<String>,
    pub phase: ContainerPhase,
    pub last_termination: Option<Termination>,
    pub restart_count: i32,
    pub ready: bool,
}

impl ContainerSnapshot {
    fn has_started_once(&self) -> bool {
        !matches!(self.phase, ContainerPhase::Waiting { .. })
            || self.restart_count > 0
            || self.last_termination.is_some()
    }

    fn to_status(&self) -> ContainerStatus {
        let state = match &self.phase {
            ContainerPhase::Waiting { reason, message } => ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some(reason.clone()),
                    message: message.clone(),
                }),
                ..ContainerState::default()
            },
            ContainerPhase::Running { started_at } => ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: Some(started_at.clone()),
                }),
                ..ContainerState::default()
            },
            ContainerPhase::Terminated(termination) => ContainerState {
                terminated: Some(termination.to_state()),
                ..ContainerState::default()
            },
        };
        ContainerStatus {
            name: self.name.clone(),
            image: self.image.clone(),
            image_id: format!("fjord-kube-sim://{}", self.image),
            container_id: self.container_id.clone(),
            ready: self.ready,
            restart_count: self.restart_count,
            started: Some(matches!(self.phase, ContainerPhase::Running { .. })),
            state: Some(state),
            last_state: self
                .last_termination
                .as_ref()
                .map(|termination| ContainerState {
                    terminated: Some(termination.to_state()),
                    ..ContainerState::default()
                }),
            ..ContainerStatus::default()
        }
    }
}

/// Everything [`pod_status`] needs.
#[derive(Debug, Clone)]
pub struct StatusInput<'a> {
    /// The init containers, in order (empty if the Pod has none).
    pub init_containers: &'a [ContainerSnapshot],
    pub containers: &'a [ContainerSnapshot],
    /// `Always` (the default), `OnFailure` or `Never`.
    pub restart_policy: &'a str,
    pub pod_address: String,
    pub host_address: String,
    pub start_time: Time,
    pub previous: Option<&'a PodStatus>,
    pub now: Time,
}

/// Whether a container ended with exit code 0 (an init container's success).
pub fn completed(container: &ContainerSnapshot) -> bool {
    matches!(&container.phase, ContainerPhase::Terminated(t) if t.exit_code == 0 && t.signal.is_none())
}

/// Whether every init container has completed (true without any).
pub fn initialized(init_containers: &[ContainerSnapshot]) -> bool {
    init_containers.iter().all(completed)
}

/// The Pod phase the init and app containers add up to.
pub fn pod_phase(
    init_containers: &[ContainerSnapshot],
    containers: &[ContainerSnapshot],
    restart_policy: &str,
) -> &'static str {
    if initialized(init_containers) {
        return phase(containers, restart_policy);
    }
    let failed = init_containers
        .iter()
        .any(|c| matches!(c.phase, ContainerPhase::Terminated(_)) && !completed(c));
    if failed && restart_policy == "Never" {
        "Failed"
    } else {
        "Pending"
    }
}

/// The Pod phase the app containers add up to.
pub fn phase(containers: &[ContainerSnapshot], restart_policy: &str) -> &'static str {
    let terminations: Option<Vec<&Termination>> = containers
        .iter()
        .map(|container| match &container.phase {
            ContainerPhase::Terminated(termination) => Some(termination),
            _ => None,
        })
        .collect();
    if let Some(terminations) = terminations.filter(|t| !t.is_empty()) {
        let all_succeeded = terminations.iter().all(|t| t.exit_code == 0);
        match (restart_policy, all_succeeded) {
            (_, true) if restart_policy != "Always" => return "Succeeded",
            ("Never", false) => return "Failed",
            _ => {}
        }
    }
    if containers.iter().any(ContainerSnapshot::has_started_once) {
        "Running"
    } else {
        "Pending"
    }
}

fn condition(
    kind: &str,
    status: bool,
    reason: Option<&str>,
    input: &StatusInput<'_>,
) -> PodCondition {
    let status = if status { "True" } else { "False" };
    let unchanged = input
        .previous
        .and_then(|previous| previous.conditions.as_ref())
        .and_then(|conditions| conditions.iter().find(|c| c.type_ == kind))
        .filter(|previous| previous.status == status);
    PodCondition {
        type_: kind.to_owned(),
        status: status.to_owned(),
        reason: reason.map(str::to_owned),
        last_transition_time: Some(
            unchanged
                .and_then(|previous| previous.last_transition_time.clone())
                .unwrap_or_else(|| input.now.clone()),
        ),
        ..PodCondition::default()
    }
}

/// The Pod's whole `status`.
pub fn pod_status(input: &StatusInput<'_>) -> PodStatus {
    let phase = pod_phase(
        input.init_containers,
        input.containers,
        input.restart_policy,
    );
    let finished = matches!(phase, "Succeeded" | "Failed");
    let initialized = initialized(input.init_containers);
    let all_ready =
        !finished && initialized && input.containers.iter().all(|container| container.ready);
    let not_ready_reason = if finished {
        Some("PodCompleted")
    } else {
        Some("ContainersNotReady")
    };
    let ready_reason = if all_ready { None } else { not_ready_reason };
    let init_reason = (!initialized).then_some("ContainersNotInitialized");
    let init_statuses: Vec<ContainerStatus> = input
        .init_containers
        .iter()
        .map(|container| {
            let mut status = container.to_status();
            status.ready = completed(container);
            status
        })
        .collect();
    PodStatus {
        phase: Some(phase.to_owned()),
        conditions: Some(vec![
            condition("PodScheduled", true, None, input),
            condition("Initialized", initialized, init_reason, input),
            condition("ContainersReady", all_ready, ready_reason, input),
            condition("Ready", all_ready, ready_reason, input),
        ]),
        container_statuses: Some(
            input
                .containers
                .iter()
                .map(ContainerSnapshot::to_status)
                .collect(),
        ),
        init_container_statuses: (!init_statuses.is_empty()).then_some(init_statuses),
        pod_ip: Some(input.pod_address.clone()),
        pod_ips: Some(vec![PodIP {
            ip: input.pod_address.clone(),
        }]),
        host_ip: Some(input.host_address.clone()),
        start_time: Some(input.start_time.clone()),
        qos_class: Some("BestEffort".to_owned()),
        ..PodStatus::default()
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::jiff::Timestamp;

    use super::*;

    fn at(second: i64) -> Time {
        Time(Timestamp::from_second(second).unwrap())
    }

    fn container(phase: ContainerPhase, ready: bool) -> ContainerSnapshot {
        ContainerSnapshot {
            name: "broker".into(),
            image: "fjord/broker:0.2.0".into(),
            container_id: None,
            phase,
            last_termination: None,
            restart_count: 0,
            ready,
        }
    }

    fn input<'a>(
        containers: &'a [ContainerSnapshot],
        previous: Option<&'a PodStatus>,
        now: i64,
    ) -> StatusInput<'a> {
        StatusInput {
            init_containers: &[],
            containers,
            restart_policy: "Always",
            pod_address: "127.1.0.1".into(),
            host_address: "127.0.0.1".into(),
            start_time: at(0),
            previous,
            now: at(now),
        }
    }

    fn ready(status: &PodStatus) -> (&str, Option<&Time>) {
        let ready = status
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        (ready.status.as_str(), ready.last_transition_time.as_ref())
    }

    #[test]
    fn a_pod_is_pending_until_its_container_starts_then_running() {
        let waiting = [container(
            ContainerPhase::Waiting {
                reason: "ContainerCreating".into(),
                message: None,
            },
            false,
        )];
        assert_eq!(phase(&waiting, "Always"), "Pending");
        let running = [container(
            ContainerPhase::Running { started_at: at(1) },
            false,
        )];
        assert_eq!(phase(&running, "Always"), "Running");
    }

    #[test]
    fn a_crash_looping_container_keeps_the_pod_running() {
        let mut looping = container(
            ContainerPhase::Waiting {
                reason: "CrashLoopBackOff".into(),
                message: None,
            },
            false,
        );
        looping.restart_count = 3;
        assert_eq!(phase(&[looping], "Always"), "Running");
    }

    #[test]
    fn terminated_containers_end_the_pod_as_the_restart_policy_says() {
        let ended = |exit_code| {
            container(
                ContainerPhase::Terminated(Termination {
                    exit_code,
                    signal: None,
                    started_at: at(1),
                    finished_at: at(2),
                }),
                false,
            )
        };
        assert_eq!(phase(&[ended(0)], "Never"), "Succeeded");
        assert_eq!(phase(&[ended(1)], "Never"), "Failed");
        assert_eq!(phase(&[ended(0)], "OnFailure"), "Succeeded");
    }

    #[test]
    fn ready_follows_the_containers_and_keeps_its_transition_time_while_unchanged() {
        let running = [container(
            ContainerPhase::Running { started_at: at(1) },
            true,
        )];
        let first = pod_status(&input(&running, None, 5));
        assert_eq!(ready(&first), ("True", Some(&at(5))));
        let second = pod_status(&input(&running, Some(&first), 9));
        assert_eq!(ready(&second), ("True", Some(&at(5))));
        let unready = [container(
            ContainerPhase::Running { started_at: at(1) },
            false,
        )];
        let third = pod_status(&input(&unready, Some(&second), 12));
        assert_eq!(ready(&third), ("False", Some(&at(12))));
        assert_eq!(third.pod_ip.as_deref(), Some("127.1.0.1"));
    }

    #[test]
    fn a_pod_is_pending_and_not_initialized_until_its_init_containers_complete() {
        let waiting = |reason: &str| {
            container(
                ContainerPhase::Waiting {
                    reason: reason.into(),
                    message: None,
                },
                false,
            )
        };
        let ended = |exit_code| {
            container(
                ContainerPhase::Terminated(Termination {
                    exit_code,
                    signal: None,
                    started_at: at(1),
                    finished_at: at(2),
                }),
                false,
            )
        };
        let apps = [waiting("PodInitializing")];
        let mut looping = waiting("CrashLoopBackOff");
        looping.restart_count = 2;
        for init in [vec![waiting("PodInitializing")], vec![ended(0), looping]] {
            let status = pod_status(&StatusInput {
                init_containers: &init,
                ..input(&apps, None, 3)
            });
            assert_eq!(status.phase.as_deref(), Some("Pending"));
            let initialized = status
                .conditions
                .as_ref()
                .unwrap()
                .iter()
                .find(|c| c.type_ == "Initialized")
                .unwrap();
            assert_eq!(initialized.status, "False");
            assert_eq!(
                initialized.reason.as_deref(),
                Some("ContainersNotInitialized")
            );
            assert_eq!(status.init_container_statuses.unwrap().len(), init.len());
        }
        // A failed init container fails the Pod only when nothing restarts it.
        assert_eq!(pod_phase(&[ended(1)], &apps, "Never"), "Failed");
        assert_eq!(pod_phase(&[ended(1)], &apps, "OnFailure"), "Pending");
        // Completed: listed as ready, the app containers decide the rest.
        let running = [container(
            ContainerPhase::Running { started_at: at(4) },
            true,
        )];
        let status = pod_status(&StatusInput {
            init_containers: &[ended(0)],
            ..input(&running, None, 5)
        });
        assert_eq!(status.phase.as_deref(), Some("Running"));
        assert_eq!(ready(&status).0, "True");
        assert!(status.init_container_statuses.unwrap()[0].ready);
    }
}
