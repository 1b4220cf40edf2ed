//! Watches: replay, bookmarks, timeouts, 410 and relists, metadata-only watches, faults.

use std::time::Duration;

use fjord_kube_sim::ApiServer;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{DeleteParams, ListParams, PostParams, WatchEvent, WatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};

use super::{api_error, config_map};

#[tokio::test]
async fn a_watch_replays_changes_after_its_resource_version_then_streams_live_ones() {
    let client = ApiServer::default().client();
    let maps: Api<ConfigMap> = Api::default_namespaced(client);
    let a = maps
        .create(&PostParams::default(), &config_map("a", &[]))
        .await
        .unwrap();
    maps.create(&PostParams::default(), &config_map("b", &[]))
        .await
        .unwrap();
    let mut stream = maps
        .watch(
            &WatchParams::default().timeout(5),
            &a.resource_version().unwrap(),
        )
        .await
        .unwrap()
        .boxed();
    let first = stream.try_next().await.unwrap().unwrap();
    assert!(matches!(first, WatchEvent::Added(ref m) if m.name_any() == "b"));
    maps.delete("a", &DeleteParams::default()).await.unwrap();
    let second = stream.try_next().await.unwrap().unwrap();
    assert!(matches!(second, WatchEvent::Deleted(ref m) if m.name_any() == "a"));
}

#[tokio::test(start_paused = false)]
async fn a_watch_sends_bookmarks_with_the_latest_resource_version_and_ends_at_its_timeout() {
    let server = ApiServer::default();
    server.set_bookmark_interval(Duration::from_millis(100));
    let maps: Api<ConfigMap> = Api::default_namespaced(server.client());
    let created = maps
        .create(&PostParams::default(), &config_map("a", &[]))
        .await
        .unwrap();
    let events: Vec<WatchEvent<ConfigMap>> = maps
        .watch(
            &WatchParams {
                bookmarks: true,
                ..WatchParams::default().timeout(1)
            },
            &created.resource_version().unwrap(),
        )
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(
        !events.is_empty(),
        "bookmarks arrive within the one-second watch"
    );
    for event in events {
        match event {
            WatchEvent::Bookmark(bookmark) => {
                assert_eq!(
                    bookmark.metadata.resource_version,
                    created.resource_version().unwrap()
                );
            }
            other => panic!("only bookmarks expected, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_watch_from_a_compacted_version_gets_410_gone_and_the_watcher_relists() {
    let server = ApiServer::default();
    let maps: Api<ConfigMap> = Api::default_namespaced(server.client());
    let a = maps
        .create(&PostParams::default(), &config_map("a", &[]))
        .await
        .unwrap();
    let status = {
        maps.create(&PostParams::default(), &config_map("b", &[]))
            .await
            .unwrap();
        server.compact();
        let mut stream = maps
            .watch(
                &WatchParams::default().timeout(5),
                &a.resource_version().unwrap(),
            )
            .await
            .unwrap()
            .boxed();
        match stream.try_next().await.unwrap().unwrap() {
            WatchEvent::Error(status) => status,
            other => panic!("expected a 410 error event, got {other:?}"),
        }
    };
    assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));

    // kube's watcher: a dropped watch re-watches from its last version; once that
    // version is compacted away it gets 410 and starts over with a fresh list.
    let mut events = watcher(maps.clone(), watcher::Config::default()).boxed();
    let mut initial = Vec::new();
    loop {
        match events.try_next().await.unwrap().unwrap() {
            watcher::Event::InitApply(map) => initial.push(map.name_any()),
            watcher::Event::InitDone => break,
            _ => {}
        }
    }
    assert_eq!(initial, ["a", "b"]);
    maps.create(&PostParams::default(), &config_map("c", &[]))
        .await
        .unwrap();
    server.compact();
    server.faults().drop_watches_for(Duration::from_millis(1));
    maps.create(&PostParams::default(), &config_map("d", &[]))
        .await
        .unwrap();
    let mut relisted = Vec::new();
    let mut saw_init = false;
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match events.try_next().await {
                Ok(Some(watcher::Event::Init)) => saw_init = true,
                Ok(Some(watcher::Event::InitApply(map))) if saw_init => {
                    relisted.push(map.name_any())
                }
                Ok(Some(watcher::Event::InitDone)) if saw_init => return,
                _ => {}
            }
        }
    })
    .await
    .expect("the watcher relists after 410");
    assert_eq!(relisted, ["a", "b", "c", "d"]);
}

