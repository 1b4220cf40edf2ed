//! The decode path of a connection without the socket: frames, then header,
//! declared-length check and body. The fuzz target
//! (`data-plane/broker/fuzz`) and the seeded mutation test feed bytes here.

use bytes::Bytes;

use super::{DecodedRequest, decode_request, read_frame};

/// Reads length-prefixed request frames from `input` and decodes each, as a
/// connection does, stopping at the end or at the first error (where the
/// server would close the connection). Returns how many requests decoded.
///
/// Must never panic, and must allocate only in proportion to `input`
/// (frames are bounded by `frame_bytes_max` and by what is present).
pub fn decode_frames(input: &[u8], frame_bytes_max: u32) -> usize {
    let mut reader = input;
    let mut decoded = 0;
    // Bounded: every frame consumes at least its 4-byte length prefix.
    loop {
        let frame = futures::executor::block_on(read_frame(&mut reader, frame_bytes_max));
        let Ok(Some(frame)) = frame else {
            return decoded;
        };
        assert!(frame.len() <= frame_bytes_max as usize);
        match decode_request(Bytes::from(frame)) {
            Ok(DecodedRequest::Request { header, .. }) => {
                assert!(header.request_api_version >= 0);
                decoded += 1;
            }
            Ok(DecodedRequest::UnsupportedApiVersions { .. }) => decoded += 1,
            Err(_) => return decoded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::samples;
    use super::*;

    #[test]
    fn every_sample_decodes_alone_and_back_to_back() {
        let frames = samples::all_frames();
        for frame in &frames {
            assert_eq!(decode_frames(frame, samples::FUZZ_FRAME_BYTES_MAX), 1);
        }
        let stream: Vec<u8> = frames.concat();
        assert_eq!(decode_frames(&stream, u32::MAX), frames.len());
    }

    /// Mutates valid frames at random (seeded, so failures replay) through
    /// the fuzz target's entry point: a panic or a runaway allocation fails
    /// the test. CI runs this on stable; `cargo fuzz` explores further.
    #[test]
    fn mutated_frames_never_panic_or_allocate_wildly() {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let frames = samples::all_frames();
        for round in 0..200_000_u32 {
            let length = 1 + (next() % 16) as usize;
            let mut instructions: Vec<u8> = (0..length).map(|_| next() as u8).collect();
            instructions[0] = (round % 256) as u8;
            samples::decode_mutated(&frames, &instructions);
        }
    }

    #[test]
    fn oversized_and_garbage_inputs_decode_nothing() {
        assert_eq!(decode_frames(&[], 1024), 0);
        assert_eq!(decode_frames(&[0x7f, 0xff, 0xff, 0xff, 0], 1024), 0);
        assert_eq!(decode_frames(&[0, 0, 0, 3, 1, 2, 3], 1024), 0);
    }
}
