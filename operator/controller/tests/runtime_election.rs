//! Leader election against the in-memory API server: of two replicas only
//! one runs its controllers at any time, a crashed leader is replaced once
//! its Lease expires, a released one at once, a conflicting write on renew
//! stops the leader, and API faults longer than the renew deadline stop it
//! before anyone else could take over.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::time::Duration;

use fjord_kube_sim::ApiServer;
use fjord_operator::runtime::{Controllers, Elector, LeaseConfig, OperatorMetrics};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::PostParams;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const LEASE: &str = "fjord-operator";

/// Counts controllers running, per replica and across replicas.
#[derive(Debug, Default)]
struct Probe {
    running: AtomicI32,
    starts: AtomicU32,
}

struct Running(Vec<Arc<Probe>>);

impl Running {
    fn enter(probes: Vec<Arc<Probe>>) -> Self {
        for probe in &probes {
            probe.running.fetch_add(1, Ordering::SeqCst);
            probe.starts.fetch_add(1, Ordering::SeqCst);
        }
        Self(probes)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        for probe in &self.0 {
            probe.running.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// The most replicas seen acting at once.
#[derive(Debug, Default)]
struct Cluster {
    acting: Arc<Probe>,
    most_acting: AtomicI32,
}

struct Replica {
    probe: Arc<Probe>,
    metrics: OperatorMetrics,
    shutdown: CancellationToken,
    task: JoinHandle<fjord_operator::Result<()>>,
}

fn lease_config(identity: &str, lease_seconds: u64) -> LeaseConfig {
    LeaseConfig {
        lease_duration: Duration::from_secs(lease_seconds),
        renew_deadline: Duration::from_millis(lease_seconds * 700),
        retry_period: Duration::from_millis(250),
        ..LeaseConfig::new(LEASE, "default", identity)
    }
}

fn start(server: &ApiServer, cluster: &Arc<Cluster>, config: LeaseConfig) -> Replica {
    let probe = Arc::new(Probe::default());
    let controllers = Controllers::default().register("probe", {
        let (probe, cluster) = (Arc::clone(&probe), Arc::clone(cluster));
        move |_client| {
            let (probe, cluster) = (Arc::clone(&probe), Arc::clone(&cluster));
            async move {
                let _running = Running::enter(vec![probe, Arc::clone(&cluster.acting)]);
                let now = cluster.acting.running.load(Ordering::SeqCst);
                cluster.most_acting.fetch_max(now, Ordering::SeqCst);
                std::future::pending::<()>().await;
                Ok(())
            }
        }
    });
    let metrics = OperatorMetrics::default();
    let elector = Elector::new(server.client(), config, metrics.clone()).unwrap();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(elector.run(server.client(), controllers, shutdown.clone()));
    Replica {
        probe,
        metrics,
        shutdown,
        task,
    }
}

fn running(replica: &Replica) -> bool {
    replica.probe.running.load(Ordering::SeqCst) == 1
}

async fn eventually(what: &str, within: Duration, mut check: impl FnMut() -> bool) -> Instant {
    let deadline = Instant::now() + within;
    loop {
        if check() {
            return Instant::now();
        }
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn eventually_async<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(Instant::now() < deadline, "not within 20 s: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn lease(server: &ApiServer) -> Lease {
    Api::<Lease>::namespaced(server.client(), "default")
        .get(LEASE)
        .await
        .unwrap()
}

fn holder(lease: &Lease) -> Option<String> {
    lease
        .spec
        .as_ref()
        .and_then(|spec| spec.holder_identity.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_candidates_exactly_one_leads() {
    let server = ApiServer::default();
    let cluster = Arc::new(Cluster::default());
    let a = start(&server, &cluster, lease_config("a", 4));
    let b = start(&server, &cluster, lease_config("b", 4));
    eventually("a replica leads", Duration::from_secs(20), || {
        running(&a) || running(&b)
    })
    .await;
    // Several renewals later, still exactly one.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(cluster.most_acting.load(Ordering::SeqCst), 1);
    let leader = if running(&a) { &a } else { &b };
    assert!(leader.metrics.is_leader());
    let lease = lease(&server).await;
    let spec = lease.spec.clone().unwrap();
    assert_eq!(spec.lease_duration_seconds, Some(4));
    assert!(spec.renew_time.is_some() && spec.acquire_time.is_some());
    let expected = if running(&a) { "a" } else { "b" };
    assert_eq!(holder(&lease).as_deref(), Some(expected));
    // People see who leads in the Lease's Events.
    let events: Api<Event> = Api::namespaced(server.client(), "default");
    let notes: Vec<String> = eventually_async("the leader is announced", || async {
        let list = events.list(&Default::default()).await.ok()?;
        let notes: Vec<String> = list
            .items
            .into_iter()
            .filter(|event| event.reason.as_deref() == Some("LeaderElected"))
            .filter_map(|event| event.note)
            .collect();
        (!notes.is_empty()).then_some(notes)
    })
    .await;
    assert!(
        notes[0].starts_with(&format!("{expected} leads")),
        "{notes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_leader_is_replaced_only_after_its_lease_expires() {
    let server = ApiServer::default();
    let cluster = Arc::new(Cluster::default());
    let a = start(&server, &cluster, lease_config("a", 3));
    eventually("a leads", Duration::from_secs(20), || running(&a)).await;
    let b = start(&server, &cluster, lease_config("b", 3));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!running(&b), "b must stand by while a renews");
    let transitions_before = lease(&server).await.spec.unwrap().lease_transitions;

    // A crash: the elector is gone without releasing the Lease.
    a.task.abort();
    let crashed = Instant::now();
    eventually(
        "a's controllers stop with it",
        Duration::from_secs(5),
        || !running(&a),
    )
    .await;
    let took_over = eventually("b takes over", Duration::from_secs(30), || running(&b)).await;
    // b waits out the duration from when it last saw the Lease change, and
    // a renewed at most one retry period before the crash.
    let waited = took_over - crashed;
    assert!(
        waited >= Duration::from_millis(3_000 - 250),
        "b took over after {waited:?}"
    );
    assert_eq!(cluster.most_acting.load(Ordering::SeqCst), 1);
    let lease = lease(&server).await;
    assert_eq!(holder(&lease).as_deref(), Some("b"));
    assert_eq!(
        lease.spec.unwrap().lease_transitions,
        transitions_before.map(|n| n + 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_shuts_down_releases_the_lease_to_a_standby_at_once() {
    let server = ApiServer::default();
    let cluster = Arc::new(Cluster::default());
    // A long lease: waiting it out would take 30 s.
    let a = start(&server, &cluster, lease_config("a", 30));
    eventually("a leads", Duration::from_secs(20), || running(&a)).await;
    let b = start(&server, &cluster, lease_config("b", 30));
    tokio::time::sleep(Duration::from_millis(500)).await;
    a.shutdown.cancel();
    let stopped = Instant::now();
    let Replica {
        probe,
        metrics,
        task,
        ..
    } = a;
    task.await.unwrap().unwrap();
    assert_eq!(
        probe.running.load(Ordering::SeqCst),
        0,
        "controllers stop before run returns"
    );
    assert!(!metrics.is_leader());
    let took_over = eventually("b takes over", Duration::from_secs(20), || running(&b)).await;
    assert!(took_over - stopped < Duration::from_secs(20));
    assert_eq!(holder(&lease(&server).await).as_deref(), Some("b"));
    assert_eq!(cluster.most_acting.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_on_renew_stops_the_leader_cleanly() {
    let server = ApiServer::default();
    let cluster = Arc::new(Cluster::default());
    let a = start(&server, &cluster, lease_config("a", 5));
    eventually("a leads", Duration::from_secs(20), || running(&a)).await;

    // Another writer takes the Lease (as a replica that believed it expired would).
    let leases: Api<Lease> = Api::namespaced(server.client(), "default");
    let mut taken = leases.get(LEASE).await.unwrap();
    let spec = taken.spec.as_mut().unwrap();
    spec.holder_identity = Some("intruder".into());
    spec.lease_duration_seconds = Some(60);
    spec.renew_time = Some(MicroTime(Timestamp::now()));
    leases
        .replace(LEASE, &PostParams::default(), &taken)
        .await
        .unwrap();

    eventually("a stops its controllers", Duration::from_secs(10), || {
        !running(&a)
    })
    .await;
    eventually("a's leader gauge drops", Duration::from_secs(5), || {
        !a.metrics.is_leader()
    })
    .await;
    // a stays a candidate: the intruder's Lease has 60 s to run.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!running(&a));
    assert_eq!(a.probe.starts.load(Ordering::SeqCst), 1);
    assert_eq!(holder(&lease(&server).await).as_deref(), Some("intruder"));
    // People see the loss, and why, in the Lease's Events.
    let events: Api<Event> = Api::namespaced(server.client(), "default");
    let lost: Vec<Event> = eventually_async("the loss is reported", || async {
        let list = events.list(&Default::default()).await.ok()?;
        let lost: Vec<Event> = list
            .items
            .into_iter()
            .filter(|event| event.reason.as_deref() == Some("LeaderLost"))
            .collect();
        (!lost.is_empty()).then_some(lost)
    })
    .await;
    assert_eq!(lost[0].type_.as_deref(), Some("Warning"));
    let note = lost[0].note.clone().unwrap_or_default();
    assert!(
        note.starts_with("a lost leadership") && note.contains("changed by another writer"),
        "{note}"
    );
    assert_eq!(
        lost[0].regarding.as_ref().unwrap().kind.as_deref(),
        Some("Lease")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_faults_shorter_than_the_renew_deadline_keep_the_leader() {
    let server = ApiServer::default();
    let cluster = Arc::new(Cluster::default());
    // Renew deadline 7 s; the API fails for 1 s.
    let a = start(&server, &cluster, lease_config("a", 10));
    eventually("a leads", Duration::from_secs(20), || running(&a)).await;
    server
        .faults()
        .fail_requests_for(500, Duration::from_secs(1));
    tokio::time::sleep(Duration::from_secs(2)).await;
    eventually("renewals succeed again", Duration::from_secs(10), || {
        server.faults().request_failure().is_none()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(running(&a));
    assert_eq!(a.probe.starts.load(Ordering::SeqCst), 1, "never stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_faults_past_the_renew_deadline_stop_the_leader_and_one_leads_after() {
    let server = ApiServer::default();
    let cluster = Arc::new(Cluster::default());
    let a = start(&server, &cluster, lease_config("a", 2));
    eventually("a leads", Duration::from_secs(20), || running(&a)).await;
    let b = start(&server, &cluster, lease_config("b", 2));
    // No request succeeds for 5 s: past a's 1.4 s renew deadline.
    server
        .faults()
        .fail_requests_for(503, Duration::from_secs(5));
    eventually("a stops acting", Duration::from_secs(5), || !running(&a)).await;
    assert!(!running(&b), "b cannot have taken a Lease it cannot read");
    eventually("someone leads again", Duration::from_secs(30), || {
        running(&a) || running(&b)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(cluster.most_acting.load(Ordering::SeqCst), 1);
}
