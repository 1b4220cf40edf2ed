//! Just enough DER to read a certificate's subject: tag-length-value
//! elements with definite lengths, never trusting a declared length past
//! the bytes present. Input comes from the network (a client certificate),
//! so every step returns an error instead of panicking.

/// Why a certificate's subject could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DerError {
    #[error("truncated at byte {0}")]
    Truncated(usize),
    #[error("unexpected tag {found:#04x} (wanted {wanted:#04x}) at byte {at}")]
    Tag { wanted: u8, found: u8, at: usize },
    #[error("unsupported length form at byte {0}")]
    Length(usize),
    #[error("malformed object identifier")]
    ObjectIdentifier,
}

pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const SET: u8 = 0x31;
pub(crate) const OBJECT_IDENTIFIER: u8 = 0x06;
pub(crate) const INTEGER: u8 = 0x02;
/// `[0] EXPLICIT`: the certificate's version.
pub(crate) const CONTEXT_0: u8 = 0xa0;

/// One element: its tag, its content, and its whole encoding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Element<'a> {
    pub(crate) tag: u8,
    pub(crate) content: &'a [u8],
    pub(crate) encoded: &'a [u8],
}

/// A cursor over consecutive DER elements.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, position: 0 }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.position >= self.bytes.len()
    }

    fn byte(&mut self) -> Result<u8, DerError> {
        let byte = *self
            .bytes
            .get(self.position)
            .ok_or(DerError::Truncated(self.position))?;
        self.position += 1;
        Ok(byte)
    }

    fn length(&mut self) -> Result<usize, DerError> {
        let first = self.byte()?;
        if first < 0x80 {
            return Ok(usize::from(first));
        }
        // Long form with 1 to 4 length bytes; 0x80 (indefinite) is not DER.
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return Err(DerError::Length(self.position - 1));
        }
        let mut length = 0usize;
        for _ in 0..count {
            length = (length << 8) | usize::from(self.byte()?);
        }
        Ok(length)
    }

    /// The next element, whatever its tag.
    pub(crate) fn any(&mut self) -> Result<Element<'a>, DerError> {
        let start = self.position;
        let tag = self.byte()?;
        if tag & 0x1f == 0x1f {
            // High tag numbers never occur in the parts of a certificate we read.
            return Err(DerError::Length(start));
        }
        let length = self.length()?;
        let end = self
            .position
            .checked_add(length)
            .filter(|end| *end <= self.bytes.len())
            .ok_or(DerError::Truncated(self.position))?;
        let content = &self.bytes[self.position..end];
        let encoded = &self.bytes[start..end];
        self.position = end;
        Ok(Element {
            tag,
            content,
            encoded,
        })
    }

    /// The next element, which must carry `tag`.
    pub(crate) fn expect(&mut self, tag: u8) -> Result<Element<'a>, DerError> {
        let at = self.position;
        let element = self.any()?;
        if element.tag != tag {
            return Err(DerError::Tag {
                wanted: tag,
                found: element.tag,
                at,
            });
        }
        Ok(element)
    }

    /// The tag of the next element, without consuming it.
    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }
}

/// The dotted form of an object identifier's content bytes.
pub(crate) fn object_identifier(content: &[u8]) -> Result<String, DerError> {
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    let mut in_arc = false;
    for &byte in content {
        if value > (u64::MAX >> 7) {
            return Err(DerError::ObjectIdentifier);
        }
        value = (value << 7) | u64::from(byte & 0x7f);
        in_arc = byte & 0x80 != 0;
        if !in_arc {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        }
    }
    if in_arc || arcs.is_empty() {
        return Err(DerError::ObjectIdentifier);
    }
    Ok(arcs
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_identifiers_decode_to_dotted_form() {
        // 2.5.4.3 (commonName) and 1.2.840.113549.1.9.1 (emailAddress).
        assert_eq!(object_identifier(&[0x55, 0x04, 0x03]).unwrap(), "2.5.4.3");
        assert_eq!(
            object_identifier(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01]).unwrap(),
            "1.2.840.113549.1.9.1"
        );
        assert!(object_identifier(&[0x55, 0x84]).is_err());
        assert!(object_identifier(&[]).is_err());
    }

    #[test]
    fn declared_lengths_past_the_input_are_refused() {
        assert_eq!(
            Reader::new(&[0x30, 0x05, 0x01]).any().unwrap_err(),
            DerError::Truncated(2)
        );
        assert!(
            Reader::new(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff])
                .any()
                .is_err()
        );
        assert!(Reader::new(&[0x30, 0x80]).any().is_err());
        assert!(Reader::new(&[0x30]).any().is_err());
        let element = Reader::new(&[0x30, 0x81, 0x01, 0x07]).any().unwrap();
        assert_eq!(element.content, &[0x07]);
    }
}
