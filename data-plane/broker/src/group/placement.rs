//! Which group-log partition holds a group, as Kafka places it: Java's
//! `String.hashCode` of the group id (over UTF-16 code units), made
//! non-negative with Kafka's `Utils.abs` (`Integer.MIN_VALUE` becomes 0),
//! modulo the partition count of `__consumer_offsets`. Using Kafka's own
//! function keeps a group on the partition a Kafka operator would expect.

use std::num::NonZeroU32;

/// Java's `String.hashCode`: `s[0]*31^(n-1) + ... + s[n-1]` in wrapping
/// 32-bit arithmetic over the UTF-16 code units.
pub fn java_hash_code(text: &str) -> i32 {
    text.encode_utf16().fold(0i32, |hash, unit| {
        hash.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// The group-log partition coordinating `group_id` among `partitions`.
pub fn partition_for(group_id: &str, partitions: NonZeroU32) -> u32 {
    let hash = java_hash_code(group_id);
    // Kafka's Utils.abs: Math.abs, except that Integer.MIN_VALUE maps to 0.
    let magnitude = if hash == i32::MIN {
        0
    } else {
        hash.unsigned_abs()
    };
    let partition = magnitude % partitions.get();
    debug_assert!(partition < partitions.get());
    partition
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).expect("test counts are positive")
    }

    #[test]
    fn hash_codes_match_java_strings() {
        assert_eq!(java_hash_code(""), 0);
        assert_eq!(java_hash_code("a"), 97);
        assert_eq!(java_hash_code("hello"), 99_162_322);
        assert_eq!(java_hash_code("console-consumer-12345"), 158_455_506);
        // Code units, not bytes or chars: U+1F600 is two UTF-16 units.
        assert_eq!(java_hash_code("\u{1F600}"), 0xD83D * 31 + 0xDE00);
    }

    #[test]
    fn the_minimum_hash_lands_on_partition_zero_as_in_kafka() {
        // A well-known string whose Java hashCode is Integer.MIN_VALUE.
        assert_eq!(java_hash_code("polygenelubricants"), i32::MIN);
        assert_eq!(partition_for("polygenelubricants", count(50)), 0);
    }

    #[test]
    fn groups_land_where_kafka_puts_them() {
        // abs(hashCode) % 50, as Kafka's GroupCoordinator.partitionFor.
        assert_eq!(partition_for("hello", count(50)), 99_162_322 % 50);
        assert_eq!(partition_for("console-consumer-12345", count(50)), 6);
        // A negative hash: abs(-1_640_299_857) % 50.
        assert_eq!(java_hash_code("my-application"), -1_640_299_857);
        assert_eq!(partition_for("my-application", count(50)), 7);
        assert_eq!(partition_for("anything", count(1)), 0);
    }

    #[test]
    fn many_groups_spread_over_every_partition() {
        let partitions = count(12);
        let mut seen = [0u32; 12];
        for index in 0..1200 {
            seen[partition_for(&format!("group-{index}"), partitions) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 50), "{seen:?}");
    }
}
