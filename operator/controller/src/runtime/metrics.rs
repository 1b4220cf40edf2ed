//! The operator's Prometheus metrics: leadership and, per controller,
//! reconciles, their errors and durations.
//!
//! Registered once at start-up into the process registry
//! ([`fjord_telemetry::Metrics`]); the handles are cheap clones sharing the
//! same counters, so each controller gets its own [`ControllerMetrics`].

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControllerLabels {
    controller: String,
}

fn duration_histogram() -> Histogram {
    // 5 ms .. about 40 s.
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

type HistogramFamily = Family<ControllerLabels, Histogram, fn() -> Histogram>;

/// Every metric the operator runtime exports.
#[derive(Clone, Debug)]
pub struct OperatorMetrics {
    leader: Gauge,
    leader_transitions: Counter,
    lease_renew_failures: Counter,
    controller_running: Family<ControllerLabels, Gauge>,
    controller_restarts: Family<ControllerLabels, Counter>,
    reconciles: Family<ControllerLabels, Counter>,
    reconcile_errors: Family<ControllerLabels, Counter>,
    reconcile_durations: HistogramFamily,
}

impl Default for OperatorMetrics {
    fn default() -> Self {
        Self {
            leader: Gauge::default(),
            leader_transitions: Counter::default(),
            lease_renew_failures: Counter::default(),
            controller_running: Family::default(),
            controller_restarts: Family::default(),
            reconciles: Family::default(),
            reconcile_errors: Family::default(),
            reconcile_durations: Family::new_with_constructor(
                duration_histogram as fn() -> Histogram,
            ),
        }
    }
}

impl OperatorMetrics {
    /// Creates the metrics and registers them as `fjord_operator_*`.
    pub fn register(metrics: &mut fjord_telemetry::Metrics) -> Self {
        let this = Self::default();
        let registry = metrics.registry_mut();
        registry.register(
            "fjord_operator_leader",
            "1 while this replica holds the leader Lease and runs the controllers",
            this.leader.clone(),
        );
        registry.register(
            "fjord_operator_leader_transitions",
            "Times this replica became the leader",
            this.leader_transitions.clone(),
        );
        registry.register(
            "fjord_operator_lease_renew_failures",
            "Lease renewals that failed (the leader retries until its renew deadline)",
            this.lease_renew_failures.clone(),
        );
        registry.register(
            "fjord_operator_controller_running",
            "1 while the controller runs on this replica",
            this.controller_running.clone(),
        );
        registry.register(
            "fjord_operator_controller_restarts",
            "Times a controller stopped on its own and was started again",
            this.controller_restarts.clone(),
        );
        registry.register(
            "fjord_operator_reconciles",
            "Reconciles run, by controller",
            this.reconciles.clone(),
        );
        registry.register(
            "fjord_operator_reconcile_errors",
            "Reconciles that failed, by controller",
            this.reconcile_errors.clone(),
        );
        registry.register(
            "fjord_operator_reconcile_duration_seconds",
            "How long reconciles take, by controller",
            this.reconcile_durations.clone(),
        );
        this
    }

    /// The handle a controller named `name` counts its reconciles with.
    pub fn controller(&self, name: &str) -> ControllerMetrics {
        ControllerMetrics {
            labels: ControllerLabels {
                controller: name.to_owned(),
            },
            metrics: self.clone(),
        }
    }

    pub(crate) fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
        if leading {
            self.leader_transitions.inc();
        }
    }

    /// Whether the leader gauge is set (for tests and logs).
    pub fn is_leader(&self) -> bool {
        self.leader.get() == 1
    }

    pub(crate) fn lease_renew_failed(&self) {
        self.lease_renew_failures.inc();
    }
}

/// One controller's counters.
#[derive(Clone, Debug)]
pub struct ControllerMetrics {
    labels: ControllerLabels,
    metrics: OperatorMetrics,
}

impl Default for ControllerMetrics {
    /// Unregistered counters, for a controller run outside the runtime.
    fn default() -> Self {
        OperatorMetrics::default().controller("unregistered")
    }
}

impl ControllerMetrics {
    /// Counts one reconcile and how long it took.
    pub fn reconciled(&self, took: Duration) {
        self.metrics.reconciles.get_or_create(&self.labels).inc();
        self.metrics
            .reconcile_durations
            .get_or_create(&self.labels)
            .observe(took.as_secs_f64());
    }

    /// Counts one failed reconcile.
    pub fn failed(&self) {
        self.metrics
            .reconcile_errors
            .get_or_create(&self.labels)
            .inc();
    }

    /// Reconciles counted so far.
    pub fn reconciles(&self) -> u64 {
        self.metrics.reconciles.get_or_create(&self.labels).get()
    }

    /// Failed reconciles counted so far.
    pub fn errors(&self) -> u64 {
        self.metrics
            .reconcile_errors
            .get_or_create(&self.labels)
            .get()
    }

    pub(crate) fn set_running(&self, running: bool) {
        self.metrics
            .controller_running
            .get_or_create(&self.labels)
            .set(i64::from(running));
    }

    pub(crate) fn restarted(&self) {
        self.metrics
            .controller_restarts
            .get_or_create(&self.labels)
            .inc();
    }
}
