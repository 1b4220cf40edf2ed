//! The cost of security: one broker with a `PLAINTEXT` and a `SASL_SSL`
//! listener (SCRAM-SHA-512, TLS from a certificate made for the run with
//! the `openssl` command), the same load through each, one after the other,
//! and the SASL_SSL figures as ratios to the plaintext ones
//! (docs/security.md, "Benchmark").

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::{create_topic, load, start_broker_around};

const USER: &str = "bench";
const PASSWORD: &str = "bench-password";

/// Makes a self-signed certificate for 127.0.0.1 (its own CA) in `dir`:
/// `cert.pem` and `key.pem` (PKCS#8).
fn certificate(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=fjord-bench",
        ])
        .args(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stderr(std::process::Stdio::null())
        .status()
        .context("running openssl (needed to make the SASL_SSL case's certificate)")?;
    if !status.success() {
        bail!("openssl could not make a certificate: {status}");
    }
    Ok(())
}

/// CPU seconds per GB of one case.
struct Cpu {
    broker: Option<f64>,
    clients: Option<f64>,
}

/// Runs each case through both listeners; one JSON row per case.
pub(crate) fn compare(binary: &Path, dir: &Path, records: u64) -> anyhow::Result<Vec<Value>> {
    let tls = dir.with_extension("tls");
    certificate(&tls)?;
    let password = tls.join("password");
    std::fs::write(&password, format!("{PASSWORD}\n"))?;
    let secure_port = crate::free_address()?;
    let broker = start_broker_around(binary, dir, &|plain| {
        vec![
            format!("--listeners=PLAINTEXT://{plain},SASL_SSL://{secure_port}"),
            format!("--tls-cert-file={}", tls.join("cert.pem").display()),
            format!("--tls-key-file={}", tls.join("key.pem").display()),
            "--sasl-mechanisms=SCRAM-SHA-512".to_owned(),
            format!("--sasl-bootstrap-user={USER}"),
            format!("--sasl-bootstrap-password-file={}", password.display()),
        ]
    })?;
    let settings = [
        ("security.protocol", "SASL_SSL".to_owned()),
        ("sasl.mechanisms", "SCRAM-SHA-512".to_owned()),
        ("sasl.username", USER.to_owned()),
        ("sasl.password", PASSWORD.to_owned()),
        (
            "ssl.ca.location",
            tls.join("cert.pem").display().to_string(),
        ),
    ];
    let secure_bootstrap = secure_port.to_string();
    let mut rows = Vec::new();
    for (producers, partitions) in [(1, 1), (16, 100)] {
        let mut measured = Vec::new();
        for (protocol, bootstrap, settings) in [
            ("PLAINTEXT", broker.bootstrap.as_str(), &settings[..0]),
            ("SASL_SSL", secure_bootstrap.as_str(), &settings[..]),
        ] {
            let topic = format!("bench-{protocol}-{producers}p-{partitions}").to_lowercase();
            eprint!("{protocol}: {producers} producers x {partitions} partitions ... ");
            create_topic(&broker.bootstrap, &topic, partitions, 1)?;
            let case = load::Case {
                bootstrap,
                topic: &topic,
                producers,
                partitions,
                records,
                idempotent: false,
            };
            let cpu_before = (broker.cpu_seconds(), crate::cpu_seconds("self"));
            let result = load::run_with(&case, settings)?;
            // CPU seconds per GB produced (and consumed once) of the broker
            // and of this process (librdkafka's producers and consumer),
            // from the first producer's connection to the last record read.
            let gb = result.records as f64 * load::RECORD_BYTES as f64 / 1e9;
            let per_gb = |after: Option<f64>, before: Option<f64>| {
                after
                    .zip(before)
                    .map(|(after, before)| (after - before) / gb)
            };
            let cpu_per_gb = Cpu {
                broker: per_gb(broker.cpu_seconds(), cpu_before.0),
                clients: per_gb(crate::cpu_seconds("self"), cpu_before.1),
            };
            eprintln!(
                "{:.1} MB/s produce ({:.1} MB/s counting the connecting), p99 {:.2} ms \
                 (connecting: p50 {:.1} ms, slowest {:.1} ms), CPU s/GB: broker {:.2}, clients {:.2}",
                result.produce_mb_per_s,
                result.with_connecting_mb_per_s,
                result.produce_ms[1],
                result.connect_ms[0],
                result.connect_ms[1],
                cpu_per_gb.broker.unwrap_or(f64::NAN),
                cpu_per_gb.clients.unwrap_or(f64::NAN)
            );
            measured.push((result, cpu_per_gb));
        }
        let ((plain, plain_cpu), (secure, secure_cpu)) = (&measured[0], &measured[1]);
        rows.push(json!({
            "producers": producers, "partitions": partitions,
            "plaintext_mb_per_s": plain.produce_mb_per_s,
            "sasl_ssl_mb_per_s": secure.produce_mb_per_s,
            "throughput_ratio": secure.produce_mb_per_s / plain.produce_mb_per_s,
            "plaintext_p99_ms": plain.produce_ms[1],
            "sasl_ssl_p99_ms": secure.produce_ms[1],
            "p99_ratio": secure.produce_ms[1] / plain.produce_ms[1],
            "plaintext_end_to_end_mb_per_s": plain.end_to_end_mb_per_s,
            "sasl_ssl_end_to_end_mb_per_s": secure.end_to_end_mb_per_s,
            "plaintext_with_connecting_mb_per_s": plain.with_connecting_mb_per_s,
            "sasl_ssl_with_connecting_mb_per_s": secure.with_connecting_mb_per_s,
            "with_connecting_throughput_ratio":
                secure.with_connecting_mb_per_s / plain.with_connecting_mb_per_s,
            "plaintext_broker_cpu_s_per_gb": plain_cpu.broker,
            "sasl_ssl_broker_cpu_s_per_gb": secure_cpu.broker,
            "plaintext_clients_cpu_s_per_gb": plain_cpu.clients,
            "sasl_ssl_clients_cpu_s_per_gb": secure_cpu.clients,
            "plaintext_connect_p50_ms": plain.connect_ms[0],
            "plaintext_connect_max_ms": plain.connect_ms[1],
            "sasl_ssl_connect_p50_ms": secure.connect_ms[0],
            "sasl_ssl_connect_max_ms": secure.connect_ms[1],
        }));
    }
    drop(broker);
    let _ = std::fs::remove_dir_all(&tls);
    print_table(&rows);
    Ok(rows)
}

fn print_table(rows: &[Value]) {
    println!("SASL_SSL (SCRAM-SHA-512) against PLAINTEXT on the same broker:");
    println!(
        "{:>9} {:>10} {:>14} {:>13} {:>7} {:>11} {:>10} {:>7} {:>14} {:>12}",
        "producers",
        "partitions",
        "plain MB/s",
        "sasl_ssl MB/s",
        "ratio",
        "plain p99",
        "ssl p99",
        "ratio",
        "plain connect",
        "ssl connect"
    );
    for row in rows {
        let number = |key: &str| row[key].as_f64().unwrap_or(f64::NAN);
        println!(
            "{:>9} {:>10} {:>14.1} {:>13.1} {:>7.2} {:>11.2} {:>10.2} {:>7.2} {:>14.1} {:>12.1}",
            row["producers"],
            row["partitions"],
            number("plaintext_mb_per_s"),
            number("sasl_ssl_mb_per_s"),
            number("throughput_ratio"),
            number("plaintext_p99_ms"),
            number("sasl_ssl_p99_ms"),
            number("p99_ratio"),
            number("plaintext_connect_max_ms"),
            number("sasl_ssl_connect_max_ms"),
        );
    }
}
