//! Configuration entries of an `Append` (tag 8): encoding and bounded,
//! canonical decoding.

use fjord_replication::NodeId;
use fjord_replication::log::ConfigEntry;

use super::WireError;
use super::reader::Reader;

/// `count u32 * (offset i64, voters u32 * id u32)`.
pub(super) fn encode_configs(configs: &[ConfigEntry], out: &mut Vec<u8>) {
    let count = u32::try_from(configs.len()).expect("bounded by the frame cap");
    out.extend_from_slice(&count.to_be_bytes());
    for config in configs {
        out.extend_from_slice(&config.offset.0.to_be_bytes());
        let voters = u32::try_from(config.voters.len()).expect("bounded by the frame cap");
        out.extend_from_slice(&voters.to_be_bytes());
        for voter in &config.voters {
            out.extend_from_slice(&voter.0.to_be_bytes());
        }
    }
}

/// Configuration entries: offsets rising, voters ascending and never empty;
/// at least one unless `may_be_empty` (an append with none is canonically a
/// plain append, tag 5).
pub(super) fn decode_configs(
    reader: &mut Reader<'_>,
    may_be_empty: bool,
) -> Result<Vec<ConfigEntry>, WireError> {
    let count = reader.u32()? as usize;
    if count == 0 && !may_be_empty {
        return Err(WireError::Invalid(
            "an append with configurations holds none",
        ));
    }
    reader.check_room(count, 8 + 4)?;
    let mut configs: Vec<ConfigEntry> = Vec::with_capacity(count);
    for _ in 0..count {
        let offset = reader.offset()?;
        let voters = reader.u32()? as usize;
        reader.check_room(voters, 4)?;
        let mut entry = ConfigEntry {
            offset,
            voters: Vec::with_capacity(voters),
        };
        for _ in 0..voters {
            entry.voters.push(NodeId(reader.u32()?));
        }
        if !entry.is_well_formed() {
            return Err(WireError::Invalid("voters empty, repeated or unordered"));
        }
        if configs.last().is_some_and(|last| last.offset >= offset) {
            return Err(WireError::Invalid("configuration offsets do not rise"));
        }
        configs.push(entry);
    }
    Ok(configs)
}
