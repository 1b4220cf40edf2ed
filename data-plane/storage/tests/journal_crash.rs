//! Crash injection on the journal (JOURNAL.md sections 7 and 11): power loss
//! at every step of append, pass, checkpoint, trim, rotation, truncation,
//! reset and replay loses no acknowledged append and resurrects nothing
//! truncated; torn passes are cut, damage to a synced pass is an error.

mod journal_world;

use fjord_storage::batch::build_batch;
use fjord_storage::sim::SplitMix64;
use fjord_storage::testsuite::small_config;
use fjord_storage::{ByteSize, Error, LeaderEpoch, Log, Offset, Timestamp};
use journal_world::{
    World, busy_world, check, crash_at_every_step, crc32c_of, journal_files, log_dir, open_disk,
    rebuild, seeds,
};

#[test]
fn acknowledged_appends_survive_any_crash_with_journal() {
    for seed in 0..seeds(60) {
        let mut rng = SplitMix64(seed);
        let mut world = World::new(4);
        for cycle in 0..3 {
            world.medium.crash_after(1 + rng.below(120), rng.next_u64());
            for _ in 0..200 {
                if let Err(error) = world.step(&mut rng) {
                    assert!(world.medium.crashed(), "seed {seed}: {error}");
                    break;
                }
            }
            world.medium.crash_after(0, 0);
            world = world.recover(&mut rng, cycle == 1, seed);
        }
    }
}

#[test]
fn crash_at_every_step_of_a_checkpoint() {
    let steps = crash_at_every_step(
        busy_world,
        |world, _| world.disk.checkpoint().map(|_| ()),
        |_, _| {},
    );
    assert!(
        steps > 3,
        "a checkpoint syncs segments, writes a pass and trims"
    );
}

#[test]
fn crash_at_every_step_of_replay_then_replay_again() {
    for n in 1.. {
        let mut rng = SplitMix64(7);
        let world = busy_world(&mut rng);
        let models = world.models.clone();
        let medium = world.medium.clone();
        drop(world);
        medium.crash(&mut rng);
        medium.restart();
        medium.crash_after(n, n);
        let first = open_disk(&medium);
        let crashed = medium.crashed();
        if let Err(error) = &first {
            assert!(crashed, "step {n}: {error}");
        }
        medium.crash_after(0, 0);
        drop(first);
        if crashed {
            medium.crash(&mut rng);
            medium.restart();
        }
        let disk = open_disk(&medium).unwrap_or_else(|error| panic!("step {n}: {error}"));
        for (index, model) in models.iter().enumerate() {
            let log = Log::open(&disk, &log_dir(index), small_config()).expect("reopen");
            check(
                &log,
                model,
                &format!("replay crash at step {n}, log {index}"),
            );
        }
        if !crashed {
            assert!(n > 5, "replay writes segments, a pass and removes files");
            break;
        }
    }
}

/// Case T of JOURNAL.md section 7: Append [0,10) at epoch 5, Truncate 5,
/// Append [5,8) at epoch 6, with a crash at every step.
#[test]
fn truncate_is_never_undone_by_replay() {
    let setup = |_: &mut SplitMix64| {
        let mut world = World::new(1);
        world.models[0].epoch = 5;
        for n in 0..10u8 {
            let mut batch = build_batch(1, Timestamp(1), 100, n);
            world.logs[0]
                .append(&mut batch, LeaderEpoch(5))
                .expect("append");
            world.models[0].record(&batch);
        }
        world.disk.flush_pending().expect("flush");
        world.note_acks();
        world
    };
    let work = |world: &mut World, _: &mut SplitMix64| {
        world.truncate(0, Offset(5))?;
        world.models[0].epoch = 6;
        for n in 0..3u8 {
            let mut batch = build_batch(1, Timestamp(2), 100, 100 + n);
            world.logs[0].append(&mut batch, LeaderEpoch(6))?;
            world.models[0].record(&batch);
        }
        world.disk.flush_pending()?;
        world.note_acks();
        Ok(())
    };
    let verify = |world: &World, finished: bool| {
        if finished {
            assert_eq!(world.logs[0].log_end_offset(), Offset(8));
            assert_eq!(
                world.logs[0].epoch_end_offset(LeaderEpoch(5)),
                Some(Offset(5))
            );
        }
    };
    assert!(crash_at_every_step(setup, work, verify) > 3);
}

