//! Declared-length checks that run before a request body is decoded.
//!
//! The message codec pre-allocates every array from the element count the
//! peer declares (`Vec::with_capacity(count)`), before reading any element. A
//! frame of a few bytes can declare 2³¹ elements and make the process ask for
//! hundreds of gigabytes, which aborts it. So, before decoding, each served
//! API's arrays are checked here: a declared count whose smallest possible
//! encoding does not fit in the bytes left is refused.
//!
//! This check fails closed: an API without an entry here is refused, so a
//! newly served API cannot skip it. (Every entry in
//! [`super::versions::SUPPORTED_APIS`] is covered by a test.)

use kafka_protocol::messages::ApiKey;

/// Checks that every array the body declares can fit in the body.
pub(crate) fn check_declared_lengths(
    api_key: ApiKey,
    version: i16,
    body: &[u8],
) -> Result<(), String> {
    match api_key {
        // No version of the ApiVersions request holds an array.
        ApiKey::ApiVersions => Ok(()),
        ApiKey::Metadata => {
            let flexible = version >= 9;
            // Smallest encoded topic: a name (2-byte length, or 1-byte compact
            // length plus 1 byte of tagged fields); from v10 also a 16-byte id.
            let element_bytes_min = if version >= 10 { 18 } else { 2 };
            leading_array_fits(body, flexible, element_bytes_min)
        }
        other => Err(format!("{other:?} has no declared-length check")),
    }
}

/// Checks an array at the start of `body`.
fn leading_array_fits(body: &[u8], flexible: bool, element_bytes_min: usize) -> Result<(), String> {
    let (count, header_bytes) = if flexible {
        let (value, length) = read_unsigned_varint(body)?;
        // Compact arrays store count + 1; 0 is null.
        (u64::from(value.saturating_sub(1)), length)
    } else {
        let bytes: [u8; 4] = body
            .get(..4)
            .and_then(|prefix| prefix.try_into().ok())
            .ok_or("array length is truncated")?;
        let count = i32::from_be_bytes(bytes);
        // -1 is a null array; any other negative count the codec rejects.
        (u64::try_from(count).unwrap_or(0), 4)
    };
    let remaining = (body.len() - header_bytes) as u64;
    let needed = count.saturating_mul(element_bytes_min as u64);
    if needed > remaining {
        return Err(format!(
            "array declares {count} elements but only {remaining} bytes follow"
        ));
    }
    Ok(())
}

/// Reads an unsigned LEB128 varint of at most 5 bytes (a u32).
fn read_unsigned_varint(bytes: &[u8]) -> Result<(u32, usize), String> {
    let mut value: u32 = 0;
    for (index, byte) in bytes.iter().take(5).enumerate() {
        value |= u32::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            return Ok((value, index + 1));
        }
    }
    Err("array length varint is truncated or longer than 5 bytes".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_declared_counts_are_refused_in_both_encodings() {
        let classic = [0x7f, 0xff, 0xff, 0xff, 0, 1];
        assert!(check_declared_lengths(ApiKey::Metadata, 4, &classic).is_err());
        let compact = [0xff, 0xff, 0xff, 0xff, 0x0f, 0];
        assert!(check_declared_lengths(ApiKey::Metadata, 12, &compact).is_err());
    }

    #[test]
    fn null_empty_and_fitting_arrays_pass() {
        assert!(check_declared_lengths(ApiKey::Metadata, 4, &[0xff, 0xff, 0xff, 0xff]).is_ok());
        assert!(check_declared_lengths(ApiKey::Metadata, 4, &[0, 0, 0, 1, 0, 1, b'a']).is_ok());
        assert!(check_declared_lengths(ApiKey::Metadata, 12, &[0]).is_ok());
        assert!(check_declared_lengths(ApiKey::Metadata, 9, &[2, 2, b'a', 0, 0]).is_ok());
    }

    #[test]
    fn apis_without_a_check_are_refused() {
        assert!(check_declared_lengths(ApiKey::Produce, 9, &[]).is_err());
    }

    #[test]
    fn overlong_varint_is_refused() {
        assert!(read_unsigned_varint(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]).is_err());
        assert_eq!(read_unsigned_varint(&[0x96, 0x01]), Ok((150, 2)));
    }
}
