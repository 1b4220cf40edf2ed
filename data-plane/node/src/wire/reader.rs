//! The decoder's cursor over untrusted bytes.

use fjord_replication::{LogPosition, Offset, Term};

use super::WireError;

/// A bounds-checked cursor: every read fails instead of panicking.
pub(super) struct Reader<'a> {
    bytes: &'a [u8],
    pub(super) at: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, at: 0 }
    }
}

impl<'a> Reader<'a> {
    pub(super) fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if n > self.remaining() {
            return Err(WireError::Truncated {
                needed: n - self.remaining(),
            });
        }
        let slice = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(slice)
    }

    /// A count of items of at least `each` bytes must fit in what remains.
    pub(super) fn check_room(&self, count: usize, each: usize) -> Result<(), WireError> {
        match count.checked_mul(each) {
            Some(needed) if needed <= self.remaining() => Ok(()),
            _ => Err(WireError::Invalid("count exceeds the bytes that remain")),
        }
    }

    pub(super) fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }
    pub(super) fn u16(&mut self) -> Result<u16, WireError> {
        Ok(u16::from_be_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }
    pub(super) fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    pub(super) fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_be_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    pub(super) fn flag(&mut self) -> Result<bool, WireError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(WireError::Invalid("flag is neither 0 nor 1")),
        }
    }
    pub(super) fn term(&mut self) -> Result<Term, WireError> {
        let value = i32::from_be_bytes(self.take(4)?.try_into().expect("4 bytes"));
        if value < 0 {
            return Err(WireError::Invalid("negative term"));
        }
        Ok(Term(value))
    }
    pub(super) fn offset(&mut self) -> Result<Offset, WireError> {
        let value = i64::from_be_bytes(self.take(8)?.try_into().expect("8 bytes"));
        if value < 0 {
            return Err(WireError::Invalid("negative offset"));
        }
        Ok(Offset(value))
    }
    pub(super) fn position(&mut self) -> Result<LogPosition, WireError> {
        Ok(LogPosition {
            term: self.term()?,
            end: self.offset()?,
        })
    }
}
