use std::sync::Arc;

use super::*;
use crate::SimMedium;
use crate::medium::Medium;

const FILE: &str = "/data/journal/logs";

fn entry(path: &str) -> Entry {
    Entry {
        path: path.to_owned(),
        segment_bytes: 1 << 30,
        index_interval_bytes: 4096,
    }
}

/// A fresh, stored registry on a simulated disk.
fn fresh(medium: &SimMedium) -> (FileCache, Registry) {
    medium
        .create_dir_all(Path::new("/data/journal"))
        .expect("directory");
    let cache = FileCache::new(Arc::new(medium.clone()), 4);
    let mut registry = Registry::default();
    registry.compact(&cache, Path::new(FILE)).expect("store");
    (cache, registry)
}

fn reload(cache: &FileCache) -> Registry {
    Registry::load(cache, Path::new(FILE))
        .expect("valid")
        .expect("present")
}

fn same(left: &Registry, right: &Registry) {
    assert_eq!(left.logs, right.logs);
    assert_eq!(left.next_id, right.next_id);
    assert_eq!(left.generation, right.generation);
    assert_eq!(left.end, right.end);
}

#[test]
fn registry_round_trips_and_refuses_climbing_paths() {
    let mut registry = Registry::default();
    registry.logs.insert(1, entry("group-1/t-0"));
    registry.by_path.insert("group-1/t-0".to_owned(), 1);
    registry.next_id = 2;
    let decoded = Registry::decode(&registry.encode_snapshot()).expect("decodes");
    assert_eq!(decoded.logs, registry.logs);
    assert_eq!(decoded.find("group-1/t-0"), Some(1));
    let root = Path::new("/data");
    assert!(relative_path(root, Path::new("/data/../etc")).is_err());
    assert!(relative_path(root, Path::new("/other/x")).is_err());
    let long = format!("/data/{}", "x".repeat(PATH_BYTES_MAX + 1));
    assert!(relative_path(root, Path::new(&long)).is_err());
    assert_eq!(
        relative_path(root, Path::new("/data/a/b")).ok(),
        Some("a/b".to_owned())
    );
}

#[test]
fn registrations_and_removals_are_appended_and_read_back() {
    let medium = SimMedium::new();
    let (cache, mut registry) = fresh(&medium);
    for id in 1..=10 {
        registry
            .put(&cache, Path::new(FILE), id, entry(&format!("p{id}")))
            .expect("put");
    }
    registry.remove(&cache, Path::new(FILE), 3).expect("remove");
    let mut changed = entry("p4");
    changed.segment_bytes = 1 << 20;
    registry
        .put(&cache, Path::new(FILE), 4, changed.clone())
        .expect("update");
    let loaded = reload(&cache);
    same(&loaded, &registry);
    assert_eq!(loaded.find("p3"), None);
    assert_eq!(loaded.logs.get(&4), Some(&changed));
    assert_eq!(loaded.next_id, 11, "a removed id is never handed out again");
}

#[test]
fn registering_a_log_costs_constant_bytes_amortised() {
    let medium = SimMedium::new();
    let (cache, mut registry) = fresh(&medium);
    let logs = 4000u32;
    for id in 1..=logs {
        registry
            .put(
                &cache,
                Path::new(FILE),
                id,
                entry(&format!("group-{id}/topic-{id}")),
            )
            .expect("put");
    }
    // Rewriting the whole registry per log wrote about 40 bytes x n^2 / 2
    // (320 MB here); records plus compaction write a few hundred per log.
    let per_log = registry.bytes_written / u64::from(logs);
    assert!(per_log < 1024, "{per_log} bytes written per registration");
    let file_bytes = medium
        .files()
        .into_iter()
        .find(|(path, _)| path == Path::new(FILE))
        .map(|(_, len)| len)
        .expect("registry file");
    let snapshot = page_up(u64::from(logs) * 64);
    let records = COMPACT_RECORDS_MIN.max(u64::from(logs) / 4) + 1;
    assert!(file_bytes <= snapshot + records * PAGE, "{file_bytes}");
    same(&reload(&cache), &registry);
}

#[test]
fn a_torn_last_record_is_dropped_and_a_damaged_earlier_one_is_corrupt() {
    let medium = SimMedium::new();
    let (cache, mut registry) = fresh(&medium);
    for id in 1..=3 {
        registry
            .put(&cache, Path::new(FILE), id, entry(&format!("p{id}")))
            .expect("put");
    }
    let file = medium.open(Path::new(FILE), false).expect("open");
    let len = usize::try_from(file.len().expect("len")).expect("small");
    let mut bytes = vec![0u8; len];
    file.read_exact_at(&mut bytes, 0).expect("read");
    let last = registry.end - PAGE;
    let mut torn = bytes.clone();
    torn[usize::try_from(last).expect("small") + 30] ^= 1;
    let recovered = Registry::decode(&torn).expect("a torn tail is not damage");
    assert_eq!(recovered.logs.len(), 2);
    assert_eq!(
        recovered.end, last,
        "the next record overwrites the torn one"
    );
    let mut damaged = bytes;
    damaged[usize::try_from(last - PAGE).expect("small") + 30] ^= 1;
    let refused = Registry::decode(&damaged).expect_err("damage before a valid record");
    assert!(refused.contains("damaged"), "{refused}");
}

#[test]
fn a_record_reusing_a_removed_id_is_refused() {
    let medium = SimMedium::new();
    let (cache, mut registry) = fresh(&medium);
    registry
        .put(&cache, Path::new(FILE), 1, entry("p1"))
        .expect("put");
    registry.remove(&cache, Path::new(FILE), 1).expect("remove");
    let snapshot = Registry::load(&cache, Path::new(FILE))
        .expect("valid")
        .expect("present");
    let file = medium.open(Path::new(FILE), false).expect("open");
    let mut bytes = vec![0u8; usize::try_from(file.len().expect("len")).expect("small")];
    file.read_exact_at(&mut bytes, 0).expect("read");
    // The last record ends inside its page; the next one starts a page.
    bytes.resize(usize::try_from(snapshot.end).expect("small"), 0);
    let forged = encode_record(snapshot.generation + 1, &Change::Put(1, entry("p1")));
    bytes.extend_from_slice(&forged);
    let refused = Registry::decode(&bytes).expect_err("ids are never reused");
    assert!(refused.contains("reused"), "{refused}");
}
