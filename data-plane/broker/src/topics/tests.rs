use super::*;

const DEFAULTS: TopicDefaults = TopicDefaults {
    message_bytes_max: 1_048_588,
};

/// A single broker's disk: journaled, rooted where the topics live.
fn disk(root: &Path) -> Arc<DataDisk> {
    DataDisk::open(root).unwrap()
}

#[test]
fn topics_survive_reopen_and_deleted_names_start_empty() {
    let directory = tempfile::tempdir().unwrap();
    let topics = Topics::open(directory.path(), disk(directory.path()), DEFAULTS).unwrap();
    topics.create("orders", 2, Overrides::new(), false).unwrap();
    assert!(matches!(
        topics.create("orders", 1, Overrides::new(), false),
        Err(TopicError::AlreadyExists(_))
    ));
    topics.add_partitions("orders", 3, false).unwrap();
    drop(topics);
    let topics = Topics::open(directory.path(), disk(directory.path()), DEFAULTS).unwrap();
    let orders = topics.get("orders").unwrap();
    assert_eq!(orders.partitions.len(), 3);
    let old_id = topics.delete("orders").unwrap();
    assert!(topics.get("orders").is_none());
    let again = topics
        .create("orders", 1, Overrides::new(), false)
        .unwrap()
        .unwrap();
    assert_ne!(again.id, old_id);
}

#[test]
fn a_deleted_topics_journal_records_are_never_replayed_into_its_directory() {
    let directory = tempfile::tempdir().unwrap();
    let topics = Topics::open(directory.path(), disk(directory.path()), DEFAULTS).unwrap();
    let topic = topics
        .create("orders", 2, Overrides::new(), false)
        .unwrap()
        .unwrap();
    append_batches(&topic, 5);
    // The appends are in the journal (no checkpoint yet) and its segments.
    topics.disk.disk().flush_pending().unwrap();
    let logs = directory
        .path()
        .join("logs")
        .join(topic.id.simple().to_string());
    assert!(logs.exists());
    topics.delete("orders").unwrap();
    assert!(!logs.exists(), "the deleted topic's logs are gone");
    drop(topic);
    drop(topics);
    // As if the broker had crashed while deleting: the partition's
    // directory is still there, its files gone.
    let partition = logs.join("0");
    std::fs::create_dir_all(&partition).unwrap();
    // Reopening replays the journal: the deleted topic's records belong to
    // a log the journal no longer knows, so nothing is written back.
    let disk = disk(directory.path());
    let report = disk.disk().journal_report();
    assert_eq!(report.records_replayed, 0, "{report:?}");
    assert!(report.records_of_removed_logs >= 5, "{report:?}");
    let files = std::fs::read_dir(&partition).unwrap().count();
    assert_eq!(files, 0, "replay wrote into a deleted topic's log");
    let topics = Topics::open(directory.path(), disk, DEFAULTS).unwrap();
    assert!(topics.get("orders").is_none());
}

#[test]
fn names_and_shapes_follow_kafka_rules() {
    assert!(validate_name("orders.v1_x-y").is_ok());
    for bad in ["", ".", "..", "a b", "ü", &"x".repeat(250)] {
        assert!(validate_name(bad).is_err(), "{bad:?}");
    }
    assert!(matches!(
        validate_shape(1, 3, 1),
        Err(TopicError::InvalidReplicationFactor(3))
    ));
    assert!(validate_shape(0, 1, 1).is_err());
    assert!(validate_shape(3, 1, 1).is_ok());
}

fn append_batches(topic: &Topic, count: i64) {
    for index in 0..count {
        let mut batch =
            fjord_storage::batch::build_batch(1, fjord_storage::Timestamp(index), 600, 1);
        topic.partitions[0].append(&mut batch).unwrap();
    }
}

#[test]
fn configs_persist_and_a_retention_change_takes_effect_on_the_log() {
    let directory = tempfile::tempdir().unwrap();
    let topics = Topics::open(directory.path(), disk(directory.path()), DEFAULTS).unwrap();
    let configs = topic_config::validate_all([("segment.bytes", Some("1024"))], 1).unwrap();
    topics.create("events", 1, configs, false).unwrap();
    // Each ~660-byte batch fills a 1 KiB segment: ten batches, ten segments.
    append_batches(&topics.get("events").unwrap(), 10);
    assert_eq!(
        topics.get("events").unwrap().partitions[0]
            .offsets()
            .log_start
            .0,
        0
    );

    let set = |overrides: &mut Overrides, _: &TopicDefaults| {
        overrides.insert("retention.bytes".to_owned(), "2048".to_owned());
        Ok(())
    };
    topics.alter_configs("events", true, set).unwrap();
    let events = topics.get("events").unwrap();
    assert!(
        !events.configs.contains_key("retention.bytes"),
        "validate_only changed it"
    );
    assert_eq!(events.partitions[0].offsets().log_start.0, 0);

    topics.alter_configs("events", false, set).unwrap();
    let events = topics.get("events").unwrap();
    let offsets = events.partitions[0].offsets();
    assert!(
        offsets.log_start.0 >= 7,
        "retention did not run: {offsets:?}"
    );
    assert_eq!(offsets.log_end.0, 10);
    drop((events, topics));

    let topics = Topics::open(directory.path(), disk(directory.path()), DEFAULTS).unwrap();
    let events = topics.get("events").unwrap();
    assert_eq!(
        events.configs.get("retention.bytes").map(String::as_str),
        Some("2048")
    );
    assert_eq!(
        events.configs.get("segment.bytes").map(String::as_str),
        Some("1024")
    );
}

#[test]
fn max_message_bytes_limits_appends_and_bad_edits_change_nothing() {
    let directory = tempfile::tempdir().unwrap();
    let topics = Topics::open(directory.path(), disk(directory.path()), DEFAULTS).unwrap();
    let configs = topic_config::validate_all([("max.message.bytes", Some("100"))], 1).unwrap();
    topics.create("small", 1, configs, false).unwrap();
    let small = topics.get("small").unwrap();
    let mut batch = fjord_storage::batch::build_batch(1, fjord_storage::Timestamp(1), 600, 1);
    let refused = small.partitions[0].append(&mut batch).unwrap_err();
    assert_eq!(refused.kafka_error(), ResponseError::MessageTooLarge);

    let refused = topics
        .alter_configs("small", false, |overrides, _| {
            overrides.insert("max.message.bytes".to_owned(), "100000".to_owned());
            Err(InvalidConfig("refused".to_owned()))
        })
        .unwrap_err();
    assert_eq!(refused.kafka_error(), ResponseError::InvalidConfig);
    assert!(small.partitions[0].append(&mut batch).is_err());
    topics
        .alter_configs("small", false, |overrides, _| {
            overrides.remove("max.message.bytes");
            Ok(())
        })
        .unwrap();
    small.partitions[0].append(&mut batch).unwrap();
    assert!(
        topics
            .alter_configs("missing", false, |_, _| Ok(()))
            .is_err()
    );
}
