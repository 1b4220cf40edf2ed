//! Peer (replication) certificates rotated without a restart, as the Kafka
//! listener's are ([`super::reload`]).
//!
//! Every `interval` the three `--peer-tls-*` files are read; when their
//! bytes differ from those of the configurations in use, both sides are
//! rebuilt from them and handed to the node's [`PeerTls`]: every peer
//! handshake from then on, accepting or connecting, presents the new
//! certificate and checks against the new trust bundle. Peer connections
//! already open keep the session they negotiated (they are re-made when
//! they break). Files that do not build (a key written before its
//! certificate, a truncated bundle) are refused once, counted, and the last
//! good configurations stay in use.
//!
//! Rotating to a new CA is therefore done in three rounds, each applied to
//! every broker before the next: add the new CA to the bundle; replace
//! each broker's certificate with one from the new CA; drop the old CA
//! from the bundle (docs/security.md, "Rotating the peer CA").

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use fjord_node::PeerTls;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::peer_tls::PeerTlsFiles;
use crate::metrics::{BrokerMetrics, OutcomeLabels};

/// The files' bytes: those in use, and the last refused.
#[derive(Debug, Default)]
struct Seen {
    in_use: Option<[Vec<u8>; 3]>,
    refused: Option<[Vec<u8>; 3]>,
}

/// Watches the peer TLS files and swaps the node's configurations.
#[derive(Clone)]
pub struct PeerTlsReload {
    files: PeerTlsFiles,
    tls: PeerTls,
    seen: Arc<Mutex<Seen>>,
}

impl std::fmt::Debug for PeerTlsReload {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PeerTlsReload")
            .field("certificate", &self.files.certificate)
            .finish_non_exhaustive()
    }
}

impl PeerTlsReload {
    /// `tls` must have been built from `files` just before (start-up).
    pub fn new(files: PeerTlsFiles, tls: PeerTls) -> Self {
        let in_use = files.read().ok();
        Self {
            files,
            tls,
            seen: Arc::new(Mutex::new(Seen {
                in_use,
                refused: None,
            })),
        }
    }

    /// Looks at the files once; true when new configurations were taken.
    pub fn reload_if_changed(&self, metrics: &BrokerMetrics) -> bool {
        let material = match self.files.read() {
            Ok(material) => material,
            Err(error) => {
                // A file being replaced may be missing for a moment.
                warn!(%error, "cannot read the peer tls files; keeping the current configuration");
                return false;
            }
        };
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.in_use.as_ref() == Some(&material) || seen.refused.as_ref() == Some(&material) {
            return false;
        }
        let outcome = match self.files.configs() {
            Ok((server, client)) => {
                self.tls.replace(server, client);
                seen.in_use = Some(material);
                seen.refused = None;
                info!(
                    certificate = %self.files.certificate.display(),
                    ca = %self.files.ca.display(),
                    "peer tls files changed; new peer connections use them"
                );
                "loaded"
            }
            Err(error) => {
                seen.refused = Some(material);
                warn!(%error, "changed peer tls files do not load; keeping the current configuration");
                "failed"
            }
        };
        metrics
            .peer_tls_reloads
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
        outcome == "loaded"
    }

    /// Looks at the files every `interval` until `shutdown`.
    pub fn watch(&self, interval: Duration, metrics: BrokerMetrics, shutdown: CancellationToken) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    _ = ticks.tick() => {}
                }
                // File reads and key parsing stay off the async workers.
                let looker = this.clone();
                let metrics = metrics.clone();
                let _ =
                    tokio::task::spawn_blocking(move || looker.reload_if_changed(&metrics)).await;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

    use super::*;

    /// A CA's PEM and a leaf it signed (certificate and key PEM).
    fn ca_and_leaf() -> (String, String, String) {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate().unwrap();
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["broker-1".to_owned()])
            .unwrap()
            .signed_by(&leaf_key, &ca, &ca_key)
            .unwrap();
        (ca.pem(), leaf.pem(), leaf_key.serialize_pem())
    }

    fn reloads(metrics: &BrokerMetrics, outcome: &'static str) -> u64 {
        metrics
            .peer_tls_reloads
            .get_or_create(&OutcomeLabels { outcome })
            .get()
    }

    #[test]
    fn a_rotated_set_is_taken_and_a_half_written_one_is_refused_once() {
        let dir = tempfile::tempdir().unwrap();
        let files = PeerTlsFiles {
            certificate: dir.path().join("tls.crt"),
            key: dir.path().join("tls.key"),
            ca: dir.path().join("ca.crt"),
        };
        let write = |(ca, certificate, key): &(String, String, String)| {
            std::fs::write(&files.ca, ca).unwrap();
            std::fs::write(&files.certificate, certificate).unwrap();
            std::fs::write(&files.key, key).unwrap();
        };
        let old = ca_and_leaf();
        write(&old);
        let reload = PeerTlsReload::new(files.clone(), files.load().unwrap());
        let metrics = BrokerMetrics::default();
        assert!(!reload.reload_if_changed(&metrics), "nothing changed yet");

        // The new key lands before its certificate: refused, reported once.
        let new = ca_and_leaf();
        std::fs::write(&files.key, &new.2).unwrap();
        assert!(!reload.reload_if_changed(&metrics));
        assert!(!reload.reload_if_changed(&metrics));
        assert_eq!(reloads(&metrics, "failed"), 1);

        write(&new);
        assert!(reload.reload_if_changed(&metrics));
        assert_eq!(reloads(&metrics, "loaded"), 1);
        assert!(!reload.reload_if_changed(&metrics));

        std::fs::remove_file(&files.ca).unwrap();
        assert!(!reload.reload_if_changed(&metrics));
    }
}
