//! A single Pod's life under the process kubelet: the downward API,
//! `$(VAR)` expansion and volume paths reach the process; a crashing
//! container restarts with backoff and `restartCount`; the kill annotation
//! restarts a process from outside; deletion waits out the grace period for
//! a process that ignores SIGTERM, then SIGKILLs it and removes the Pod;
//! init containers run in order to completion first (a failing one again
//! after backoff, or failing the Pod under `restartPolicy: Never`).
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod kubelet_support;

use std::time::{Duration, Instant};

use fjord_kube_sim::kubelet::KILL_ANNOTATION;
use fjord_kube_sim::kubelet::image::ImageTable;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kubelet_support::{Cluster, eventually};
use serde_json::json;

fn images() -> ImageTable {
    let mut images = ImageTable::default();
    images.insert("example/sh", "/bin/sh");
    images
}

fn pod(name: &str, script: &str, extra_args: &[&str], grace_seconds: i64) -> Pod {
    let mut args = vec!["-c", script];
    args.extend_from_slice(extra_args);
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": name },
        "spec": {
            "terminationGracePeriodSeconds": grace_seconds,
            "volumes": [{ "name": "scratch", "emptyDir": {} }],
            "containers": [{
                "name": "main",
                "image": "example/sh:latest",
                "env": [
                    { "name": "POD_NAME", "valueFrom": { "fieldRef": { "fieldPath": "metadata.name" } } },
                    { "name": "POD_IP", "valueFrom": { "fieldRef": { "fieldPath": "status.podIP" } } },
                    { "name": "GREETING", "value": "hello $(POD_NAME)" },
                ],
                "args": args,
                "volumeMounts": [{ "name": "scratch", "mountPath": "/scratch" }],
            }],
        },
    }))
    .unwrap()
}