#[tokio::test]
async fn a_metadata_watcher_sees_partial_object_metadata() {
    let client = ApiServer::default().client();
    let maps: Api<ConfigMap> = Api::default_namespaced(client.clone());
    maps.create(
        &PostParams::default(),
        &config_map("a", &[("secret", "not sent")]),
    )
    .await
    .unwrap();
    // `Api<PartialObjectMeta<K>>` asks for `as=PartialObjectMetadataList` / `as=PartialObjectMetadata`.
    let metadata: Api<PartialObjectMeta<ConfigMap>> = Api::default_namespaced(client);
    let mut events = watcher(metadata, watcher::Config::default())
        .applied_objects()
        .boxed();
    let first = events.try_next().await.unwrap().unwrap();
    assert_eq!(first.name_any(), "a");
    maps.create(&PostParams::default(), &config_map("b", &[]))
        .await
        .unwrap();
    let second = tokio::time::timeout(Duration::from_secs(5), events.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(second.name_any(), "b");
    assert_eq!(second.types.unwrap().kind, "PartialObjectMetadata");
}

#[tokio::test]
async fn injected_server_errors_reach_the_client_and_stop_after_their_count() {
    let server = ApiServer::default();
    let maps: Api<ConfigMap> = Api::default_namespaced(server.client());
    server.faults().fail_next_requests(500, 1);
    let status = api_error(maps.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(status.code, 500);
    server.faults().fail_next_requests(429, 1);
    let status = api_error(maps.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(status.code, 429);
    assert!(maps.list(&ListParams::default()).await.is_ok());
}

#[tokio::test]
async fn delayed_watch_events_arrive_late_but_in_order() {
    let server = ApiServer::default();
    let maps: Api<ConfigMap> = Api::default_namespaced(server.client());
    let a = maps
        .create(&PostParams::default(), &config_map("a", &[]))
        .await
        .unwrap();
    server.faults().delay_events(Duration::from_millis(300));
    let mut stream = maps
        .watch(
            &WatchParams::default().timeout(5),
            &a.resource_version().unwrap(),
        )
        .await
        .unwrap()
        .boxed();
    let started = tokio::time::Instant::now();
    maps.create(&PostParams::default(), &config_map("b", &[]))
        .await
        .unwrap();
    maps.create(&PostParams::default(), &config_map("c", &[]))
        .await
        .unwrap();
    let mut names = Vec::new();
    for _ in 0..2 {
        if let WatchEvent::Added(map) = stream.try_next().await.unwrap().unwrap() {
            names.push(map.name_any());
        }
    }
    assert_eq!(names, ["b", "c"]);
    assert!(started.elapsed() >= Duration::from_millis(600));
}

#[tokio::test]
async fn a_watcher_gets_the_changes_made_while_its_watches_were_dropped() {
    let server = ApiServer::default();
    let maps: Api<ConfigMap> = Api::default_namespaced(server.client());
    let mut events = watcher(maps.clone(), watcher::Config::default())
        .applied_objects()
        .boxed();
    maps.create(&PostParams::default(), &config_map("before", &[]))
        .await
        .unwrap();
    assert_eq!(
        events.try_next().await.unwrap().unwrap().name_any(),
        "before"
    );
    server.faults().drop_watches_for(Duration::from_millis(500));
    maps.create(&PostParams::default(), &config_map("during", &[]))
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    let next = tokio::time::timeout(Duration::from_secs(10), events.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(next.name_any(), "during");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "the change arrives only after the fault ends"
    );
}

#[tokio::test]
async fn a_streaming_list_sends_the_current_objects_then_the_initial_events_end_bookmark() {
    let server = ApiServer::default();
    let maps: Api<ConfigMap> = Api::default_namespaced(server.client());
    maps.create(&PostParams::default(), &config_map("a", &[]))
        .await
        .unwrap();
    maps.create(&PostParams::default(), &config_map("b", &[]))
        .await
        .unwrap();
    let config = watcher::Config::default().streaming_lists();
    let mut events = watcher(maps.clone(), config).boxed();
    let mut initial = Vec::new();
    loop {
        match events.try_next().await.unwrap().unwrap() {
            watcher::Event::InitApply(map) => initial.push(map.name_any()),
            watcher::Event::InitDone => break,
            _ => {}
        }
    }
    assert_eq!(initial, ["a", "b"]);
    maps.create(&PostParams::default(), &config_map("c", &[]))
        .await
        .unwrap();
    let next = tokio::time::timeout(Duration::from_secs(5), events.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(matches!(next, watcher::Event::Apply(ref map) if map.name_any() == "c"));
}
