//! This broker's session with the controller, and its start-up
//! (`startup`): register a new incarnation, replay the controller log up to
//! that registration, host what that image assigns, then heartbeat (which
//! unfences) and serve; a heartbeat each second after that.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fjord_metadata::{Incarnation, MetadataImage};
use tokio::sync::watch;
use tracing::{debug, info};

use super::reconcile::{Reconciler, Registration};
use super::requests::{ControllerReply, ControllerRequest, RefusalKind};
use super::startup::{Stage, holds_registration, shows_unfenced};

const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
/// How long one wait for the local image may take before the loop checks
/// its session again (the wait resumes; it is not a deadline).
const CATCH_UP_POLL: Duration = Duration::from_secs(1);

impl Reconciler {
    pub(super) async fn session_loop(self: Arc<Self>, registration: Registration) {
        let started = Instant::now();
        let incarnation = Incarnation(uuid::Uuid::new_v4());
        let register = ControllerRequest::Register {
            broker: self.me,
            incarnation,
            rack: registration.rack.clone(),
            listeners: registration.listeners.clone(),
        };
        let heartbeat = ControllerRequest::Heartbeat {
            broker: self.me,
            incarnation,
        };
        let mut registered = false;
        let mut caught_up = false;
        let mut synced = self.synced();
        let mut images = self.client().controller().subscribe();
        loop {
            if registered && !caught_up {
                // No heartbeat (so no unfencing) before the image this
                // broker hosts from holds its own registration.
                if !self
                    .wait_image(&mut synced, incarnation, holds_registration)
                    .await
                {
                    continue;
                }
                caught_up = true;
                info!(
                    broker = %self.me,
                    elapsed_ms = started.elapsed().as_millis(),
                    "caught up with the controller's metadata"
                );
            }
            let request = if registered { &heartbeat } else { &register };
            match self.client().call(request).await {
                ControllerReply::Done { .. } if !registered => {
                    info!(broker = %self.me, "registered with the controller");
                    registered = true;
                    self.startup().advance(Stage::CatchingUp);
                    continue;
                }
                ControllerReply::Done { .. } => {
                    if self.startup().stage() != Stage::Serving
                        && self
                            .wait_image(&mut images, incarnation, shows_unfenced)
                            .await
                    {
                        self.startup().advance(Stage::Serving);
                        info!(
                            broker = %self.me,
                            elapsed_ms = started.elapsed().as_millis(),
                            "serving clients"
                        );
                    }
                }
                ControllerReply::Refused {
                    kind: RefusalKind::StaleBroker,
                    message,
                } => {
                    info!(%message, "the controller does not know this incarnation; registering again");
                    registered = false;
                    continue;
                }
                other => debug!(?other, "controller session request failed"),
            }
            tokio::time::sleep(HEARTBEAT_INTERVAL).await;
        }
    }

    /// Waits (up to [`CATCH_UP_POLL`]) until `images` shows `holds` for this
    /// incarnation.
    async fn wait_image(
        &self,
        images: &mut watch::Receiver<Arc<MetadataImage>>,
        incarnation: Incarnation,
        holds: fn(&MetadataImage, fjord_metadata::BrokerId, Incarnation) -> bool,
    ) -> bool {
        let me = self.me;
        let waited = tokio::time::timeout(
            CATCH_UP_POLL,
            images.wait_for(|image| holds(image, me, incarnation)),
        )
        .await;
        matches!(waited, Ok(Ok(_)))
    }
}