#[test]
fn reset_is_replayed() {
    let setup = |rng: &mut SplitMix64| {
        let mut world = World::new(2);
        for _ in 0..6 {
            world.append(0, rng).expect("append");
            world.append(1, rng).expect("append");
        }
        world.disk.flush_pending().expect("flush");
        world.note_acks();
        world
    };
    let work = |world: &mut World, rng: &mut SplitMix64| {
        let start = Offset(100);
        // A reset either happened whole or not at all: the model follows
        // once it returned; until then the old log is allowed too.
        world.models[0].cap = Some(Offset(0));
        world.logs[0].reset_to(start, Some((LeaderEpoch(3), Offset(90))))?;
        world.models[0].cap = None;
        world.models[0].batches.clear();
        world.models[0].acked = start;
        world.models[0].epoch = 4;
        world.append(0, rng)?;
        world.append(1, rng)?;
        world.disk.flush_pending()?;
        world.note_acks();
        Ok(())
    };
    let verify = |world: &World, finished: bool| {
        let log = &world.logs[0];
        if finished {
            assert_eq!(log.log_start_offset(), Offset(100));
            assert!(log.log_end_offset() > Offset(100));
            assert_eq!(log.epoch_history()[0], (LeaderEpoch(3), Offset(90)));
        }
    };
    // A crash inside reset_to leaves the old log (record not durable) or
    // the reset one (replayed): `World::recover` checks against the model,
    // which holds the old batches until reset_to returned, and an empty log
    // at 100 is a prefix of either.
    crash_at_every_step(setup, work, verify);
}

#[test]
fn torn_pass_is_never_replayed_and_stale_records_after_it_are_never_read() {
    for seed in 0..seeds(40) {
        let mut rng = SplitMix64(seed);
        let mut world = World::new(2);
        for round in 0..3 {
            for _ in 0..5 {
                world.append(0, &mut rng).expect("append");
                world.append(1, &mut rng).expect("append");
            }
            // Power goes right after the pass's write, before its sync.
            world.medium.crash_after(1, rng.next_u64());
            assert!(world.disk.flush_pending().is_err() || world.medium.crashed());
            world.note_acks();
            world.medium.crash_after(0, 0);
            let before: Vec<Offset> = world.models.iter().map(|m| m.acked).collect();
            world = world.recover(&mut rng, false, seed);
            for (index, acked) in before.into_iter().enumerate() {
                assert!(
                    world.logs[index].log_end_offset() >= acked,
                    "seed {seed} round {round}"
                );
            }
        }
    }
}

#[test]
fn flipped_bit_in_a_synced_pass_is_corrupt_not_a_tail() {
    let mut rng = SplitMix64(3);
    let mut world = World::new(1);
    for _ in 0..3 {
        world.append(0, &mut rng).expect("append");
        world.disk.flush_pending().expect("flush");
    }
    let (path, _) = journal_files(&world.medium).pop().expect("a journal file");
    // The first pass after the recovery pass starts at byte 8192; flip a
    // bit inside its first Append record, with two synced passes after it.
    world.medium.flip_bit(&path, 8192 + 100, 3).expect("flip");
    let medium = world.medium.clone();
    drop(world);
    match open_disk(&medium) {
        Err(Error::Corrupt { reason, .. }) => assert!(reason.contains("synced pass"), "{reason}"),
        other => panic!("expected corruption, got {other:?}"),
    }
}

#[test]
fn forged_pass_inside_batch_data_is_not_a_later_pass() {
    let mut rng = SplitMix64(5);
    let mut world = World::new(1);
    // Pass at 8192: Pass record (40), Append header and fields (56), batch
    // header (61): the batch payload starts at 8349 and covers 12288, the
    // next page. Put there a Pass record with a CRC computed without salt.
    let payload_at = 8192 + 40 + 56 + 61;
    let mut payload = vec![7u8; 6000];
    let forged_at = 12288 - payload_at;
    let mut forged = Vec::new();
    forged.extend_from_slice(&40u32.to_be_bytes());
    forged.extend_from_slice(&[0u8; 4]);
    forged.extend_from_slice(&12288u64.to_be_bytes());
    forged.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]);
    forged.extend_from_slice(&99u64.to_be_bytes());
    forged.extend_from_slice(&0u64.to_be_bytes());
    let crc = crc32c_of(&forged[8..]);
    forged[4..8].copy_from_slice(&crc.to_be_bytes());
    payload[forged_at..forged_at + 40].copy_from_slice(&forged);
    let mut batch = build_batch(1, Timestamp(1), 0, 0);
    batch.truncate(61);
    batch.extend_from_slice(&payload);
    let mut batch = rebuild(batch);
    world.logs[0]
        .append(&mut batch, LeaderEpoch(0))
        .expect("append");
    world.disk.flush_pending().expect("flush");
    let _ = world.append(0, &mut rng);
    // A torn tail inside the record before the forged page.
    let (path, _) = journal_files(&world.medium).pop().expect("a journal file");
    world
        .medium
        .flip_bit(&path, 8192 + 40 + 20, 1)
        .expect("tear");
    let medium = world.medium.clone();
    drop(world);
    let disk = open_disk(&medium).expect("a forged pass is not a later synced pass");
    assert!(disk.journal_report().torn_tail);
}

