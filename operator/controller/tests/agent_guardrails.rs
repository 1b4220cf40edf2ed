//! The agent under the customer's guardrails, against a real control plane
//! and the in-memory API server (served over HTTP for kubectl): approval by
//! `kubectl annotate`, maintenance windows, allowed versions.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod agent_support;

use std::time::Duration;

use agent_support::setup::{NAMESPACE, pending, setup};
use agent_support::{PATIENCE, eventually};
use fjord_operator::agent::names;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn approval_mode_waits_until_kubectl_annotate_approves() {
    let setup = setup().await;
    setup
        .kube
        .annotate_namespace(&[("fjord.dev/agent-approval", Some("required"))])
        .await
        .unwrap();
    let _agent = setup.agent();

    let data = pending(&setup, "2").await;
    assert!(
        data["diff"].contains("+ cluster orders: version 0.1.0"),
        "{}",
        data["diff"]
    );
    assert!(
        data["diff"].contains("+ topic orders/payments: 6 partitions"),
        "{}",
        data["diff"]
    );
    let report = setup.intent_report("waiting").await;
    assert_eq!(report["check"], "approval");
    // What a person sees with kubectl.
    let listed = setup
        .kube
        .kubectl(&[
            "get",
            "configmaps",
            "-n",
            NAMESPACE,
            "-l",
            "fjord.dev/pending-approval=true",
            "-o",
            "name",
        ])
        .await
        .unwrap();
    assert_eq!(listed.trim(), "configmap/fjord-agent-pending");
    let diff = setup
        .kube
        .kubectl(&[
            "get",
            "configmap",
            "fjord-agent-pending",
            "-n",
            NAMESPACE,
            "-o",
            "jsonpath={.data.diff}",
        ])
        .await
        .unwrap();
    assert!(diff.contains("+ topic orders/payments"), "{diff}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (clusters, topics) = setup.kube.resource_names().await.unwrap();
    assert!(
        clusters.is_empty() && topics.is_empty(),
        "nothing applies before approval"
    );

    setup
        .kube
        .kubectl(&[
            "annotate",
            "namespace",
            NAMESPACE,
            "--overwrite",
            "fjord.dev/agent-approved-generation=2",
        ])
        .await
        .unwrap();
    setup.topic_with_partitions(6).await;
    setup.intent_report("applied").await;
    let kube = &setup.kube;
    eventually("the pending intent removed", PATIENCE, || async move {
        kube.config_maps()
            .get_opt(names::PENDING_CONFIG_MAP)
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    let events = setup.kube.events().await.unwrap();
    let reasons: Vec<_> = events.iter().map(|(reason, _)| reason.as_str()).collect();
    assert!(
        reasons.contains(&"IntentWaiting") && reasons.contains(&"IntentApplied"),
        "{events:?}"
    );

    // The next change waits for its own approval.
    setup
        .patch(
            &format!("/v1/topics/{}", setup.topic_id),
            json!({"partitions": 12}),
        )
        .await;
    let data = pending(&setup, "3").await;
    assert!(
        data["diff"].contains("~ topic orders/payments: partitions 6 -> 12"),
        "{}",
        data["diff"]
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        kube.topics().get("payments").await.unwrap().spec.partitions,
        6
    );
    setup.control.finish().await.unwrap();
}

#[tokio::test]
async fn a_closed_window_waits_and_an_open_one_applies() {
    let setup = setup().await;
    // A window three days from today (UTC): closed whatever the hour, in a
    // zone two hours off UTC.
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .weekday();
    let day = |weekday: jiff::civil::Weekday| match weekday {
        jiff::civil::Weekday::Monday => "mon",
        jiff::civil::Weekday::Tuesday => "tue",
        jiff::civil::Weekday::Wednesday => "wed",
        jiff::civil::Weekday::Thursday => "thu",
        jiff::civil::Weekday::Friday => "fri",
        jiff::civil::Weekday::Saturday => "sat",
        jiff::civil::Weekday::Sunday => "sun",
    };
    let closed = format!("{} 00:00-23:00", day(today.wrapping_add(3)));
    setup
        .kube
        .annotate_namespace(&[
            ("fjord.dev/agent-maintenance-windows", Some(&closed)),
            ("fjord.dev/agent-time-zone", Some("Europe/Oslo")),
        ])
        .await
        .unwrap();
    let _agent = setup.agent();
    let report = setup.intent_report("waiting").await;
    assert_eq!(report["check"], "maintenance-window", "{report}");
    assert!(
        report["message"].as_str().unwrap().contains("Europe/Oslo"),
        "{report}"
    );
    let data = pending(&setup, "2").await;
    assert!(
        data["reason"].contains("outside the maintenance windows"),
        "{data:?}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(setup.kube.resource_names().await.unwrap().0.is_empty());

    let always = "mon 00:00-24:00, tue 00:00-24:00, wed 00:00-24:00, thu 00:00-24:00, \
                  fri 00:00-24:00, sat 00:00-24:00, sun 00:00-24:00";
    setup
        .kube
        .annotate_namespace(&[
            ("fjord.dev/agent-maintenance-windows", Some(always)),
            ("fjord.dev/agent-time-zone", Some("Asia/Tokyo")),
        ])
        .await
        .unwrap();
    setup.topic_with_partitions(6).await;
    setup.intent_report("applied").await;
    setup.control.finish().await.unwrap();
}

#[tokio::test]
async fn a_version_outside_the_allowed_list_is_refused_and_the_vendor_sees_why() {
    let setup = setup().await;
    setup
        .kube
        .annotate_namespace(&[("fjord.dev/agent-allowed-versions", Some("0.1.*"))])
        .await
        .unwrap();
    let _agent = setup.agent();
    setup.topic_with_partitions(6).await;

    setup
        .patch(
            &format!("/v1/clusters/{}", setup.cluster_id),
            json!({"version": "0.2.0"}),
        )
        .await;
    let report = setup.intent_report("refused").await;
    assert_eq!(report["check"], "version-not-allowed", "{report}");
    assert_eq!(report["generation"], 3);
    let message = report["message"].as_str().unwrap();
    assert!(
        message.contains("0.2.0") && message.contains("0.1.*"),
        "{message}"
    );
    let events = setup.kube.events().await.unwrap();
    assert!(events.iter().any(|(reason, note)| reason == "IntentRefused" && note.contains("version-not-allowed")), "{events:?}");
    assert_eq!(
        setup
            .kube
            .clusters()
            .get("orders")
            .await
            .unwrap()
            .spec
            .version,
        "0.1.0"
    );
    let audit = setup
        .user
        .expect(
            Method::GET,
            "/v1/audit-records?action=environment.intent-refused",
            None,
            200,
        )
        .await
        .unwrap();
    assert_eq!(
        audit["items"][0]["detail"]["check"], "version-not-allowed",
        "{audit}"
    );
    setup.control.finish().await.unwrap();
}
