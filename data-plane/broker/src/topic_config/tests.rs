use super::*;

const DEFAULTS: TopicDefaults = TopicDefaults {
    message_bytes_max: 1_048_588,
};

#[test]
fn supported_values_are_accepted_in_canonical_form() {
    assert_eq!(validate("retention.ms", " 60000 ", 1).unwrap(), "60000");
    assert_eq!(validate("retention.ms", "-1", 1).unwrap(), "-1");
    assert_eq!(
        validate("retention.bytes", "1048576", 1).unwrap(),
        "1048576"
    );
    assert_eq!(validate("segment.bytes", "1024", 1).unwrap(), "1024");
    assert_eq!(validate("segment.ms", "1", 1).unwrap(), "1");
    assert_eq!(validate("cleanup.policy", "delete", 1).unwrap(), "delete");
    assert_eq!(validate("min.insync.replicas", "1", 1).unwrap(), "1");
    assert_eq!(validate("max.message.bytes", "0", 1).unwrap(), "0");
}

#[test]
fn unknown_names_and_bad_values_say_what_is_wrong() {
    let error = validate("retention.hours", "1", 1).unwrap_err();
    assert!(
        error.0.contains("unknown topic config \"retention.hours\""),
        "{error}"
    );
    assert!(error.0.contains("retention.ms"), "{error}");
    let error = validate("retention.ms", "soon", 1).unwrap_err();
    assert_eq!(error.0, "retention.ms must be an integer, got \"soon\"");
    let error = validate("retention.ms", "-2", 1).unwrap_err();
    assert!(error.0.contains("between -1 and"), "{error}");
    assert!(validate("segment.bytes", "100", 1).is_err());
    assert!(validate("segment.bytes", "4294967296", 1).is_err());
    assert!(validate("segment.ms", "0", 1).is_err());
    assert!(validate("max.message.bytes", "-5", 1).is_err());
    assert!(validate("min.insync.replicas", "0", 1).is_err());
}

#[test]
fn what_the_platform_cannot_honour_is_refused_not_accepted() {
    let error = validate("cleanup.policy", "compact", 1).unwrap_err();
    assert!(error.0.contains("compact is not supported"), "{error}");
    assert!(validate("cleanup.policy", "delete,compact", 1).is_err());
    assert!(validate("cleanup.policy", "", 1).is_err());
    assert!(validate("cleanup.policy", "shred", 1).is_err());
    let error = validate("min.insync.replicas", "2", 1).unwrap_err();
    assert!(
        error.0.contains("exceeds the replication factor 1"),
        "{error}"
    );
    assert_eq!(validate("min.insync.replicas", "2", 3).unwrap(), "2");
}

#[test]
fn a_config_given_twice_or_null_is_refused() {
    let twice = validate_all(
        [("retention.ms", Some("1")), ("retention.ms", Some("2"))],
        1,
    );
    assert!(twice.unwrap_err().0.contains("given twice"));
    assert!(validate_all([("retention.ms", None)], 1).is_err());
    let good = validate_all(
        [("retention.ms", Some("1")), ("segment.bytes", Some("2048"))],
        1,
    );
    assert_eq!(good.unwrap().len(), 2);
}

#[test]
fn incremental_operations_set_delete_append_and_subtract() {
    let mut overrides = Overrides::new();
    apply(
        &mut overrides,
        &DEFAULTS,
        AlterOperation::Set,
        "retention.ms",
        Some("1000"),
        1,
    )
    .unwrap();
    assert_eq!(effective(&overrides, &DEFAULTS, "retention.ms"), "1000");
    apply(
        &mut overrides,
        &DEFAULTS,
        AlterOperation::Delete,
        "retention.ms",
        None,
        1,
    )
    .unwrap();
    assert_eq!(
        effective(&overrides, &DEFAULTS, "retention.ms"),
        "604800000"
    );
    // APPEND of what is already there keeps the list; SUBTRACT to empty is refused.
    apply(
        &mut overrides,
        &DEFAULTS,
        AlterOperation::Append,
        "cleanup.policy",
        Some("delete"),
        1,
    )
    .unwrap();
    assert_eq!(effective(&overrides, &DEFAULTS, "cleanup.policy"), "delete");
    assert!(
        apply(
            &mut overrides,
            &DEFAULTS,
            AlterOperation::Append,
            "cleanup.policy",
            Some("compact"),
            1
        )
        .is_err()
    );
    assert!(
        apply(
            &mut overrides,
            &DEFAULTS,
            AlterOperation::Subtract,
            "cleanup.policy",
            Some("delete"),
            1
        )
        .is_err()
    );
    let error = apply(
        &mut overrides,
        &DEFAULTS,
        AlterOperation::Append,
        "retention.ms",
        Some("5"),
        1,
    )
    .unwrap_err();
    assert!(error.0.contains("not a list"), "{error}");
    assert!(
        apply(
            &mut overrides,
            &DEFAULTS,
            AlterOperation::Set,
            "nope",
            Some("1"),
            1
        )
        .is_err()
    );
}

#[test]
fn overrides_translate_into_log_settings() {
    let defaults = partition_settings(&Overrides::new(), &DEFAULTS);
    assert_eq!(defaults.log.retention_bytes, None);
    assert_eq!(
        defaults.log.retention_age,
        Some(Duration::from_secs(7 * 24 * 3600))
    );
    assert_eq!(defaults.message_bytes_max, 1_048_588);
    assert!(matches!(defaults.log.preallocate, Preallocate::None));
    let overrides = validate_all(
        [
            ("retention.ms", Some("-1")),
            ("retention.bytes", Some("4096")),
            ("segment.bytes", Some("2048")),
            ("segment.ms", Some("1000")),
            ("max.message.bytes", Some("512")),
        ],
        1,
    )
    .unwrap();
    let settings = partition_settings(&overrides, &DEFAULTS);
    assert_eq!(settings.log.retention_age, None);
    assert_eq!(settings.log.retention_bytes, Some(ByteSize(4096)));
    assert_eq!(settings.log.segment_bytes, ByteSize(2048));
    assert_eq!(settings.log.segment_age, Some(Duration::from_secs(1)));
    assert_eq!(settings.message_bytes_max, 512);
}
