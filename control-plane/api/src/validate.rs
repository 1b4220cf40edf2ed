//! Checks on names and values, shared by every request type.
//!
//! Each returns `Err(message)` with a message a person can act on; the
//! message names the field.

use crate::ConfigMap;

/// Result of a check: `Err` says what is wrong.
pub type Check = Result<(), String>;

/// A DNS-1123 label: what a name must be when it becomes a Kubernetes
/// object's name (clusters, environments, organizations).
pub fn dns_label(field: &str, value: &str) -> Check {
    if value.is_empty() || value.len() > 63 {
        return Err(format!(
            "{field} must be 1 to 63 characters long, got {}",
            value.len()
        ));
    }
    let bytes = value.as_bytes();
    let allowed = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-';
    let alphanumeric = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !bytes.iter().all(allowed)
        || !bytes.first().is_some_and(alphanumeric)
        || !bytes.last().is_some_and(alphanumeric)
    {
        return Err(format!(
            "{field} must be a DNS-1123 label: lowercase letters, digits and '-', \
             starting and ending with a letter or digit, got {value:?}"
        ));
    }
    Ok(())
}

/// A free-form display name: 1 to 100 characters, no control characters.
pub fn display_name(field: &str, value: &str) -> Check {
    let length = value.chars().count();
    if length == 0 || length > 100 {
        return Err(format!(
            "{field} must be 1 to 100 characters long, got {length}"
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{field} must not contain control characters"));
    }
    Ok(())
}

/// A short free-text value such as a filter or a reason: at most `max`
/// characters, no control characters (Postgres text cannot hold NUL).
pub fn text(field: &str, value: &str, max: usize) -> Check {
    if value.chars().count() > max {
        return Err(format!("{field} must be at most {max} characters long"));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{field} must not contain control characters"));
    }
    Ok(())
}

/// A release version such as `0.2.0` or `1.0.0-rc.1`.
pub fn version(field: &str, value: &str) -> Check {
    let (core, pre) = value.split_once('-').unwrap_or((value, ""));
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = |p: &&str| !p.is_empty() && p.len() <= 9 && p.chars().all(|c| c.is_ascii_digit());
    let pre_ok = pre
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.')
        && (value.contains('-') != pre.is_empty());
    if value.len() > 64 || parts.len() != 3 || !parts.iter().all(numeric) || !pre_ok {
        return Err(format!(
            "{field} must be a version such as 0.2.0, got {value:?}"
        ));
    }
    Ok(())
}

/// A Kafka topic name: 1 to 249 of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn topic_name(field: &str, value: &str) -> Check {
    if value.is_empty() || value.len() > 249 {
        return Err(format!(
            "{field} must be 1 to 249 characters long, got {}",
            value.len()
        ));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if !value.chars().all(allowed) || value == "." || value == ".." {
        return Err(format!(
            "{field} may hold only letters, digits, '.', '_' and '-', got {value:?}"
        ));
    }
    Ok(())
}

/// An integer within `[min, max]`.
pub fn range(field: &str, value: i64, min: i64, max: i64) -> Check {
    if value < min || value > max {
        return Err(format!(
            "{field} must be between {min} and {max}, got {value}"
        ));
    }
    Ok(())
}

/// A configuration map: at most 200 entries, keys like `retention.ms`,
/// values up to 1000 characters.
pub fn config(field: &str, config: &ConfigMap) -> Check {
    if config.len() > 200 {
        return Err(format!("{field} may hold at most 200 entries"));
    }
    for (key, value) in config {
        let key_ok = !key.is_empty()
            && key.len() <= 100
            && key.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
            });
        if !key_ok {
            return Err(format!(
                "{field} key {key:?} must be 1 to 100 of lowercase letters, digits, '.', '_', '-'"
            ));
        }
        if value.len() > 1000 || value.chars().any(char::is_control) {
            return Err(format!(
                "{field}.{key} must be at most 1000 characters with no control characters"
            ));
        }
    }
    Ok(())
}

/// An AWS account id: exactly 12 digits.
pub fn aws_account_id(field: &str, value: &str) -> Check {
    if value.len() != 12 || !value.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("{field} must be exactly 12 digits, got {value:?}"));
    }
    Ok(())
}

/// An IAM role ARN in `account`: `arn:aws:iam::<account>:role/<name>`.
pub fn role_arn(field: &str, value: &str, account: &str) -> Check {
    let prefix = format!("arn:aws:iam::{account}:role/");
    let Some(name) = value.strip_prefix(&prefix) else {
        return Err(format!(
            "{field} must be an IAM role ARN in account {account} ({prefix}<name>), got {value:?}"
        ));
    };
    let allowed = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c);
    if name.is_empty() || name.len() > 512 || !name.chars().all(allowed) {
        return Err(format!("{field} has an invalid role name {name:?}"));
    }
    Ok(())
}

