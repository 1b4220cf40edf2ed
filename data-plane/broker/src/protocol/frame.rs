//! Length-prefixed frames.

use bytes::{BufMut, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Why a frame could not be read; every variant closes the connection.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame length {length} is negative")]
    NegativeLength { length: i32 },
    #[error("frame length {length} exceeds the limit of {limit} bytes")]
    TooLarge { length: u32, limit: u32 },
    #[error("connection closed in the middle of a frame")]
    Truncated,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Reads one frame. `Ok(None)` is a clean end of stream between frames.
///
/// The length is checked against `limit` *before* any buffer is allocated,
/// so a hostile length costs nothing.
pub async fn read_frame<R>(reader: &mut R, limit: u32) -> Result<Option<BytesMut>, FrameError>
where
    R: AsyncRead + Unpin,
{
    match read_length(reader, limit).await? {
        Some(length) => read_payload(reader, length).await.map(Some),
        None => Ok(None),
    }
}

/// Reads a frame's length prefix, checked against `limit`; `Ok(None)` is a
/// clean end of stream. The caller may wait for room before
/// [`read_payload`].
pub async fn read_length<R>(reader: &mut R, limit: u32) -> Result<Option<u32>, FrameError>
where
    R: AsyncRead + Unpin,
{
    let mut prefix = [0u8; 4];
    match reader.read(&mut prefix[..1]).await? {
        0 => return Ok(None),
        _ => read_exact_or_truncated(reader, &mut prefix[1..]).await?,
    }
    let length = i32::from_be_bytes(prefix);
    let length = u32::try_from(length).map_err(|_| FrameError::NegativeLength { length })?;
    if length > limit {
        return Err(FrameError::TooLarge { length, limit });
    }
    Ok(Some(length))
}

/// Reads the `length` payload bytes that follow a length prefix.
pub async fn read_payload<R>(reader: &mut R, length: u32) -> Result<BytesMut, FrameError>
where
    R: AsyncRead + Unpin,
{
    let length = length as usize;
    // Read into the buffer's spare capacity: zero-filling it first cost a
    // pass over every request's bytes (and touched pages the read fills
    // anyway). The limit keeps the read inside this frame.
    let mut payload = BytesMut::with_capacity(length);
    // Bounded: each round adds at least one byte or ends the frame.
    while payload.len() < length {
        let remaining = length - payload.len();
        if reader
            .read_buf(&mut (&mut payload).limit(remaining))
            .await?
            == 0
        {
            return Err(FrameError::Truncated);
        }
    }
    debug_assert_eq!(payload.len(), length, "a frame's payload is read whole");
    Ok(payload)
}

async fn read_exact_or_truncated<R>(reader: &mut R, buffer: &mut [u8]) -> Result<(), FrameError>
where
    R: AsyncRead + Unpin,
{
    match reader.read_exact(buffer).await {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => {
            Err(FrameError::Truncated)
        }
        Err(error) => Err(FrameError::Io(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(bytes: &[u8], limit: u32) -> Result<Option<BytesMut>, FrameError> {
        let mut reader = bytes;
        read_frame(&mut reader, limit).await
    }

    #[tokio::test]
    async fn reads_consecutive_frames_then_clean_end() {
        let mut input: &[u8] = &[0, 0, 0, 2, b'h', b'i', 0, 0, 0, 0];
        let first = read_frame(&mut input, 1024).await.unwrap().unwrap();
        assert_eq!(&first[..], b"hi");
        let second = read_frame(&mut input, 1024).await.unwrap().unwrap();
        assert!(second.is_empty());
        assert!(read_frame(&mut input, 1024).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_payload_arriving_in_pieces_is_read_whole_and_no_further() {
        // A 3-byte pipe hands the reader at most 3 bytes per read.
        let (mut writer, mut reader) = tokio::io::duplex(3);
        let sent = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let mut input = vec![0, 0, 0, 10];
            input.extend(b"0123456789");
            input.extend([0, 0, 0, 1, b'x']);
            writer.write_all(&input).await.unwrap();
        });
        let first = read_frame(&mut reader, 1024).await.unwrap().unwrap();
        assert_eq!(&first[..], b"0123456789");
        let second = read_frame(&mut reader, 1024).await.unwrap().unwrap();
        assert_eq!(&second[..], b"x");
        sent.await.unwrap();
        assert!(read_frame(&mut reader, 1024).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn oversized_and_negative_lengths_are_refused_before_allocating() {
        let error = read(&[0x7f, 0xff, 0xff, 0xff], 1024).await.unwrap_err();
        assert!(
            matches!(error, FrameError::TooLarge { limit: 1024, .. }),
            "{error}"
        );
        let error = read(&[0xff, 0xff, 0xff, 0xff], 1024).await.unwrap_err();
        assert!(
            matches!(error, FrameError::NegativeLength { length: -1 }),
            "{error}"
        );
    }

    #[tokio::test]
    async fn truncated_prefix_or_payload_is_reported() {
        assert!(matches!(
            read(&[0, 0], 1024).await,
            Err(FrameError::Truncated)
        ));
        assert!(matches!(
            read(&[0, 0, 0, 5, 1, 2], 1024).await,
            Err(FrameError::Truncated)
        ));
    }
}
