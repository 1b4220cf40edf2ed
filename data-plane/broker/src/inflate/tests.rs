use std::io::Write;

use super::*;

const MIB: usize = 1024 * 1024;

fn compress(codec: Compression, plain: &[u8]) -> Vec<u8> {
    match codec {
        Compression::None => plain.to_vec(),
        Compression::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(plain).unwrap();
            encoder.finish().unwrap()
        }
        Compression::Zstd => zstd::encode_all(plain, 1).unwrap(),
        Compression::Lz4 => {
            let mut encoder = lz4::EncoderBuilder::new().build(Vec::new()).unwrap();
            encoder.write_all(plain).unwrap();
            let (output, result) = encoder.finish();
            result.unwrap();
            output
        }
        Compression::Snappy => {
            // snappy-java framing: header, then length-prefixed raw blocks.
            let mut output = XERIAL_MAGIC.to_vec();
            output.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1]);
            for chunk in plain.chunks(64 * 1024) {
                let block = snap::raw::Encoder::new().compress_vec(chunk).unwrap();
                output.extend_from_slice(&u32::try_from(block.len()).unwrap().to_be_bytes());
                output.extend_from_slice(&block);
            }
            output
        }
    }
}

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

#[test]
fn every_codec_round_trips_within_the_limit() {
    let plain: Vec<u8> = (0..100_000_u32).flat_map(|n| n.to_le_bytes()).collect();
    for codec in CODECS {
        let output = decompress(codec, &compress(codec, &plain), plain.len()).unwrap();
        assert_eq!(&output[..], &plain[..], "{codec:?}");
    }
    let raw = snap::raw::Encoder::new().compress_vec(&plain).unwrap();
    assert_eq!(
        &decompress(Compression::Snappy, &raw, plain.len()).unwrap()[..],
        &plain[..]
    );
}

#[test]
fn output_past_the_limit_is_refused_for_every_codec() {
    let zeros = vec![0u8; 8 * MIB];
    for codec in CODECS {
        let compressed = compress(codec, &zeros);
        let error = decompress(codec, &compressed, MIB).unwrap_err();
        assert!(
            matches!(error, InflateError::TooLarge { limit: MIB, .. }),
            "{codec:?}: {error}"
        );
    }
    // A raw snappy block declaring 3 GiB is refused before allocating.
    let mut lying = Vec::new();
    let mut length: u64 = 3 << 30;
    while length >= 0x80 {
        lying.push((length as u8) | 0x80);
        length >>= 7;
    }
    lying.push(length as u8);
    let error = decompress(Compression::Snappy, &lying, MIB).unwrap_err();
    assert!(matches!(error, InflateError::TooLarge { .. }), "{error}");
}

#[test]
fn corrupt_input_is_an_error_not_a_panic() {
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let mut compressed = compress(codec, b"some records to compress, some records");
        for byte in compressed.iter_mut().skip(4) {
            *byte ^= 0x5a;
        }
        compressed.truncate(compressed.len() / 2 + 5);
        assert!(decompress(codec, &compressed, MIB).is_err(), "{codec:?}");
    }
}
