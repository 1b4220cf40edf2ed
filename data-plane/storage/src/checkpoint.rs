//! The per-log `checkpoint` file (DESIGN.md section 2.3): two CRC-protected
//! slots 4 KiB apart; each write goes to the older slot, then `fdatasync`.

use std::path::Path;

use crate::error::{Result, io_error};
use crate::file_cache::FileCache;
use crate::types::Offset;

const MAGIC: &[u8; 4] = b"FJCP";
const VERSION: u16 = 1;
const SLOT_BYTES: usize = 64;
const SLOT_POSITIONS: [u64; 2] = [0, 4096];
const FLAG_CLEAN: u16 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    pub sequence: u64,
    pub clean_shutdown: bool,
    pub log_start_offset: Offset,
    pub recovery_point: Offset,
    pub high_watermark: Offset,
}

impl Checkpoint {
    fn encode(&self) -> [u8; SLOT_BYTES] {
        let mut slot = [0u8; SLOT_BYTES];
        slot[0..4].copy_from_slice(MAGIC);
        slot[4..6].copy_from_slice(&VERSION.to_be_bytes());
        let flags = if self.clean_shutdown { FLAG_CLEAN } else { 0 };
        slot[6..8].copy_from_slice(&flags.to_be_bytes());
        slot[8..16].copy_from_slice(&self.sequence.to_be_bytes());
        slot[16..24].copy_from_slice(&self.log_start_offset.0.to_be_bytes());
        slot[24..32].copy_from_slice(&self.recovery_point.0.to_be_bytes());
        slot[32..40].copy_from_slice(&self.high_watermark.0.to_be_bytes());
        let crc = crc32c::crc32c(&slot[..60]);
        slot[60..64].copy_from_slice(&crc.to_be_bytes());
        slot
    }

    fn decode(slot: &[u8]) -> Option<Checkpoint> {
        assert_eq!(slot.len(), SLOT_BYTES);
        let crc = u32::from_be_bytes(slot[60..64].try_into().ok()?);
        if &slot[0..4] != MAGIC || crc32c::crc32c(&slot[..60]) != crc {
            return None;
        }
        if slot[4..6] != VERSION.to_be_bytes() {
            return None;
        }
        let field = |at: usize| i64::from_be_bytes(slot[at..at + 8].try_into().unwrap_or([0; 8]));
        let checkpoint = Checkpoint {
            sequence: u64::from_be_bytes(slot[8..16].try_into().ok()?),
            clean_shutdown: u16::from_be_bytes([slot[6], slot[7]]) & FLAG_CLEAN != 0,
            log_start_offset: Offset(field(16)),
            recovery_point: Offset(field(24)),
            high_watermark: Offset(field(32)),
        };
        let sane = checkpoint.log_start_offset.0 >= 0
            && checkpoint.recovery_point.0 >= 0
            && checkpoint.high_watermark.0 >= 0;
        sane.then_some(checkpoint)
    }

    /// The newest valid slot, if any.
    pub(crate) fn load(cache: &FileCache, path: &Path) -> Result<Option<Checkpoint>> {
        let file = match cache.medium().open(path, false) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(io_error(path)(error)),
        };
        let mut newest: Option<Checkpoint> = None;
        for position in SLOT_POSITIONS {
            let mut slot = [0u8; SLOT_BYTES];
            let read = file.read_at(&mut slot, position).map_err(io_error(path))?;
            if read < SLOT_BYTES {
                continue;
            }
            if let Some(candidate) = Checkpoint::decode(&slot)
                && newest.is_none_or(|n| candidate.sequence > n.sequence)
            {
                newest = Some(candidate);
            }
        }
        Ok(newest)
    }

    /// Writes this checkpoint to the slot its sequence selects, then syncs.
    /// Consecutive sequences alternate slots, so the previous copy survives a
    /// torn write.
    pub(crate) fn store(&self, cache: &FileCache, path: &Path) -> Result<()> {
        assert!(self.log_start_offset <= self.high_watermark);
        let file = cache.get(path, true)?;
        let position = SLOT_POSITIONS[(self.sequence % 2) as usize];
        file.write_at(&self.encode(), position)
            .map_err(io_error(path))?;
        file.sync_data().map_err(io_error(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::medium::Medium;
    use crate::sim::SimMedium;
    use std::sync::Arc;

    #[test]
    fn the_newest_valid_slot_wins_and_a_torn_slot_is_ignored() {
        let medium = SimMedium::new();
        medium.create_dir_all(Path::new("/log")).expect("dir");
        let cache = FileCache::new(Arc::new(medium.clone()), 4);
        let path = Path::new("/log/checkpoint");
        let mut checkpoint = Checkpoint {
            sequence: 1,
            clean_shutdown: false,
            log_start_offset: Offset(0),
            recovery_point: Offset(10),
            high_watermark: Offset(5),
        };
        checkpoint.store(&cache, path).expect("store");
        checkpoint.sequence = 2;
        checkpoint.recovery_point = Offset(20);
        checkpoint.store(&cache, path).expect("store");
        assert_eq!(
            Checkpoint::load(&cache, path).expect("load"),
            Some(checkpoint)
        );
        medium.flip_bit(path, 30, 1).expect("flip");
        let loaded = Checkpoint::load(&cache, path)
            .expect("load")
            .expect("one valid");
        assert_eq!(loaded.recovery_point, Offset(10));
    }
}
