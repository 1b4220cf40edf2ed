//! The printed table.

use serde_json::Value;

use crate::MIB;

pub(crate) fn print_table(rows: &[Value], fetch: &Value, recovery: &Value) {
    println!(
        "\n{:<13} {:>6} {:>5} {:>9} {:>9} {:>6} {:>8} {:>8} {:>8}",
        "policy", "batch", "parts", "MB/s", "raw MB/s", "ratio", "p50 ms", "p99 ms", "p99.9 ms"
    );
    for row in rows {
        println!(
            "{:<13} {:>5}K {:>5} {:>9.0} {:>9.0} {:>6.2} {:>8.3} {:>8.3} {:>8.3}",
            row["policy"].as_str().unwrap_or_default(),
            row["batch_kib"],
            row["partitions"],
            row["mb_per_s"].as_f64().unwrap_or_default(),
            row["raw_mb_per_s"].as_f64().unwrap_or_default(),
            row["ratio"].as_f64().unwrap_or_default(),
            row["p50_ms"].as_f64().unwrap_or_default(),
            row["p99_ms"].as_f64().unwrap_or_default(),
            row["p999_ms"].as_f64().unwrap_or_default(),
        );
        if let Some(synced) = row["segments_synced_ratio"].as_f64() {
            println!("{:<13} until segments synced: ratio {synced:.2}", "");
        }
    }
    println!(
        "\nfetch from cache: {:.0} MB/s verified, {:.0} MB/s unverified; memory copy {:.0} MB/s (ratios {:.2} / {:.2}); raw page-cache pread {:.0} MB/s",
        fetch["log_verified_mb_per_s"].as_f64().unwrap_or_default(),
        fetch["log_unverified_mb_per_s"]
            .as_f64()
            .unwrap_or_default(),
        fetch["memory_copy_mb_per_s"].as_f64().unwrap_or_default(),
        fetch["ratio_verified"].as_f64().unwrap_or_default(),
        fetch["ratio_unverified"].as_f64().unwrap_or_default(),
        fetch["page_cache_read_mb_per_s"]
            .as_f64()
            .unwrap_or_default(),
    );
    println!(
        "crc32c alone: {:.0} MB/s",
        fetch["crc32c_mb_per_s"].as_f64().unwrap_or_default()
    );
    println!(
        "open of {} MiB: clean {:.1} ms, unclean {:.1} ms",
        recovery["bytes"].as_u64().unwrap_or_default() / MIB,
        recovery["clean_open_ms"].as_f64().unwrap_or_default(),
        recovery["unclean_open_ms"].as_f64().unwrap_or_default(),
    );
}
