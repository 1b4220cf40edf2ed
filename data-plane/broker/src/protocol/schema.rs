//! A walker over request bodies described by a compact schema, used by
//! [`super::bounds`] to prove every declared array is really present before
//! the codec allocates for it. It reads lengths and skips values; it never
//! allocates in proportion to anything the peer declares.

/// One field's wire shape.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Field {
    /// Fixed-width value: integers, booleans, UUIDs.
    Fixed(usize),
    /// (Nullable) string: i16 length, or compact varint length when flexible.
    Str,
    /// (Nullable) bytes: i32 length, or compact varint length when flexible.
    Bytes,
    /// (Nullable) array of structs; each element ends with tagged fields
    /// when flexible.
    Array(&'static [V]),
    /// (Nullable) array of fixed-width values.
    FixedArray(usize),
    /// Array of strings.
    StrArray,
}

/// A field present in versions `min..=max`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct V {
    pub min: i16,
    pub max: i16,
    pub field: Field,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl Cursor<'_> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.position
    }

    fn skip(&mut self, count: usize) -> Result<(), String> {
        if count > self.remaining() {
            return Err(format!(
                "field of {count} bytes at byte {} runs past the body",
                self.position
            ));
        }
        self.position += count;
        Ok(())
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let bytes = self
            .bytes
            .get(self.position..self.position + N)
            .and_then(|slice| <[u8; N]>::try_from(slice).ok())
            .ok_or_else(|| format!("body is truncated at byte {}", self.position))?;
        self.position += N;
        Ok(bytes)
    }

    fn varint(&mut self) -> Result<u32, String> {
        let mut value: u32 = 0;
        for index in 0..5 {
            let [byte] = self.take::<1>()?;
            value |= u32::from(byte & 0x7f) << (7 * index);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("varint is longer than 5 bytes".to_owned())
    }

    /// A length prefix: classic signed (negative = null) or compact (0 = null).
    fn length(&mut self, flexible: bool, classic_bytes: usize) -> Result<usize, String> {
        let length = if flexible {
            u64::from(self.varint()?.saturating_sub(1))
        } else if classic_bytes == 2 {
            u64::try_from(i16::from_be_bytes(self.take::<2>()?)).unwrap_or(0)
        } else {
            u64::try_from(i32::from_be_bytes(self.take::<4>()?)).unwrap_or(0)
        };
        usize::try_from(length).map_err(|_| "length does not fit in memory".to_owned())
    }

    /// An array count, refused at once if its elements cannot fit.
    fn count(&mut self, flexible: bool, element_bytes_min: usize) -> Result<usize, String> {
        let count = self.length(flexible, 4)?;
        let remaining = self.remaining();
        if count.saturating_mul(element_bytes_min) > remaining {
            return Err(format!(
                "array declares {count} elements but only {remaining} bytes follow"
            ));
        }
        Ok(count)
    }

    fn tagged_fields(&mut self) -> Result<(), String> {
        let count = self.varint()?;
        for _ in 0..count {
            self.varint()?;
            let size = self.varint()?;
            self.skip(size as usize)?;
        }
        Ok(())
    }
}

/// Walks a whole request body.
pub(crate) fn walk_body(
    fields: &[V],
    version: i16,
    flexible: bool,
    body: &[u8],
) -> Result<(), String> {
    let mut cursor = Cursor {
        bytes: body,
        position: 0,
    };
    walk_struct(fields, version, flexible, &mut cursor)
}

fn walk_struct(
    fields: &[V],
    version: i16,
    flexible: bool,
    cursor: &mut Cursor<'_>,
) -> Result<(), String> {
    for entry in fields {
        if (entry.min..=entry.max).contains(&version) {
            walk_field(entry.field, version, flexible, cursor)?;
        }
    }
    if flexible {
        cursor.tagged_fields()?;
    }
    Ok(())
}

fn walk_field(
    field: Field,
    version: i16,
    flexible: bool,
    cursor: &mut Cursor<'_>,
) -> Result<(), String> {
    match field {
        Field::Fixed(size) => cursor.skip(size),
        Field::Str => {
            let length = cursor.length(flexible, 2)?;
            cursor.skip(length)
        }
        Field::Bytes => {
            let length = cursor.length(flexible, 4)?;
            cursor.skip(length)
        }
        Field::FixedArray(size) => {
            let count = cursor.count(flexible, size)?;
            cursor.skip(count * size)
        }
        Field::StrArray => {
            let count = cursor.count(flexible, 1)?;
            for _ in 0..count {
                walk_field(Field::Str, version, flexible, cursor)?;
            }
            Ok(())
        }
        Field::Array(element) => {
            let count = cursor.count(flexible, 1)?;
            for _ in 0..count {
                let before = cursor.position;
                walk_struct(element, version, flexible, cursor)?;
                if cursor.position == before {
                    return Err("array element of zero bytes".to_owned());
                }
            }
            Ok(())
        }
    }
}