#[test]
fn records_of_a_removed_log_are_skipped() {
    let mut rng = SplitMix64(11);
    let mut world = World::new(2);
    for _ in 0..4 {
        world.append(0, &mut rng).expect("append");
        world.append(1, &mut rng).expect("append");
    }
    world.disk.flush_pending().expect("flush");
    world.note_acks();
    world.disk.forget_log(&log_dir(0)).expect("unregister");
    let World {
        medium,
        models,
        logs,
        ..
    } = world;
    drop(logs);
    medium.crash(&mut rng);
    medium.restart();
    let disk = open_disk(&medium).expect("open");
    let report = disk.journal_report();
    assert!(report.records_of_removed_logs >= 4, "{report:?}");
    let log = Log::open(&disk, &log_dir(1), small_config()).expect("reopen");
    check(&log, &models[1], "the other log");
}

#[test]
fn journal_trimmed_only_below_a_durable_checkpoint() {
    let mut rng = SplitMix64(13);
    let mut world = World::new(3);
    for _ in 0..40 {
        for index in 0..3 {
            world.append(index, &mut rng).expect("append");
        }
        world.disk.flush_pending().expect("flush");
    }
    world.note_acks();
    let before = journal_files(&world.medium);
    assert!(
        before.len() > 2,
        "passes rotated through files, none trimmed: {before:?}"
    );
    let trimmed = world.disk.checkpoint().expect("checkpoint");
    let after = journal_files(&world.medium);
    assert_eq!(after.len() as u64 + trimmed, before.len() as u64);
    assert_eq!(after.len(), 1, "only the active file stays");
    let world = world.recover(&mut rng, false, 13);
    let stats = world.disk.journal_stats();
    assert_eq!(stats.checkpoints, 1, "the recovery pass");
}

/// A pass that does not fit the active file creates the next one first
/// (create, preallocate, header, sync, directory sync): a crash at each step.
#[test]
fn crash_at_every_step_of_a_rotating_pass() {
    const FILE: u64 = 40 * 1024;
    let append = |world: &mut World, index: usize| {
        let mut batch = build_batch(1, Timestamp(1), 1000, 3);
        world.logs[index].append(&mut batch, LeaderEpoch(0))?;
        world.models[index].record(&batch);
        Ok::<(), fjord_storage::Error>(())
    };
    let setup = |_: &mut SplitMix64| {
        let mut world = World::new(2);
        for log in &mut world.logs {
            let mut config = small_config();
            config.segment_bytes = ByteSize::mib(1); // no roll, no extra pass
            log.set_config(config).expect("config");
        }
        // Header, recovery pass, then passes of one page each (two appends
        // of about 1.1 KiB): seven fill the file to 36 KiB.
        for _ in 0..7 {
            append(&mut world, 0).expect("append");
            append(&mut world, 1).expect("append");
            world.disk.flush_pending().expect("flush");
        }
        assert_eq!(world.disk.journal_stats().synced_end, FILE - 4096);
        world.note_acks();
        // A pass of two pages does not fit the last page.
        for _ in 0..2 {
            append(&mut world, 0).expect("append");
            append(&mut world, 1).expect("append");
        }
        world
    };
    let work = |world: &mut World, _: &mut SplitMix64| {
        world.disk.flush_pending()?;
        let end = world.disk.journal_stats().synced_end;
        assert!(end > FILE, "the pass went to a second file (ends at {end})");
        Ok(())
    };
    let steps = crash_at_every_step(setup, work, |_, _| {});
    assert!(steps > 5, "rotation adds a create, a preallocation, syncs");
}

