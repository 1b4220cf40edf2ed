//! The controller registry: selection, start, restart and stop.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::controllers::Controllers;
use super::metrics::OperatorMetrics;

fn client() -> kube::Client {
    fjord_kube_sim::ApiServer::default().client()
}

#[test]
fn selecting_an_unknown_controller_is_refused() {
    let controllers = Controllers::default()
        .register("topic", |_| async { Ok(()) })
        .register("cluster", |_| async { Ok(()) });
    assert_eq!(controllers.names(), vec!["topic", "cluster"]);
    let only = controllers.clone().select(&["cluster".to_owned()]).unwrap();
    assert_eq!(only.names(), vec!["cluster"]);
    let error = controllers.select(&["topics".to_owned()]).unwrap_err();
    assert!(
        error.to_string().contains("no controller \"topics\""),
        "{error}"
    );
}

#[tokio::test]
async fn stopping_ends_every_controller_before_it_returns() {
    struct Live(Arc<AtomicU32>);
    impl Drop for Live {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
    let live = Arc::new(AtomicU32::new(0));
    let controllers = Controllers::default().register("forever", {
        let live = Arc::clone(&live);
        move |_| {
            let live = Arc::clone(&live);
            async move {
                live.fetch_add(1, Ordering::SeqCst);
                let _guard = Live(live);
                std::future::pending::<()>().await;
                Ok(())
            }
        }
    });
    let metrics = OperatorMetrics::default();
    let running = controllers.start(&client(), &metrics);
    tokio::time::timeout(Duration::from_secs(10), async {
        while live.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap();
    assert_eq!(metrics.controller("forever").reconciles(), 0);
    running.stop().await;
    assert_eq!(
        live.load(Ordering::SeqCst),
        0,
        "the controller's future was dropped"
    );
}

#[tokio::test(start_paused = true)]
async fn a_controller_that_ends_is_started_again() {
    let starts = Arc::new(AtomicU32::new(0));
    let controllers = Controllers::default().register("flaky", {
        let starts = Arc::clone(&starts);
        move |_| {
            let starts = Arc::clone(&starts);
            async move {
                starts.fetch_add(1, Ordering::SeqCst);
                Err(crate::Error::ControllerStopped {
                    name: "flaky".to_owned(),
                })
            }
        }
    });
    let running = controllers.start(&client(), &OperatorMetrics::default());
    // Backoff 1 s, 2 s, 4 s: four starts within 8 s of (paused) time.
    tokio::time::sleep(Duration::from_millis(7_500)).await;
    assert_eq!(starts.load(Ordering::SeqCst), 4);
    running.stop().await;
}
