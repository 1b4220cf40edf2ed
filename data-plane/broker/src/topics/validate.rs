//! Topic names and shapes as Kafka allows them.

use super::{PARTITIONS_MAX, TOPIC_NAME_MAX, TopicError};

/// Checks a topic name against Kafka's rules.
pub fn validate_name(name: &str) -> Result<(), TopicError> {
    let invalid = |reason| Err(TopicError::InvalidName(name.to_owned(), reason));
    if name.is_empty() {
        return invalid("it is empty");
    }
    if name == "." || name == ".." {
        return invalid("'.' and '..' are not allowed");
    }
    if name.len() > TOPIC_NAME_MAX {
        return invalid("it is longer than 249 characters");
    }
    if !name
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
    {
        return invalid("only ASCII letters, digits, '.', '_' and '-' are allowed");
    }
    Ok(())
}

/// Checks a requested partition count and replication factor (at most
/// `replicas_max`, the brokers there are).
pub fn validate_shape(
    partitions: i32,
    replication_factor: i16,
    replicas_max: usize,
) -> Result<(), TopicError> {
    if partitions <= 0 || partitions > PARTITIONS_MAX {
        return Err(TopicError::InvalidPartitions(format!(
            "{partitions} is not between 1 and {PARTITIONS_MAX}"
        )));
    }
    if replication_factor < 1 || usize::try_from(replication_factor).unwrap_or(0) > replicas_max {
        return Err(TopicError::InvalidReplicationFactor(replication_factor));
    }
    Ok(())
}
