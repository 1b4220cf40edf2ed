//! The conformance suite, run against the real file system and the simulator.

use std::path::PathBuf;
use std::sync::Arc;

use fjord_storage::testsuite::{Harness, run_all};
use fjord_storage::{
    ByteSize, Disk, FlushPolicy, JournalConfig, Log, LogConfig, Medium, Result, SimMedium,
    StdMedium,
};

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

/// The journal policy: every `open` reopens the disk too, so each reopen
/// of the suite also replays the journal into the segments.
struct JournalHarness {
    medium: Arc<dyn Medium>,
    root: PathBuf,
    _directory: Option<tempfile::TempDir>,
}

fn small_journal() -> FlushPolicy {
    FlushPolicy::Journal(JournalConfig {
        file_bytes: ByteSize::kib(256),
        pass_bytes_max: ByteSize::kib(64),
        indirect_bytes_min: ByteSize::kib(1),
        ..JournalConfig::default()
    })
}

impl Harness for JournalHarness {
    type Log = Log;
    fn open(&mut self, config: LogConfig) -> Result<Log> {
        let disk = Disk::open(self.medium.clone(), &self.root, small_journal(), 8)?;
        Log::open(&disk, &self.root.join("topic-0"), config)
    }
}

#[test]
fn the_journaled_log_on_the_real_file_system_passes_the_suite() {
    run_all(|| {
        let directory = tempfile::tempdir().expect("temporary directory");
        JournalHarness {
            medium: Arc::new(StdMedium),
            root: directory.path().to_owned(),
            _directory: Some(directory),
        }
    });
}

#[test]
fn the_journaled_log_on_the_simulated_disk_passes_the_suite() {
    run_all(|| JournalHarness {
        medium: Arc::new(SimMedium::new()),
        root: PathBuf::from("/data"),
        _directory: None,
    });
}
