//! A listener's TLS configuration, rebuilt when its PEM files change, so
//! certificates rotate without a restart.
//!
//! Every `interval` the files are read; when their bytes differ from those
//! of the configuration in use, a new configuration is built from them.
//! New connections take it at once; open connections keep the session they
//! negotiated. Material that does not build (a key that does not match its
//! certificate because only one of the two was written yet, a truncated
//! file) is refused and the last good configuration stays in use: the
//! broker never serves without TLS, nor with a configuration it could not
//! check.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::tls::{TlsFiles, TlsMaterial};
use crate::Result;
use crate::metrics::{BrokerMetrics, OutcomeLabels};

#[derive(Debug)]
struct Current {
    material: TlsMaterial,
    config: Arc<rustls::ServerConfig>,
    /// Material that failed to build, so it is reported once, not on
    /// every look.
    refused: Option<TlsMaterial>,
}

/// The TLS acceptor of a listener, swapped when its files change.
#[derive(Debug, Clone)]
pub struct ReloadingTls {
    files: TlsFiles,
    current: Arc<RwLock<Current>>,
}

impl ReloadingTls {
    /// Loads the files; an error here stops the start.
    pub fn load(files: TlsFiles) -> Result<Self> {
        let material = files.read()?;
        let config = files.build(&material)?;
        Ok(Self {
            files,
            current: Arc::new(RwLock::new(Current {
                material,
                config,
                refused: None,
            })),
        })
    }

    /// The acceptor for a new connection.
    pub fn acceptor(&self) -> TlsAcceptor {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        TlsAcceptor::from(Arc::clone(&current.config))
    }

    /// Looks at the files once; true when a new configuration was taken.
    pub fn reload_if_changed(&self, metrics: &BrokerMetrics) -> bool {
        let material = match self.files.read() {
            Ok(material) => material,
            Err(error) => {
                // A file being replaced may be missing for a moment.
                warn!(%error, "cannot read the tls files; keeping the current configuration");
                return false;
            }
        };
        {
            let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
            if current.material == material || current.refused.as_ref() == Some(&material) {
                return false;
            }
        }
        let built = self.files.build(&material);
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        match built {
            Ok(config) => {
                current.config = config;
                current.material = material;
                current.refused = None;
                metrics
                    .tls_reloads
                    .get_or_create(&OutcomeLabels { outcome: "loaded" })
                    .inc();
                info!(
                    certificate = %self.files.certificate.display(),
                    "tls files changed; new connections use the new certificate"
                );
                true
            }
            Err(error) => {
                current.refused = Some(material);
                metrics
                    .tls_reloads
                    .get_or_create(&OutcomeLabels { outcome: "failed" })
                    .inc();
                warn!(%error, "changed tls files do not load; keeping the current configuration");
                false
            }
        }
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
    use rcgen::{CertificateParams, KeyPair};

    use super::*;
    use crate::security::ClientAuth;

    fn pair() -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
        (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
    }

    fn files(dir: &std::path::Path) -> TlsFiles {
        TlsFiles {
            certificate: dir.join("tls.crt"),
            key: dir.join("tls.key"),
            client_ca: None,
            client_auth: ClientAuth::None,
        }
    }

    fn reloads(metrics: &BrokerMetrics, outcome: &'static str) -> u64 {
        metrics
            .tls_reloads
            .get_or_create(&OutcomeLabels { outcome })
            .get()
    }

    #[test]
    fn a_changed_pair_is_taken_and_a_mismatched_one_is_refused_once() {
        let dir = tempfile::tempdir().unwrap();
        let files = files(dir.path());
        let (certificate, key) = pair();
        std::fs::write(&files.certificate, &certificate).unwrap();
        std::fs::write(&files.key, &key).unwrap();
        let tls = ReloadingTls::load(files.clone()).unwrap();
        let metrics = BrokerMetrics::default();
        assert!(!tls.reload_if_changed(&metrics), "nothing changed yet");

        // Only the key is replaced: it does not match, so it is refused,
        // and reported once however often the files are looked at.
        let (new_certificate, new_key) = pair();
        std::fs::write(&files.key, &new_key).unwrap();
        assert!(!tls.reload_if_changed(&metrics));
        assert!(!tls.reload_if_changed(&metrics));
        assert_eq!(reloads(&metrics, "failed"), 1);

        std::fs::write(&files.certificate, &new_certificate).unwrap();
        assert!(tls.reload_if_changed(&metrics));
        assert_eq!(reloads(&metrics, "loaded"), 1);
        assert!(!tls.reload_if_changed(&metrics));

        // A missing file keeps the configuration in use.
        std::fs::remove_file(&files.key).unwrap();
        assert!(!tls.reload_if_changed(&metrics));
    }

    #[test]
    fn unusable_files_stop_the_start_with_the_file_named() {
        let dir = tempfile::tempdir().unwrap();
        let files = files(dir.path());
        let error = ReloadingTls::load(files.clone()).unwrap_err();
        assert!(error.to_string().contains("tls.crt"), "{error}");
        std::fs::write(&files.certificate, "not a certificate").unwrap();
        std::fs::write(&files.key, "not a key").unwrap();
        let error = ReloadingTls::load(files).unwrap_err();
        assert!(error.to_string().contains("tls.crt"), "{error}");
    }
}
