use super::Peer;
use super::report::{
    Case, CaseKey, Comparison, Measured, Verdict, compare, json, overall, ratio, table,
};

fn key(peer: Peer, partitions: i32, idempotent: bool) -> CaseKey {
    CaseKey {
        peer,
        partitions,
        idempotent,
    }
}

fn measured(mb_per_s: f64, cpu: Option<f64>) -> Measured {
    Measured {
        records: 1000,
        produce_mb_per_s: mb_per_s,
        end_to_end_mb_per_s: mb_per_s * 0.9,
        produce_p50_ms: 3.0,
        produce_p99_ms: 9.0,
        broker_cpu_s_per_gb: cpu,
        clients_cpu_s_per_gb: Some(1.5),
    }
}

fn case(peer: Peer, partitions: i32, idempotent: bool, mb_per_s: f64, cpu: f64) -> Case {
    Case {
        key: key(peer, partitions, idempotent),
        outcome: Ok(measured(mb_per_s, Some(cpu))),
    }
}

fn comparison(throughput: Option<f64>, cpu: Option<f64>) -> Comparison {
    Comparison {
        partitions: 4,
        idempotent: false,
        throughput_ratio: throughput,
        cpu_per_gb_ratio: cpu,
        sqlite_throughput_ratio: None,
        sqlite_cpu_per_gb_ratio: None,
    }
}

#[test]
fn ratio_needs_both_sides_and_a_positive_denominator() {
    assert_eq!(ratio(Some(3.0), Some(2.0)), Some(1.5));
    assert_eq!(ratio(None, Some(2.0)), None);
    assert_eq!(ratio(Some(3.0), None), None);
    assert_eq!(ratio(Some(3.0), Some(0.0)), None);
    assert_eq!(ratio(Some(f64::NAN), Some(2.0)), None);
    assert_eq!(ratio(Some(3.0), Some(f64::INFINITY)), None);
}

#[test]
fn comparison_pairs_fjord_with_tansu_of_the_same_load_only() {
    let cases = [
        case(Peer::Fjord, 4, false, 300.0, 2.0),
        case(Peer::TansuMemory, 4, false, 200.0, 4.0),
        case(Peer::TansuSqlite, 4, false, 30.0, 10.0),
        case(Peer::Fjord, 4, true, 100.0, 3.0),
        case(Peer::TansuMemory, 4, true, 200.0, 3.0),
        // Another partition count must not be matched with the loads above.
        case(Peer::TansuMemory, 100, false, 1.0, 1.0),
    ];
    let comparisons = compare(&cases);
    assert_eq!(comparisons.len(), 2);
    let plain = &comparisons[0];
    assert_eq!((plain.partitions, plain.idempotent), (4, false));
    assert_eq!(plain.throughput_ratio, Some(1.5));
    assert_eq!(plain.cpu_per_gb_ratio, Some(0.5));
    assert_eq!(plain.sqlite_throughput_ratio, Some(10.0));
    assert_eq!(plain.sqlite_cpu_per_gb_ratio, Some(0.2));
    assert_eq!(plain.verdict(), Verdict::Met);
    let idempotent = &comparisons[1];
    assert!(idempotent.idempotent);
    assert_eq!(idempotent.throughput_ratio, Some(0.5));
    assert_eq!(idempotent.cpu_per_gb_ratio, Some(1.0));
    assert_eq!(idempotent.sqlite_throughput_ratio, None);
    assert_eq!(idempotent.verdict(), Verdict::NotMet);
}

#[test]
fn verdict_needs_both_the_throughput_and_the_cpu_target() {
    assert_eq!(comparison(Some(1.0), Some(0.8)).verdict(), Verdict::Met);
    assert_eq!(comparison(Some(0.99), Some(0.5)).verdict(), Verdict::NotMet);
    assert_eq!(comparison(Some(2.0), Some(0.81)).verdict(), Verdict::NotMet);
    assert_eq!(comparison(Some(2.0), None).verdict(), Verdict::NotMeasured);
    assert_eq!(comparison(None, Some(0.5)).verdict(), Verdict::NotMeasured);
}

#[test]
fn a_failed_tansu_case_leaves_its_load_not_measured() {
    let cases = [
        case(Peer::Fjord, 100, true, 300.0, 2.0),
        Case {
            key: key(Peer::TansuMemory, 100, true),
            outcome: Err("tansu exited".to_owned()),
        },
    ];
    let comparisons = compare(&cases);
    assert_eq!(comparisons[0].verdict(), Verdict::NotMeasured);
    assert_eq!(overall(&comparisons), Verdict::NotMeasured);
}

#[test]
fn overall_is_met_only_when_every_load_is_met() {
    let met = comparison(Some(1.2), Some(0.6));
    let missed = comparison(Some(0.9), Some(0.6));
    let unknown = comparison(None, None);
    assert_eq!(overall(&[met.clone(), met.clone()]), Verdict::Met);
    assert_eq!(
        overall(&[met.clone(), unknown.clone()]),
        Verdict::NotMeasured
    );
    assert_eq!(overall(&[unknown, missed.clone()]), Verdict::NotMet);
    assert_eq!(overall(&[met, missed]), Verdict::NotMet);
    assert_eq!(overall(&[]), Verdict::NotMeasured);
}

#[test]
fn table_shows_each_case_each_ratio_and_the_verdict() {
    let cases = [
        case(Peer::Fjord, 4, false, 250.0, 2.0),
        case(Peer::TansuMemory, 4, false, 200.0, 4.0),
        Case {
            key: key(Peer::TansuSqlite, 4, false),
            outcome: Err("no tansu.db; its log ends:\nsecond line".to_owned()),
        },
    ];
    let comparisons = compare(&cases);
    let text = table(&cases, &comparisons);
    assert!(text.contains("fjord"), "{text}");
    assert!(text.contains("250.0"), "{text}");
    assert!(text.contains("tansu-memory"), "{text}");
    assert!(
        text.contains("failed: no tansu.db; its log ends:"),
        "{text}"
    );
    assert!(!text.contains("second line"), "{text}");
    assert!(text.contains("1.25x"), "{text}");
    assert!(text.contains("0.50x"), "{text}");
    assert!(text.contains("target: met (1 of 1 loads met)"), "{text}");
}

#[test]
fn json_holds_the_cases_the_ratios_and_the_targets() {
    let cases = [
        case(Peer::Fjord, 4, true, 100.0, 2.0),
        case(Peer::TansuMemory, 4, true, 200.0, 2.0),
        Case {
            key: key(Peer::TansuSqlite, 4, true),
            outcome: Err("timed out".to_owned()),
        },
    ];
    let report = json(&cases, &compare(&cases));
    assert_eq!(report["targets"]["throughput_ratio_min"], 1.0);
    assert_eq!(report["targets"]["cpu_per_gb_ratio_max"], 0.8);
    assert_eq!(report["cases"][0]["broker"], "fjord");
    assert_eq!(report["cases"][0]["idempotent"], true);
    assert_eq!(report["cases"][1]["produce_mb_per_s"], 200.0);
    assert_eq!(report["cases"][2]["error"], "timed out");
    let compared = &report["comparisons"][0];
    assert_eq!(compared["throughput_ratio_to_tansu_memory"], 0.5);
    assert_eq!(compared["cpu_per_gb_ratio_to_tansu_memory"], 1.0);
    assert!(compared["throughput_ratio_to_tansu_sqlite"].is_null());
    assert_eq!(compared["verdict"], "not met");
    assert_eq!(report["target"], "not met");
}