/// An indirect append's pass syncs its segment before the journal (J2): a
/// segment lacking it is an unsynced last pass (dropped, never acknowledged)
/// or, with a later pass, damage (`Error::Corrupt`).
#[test]
fn indirect_append_missing_from_its_segment_is_dropped_only_in_the_last_pass() {
    for later_pass in [false, true] {
        let mut world = World::new(2);
        let mut small = build_batch(1, Timestamp(1), 100, 1);
        world.logs[0]
            .append(&mut small, LeaderEpoch(0))
            .expect("append");
        world.disk.flush_pending().expect("flush");
        // Above the tests' 2 KiB indirect threshold and the 2 KiB segments:
        // it goes alone into a new segment, and only its record to the journal.
        let mut large = build_batch(1, Timestamp(2), 2500, 7);
        let info = world.logs[0]
            .append(&mut large, LeaderEpoch(0))
            .expect("append");
        world.disk.flush_pending().expect("flush");
        assert_eq!(world.logs[0].durable_offset(), info.log_end_offset);
        if later_pass {
            let mut other = build_batch(1, Timestamp(3), 100, 2);
            world.logs[1]
                .append(&mut other, LeaderEpoch(0))
                .expect("append");
            world.disk.flush_pending().expect("flush");
        }
        let medium = world.medium.clone();
        drop(world);
        let segment = log_dir(0).join(format!("{:020}.log", info.first_offset.0));
        assert!(
            !medium.open_for_test(&segment).is_empty(),
            "the batch has its own segment"
        );
        // What a lost, unsynced segment write would leave.
        medium.put_file(&segment, &[]);
        match open_disk(&medium) {
            Ok(disk) if !later_pass => {
                assert_eq!(disk.journal_report().records_dropped, 1);
                let log = Log::open(&disk, &log_dir(0), small_config()).expect("reopen");
                assert_eq!(log.log_end_offset(), info.first_offset);
            }
            Err(Error::Corrupt { reason, .. }) if later_pass => {
                assert!(reason.contains("indirect"), "{reason}");
            }
            other => panic!(
                "later pass {later_pass}: {:?}",
                other.map(|d| d.journal_report())
            ),
        }
    }
}

/// Appends (segment writes, a roll, an indirect one) and the pass that
/// acknowledges them, with a crash after each of their operations.
#[test]
fn crash_at_every_step_of_appends_and_their_pass() {
    let setup = |rng: &mut SplitMix64| {
        let mut world = World::new(2);
        for _ in 0..3 {
            world.append(0, rng).expect("append");
            world.append(1, rng).expect("append");
        }
        world.disk.flush_pending().expect("flush");
        world.note_acks();
        world
    };
    let work = |world: &mut World, _: &mut SplitMix64| {
        for (index, payload) in [(0, 300), (1, 2500), (0, 1800), (1, 200)] {
            let mut batch = build_batch(2, Timestamp(5), payload, 9);
            world.logs[index].append(&mut batch, LeaderEpoch(0))?;
            world.models[index].record(&batch);
        }
        world.disk.flush_pending()?;
        world.note_acks();
        for index in 0..2 {
            assert_eq!(
                world.logs[index].durable_offset(),
                world.logs[index].log_end_offset()
            );
        }
        Ok(())
    };
    assert!(crash_at_every_step(setup, work, |_, _| {}) > 4);
}

/// The registry appends one record per change and compacts itself once the
/// records outnumber 64 (JOURNAL.md section 2.5). After 30 logs registered
/// and removed (60 records), a crash at any step of registering 10 more
/// (the compaction comes at the 65th record), each acknowledged once, loses
/// no acknowledged batch (its log's records would be skipped as a removed
/// log's if its registration were lost), and a torn last record is not
/// damage.
#[test]
fn crash_at_every_step_of_registering_logs_and_compacting_the_registry() {
    let logs = 10;
    let steps = crash_at_every_step(
        |_| {
            let world = World::new(0);
            for index in 0..30 {
                let gone = log_dir(index).with_file_name(format!("gone-{index}"));
                drop(Log::open(&world.disk, &gone, small_config()).expect("no crash armed"));
                world.disk.forget_log(&gone).expect("no crash armed");
            }
            world
        },
        |world, rng| {
            for index in 0..logs {
                let log = Log::open(&world.disk, &log_dir(index), small_config())?;
                world.logs.push(log);
                world.models.push(Default::default());
                world.append(index, rng)?;
                world.disk.flush_pending()?;
                world.note_acks();
            }
            Ok(())
        },
        |world, finished| {
            let report = world.disk.journal_report();
            assert_eq!(report.records_of_removed_logs, 0, "{report:?}");
            assert!(!finished || world.logs.len() == logs);
        },
    );
    assert!(
        steps > 4 * logs as u64,
        "each log registers, appends and syncs"
    );
}