/// A cloud region such as `eu-west-1`.
pub fn region(field: &str, value: &str) -> Check {
    let parts: Vec<&str> = value.split('-').collect();
    let ok = value.len() <= 32
        && parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()));
    if !ok {
        return Err(format!(
            "{field} must be a region such as eu-west-1, got {value:?}"
        ));
    }
    Ok(())
}

/// Brokers a bootstrap list may name; a client needs only one that answers.
pub const BOOTSTRAP_ENTRIES_MAX: usize = 64;

/// A Kafka bootstrap list: `host:port[,host:port...]`, where a host is a DNS
/// name or an IPv4 address, or an IPv6 address in brackets (`[::1]:9092`),
/// and a port is 1 to 65535. At most 1000 characters and
/// [`BOOTSTRAP_ENTRIES_MAX`] entries.
pub fn bootstrap_address(field: &str, value: &str) -> Check {
    let bad = || {
        Err(format!(
            "{field} must be a list of host:port separated by commas, such as \
             broker-0.example:9092, got {value:?}"
        ))
    };
    if value.len() > 1000 {
        return Err(format!("{field} must be at most 1000 characters long"));
    }
    if value.chars().any(char::is_control) {
        return bad();
    }
    let entries: Vec<&str> = value.split(',').map(str::trim).collect();
    if entries.len() > BOOTSTRAP_ENTRIES_MAX {
        return Err(format!(
            "{field} may name at most {BOOTSTRAP_ENTRIES_MAX} brokers"
        ));
    }
    for entry in entries {
        let Some((host, port)) = entry.rsplit_once(':') else {
            return bad();
        };
        let port_ok = !port.is_empty()
            && port.len() <= 5
            && port.chars().all(|c| c.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p));
        let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(ipv6) => ipv6.parse::<std::net::Ipv6Addr>().is_ok(),
            None => host_name(host),
        };
        if !port_ok || !host_ok {
            return bad();
        }
    }
    Ok(())
}

/// A DNS name (labels of letters, digits and '-', separated by dots, at most
/// 253 characters) or an IPv4 address, which has the same shape.
fn host_name(host: &str) -> bool {
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    !host.is_empty() && host.len() <= 253 && host.split('.').all(label_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels_follow_rfc_1123() {
        assert!(dns_label("name", "orders-1").is_ok());
        assert!(dns_label("name", "a").is_ok());
        assert!(dns_label("name", &"a".repeat(63)).is_ok());
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", "ä", &"a".repeat(64)] {
            assert!(
                dns_label("name", bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn topic_names_follow_kafka_rules() {
        assert!(topic_name("name", "orders.v1_A-b").is_ok());
        for bad in ["", ".", "..", "a b", "a/b", &"a".repeat(250)] {
            assert!(
                topic_name("name", bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn role_arns_must_be_in_the_account() {
        let account = "123456789012";
        assert!(role_arn("role_arn", "arn:aws:iam::123456789012:role/fjord", account).is_ok());
        assert!(role_arn("role_arn", "arn:aws:iam::999999999999:role/fjord", account).is_err());
        assert!(role_arn("role_arn", "arn:aws:iam::123456789012:role/", account).is_err());
    }

    #[test]
    fn versions_are_semantic() {
        for good in ["0.2.0", "10.20.30", "1.0.0-rc.1"] {
            assert!(version("version", good).is_ok(), "{good:?} should pass");
        }
        for bad in ["", "1.0", "1.0.0-", "v1.0.0", "1.0.0-RC", "1.\u{0}.0"] {
            assert!(
                version("version", bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn regions_look_like_aws_regions() {
        assert!(region("region", "eu-west-1").is_ok());
        assert!(region("region", "us-gov-east-1").is_ok());
        for bad in ["", "eu", "eu-west", "EU-west-1", "eu--1"] {
            assert!(region("region", bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn config_keys_and_values_are_bounded() {
        let mut config = ConfigMap::new();
        config.insert("retention.ms".into(), "1000".into());
        assert!(super::config("config", &config).is_ok());
        config.insert("Bad Key".into(), "x".into());
        assert!(super::config("config", &config).is_err());
    }

    #[test]
    fn bootstrap_lists_are_host_port_pairs() {
        for good in [
            "broker-0.orders.fjord.svc:9092",
            "127.0.0.1:19092, 127.0.0.1:19093",
            "[::1]:9092",
            "a:1,b:65535",
        ] {
            assert!(
                bootstrap_address("bootstrap_address", good).is_ok(),
                "{good:?} should pass"
            );
        }
        let many = vec!["a:9092"; 65].join(",");
        let long = format!("{}:9092", "a".repeat(1000));
        for bad in [
            "",
            "broker",
            "broker:",
            ":9092",
            "broker:0",
            "broker:65536",
            "broker:http",
            "a:9092,",
            "bro ker:9092",
            "-a:9092",
            "::1:9092",
            "[zz]:9092",
            "a:9092\n",
            "a_b:9092",
            &many,
            &long,
        ] {
            assert!(
                bootstrap_address("bootstrap_address", bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }
}
