//! The API server's semantics over the store: object lifecycle (creation defaults,
//! resource version preconditions, generation, status subresource, finalizers,
//! graceful Pod deletion, owner-reference garbage collection) and CRD installation.

mod binding;
mod crd;
mod defaults;
mod delete;
mod garbage;
mod lifecycle;
mod list;
mod prepare;
mod target;
mod write;

#[cfg(test)]
mod garbage_test;
#[cfg(test)]
mod server_test;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;

pub use delete::{DeleteOptions, Propagation};
pub use list::{ListOptions, list_continue_token};
pub use target::Target;
pub use write::{FieldValidation, WriteOptions, WriteOutcome};

use crate::discovery::Registry;
use crate::faults::Faults;
use crate::store::{StateFile, Store};

/// Changes a watch may replay from; older versions answer 410 Gone.
pub const DEFAULT_LOG_CAPACITY: usize = 10_000;

/// Everything under the one lock.
#[derive(Debug)]
pub struct State {
    pub registry: Registry,
    pub store: Store,
    /// How often watches that allow bookmarks get one.
    pub bookmark_interval: Duration,
}

/// The in-memory API server; cheap to clone, every clone is the same server.
#[derive(Debug, Clone)]
pub struct ApiServer {
    state: Arc<Mutex<State>>,
    faults: Faults,
}

impl Default for ApiServer {
    fn default() -> Self {
        Self::new(DEFAULT_LOG_CAPACITY)
    }
}

impl ApiServer {
    /// A fresh server with the standard namespaces, keeping `log_capacity` changes for watches.
    pub fn new(log_capacity: usize) -> Self {
        let server = Self {
            state: Arc::new(Mutex::new(State {
                registry: Registry::default(),
                store: Store::new(log_capacity),
                bookmark_interval: Duration::from_secs(30),
            })),
            faults: Faults::default(),
        };
        {
            let mut state = server.lock();
            for namespace in ["default", "kube-system", "kube-public", "kube-node-lease"] {
                lifecycle::create_namespace(&mut state, namespace);
            }
        }
        server
    }

    /// The lock over registry and store. A panic while it was held is a bug in the
    /// server; carrying on with what was written is the most useful answer for a test tool.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Fault injection for this server.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Every object and the resource version, for `--state`.
    pub fn snapshot(&self) -> StateFile {
        self.lock().store.snapshot()
    }

    /// Replaces the state with a loaded one; CRDs in it are served again.
    pub fn restore(&self, file: StateFile) {
        let crds = file.objects_of("apiextensions.k8s.io", "customresourcedefinitions");
        let mut state = self.lock();
        state.store.restore(file);
        for crd in crds {
            crd::register(&mut state.registry, &crd);
        }
        garbage::collect_all(&mut state);
    }

    /// How often watches that allow bookmarks get one (30 s unless changed).
    pub fn bookmark_interval(&self) -> Duration {
        self.lock().bookmark_interval
    }

    /// Changes the bookmark interval of watches started from now on.
    pub fn set_bookmark_interval(&self, interval: Duration) {
        assert!(!interval.is_zero(), "a bookmark interval is positive");
        self.lock().bookmark_interval = interval;
    }

    /// Forgets the change log: every watch from an older version gets 410 Gone.
    pub fn compact(&self) {
        self.lock().store.compact();
    }

    /// The latest resource version.
    pub fn resource_version(&self) -> u64 {
        self.lock().store.resource_version()
    }

    /// All objects of `target`'s type, for tests (no selectors, no paging).
    pub fn objects(&self, target: &Target) -> Vec<Value> {
        let state = self.lock();
        state
            .store
            .list(
                &target.resource_type.group_resource(),
                target.namespace.as_deref(),
            )
            .map(|(_, object)| object.clone())
            .collect()
    }
}
