//! Serde helpers for the `Bytes` fields of persisted group records.

use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub(super) fn serialize<S: Serializer>(bytes: &Bytes, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_bytes(bytes)
}

pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Bytes, D::Error> {
    Vec::<u8>::deserialize(deserializer).map(Bytes::from)
}

/// For `Vec<(String, Bytes)>` (a member's protocols).
pub(super) mod pairs {
    use super::*;

    pub(in crate::group) fn serialize<S: Serializer>(
        pairs: &[(String, Bytes)],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let plain: Vec<(&str, &[u8])> = pairs
            .iter()
            .map(|(name, bytes)| (name.as_str(), bytes.as_ref()))
            .collect();
        plain.serialize(serializer)
    }

    pub(in crate::group) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<(String, Bytes)>, D::Error> {
        let plain = Vec::<(String, Vec<u8>)>::deserialize(deserializer)?;
        Ok(plain
            .into_iter()
            .map(|(name, bytes)| (name, Bytes::from(bytes)))
            .collect())
    }
}
