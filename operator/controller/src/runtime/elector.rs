//! Leader election through a Lease: runs the registered controllers only
//! while this replica holds it (decisions in `lease.rs`; timing argument in
//! docs/operator.md, "Leader election").
//!
//! States: `Candidate` (reads the Lease every retry period and takes it when
//! free or expired) → `Leader` (controllers running; renews every retry
//! period) → back to `Candidate` when a renewal meets a conflict or the
//! renew deadline passes without one. The controllers are stopped (every
//! task ended) before the elector looks at the Lease again, and on shutdown
//! before the Lease is released.

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Api, Resource};
use tokio::time::{Instant, sleep, timeout_at};
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::runtime::controllers::Controllers;
use crate::runtime::lease::{self, Decision, LeaseConfig, Observer};
use crate::runtime::metrics::OperatorMetrics;

/// Runs the election for one replica.
pub struct Elector {
    leases: Api<Lease>,
    config: LeaseConfig,
    observer: Observer,
    metrics: OperatorMetrics,
    recorder: Recorder,
}

impl std::fmt::Debug for Elector {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Elector")
            .field("config", &self.config)
            .field("observer", &self.observer)
            .finish_non_exhaustive()
    }
}

/// How a term as leader ended.
enum TermEnd {
    /// Shutdown was asked for; the Lease as last written.
    Shutdown(Box<Lease>),
    /// Leadership is lost (or could no longer be proven); the Lease as last
    /// written by this replica.
    Lost {
        reason: &'static str,
        lease: Box<Lease>,
    },
}

fn is_conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.is_conflict() || status.is_already_exists())
}

