use super::plan::*;

const OLD: &str = "web-old";
const NEW: &str = "web-new";

fn set(replicas: i32, management: PodManagement, strategy: UpdateStrategy) -> SetState {
    SetState {
        replicas,
        ordinal_start: 0,
        management,
        strategy,
        current_revision: OLD.into(),
        update_revision: NEW.into(),
    }
}

fn ready(ordinal: i32, revision: &str) -> PodState {
    PodState {
        ordinal,
        revision: revision.into(),
        created: true,
        running_and_ready: true,
        available: true,
        terminating: false,
        finished: false,
    }
}

fn create(ordinal: i32, revision: &str) -> Action {
    Action::Create {
        ordinal,
        revision: revision.into(),
    }
}

fn delete(ordinal: i32, reason: DeleteReason) -> Action {
    Action::Delete { ordinal, reason }
}

const ROLLING: UpdateStrategy = UpdateStrategy::RollingUpdate { partition: 0 };

#[test]
fn ordered_ready_creates_one_pod_at_a_time_in_ordinal_order() {
    let set = set(3, PodManagement::OrderedReady, ROLLING);
    assert_eq!(plan(&set, &[]), [create(0, NEW)]);
    let mut starting = ready(0, NEW);
    starting.running_and_ready = false;
    assert_eq!(plan(&set, &[starting]), []);
    assert_eq!(plan(&set, &[ready(0, NEW)]), [create(1, NEW)]);
}

#[test]
fn parallel_creates_every_missing_pod_at_once() {
    let set = set(3, PodManagement::Parallel, ROLLING);
    assert_eq!(
        plan(&set, &[ready(1, NEW)]),
        [create(0, NEW), create(2, NEW)]
    );
}

#[test]
fn a_failed_pod_is_deleted_to_be_recreated() {
    let set = set(2, PodManagement::OrderedReady, ROLLING);
    let mut failed = ready(0, NEW);
    failed.finished = true;
    failed.running_and_ready = false;
    assert_eq!(
        plan(&set, &[failed, ready(1, NEW)]),
        [delete(0, DeleteReason::Finished)]
    );
}

#[test]
fn ordered_scale_down_removes_the_highest_ordinal_first_and_waits_for_it() {
    let set = set(1, PodManagement::OrderedReady, ROLLING);
    let pods = [ready(0, NEW), ready(1, NEW), ready(2, NEW)];
    assert_eq!(plan(&set, &pods), [delete(2, DeleteReason::ScaleDown)]);
    let mut going = ready(2, NEW);
    going.terminating = true;
    assert_eq!(plan(&set, &[ready(0, NEW), ready(1, NEW), going]), []);
}

#[test]
fn ordered_scale_down_waits_while_another_pod_is_unready() {
    let set = set(1, PodManagement::OrderedReady, ROLLING);
    let mut unready = ready(1, NEW);
    unready.running_and_ready = false;
    assert_eq!(plan(&set, &[ready(0, NEW), unready, ready(2, NEW)]), []);
}

#[test]
fn parallel_scale_down_removes_every_condemned_pod_at_once() {
    let set = set(1, PodManagement::Parallel, ROLLING);
    let pods = [ready(0, NEW), ready(1, NEW), ready(2, NEW)];
    assert_eq!(
        plan(&set, &pods),
        [
            delete(2, DeleteReason::ScaleDown),
            delete(1, DeleteReason::ScaleDown)
        ]
    );
}

#[test]
fn a_rolling_update_replaces_the_highest_outdated_pod_first_one_at_a_time() {
    let set = set(3, PodManagement::OrderedReady, ROLLING);
    let pods = [ready(0, OLD), ready(1, OLD), ready(2, OLD)];
    assert_eq!(plan(&set, &pods), [delete(2, DeleteReason::Update)]);
    let pods = [ready(0, OLD), ready(1, OLD), ready(2, NEW)];
    assert_eq!(plan(&set, &pods), [delete(1, DeleteReason::Update)]);
}

#[test]
fn a_rolling_update_waits_for_the_replaced_pod_to_be_ready() {
    let set = set(3, PodManagement::Parallel, ROLLING);
    let mut restarted = ready(2, NEW);
    restarted.running_and_ready = false;
    assert_eq!(plan(&set, &[ready(0, OLD), ready(1, OLD), restarted]), []);
}

#[test]
fn a_partition_keeps_lower_ordinals_at_the_current_revision() {
    let set = set(
        3,
        PodManagement::OrderedReady,
        UpdateStrategy::RollingUpdate { partition: 2 },
    );
    let pods = [ready(0, OLD), ready(1, OLD), ready(2, NEW)];
    assert_eq!(plan(&set, &pods), []);
    // A Pod below the partition that is deleted comes back at the current revision.
    assert_eq!(
        plan(&set, &[ready(0, OLD), ready(2, NEW)]),
        [create(1, OLD)]
    );
    assert_eq!(set.revision_for_new_pod(2), NEW);
}

#[test]
fn on_delete_never_deletes_for_an_update_but_recreates_at_the_update_revision() {
    let set = set(2, PodManagement::OrderedReady, UpdateStrategy::OnDelete);
    assert_eq!(plan(&set, &[ready(0, OLD), ready(1, OLD)]), []);
    assert_eq!(plan(&set, &[ready(0, OLD)]), [create(1, NEW)]);
}

#[test]
fn ordinals_start_where_spec_ordinals_start_says() {
    let mut set = set(2, PodManagement::Parallel, ROLLING);
    set.ordinal_start = 5;
    assert_eq!(plan(&set, &[]), [create(5, NEW), create(6, NEW)]);
    assert_eq!(
        plan(&set, &[ready(0, NEW), ready(5, NEW), ready(6, NEW)]),
        [delete(0, DeleteReason::ScaleDown)]
    );
}
