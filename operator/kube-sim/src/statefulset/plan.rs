//! What the StatefulSet controller does next (pure), following Kubernetes'
//! `stateful_set_control.go`. One call plans one sync; the controller runs
//! the actions and syncs again when Pods change.
//!
//! 1. For each ordinal in `[start, start + replicas)` in order: a Failed or
//!    Succeeded Pod is deleted (and recreated by a later sync); a missing Pod
//!    is created, at the current revision if the update strategy keeps that
//!    ordinal back (RollingUpdate below `partition`) and at the update
//!    revision otherwise. With `OrderedReady` the sync stops at the first Pod
//!    created, terminating, or not Running and Ready; `Parallel` goes on.
//! 2. Pods outside the range ("condemned") go, highest ordinal first; with
//!    `OrderedReady` only when every other Pod is Running and Ready, one at a
//!    time, waiting for each to terminate.
//! 3. `RollingUpdate`: from the highest ordinal down to `partition`, the first
//!    Pod not at the update revision is deleted (one per sync; it comes back
//!    at the update revision), and the walk stops at a Pod that is not Running
//!    and Ready. `OnDelete` deletes nothing: Pods take the update revision
//!    only when someone deletes them.

/// `spec.podManagementPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodManagement {
    OrderedReady,
    Parallel,
}

/// `spec.updateStrategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateStrategy {
    OnDelete,
    /// `partition` 0 unless set.
    RollingUpdate {
        partition: i32,
    },
}

/// The set as planning sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetState {
    pub replicas: i32,
    pub ordinal_start: i32,
    pub management: PodManagement,
    pub strategy: UpdateStrategy,
    pub current_revision: String,
    pub update_revision: String,
}

/// One Pod of the set as planning sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodState {
    pub ordinal: i32,
    pub revision: String,
    /// `status.phase` is set (the kubelet, or the API server, has seen it).
    pub created: bool,
    /// `status.phase` is `Running` and the `Ready` condition is true.
    pub running_and_ready: bool,
    /// Running and ready for at least `minReadySeconds`.
    pub available: bool,
    /// `metadata.deletionTimestamp` is set.
    pub terminating: bool,
    /// `status.phase` is `Failed` or `Succeeded`.
    pub finished: bool,
}

/// Why a Pod is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteReason {
    Finished,
    ScaleDown,
    Update,
}

/// One step of a sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Create { ordinal: i32, revision: String },
    Delete { ordinal: i32, reason: DeleteReason },
}

impl SetState {
    fn in_range(&self, ordinal: i32) -> bool {
        ordinal >= self.ordinal_start && ordinal < self.ordinal_start + self.replicas
    }

    /// The revision a Pod created now at `ordinal` gets.
    pub fn revision_for_new_pod(&self, ordinal: i32) -> &str {
        match self.strategy {
            UpdateStrategy::RollingUpdate { partition }
                if ordinal < self.ordinal_start + partition =>
            {
                &self.current_revision
            }
            _ => &self.update_revision,
        }
    }
}

/// The actions of one sync.
pub fn plan(set: &SetState, pods: &[PodState]) -> Vec<Action> {
    assert!(
        set.replicas >= 0,
        "replicas are validated as non-negative before planning"
    );
    let ordered = set.management == PodManagement::OrderedReady;
    let mut actions = Vec::new();
    let pod_at = |ordinal: i32| pods.iter().find(|pod| pod.ordinal == ordinal);

    // 1. Create and replace Pods in range.
    for ordinal in set.ordinal_start..set.ordinal_start + set.replicas {
        match pod_at(ordinal) {
            None => {
                actions.push(Action::Create {
                    ordinal,
                    revision: set.revision_for_new_pod(ordinal).to_owned(),
                });
                if ordered {
                    return actions;
                }
            }
            Some(pod) if pod.finished && !pod.terminating => {
                actions.push(Action::Delete {
                    ordinal,
                    reason: DeleteReason::Finished,
                });
                if ordered {
                    return actions;
                }
            }
            Some(pod) if ordered && (pod.terminating || !pod.running_and_ready) => return actions,
            Some(_) => {}
        }
    }

    // 2. Scale down, highest ordinal first.
    let mut condemned: Vec<&PodState> = pods
        .iter()
        .filter(|pod| !set.in_range(pod.ordinal))
        .collect();
    condemned.sort_by_key(|pod| std::cmp::Reverse(pod.ordinal));
    let first_unhealthy = pods
        .iter()
        .filter(|pod| set.in_range(pod.ordinal))
        .chain(condemned.iter().copied())
        .find(|pod| pod.terminating || !pod.running_and_ready)
        .map(|pod| pod.ordinal);
    for pod in &condemned {
        if pod.terminating {
            if ordered {
                return actions;
            }
            continue;
        }
        if ordered && first_unhealthy.is_some_and(|unhealthy| unhealthy != pod.ordinal) {
            return actions;
        }
        actions.push(Action::Delete {
            ordinal: pod.ordinal,
            reason: DeleteReason::ScaleDown,
        });
        if ordered {
            return actions;
        }
    }
    if !actions.is_empty() && !ordered {
        // Parallel: creations and deletions first; updates on a later sync.
        return actions;
    }

    // 3. Rolling update, one Pod at a time from the top.
    let UpdateStrategy::RollingUpdate { partition } = set.strategy else {
        return actions;
    };
    let update_min = set.ordinal_start + partition.max(0);
    for ordinal in (update_min..set.ordinal_start + set.replicas).rev() {
        let Some(pod) = pod_at(ordinal) else {
            return actions;
        };
        if pod.revision != set.update_revision && !pod.terminating {
            actions.push(Action::Delete {
                ordinal,
                reason: DeleteReason::Update,
            });
            return actions;
        }
        if pod.terminating || !pod.running_and_ready {
            return actions;
        }
    }
    actions
}
