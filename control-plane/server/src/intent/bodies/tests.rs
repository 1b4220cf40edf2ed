use std::io::Read as _;

use super::*;

fn body(environment_id: Uuid, generation: i64, size: usize) -> Arc<IntentBody> {
    Arc::new(IntentBody {
        organization_id: Uuid::nil(),
        environment_id,
        generation,
        json: Bytes::from(vec![b' '; size]),
        gzip: OnceCell::new(),
        delta: OnceCell::new(),
    })
}

fn gunzip(gzip: &[u8]) -> Vec<u8> {
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(gzip)
        .read_to_end(&mut plain)
        .expect("valid gzip");
    plain
}

#[test]
fn cached_bodies_are_per_tenant_and_generation_and_bounded() {
    let limit = 1000;
    let bodies = IntentBodies::with_limit(limit);
    let environment = Uuid::now_v7();
    bodies.insert(body(environment, 3, 10));
    assert!(bodies.get(Uuid::nil(), environment, 3).is_some());
    assert!(bodies.get(Uuid::nil(), environment, 4).is_none());
    assert!(bodies.get(Uuid::now_v7(), environment, 3).is_none());
    bodies.insert(body(environment, 4, 20));
    assert_eq!(
        bodies.lock().bytes,
        2 * (20 + gzip_bytes_max(20)),
        "the replaced body is no longer counted, room for the gzip copy and a delta is"
    );
    // Two of these do not fit together.
    let big = 110;
    assert!(body(Uuid::nil(), 1, big).bytes() * 2 > limit);
    let (first, second) = (Uuid::now_v7(), Uuid::now_v7());
    bodies.insert(body(first, 1, big));
    bodies.insert(body(second, 1, big));
    {
        let cache = bodies.lock();
        assert!(cache.bytes <= limit);
        assert!(
            cache.bodies.contains_key(&second),
            "the newest body is kept"
        );
        assert!(!cache.bodies.contains_key(&first) || !cache.bodies.contains_key(&environment));
        assert_eq!(
            cache.bytes,
            cache.bodies.values().map(|b| b.bytes()).sum::<usize>()
        );
    }
    bodies.insert(body(Uuid::now_v7(), 1, 250));
    assert!(
        bodies.lock().bytes <= limit,
        "a body over the limit (with its gzip copy) is not kept"
    );
}

#[test]
fn accept_encoding_is_read_with_its_weights() {
    let accepts = |values: &[&str]| {
        let mut headers = axum::http::HeaderMap::new();
        for value in values {
            headers.append(
                axum::http::header::ACCEPT_ENCODING,
                value.parse().expect("a header value"),
            );
        }
        accepts_gzip(&headers)
    };
    assert!(!accepts(&[]));
    assert!(accepts(&["gzip"]));
    assert!(accepts(&["br, GZIP;q=0.5"]));
    assert!(accepts(&["identity", "x-gzip"]));
    assert!(accepts(&["*"]));
    assert!(!accepts(&["gzip;q=0"]));
    assert!(!accepts(&["gzip; q=0.000, *"]), "gzip named wins over *");
    assert!(!accepts(&["*;q=0"]));
    assert!(!accepts(&["gzip;q=bad"]));
    assert!(!accepts(&["br, deflate, identity"]));
    assert!(!accepts(&["gzipx"]));
}

#[tokio::test]
async fn the_gzip_copy_is_built_once_and_decompresses_to_the_json() {
    let bodies = IntentBodies::with_limit(1 << 20);
    let json = serde_json::to_vec(&serde_json::json!({
        "generation": 7,
        "topics": (0..200).map(|index| format!("topic-{index}")).collect::<Vec<_>>(),
    }))
    .expect("serialisable");
    let body = IntentBody {
        organization_id: Uuid::nil(),
        environment_id: Uuid::now_v7(),
        generation: 7,
        json: Bytes::from(json),
        gzip: OnceCell::new(),
        delta: OnceCell::new(),
    };
    let (first, second) = tokio::join!(bodies.gzip(&body), bodies.gzip(&body));
    let (first, second) = (first.expect("compresses"), second.expect("compresses"));
    assert_eq!(first, second);
    assert_eq!(first.as_ptr(), second.as_ptr(), "one shared copy");
    assert_eq!(bodies.gzip_builds.get(), 1);
    assert_eq!(bodies.gzip_sent.get(), 2);
    assert!(first.len() < body.json.len() / 2, "json compresses");
    assert_eq!(gunzip(&first), body.json);
}

#[test]
fn incompressible_bodies_stay_within_the_counted_bound() {
    // A byte sequence deflate cannot shrink (xorshift noise).
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let noise: Vec<u8> = (0..200_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect();
    for len in [0, 1, 65_535, 65_536, 200_000] {
        let gzip = compress(&noise[..len]).expect("compresses");
        assert!(gzip.len() <= gzip_bytes_max(len));
        assert_eq!(gunzip(&gzip), &noise[..len]);
    }
}
