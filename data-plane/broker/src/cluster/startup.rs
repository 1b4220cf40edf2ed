//! A cluster broker's start-up stages (`docs/replication.md` "Start-up"):
//!
//! ```text
//! Starting --registered--> CatchingUp --own registration replayed,
//!                                       partitions hosted, heartbeat
//!                                       applied (unfenced)--> Serving
//! ```
//!
//! - **Starting**: the node runs (Raft, the controller group), the admin API
//!   answers, `/readyz` is 503; the Kafka port is bound but not listening, so
//!   clients' connections are refused, as for a broker that is down.
//! - **CatchingUp**: the controller committed this process's
//!   `RegisterBroker` (a new incarnation, fenced). Every record committed
//!   before the process started lies below that record, so once this
//!   broker's own image holds the registration it has replayed at least what
//!   the cluster had committed when it started: the committed point it
//!   learns on start is its own registration's offset. It then hosts the
//!   partitions that image assigns it and sends its first heartbeat, which
//!   unfences it. Kafka port still refused, `/readyz` 503.
//! - **Serving**: the image shows this incarnation unfenced; the Kafka
//!   listener opens and `/readyz` says ready. Never left: once caught up the
//!   image only moves forward.
//!
//! Invariant: a Kafka client is only ever answered from an image that holds
//! every topic created before this process started, so an existing topic is
//! never reported unknown by a restarted broker.

use std::fmt;

use fjord_metadata::{BrokerId, Incarnation, MetadataImage};
use tokio::sync::watch;

/// Where a cluster broker is in its start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    Starting,
    CatchingUp,
    Serving,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Starting => "starting",
            Stage::CatchingUp => "catching_up",
            Stage::Serving => "serving",
        }
    }

    /// The reason `/readyz` gives while not serving.
    pub fn not_ready_reason(self) -> Option<&'static str> {
        match self {
            Stage::Starting => Some("starting: not yet registered with the controller"),
            Stage::CatchingUp => Some("catching up: replaying the controller's metadata"),
            Stage::Serving => None,
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// Has `image` replayed this process's own registration?
pub fn holds_registration(image: &MetadataImage, me: BrokerId, incarnation: Incarnation) -> bool {
    image
        .broker(me)
        .is_some_and(|broker| broker.incarnation == incarnation)
}

/// Does `image` show this process registered and unfenced (its first
/// heartbeat applied)?
pub fn shows_unfenced(image: &MetadataImage, me: BrokerId, incarnation: Incarnation) -> bool {
    image
        .broker(me)
        .is_some_and(|broker| broker.incarnation == incarnation && !broker.fenced)
}

/// The broker's stage, shared by the session loop (which advances it), the
/// Kafka listener, `/readyz` and the admin API.
#[derive(Debug, Clone)]
pub struct Startup {
    stage: watch::Sender<Stage>,
}

impl Default for Startup {
    fn default() -> Self {
        Startup {
            stage: watch::Sender::new(Stage::Starting),
        }
    }
}

impl Startup {
    /// A broker that needs no catching up (single-broker mode, tests).
    pub fn serving() -> Self {
        Startup {
            stage: watch::Sender::new(Stage::Serving),
        }
    }

    pub fn stage(&self) -> Stage {
        *self.stage.borrow()
    }

    /// Moves forward to `stage`; stages never go back.
    pub fn advance(&self, stage: Stage) {
        self.stage.send_if_modified(|current| {
            if stage > *current {
                *current = stage;
                true
            } else {
                false
            }
        });
        assert!(self.stage() >= stage, "start-up stages only move forward");
    }

    /// Resolves once serving (never, if the stage is dropped before).
    pub async fn wait_serving(&self) {
        let mut stage = self.stage.subscribe();
        let _ = stage.wait_for(|stage| *stage == Stage::Serving).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fjord_metadata::{MetadataRecord, Millis};

    fn register(incarnation: Incarnation) -> MetadataRecord {
        MetadataRecord::RegisterBroker {
            broker: BrokerId(1),
            incarnation,
            rack: None,
            listeners: Vec::new(),
            at: Millis(0),
        }
    }

    #[test]
    fn a_restarted_broker_counts_as_caught_up_only_with_its_own_new_registration() {
        let (old, new) = (
            Incarnation(uuid::Uuid::from_u128(1)),
            Incarnation(uuid::Uuid::from_u128(2)),
        );
        let mut image = MetadataImage::new();
        assert!(!holds_registration(&image, BrokerId(1), new));
        image.apply(&register(old)).expect("registers");
        assert!(
            !holds_registration(&image, BrokerId(1), new),
            "the previous process's"
        );
        image.apply(&register(new)).expect("registers");
        assert!(holds_registration(&image, BrokerId(1), new));
        assert!(
            !shows_unfenced(&image, BrokerId(1), new),
            "fenced until heartbeat"
        );
        image
            .apply(&MetadataRecord::BrokerHeartbeat {
                broker: BrokerId(1),
                incarnation: new,
                at: Millis(1),
            })
            .expect("heartbeats");
        assert!(shows_unfenced(&image, BrokerId(1), new));
    }

    #[tokio::test]
    async fn stages_only_move_forward_and_waiters_wake_on_serving() {
        let startup = Startup::default();
        assert_eq!(startup.stage(), Stage::Starting);
        startup.advance(Stage::CatchingUp);
        startup.advance(Stage::Starting);
        assert_eq!(startup.stage(), Stage::CatchingUp);
        let waiter = tokio::spawn({
            let startup = startup.clone();
            async move { startup.wait_serving().await }
        });
        startup.advance(Stage::Serving);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("woken")
            .expect("joined");
        assert_eq!(Stage::Serving.not_ready_reason(), None);
    }
}
