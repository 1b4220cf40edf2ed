//! WATCH: replays the change log from the requested resource version, then streams
//! live changes; sends bookmarks when asked; ends after `timeoutSeconds`; answers a
//! compacted-away version with an `ERROR` event carrying 410 Expired (so clients relist).
//!
//! Ordering invariant: the replay and the live receiver are taken under the store lock,
//! and live events at or below the last replayed version are skipped, so every change
//! after the start version is sent once, in version order.

mod request;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

pub use request::WatchRequest;

use crate::server::ApiServer;
use crate::status::ApiStatus;
use crate::store::StoredEvent;

/// Turns a stored object into what the client asked for (full, metadata-only, table row).
pub type Render = Arc<dyn Fn(Value) -> Value + Send + Sync>;

/// Events buffered between the watch task and the response body.
const BUFFER: usize = 256;

fn event(kind: &str, object: Value) -> Value {
    json!({"type": kind, "object": object})
}

/// Starts a watch; its events arrive on the receiver, which closes when the watch ends.
pub fn start(server: &ApiServer, request: WatchRequest, render: Render) -> mpsc::Receiver<Value> {
    let (sender, receiver) = mpsc::channel(BUFFER);
    let faults = server.faults().clone();
    let mut drops = faults.watch_drops();
    drops.mark_unchanged();
    if let Some(until) = faults.watches_dropped_until() {
        // Like a watch through a broken connection: nothing arrives until the fault
        // ends, then the stream closes and the client re-watches from its version.
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep_until(until) => {}
                () = sender.closed() => {}
            }
        });
        return receiver;
    }
    let (initial, start_version, live) = {
        let state = server.lock();
        let resource_type = &request.resource_type;
        let current = state.store.resource_version();
        match request.resource_version {
            Some(version) => match state.store.subscribe_after(version) {
                Some((replay, live)) => {
                    let initial: Vec<Value> = replay
                        .iter()
                        .filter_map(|e| {
                            let kind = request.event_type(e)?;
                            Some(event(kind, render(e.object.clone())))
                        })
                        .collect();
                    let last = replay.last().map_or(version, |e| e.resource_version);
                    (initial, last, Some(live))
                }
                None => {
                    let status = ApiStatus::expired(format!(
                        "too old resource version: {version} ({})",
                        state.store.compacted_through()
                    ));
                    (vec![event("ERROR", status.to_json())], current, None)
                }
            },
            None => {
                let namespace = if resource_type.namespaced {
                    request.namespace.as_deref()
                } else {
                    None
                };
                let initial: Vec<Value> = state
                    .store
                    .list(&resource_type.group_resource(), namespace)
                    .filter(|(_, object)| request.selects(object))
                    .map(|(_, object)| event("ADDED", render(object.clone())))
                    .collect();
                (initial, current, Some(state.store.subscribe()))
            }
        }
    };
    let send_initial_end = request.send_initial_events && request.allow_bookmarks && live.is_some();
    tokio::spawn(async move {
        for item in initial {
            if sender.send(item).await.is_err() {
                return;
            }
        }
        let Some(live) = live else {
            return;
        };
        if send_initial_end {
            let mut bookmark = request.bookmark(start_version);
            bookmark["metadata"]["annotations"] = json!({"k8s.io/initial-events-end": "true"});
            if sender.send(event("BOOKMARK", bookmark)).await.is_err() {
                return;
            }
        }
        stream_live(request, render, live, start_version, sender, faults, drops).await;
    });
    receiver
}

async fn stream_live(
    request: WatchRequest,
    render: Render,
    mut live: broadcast::Receiver<Arc<StoredEvent>>,
    mut seen: u64,
    sender: mpsc::Sender<Value>,
    faults: crate::faults::Faults,
    mut drops: tokio::sync::watch::Receiver<u64>,
) {
    let deadline = tokio::time::sleep(request.timeout);
    tokio::pin!(deadline);
    let mut bookmarks = tokio::time::interval_at(
        tokio::time::Instant::now() + request.bookmark_interval,
        request.bookmark_interval.max(Duration::from_millis(10)),
    );
    loop {
        tokio::select! {
            () = &mut deadline => return,
            () = sender.closed() => return,
            _ = drops.changed() => return,
            _ = bookmarks.tick(), if request.allow_bookmarks => {
                if sender.send(event("BOOKMARK", request.bookmark(seen))).await.is_err() {
                    return;
                }
            }
            received = live.recv() => {
                let change = match received {
                    Ok(change) => change,
                    // Fell behind or the server is gone: end; the client re-watches
                    // from its last version and gets the rest from the log.
                    Err(_) => return,
                };
                if change.resource_version <= seen {
                    continue;
                }
                seen = change.resource_version;
                let Some(kind) = request.event_type(&change) else {
                    continue;
                };
                let delay = faults.event_delay();
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                if sender.send(event(kind, render(change.object.clone()))).await.is_err() {
                    return;
                }
            }
        }
    }
}