impl Elector {
    /// An elector over the Lease `config` names; checks the timings.
    pub fn new(
        client: kube::Client,
        config: LeaseConfig,
        metrics: OperatorMetrics,
    ) -> Result<Self> {
        config.validate()?;
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: "fjord-operator".to_owned(),
                instance: Some(config.identity.clone()),
            },
        );
        Ok(Self {
            leases: Api::namespaced(client, &config.namespace),
            config,
            observer: Observer::default(),
            metrics,
            recorder,
        })
    }

    /// Campaigns, leads, and campaigns again, until `shutdown`; runs
    /// `controllers` (with `client`) only while leading.
    pub async fn run(
        mut self,
        client: kube::Client,
        controllers: Controllers,
        shutdown: CancellationToken,
    ) -> Result<()> {
        let identity = self.config.identity.clone();
        loop {
            let acquired = tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                acquired = self.acquire() => acquired,
            };
            let (held, renewed_at) = acquired;
            tracing::info!(%identity, lease = %self.config.name, "became leader, starting controllers");
            self.announce(&held);
            self.metrics.set_leader(true);
            let running = controllers.start(&client, &self.metrics);
            let end = self.hold(held, renewed_at, &shutdown).await;
            running.stop().await;
            self.metrics.set_leader(false);
            match end {
                TermEnd::Shutdown(held) => {
                    self.release(&held).await;
                    return Ok(());
                }
                TermEnd::Lost { reason, lease } => {
                    tracing::warn!(%identity, reason, "lost leadership, controllers stopped");
                    self.report_loss(&lease, reason);
                }
            }
        }
    }

    /// Tries every retry period until the Lease is ours; returns it and the
    /// instant taken before the successful write was sent.
    async fn acquire(&mut self) -> (Lease, Instant) {
        loop {
            let started = Instant::now();
            match self.try_acquire().await {
                Ok(Some(held)) => return (held, started),
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "cannot read or write the lease"),
            }
            sleep(self.config.retry_period).await;
        }
    }

    async fn try_acquire(&mut self) -> Result<Option<Lease>> {
        let current = self.leases.get_opt(&self.config.name).await?;
        let now = Instant::now();
        let unchanged_since = match &current {
            Some(read) => {
                let version = read
                    .metadata
                    .resource_version
                    .as_deref()
                    .unwrap_or_default();
                self.observer.observe(version, now)
            }
            None => now,
        };
        let decision = lease::decide(
            &self.config.identity,
            current.as_ref(),
            unchanged_since,
            now,
        );
        if let Decision::Wait { .. } = decision {
            tracing::debug!(
                holder = current.as_ref().and_then(lease::holder),
                "lease held by another replica"
            );
            return Ok(None);
        }
        let wanted = lease::holding(&self.config, current.as_ref(), decision, Timestamp::now());
        let written = match decision {
            Decision::Create => self.leases.create(&PostParams::default(), &wanted).await,
            _ => {
                self.leases
                    .replace(&self.config.name, &PostParams::default(), &wanted)
                    .await
            }
        };
        match written {
            Ok(written) => {
                tracing::info!(?decision, holder = %self.config.identity, "lease acquired");
                Ok(Some(written))
            }
            // Another candidate wrote first.
            Err(error) if is_conflict(&error) => Ok(None),
            Err(error) => Err(Error::Kube(error)),
        }
    }

    /// Renews every retry period. Each attempt must succeed before the renew
    /// deadline counted from the last success; otherwise leadership ends.
    async fn hold(
        &mut self,
        mut held: Lease,
        mut renewed_at: Instant,
        shutdown: &CancellationToken,
    ) -> TermEnd {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return TermEnd::Shutdown(Box::new(held)),
                () = sleep(self.config.retry_period) => {}
            }
            let deadline = renewed_at + self.config.renew_deadline;
            loop {
                let attempt = Instant::now();
                if attempt >= deadline {
                    return TermEnd::Lost {
                        reason: "renew deadline passed",
                        lease: Box::new(held),
                    };
                }
                let wanted =
                    lease::holding(&self.config, Some(&held), Decision::Renew, Timestamp::now());
                let params = PostParams::default();
                let renewal = self.leases.replace(&self.config.name, &params, &wanted);
                match timeout_at(deadline, renewal).await {
                    Err(_elapsed) => {
                        return TermEnd::Lost {
                            reason: "renewal did not finish before the renew deadline",
                            lease: Box::new(held),
                        };
                    }
                    Ok(Ok(written)) => {
                        assert_eq!(
                            lease::holder(&written),
                            Some(self.config.identity.as_str()),
                            "a renewal writes this replica as holder"
                        );
                        held = written;
                        renewed_at = attempt;
                        break;
                    }
                    Ok(Err(error)) if is_conflict(&error) => {
                        self.metrics.lease_renew_failed();
                        return TermEnd::Lost {
                            reason: "the lease was changed by another writer",
                            lease: Box::new(held),
                        };
                    }
                    Ok(Err(error)) => {
                        self.metrics.lease_renew_failed();
                        tracing::warn!(%error, "lease renewal failed, retrying");
                        let pause = (self.config.retry_period / 4)
                            .min(deadline - Instant::now().min(deadline));
                        tokio::select! {
                            () = shutdown.cancelled() => return TermEnd::Shutdown(Box::new(held)),
                            () = sleep(pause) => {}
                        }
                    }
                }
            }
        }
    }

    /// An Event on the Lease saying who leads now, sent in the background:
    /// a slow or failing API server must not delay the election.
    fn announce(&self, held: &Lease) {
        let recorder = self.recorder.clone();
        let reference = held.object_ref(&());
        let event = Event {
            type_: EventType::Normal,
            reason: "LeaderElected".to_owned(),
            note: Some(format!(
                "{} leads and runs the controllers",
                self.config.identity
            )),
            action: "Elect".to_owned(),
            secondary: None,
        };
        tokio::spawn(async move {
            if let Err(error) = recorder.publish(&event, &reference).await {
                tracing::debug!(%error, "cannot publish the leadership event");
            }
        });
    }

    /// A Warning Event on the Lease saying this replica lost leadership and
    /// why (its controllers are stopped by then), sent in the background:
    /// the API server may be what failed.
    fn report_loss(&self, held: &Lease, reason: &str) {
        let recorder = self.recorder.clone();
        let reference = held.object_ref(&());
        let event = Event {
            type_: EventType::Warning,
            reason: "LeaderLost".to_owned(),
            note: Some(format!(
                "{} lost leadership ({reason}) and stopped its controllers",
                self.config.identity
            )),
            action: "Elect".to_owned(),
            secondary: None,
        };
        tokio::spawn(async move {
            if let Err(error) = recorder.publish(&event, &reference).await {
                tracing::debug!(%error, "cannot publish the lost-leadership event");
            }
        });
    }

    /// Gives the Lease up (controllers already stopped) so a standby takes
    /// over without waiting for it to expire. Failing only delays that.
    async fn release(&self, held: &Lease) {
        let released = lease::released(held, Timestamp::now());
        match self
            .leases
            .replace(&self.config.name, &PostParams::default(), &released)
            .await
        {
            Ok(_) => tracing::info!(identity = %self.config.identity, "lease released"),
            Err(error) => tracing::warn!(%error, "cannot release the lease; it expires on its own"),
        }
    }
}
