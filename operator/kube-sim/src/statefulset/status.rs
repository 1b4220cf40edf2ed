//! A StatefulSet's `status` from its Pods (pure), as Kubernetes counts it:
//!
//! - `replicas`: Pods with a phase; `readyReplicas`: Running and Ready;
//!   `availableReplicas`: ready for `minReadySeconds`;
//! - `currentReplicas` / `updatedReplicas`: Pods not terminating whose
//!   `controller-revision-hash` is the current / update revision;
//! - with `RollingUpdate`, once every Pod is updated and ready the update
//!   revision becomes the current one (`currentRevision = updateRevision`,
//!   `currentReplicas = updatedReplicas`). With `OnDelete` Kubernetes never
//!   does this, so `currentRevision` stays at the first revision until the
//!   set's history resets; reproduced here as it is.
//! - `observedGeneration` is the set's `metadata.generation`.

use k8s_openapi::api::apps::v1::StatefulSetStatus;

use super::plan::{PodState, SetState, UpdateStrategy};

/// The status after a sync over `pods`.
pub fn next_status(
    set: &SetState,
    pods: &[PodState],
    generation: Option<i64>,
    collision_count: Option<i32>,
) -> StatefulSetStatus {
    let count = |keep: &dyn Fn(&PodState) -> bool| {
        i32::try_from(pods.iter().filter(|pod| keep(pod)).count())
            .expect("a set holds fewer than 2^31 pods")
    };
    let live = |pod: &PodState| pod.created && !pod.terminating;
    let mut status = StatefulSetStatus {
        replicas: count(&|pod| pod.created),
        ready_replicas: Some(count(&|pod| pod.running_and_ready)),
        available_replicas: Some(count(&|pod| pod.available)),
        current_replicas: Some(count(&|pod| {
            live(pod) && pod.revision == set.current_revision
        })),
        updated_replicas: Some(count(&|pod| {
            live(pod) && pod.revision == set.update_revision
        })),
        current_revision: Some(set.current_revision.clone()),
        update_revision: Some(set.update_revision.clone()),
        observed_generation: generation,
        collision_count,
        ..StatefulSetStatus::default()
    };
    if matches!(set.strategy, UpdateStrategy::RollingUpdate { .. })
        && status.updated_replicas == Some(status.replicas)
        && status.ready_replicas == Some(status.replicas)
    {
        status.current_replicas = status.updated_replicas;
        status.current_revision = status.update_revision.clone();
    }
    status
}

#[cfg(test)]
mod tests {
    use super::super::plan::PodManagement;
    use super::*;

    fn set(strategy: UpdateStrategy) -> SetState {
        SetState {
            replicas: 3,
            ordinal_start: 0,
            management: PodManagement::OrderedReady,
            strategy,
            current_revision: "web-old".into(),
            update_revision: "web-new".into(),
        }
    }

    fn pod(ordinal: i32, revision: &str, ready: bool) -> PodState {
        PodState {
            ordinal,
            revision: revision.into(),
            created: true,
            running_and_ready: ready,
            available: ready,
            terminating: false,
            finished: false,
        }
    }

    #[test]
    fn counts_follow_pod_revisions_and_readiness_mid_update() {
        let pods = [
            pod(0, "web-old", true),
            pod(1, "web-old", true),
            pod(2, "web-new", false),
        ];
        let status = next_status(
            &set(UpdateStrategy::RollingUpdate { partition: 0 }),
            &pods,
            Some(4),
            None,
        );
        assert_eq!(status.replicas, 3);
        assert_eq!(status.ready_replicas, Some(2));
        assert_eq!(status.available_replicas, Some(2));
        assert_eq!(status.current_replicas, Some(2));
        assert_eq!(status.updated_replicas, Some(1));
        assert_eq!(status.current_revision.as_deref(), Some("web-old"));
        assert_eq!(status.observed_generation, Some(4));
    }

    #[test]
    fn a_finished_rolling_update_makes_the_update_revision_current() {
        let pods = [
            pod(0, "web-new", true),
            pod(1, "web-new", true),
            pod(2, "web-new", true),
        ];
        let status = next_status(
            &set(UpdateStrategy::RollingUpdate { partition: 0 }),
            &pods,
            Some(4),
            None,
        );
        assert_eq!(status.current_revision.as_deref(), Some("web-new"));
        assert_eq!(status.current_replicas, Some(3));
    }

    #[test]
    fn on_delete_keeps_the_old_current_revision_even_when_every_pod_is_updated() {
        let pods = [
            pod(0, "web-new", true),
            pod(1, "web-new", true),
            pod(2, "web-new", true),
        ];
        let status = next_status(&set(UpdateStrategy::OnDelete), &pods, Some(4), None);
        assert_eq!(status.current_revision.as_deref(), Some("web-old"));
        assert_eq!(status.current_replicas, Some(0));
        assert_eq!(status.updated_replicas, Some(3));
    }

    #[test]
    fn terminating_pods_count_as_replicas_but_not_as_current_or_updated() {
        let mut going = pod(2, "web-new", false);
        going.terminating = true;
        let pods = [pod(0, "web-new", true), going];
        let status = next_status(&set(UpdateStrategy::OnDelete), &pods, None, None);
        assert_eq!((status.replicas, status.updated_replicas), (2, Some(1)));
    }
}
