//! The conformance suite, run against the real file system and the simulator.

use std::path::PathBuf;
use std::sync::Arc;

use fjord_storage::testsuite::{Harness, run_all};
use fjord_storage::{Disk, FlushPolicy, Log, LogConfig, Result, SimMedium, StdMedium};

struct StdHarness {
    directory: tempfile::TempDir,
    disk: Arc<Disk>,
}

impl Harness for StdHarness {
    type Log = Log;
    fn open(&mut self, config: LogConfig) -> Result<Log> {
        Log::open(&self.disk, &self.directory.path().join("topic-0"), config)
    }
}

struct SimHarness {
    disk: Arc<Disk>,
}

impl Harness for SimHarness {
    type Log = Log;
    fn open(&mut self, config: LogConfig) -> Result<Log> {
        Log::open(&self.disk, &PathBuf::from("/data/topic-0"), config)
    }
}

#[test]
fn the_log_on_the_real_file_system_passes_the_suite() {
    run_all(|| StdHarness {
        directory: tempfile::tempdir().expect("temporary directory"),
        disk: Disk::new(Arc::new(StdMedium), FlushPolicy::Never, 16),
    });
}

#[test]
fn the_log_on_the_simulated_disk_passes_the_suite() {
    run_all(|| SimHarness {
        disk: Disk::new(Arc::new(SimMedium::new()), FlushPolicy::EveryAppend, 4),
    });
}
