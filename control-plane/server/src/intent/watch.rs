//! Wakes long-polling agents when their environment gets a new intent, on
//! whichever replica the change was made.
//!
//! One `PgListener` connection per process LISTENs on
//! [`fjord_store::intent::CHANNEL`]; each notification (payload: an
//! environment id) bumps a `tokio::sync::watch` for that environment. Waiters
//! subscribe to their environment's watch, so 10,000 waiters cost one
//! database connection and one map entry per environment. When the listener
//! loses its connection it may have missed notifications, so on reconnect it
//! wakes everyone (and forgets every cached API key verification, since
//! the same connection carries revocations); waiters always re-read the database after waking, so a
//! spurious wake-up costs one query and a missed one is impossible.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::{OnceCell, watch};
use uuid::Uuid;

use super::bodies::IntentBody;

/// What a wake-up hands its waiters: the environment's latest intent as a
/// response body, looked up by the first waiter to need it and shared by the
/// rest, so a wake-up of 10,000 waiters costs one query and at most one
/// serialisation instead of 10,000 each.
pub(crate) type SharedRead = Arc<OnceCell<Option<Arc<IntentBody>>>>;

/// The per-environment wake-up channels of this process.
#[derive(Debug, Clone, Default)]
pub struct IntentWatch {
    environments: Arc<Mutex<HashMap<Uuid, watch::Sender<SharedRead>>>>,
    /// Waiting long-polls (`fjord_intent_waiters`).
    waiting: Gauge,
    /// Wake-ups delivered from notifications (`fjord_intent_notifications`).
    notifications: Counter,
    /// API keys verified lately; the listener also carries their
    /// revocations ([`fjord_store::api_key::REVOKED_CHANNEL`]).
    pub(crate) verified_keys: Arc<crate::auth::keys::VerifiedKeys>,
}

/// A waiter's subscription; unsubscribes on drop.
#[derive(Debug)]
pub(crate) struct Subscription {
    receiver: Option<watch::Receiver<SharedRead>>,
    environment_id: Uuid,
    watch: IntentWatch,
}

impl Subscription {
    /// Resolves at the next wake-up after subscribing (or after the
    /// previous call) with that wake-up's shared read.
    pub(crate) async fn changed(&mut self) -> SharedRead {
        match self.receiver.as_mut() {
            Some(receiver) => {
                if receiver.changed().await.is_err() {
                    // The sender is kept while receivers live; never closes.
                    std::future::pending::<()>().await;
                }
                Arc::clone(&receiver.borrow_and_update())
            }
            None => std::future::pending().await,
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        drop(self.receiver.take());
        self.watch.waiting.dec();
        let mut environments = self.watch.lock();
        if environments
            .get(&self.environment_id)
            .is_some_and(|sender| sender.receiver_count() == 0)
        {
            environments.remove(&self.environment_id);
        }
    }
}

impl IntentWatch {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, watch::Sender<SharedRead>>> {
        self.environments
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn subscribe(&self, environment_id: Uuid) -> Subscription {
        let mut environments = self.lock();
        let sender = environments
            .entry(environment_id)
            .or_insert_with(|| watch::channel(SharedRead::default()).0);
        let mut receiver = sender.subscribe();
        receiver.mark_unchanged();
        self.waiting.inc();
        Subscription {
            receiver: Some(receiver),
            environment_id,
            watch: self.clone(),
        }
    }

    /// Registers this watch's metrics.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "fjord_intent_waiters",
            "Agent long-polls waiting for a newer intent in this replica",
            self.waiting.clone(),
        );
        registry.register(
            "fjord_intent_notifications",
            "Intent notifications received from Postgres",
            self.notifications.clone(),
        );
    }

    /// Wakes the waiters of one environment.
    pub(crate) fn wake(&self, environment_id: Uuid) {
        if let Some(sender) = self.lock().get(&environment_id) {
            sender.send_replace(SharedRead::default());
        }
    }

    /// Wakes every waiter (after notifications may have been lost).
    pub(crate) fn wake_all(&self) {
        for sender in self.lock().values() {
            sender.send_replace(SharedRead::default());
        }
    }

    /// Waiters right now, over every environment.
    pub fn waiters(&self) -> usize {
        self.lock()
            .values()
            .map(watch::Sender::receiver_count)
            .sum()
    }

    /// Environments with waiters right now.
    pub fn environments_watched(&self) -> usize {
        self.lock().len()
    }

    /// Starts LISTENing; returns once the listener is subscribed, so a
    /// change committed after this returns is never missed.
    pub async fn listen(&self, pool: &PgPool) -> anyhow::Result<tokio::task::JoinHandle<()>> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener
            .listen_all([
                fjord_store::intent::CHANNEL,
                fjord_store::api_key::REVOKED_CHANNEL,
            ])
            .await?;
        let watch = self.clone();
        Ok(tokio::spawn(async move { watch.run(listener).await }))
    }

    async fn run(self, mut listener: PgListener) {
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => match notification.payload().parse::<Uuid>() {
                    Ok(api_key_id)
                        if notification.channel() == fjord_store::api_key::REVOKED_CHANNEL =>
                    {
                        self.verified_keys.forget(api_key_id);
                    }
                    Ok(environment_id) => {
                        self.notifications.inc();
                        self.wake(environment_id);
                    }
                    Err(_) => tracing::warn!(
                        payload = notification.payload(),
                        "ignoring malformed intent notification"
                    ),
                },
                Ok(None) => {
                    tracing::warn!("intent listener reconnected, waking every waiter");
                    self.verified_keys.clear();
                    self.wake_all();
                }
                Err(error) => {
                    tracing::warn!(%error, "intent listener failed, retrying");
                    self.verified_keys.clear();
                    self.wake_all();
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}
