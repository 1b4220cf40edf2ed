//! Every partition on a node appends through one journal in the node's data
//! directory (storage JOURNAL.md): the driver group-commits it, one write
//! and one `fdatasync` per pass whatever the number of partitions, and
//! checkpoints it while the partitions keep appending, so its files are
//! trimmed rather than piling up. A restart replays it and loses nothing
//! that was acknowledged.
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::sync::Arc;
use std::time::Instant;

use common::{Cluster, NODES, WAIT};

/// The journal file size of the test clusters (`common`).
const FILE_BYTES: u64 = 256 * 1024;

/// Journal files (`<start>.journal`) in a node's journal directory and the
/// bytes they hold.
fn journal_files(cluster: &Cluster, index: usize) -> (usize, u64) {
    let dir = cluster.data_dir(index).join("journal");
    let mut files = 0;
    let mut bytes = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name().to_string_lossy().ends_with(".journal") {
            files += 1;
            bytes += entry.metadata().unwrap().len();
        }
    }
    (files, bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journal_is_checkpointed_and_trimmed_while_partitions_append() {
    let cluster = Arc::new(Cluster::start(4, 64 << 20, false).await);
    for &group in &cluster.groups {
        cluster.leader(group).await;
    }
    // Append until every node has trimmed journal files and written eight
    // files' worth through its journal: what stays on disk (the files above
    // the last checkpoint, at most about four here) is then well below it.
    let deadline = Instant::now() + WAIT * 3;
    let mut acked = Vec::new();
    let trimmed_everywhere = |cluster: &Cluster| {
        (0..NODES).all(|index| {
            let metrics = &cluster.metrics[index];
            metrics.journal_files_trimmed.get() > 0 && metrics.journal_bytes.get() >= 8 * FILE_BYTES
        })
    };
    while !trimmed_everywhere(&cluster) {
        assert!(
            Instant::now() < deadline,
            "a node never trimmed its journal"
        );
        let first = u32::try_from(acked.len()).unwrap();
        acked.extend(cluster.append_many(first, 200).await);
    }
    for index in 0..NODES {
        let metrics = &cluster.metrics[index];
        let passes = metrics.journal_passes.get();
        let written = metrics.journal_bytes.get();
        assert!(passes > 0 && metrics.journal_records.get() > 0);
        assert!(metrics.journal_checkpoints.get() > 0);
        assert_eq!(metrics.flush_failures.get(), 0, "node {index}");
        // Trimmed files are gone: the journal on disk holds less than was
        // written through it (each file is preallocated to its full size).
        let (files, on_disk) = journal_files(&cluster, index);
        assert!(files >= 1, "node {index} has an active journal file");
        assert!(
            on_disk < written,
            "node {index}: {files} journal files ({on_disk} bytes) after {written} bytes written"
        );
        eprintln!(
            "node {index}: {passes} passes, {written} bytes, {} checkpoints, {} files trimmed, {files} left",
            metrics.journal_checkpoints.get(),
            metrics.journal_files_trimmed.get()
        );
    }
    // A clean restart of every node replays what the journal still holds
    // beyond its last checkpoint; every acknowledged append is committed.
    let mut cluster = Arc::try_unwrap(cluster).ok().unwrap();
    for index in 0..NODES {
        cluster.stop(index).await;
    }
    for index in 0..NODES {
        cluster.restart(index).await;
    }
    cluster.check_identical(&acked).await;
}