fn container_status(pod: &Pod) -> Option<&k8s_openapi::api::core::v1::ContainerStatus> {
    pod.status.as_ref()?.container_statuses.as_ref()?.first()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_downward_api_expansion_and_mount_paths_reach_the_process() {
    let cluster = Cluster::start("env", images()).await;
    let pods = cluster.api::<Pod>();
    let script = "echo \"$GREETING $1 $POD_IP\" > /scratch/out; exec sleep 300";
    pods.create(
        &PostParams::default(),
        &pod("env", script, &["sh", "$(POD_NAME)"], 1),
    )
    .await
    .unwrap();
    let running = eventually("the pod to run", Duration::from_secs(20), || async {
        let pod = pods.get("env").await.ok()?;
        let ready = container_status(&pod)?.ready;
        ready.then_some(pod)
    })
    .await;
    let address = running.status.as_ref().unwrap().pod_ip.clone().unwrap();
    assert!(address.starts_with("127."), "{address}");
    let uid = running.metadata.uid.clone().unwrap();
    let out = cluster
        .kubelet
        .layout()
        .pod_dir(&cluster.namespace, "env", &uid)
        .join("volumes/scratch/out");
    let text = eventually(
        "the process to write its file",
        Duration::from_secs(10),
        || async { std::fs::read_to_string(&out).ok() },
    )
    .await;
    assert_eq!(text.trim(), format!("hello env env {address}"));
    let conditions: Vec<(String, String)> = running
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .map(|c| (c.type_, c.status))
        .collect();
    for kind in ["PodScheduled", "Initialized", "ContainersReady", "Ready"] {
        assert!(
            conditions.contains(&(kind.to_owned(), "True".to_owned())),
            "{conditions:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_container_restarts_with_its_exit_code_recorded() {
    let cluster = Cluster::start("crash", images()).await;
    let pods = cluster.api::<Pod>();
    pods.create(
        &PostParams::default(),
        &pod("crash", "sleep 0.2; exit 3", &[], 1),
    )
    .await
    .unwrap();
    let pod = eventually("two restarts", Duration::from_secs(30), || async {
        let pod = pods.get("crash").await.ok()?;
        (container_status(&pod)?.restart_count >= 2).then_some(pod)
    })
    .await;
    let status = container_status(&pod).unwrap();
    let last = status
        .last_state
        .as_ref()
        .unwrap()
        .terminated
        .as_ref()
        .unwrap();
    assert_eq!(last.exit_code, 3);
    assert_eq!(
        pod.status.as_ref().unwrap().phase.as_deref(),
        Some("Running")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kill_annotation_restarts_the_process_and_deletion_sigkills_after_the_grace_period() {
    let cluster = Cluster::start("stop", images()).await;
    let pods = cluster.api::<Pod>();
    let stubborn = "trap '' TERM; while :; do sleep 0.1; done";
    pods.create(&PostParams::default(), &pod("stubborn", stubborn, &[], 2))
        .await
        .unwrap();
    eventually("the pod to run", Duration::from_secs(20), || async {
        let pod = pods.get("stubborn").await.ok()?;
        container_status(&pod)?.ready.then_some(())
    })
    .await;

    let annotate = json!({ "metadata": { "annotations": { KILL_ANNOTATION: "1" } } });
    pods.patch("stubborn", &PatchParams::default(), &Patch::Merge(annotate))
        .await
        .unwrap();
    let killed = eventually(
        "the killed process to restart",
        Duration::from_secs(20),
        || async {
            let pod = pods.get("stubborn").await.ok()?;
            let status = container_status(&pod)?;
            (status.restart_count == 1 && status.ready).then_some(pod)
        },
    )
    .await;
    let last = container_status(&killed)
        .unwrap()
        .last_state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!((last.exit_code, last.signal), (137, Some(9)));

    let asked = Instant::now();
    pods.delete("stubborn", &DeleteParams::default())
        .await
        .unwrap();
    eventually("the pod to go", Duration::from_secs(20), || async {
        pods.get_opt("stubborn")
            .await
            .ok()
            .and_then(|pod| pod.is_none().then_some(()))
    })
    .await;
    let took = asked.elapsed();
    assert!(
        took >= Duration::from_secs(2),
        "gone after {took:?}, before the 2 s grace period"
    );
    assert!(took < Duration::from_secs(10), "gone only after {took:?}");
}

/// A Pod whose init containers `first` (completes) and `flaky` (fails its
/// first try with exit 3) record their order before the app container
/// copies what they wrote.
fn initialized_pod(name: &str, restart_policy: &str, flaky_tries: u32) -> Pod {
    let flaky = format!(
        "n=$(cat /scratch/tries 2>/dev/null || echo 0); n=$((n + 1)); echo $n > /scratch/tries; \
         sleep 0.5; [ $n -gt {flaky_tries} ] || exit 3; echo flaky >> /scratch/order"
    );
    let container = |name: &str, script: &str| {
        json!({"name": name, "image": "example/sh:latest", "args": ["-c", script],
               "volumeMounts": [{ "name": "scratch", "mountPath": "/scratch" }]})
    };
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": { "name": name },
        "spec": {
            "restartPolicy": restart_policy,
            "terminationGracePeriodSeconds": 1,
            "volumes": [{ "name": "scratch", "emptyDir": {} }],
            "initContainers": [
                container("first", "echo first > /scratch/order"),
                container("flaky", &flaky),
            ],
            "containers": [container("main", "cp /scratch/order /scratch/seen; exec sleep 300")],
        },
    }))
    .unwrap()
}

fn init_statuses(pod: &Pod) -> Vec<k8s_openapi::api::core::v1::ContainerStatus> {
    pod.status
        .as_ref()
        .and_then(|status| status.init_container_statuses.clone())
        .unwrap_or_default()
}

fn condition(pod: &Pod, kind: &str) -> Option<(String, Option<String>)> {
    let conditions = pod.status.as_ref()?.conditions.as_ref()?;
    let found = conditions.iter().find(|c| c.type_ == kind)?;
    Some((found.status.clone(), found.reason.clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_containers_run_in_order_to_completion_before_the_app_container() {
    let cluster = Cluster::start("init", images()).await;
    let pods = cluster.api::<Pod>();
    pods.create(
        &PostParams::default(),
        &initialized_pod("init", "Always", 1),
    )
    .await
    .unwrap();
    // The failed try is restarted with backoff while the Pod stays Pending.
    let pending = eventually("flaky's first failure", Duration::from_secs(20), || async {
        let pod = pods.get("init").await.ok()?;
        let flaky = init_statuses(&pod).get(1)?.clone();
        let failed = flaky.last_state?.terminated?.exit_code == 3;
        failed.then_some(pod)
    })
    .await;
    let status = pending.status.as_ref().unwrap();
    assert_eq!(status.phase.as_deref(), Some("Pending"));
    assert_eq!(
        condition(&pending, "Initialized"),
        Some(("False".into(), Some("ContainersNotInitialized".into())))
    );
    let main = &status.container_statuses.as_ref().unwrap()[0];
    let waiting = main.state.as_ref().unwrap().waiting.as_ref().unwrap();
    assert_eq!(waiting.reason.as_deref(), Some("PodInitializing"));

    let running = eventually(
        "the app container ready",
        Duration::from_secs(30),
        || async {
            let pod = pods.get("init").await.ok()?;
            container_status(&pod)?.ready.then_some(pod)
        },
    )
    .await;
    assert_eq!(
        running.status.as_ref().unwrap().phase.as_deref(),
        Some("Running")
    );
    assert_eq!(condition(&running, "Initialized").unwrap().0, "True");
    let inits = init_statuses(&running);
    let names: Vec<&str> = inits.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["first", "flaky"]);
    for init in &inits {
        let ended = init.state.as_ref().unwrap().terminated.as_ref().unwrap();
        assert_eq!(ended.exit_code, 0, "{init:?}");
        assert!(init.ready, "{init:?}");
    }
    assert_eq!((inits[0].restart_count, inits[1].restart_count), (0, 1));
    let uid = running.metadata.uid.clone().unwrap();
    let seen = cluster
        .kubelet
        .layout()
        .pod_dir(&cluster.namespace, "init", &uid)
        .join("volumes/scratch/seen");
    let text = eventually(
        "main to copy the order",
        Duration::from_secs(10),
        || async { std::fs::read_to_string(&seen).ok() },
    )
    .await;
    assert_eq!(text, "first\nflaky\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_init_container_fails_a_pod_that_never_restarts() {
    let cluster = Cluster::start("initfail", images()).await;
    let pods = cluster.api::<Pod>();
    pods.create(
        &PostParams::default(),
        &initialized_pod("doomed", "Never", 5),
    )
    .await
    .unwrap();
    let failed = eventually("the pod to fail", Duration::from_secs(20), || async {
        let pod = pods.get("doomed").await.ok()?;
        (pod.status.as_ref()?.phase.as_deref() == Some("Failed")).then_some(pod)
    })
    .await;
    let flaky = &init_statuses(&failed)[1];
    let ended = flaky.state.as_ref().unwrap().terminated.as_ref().unwrap();
    assert_eq!((ended.exit_code, flaky.restart_count), (3, 0));
    // The app container never started.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pod = pods.get("doomed").await.unwrap();
    let main = container_status(&pod).unwrap();
    assert!(main.state.as_ref().unwrap().waiting.is_some(), "{main:?}");
    assert_eq!(main.restart_count, 0);
}
