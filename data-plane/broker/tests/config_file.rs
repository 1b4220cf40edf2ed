//! The broker binary with a `--config` file: a bad file stops it at start-up
//! with a message naming the problem; flags override what the file sets.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::process::Command;

fn broker() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fjord-broker"));
    command
        .env_remove("FJORD_DATA_DIR")
        .env_remove("FJORD_CONFIG");
    command
}

#[test]
fn a_config_file_with_an_unknown_key_stops_the_broker_with_the_key_named() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("broker.toml");
    std::fs::write(&path, "data-dir = \"/tmp/x\"\nretention = 5\n").unwrap();
    let output = broker().arg("--config").arg(&path).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown field `retention`"), "{stderr}");
}

#[test]
fn help_documents_the_config_file_and_every_flag() {
    let output = broker().arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--config",
        "--data-dir",
        "--listen",
        "--default-partitions",
        "--rack",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help:\n{help}");
    }
    assert!(help.contains("Unknown keys are refused"), "{help}");
}

#[test]
fn a_flag_overrides_the_file_when_the_broker_starts() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("broker.toml");
    // The file names an unusable node id; the flag's valid one wins.
    let data_dir = directory.path().join("data");
    let text = format!(
        "data-dir = {:?}\nnode-id = -5\nlisten = \"127.0.0.1:0\"\nadmin-listen = \"127.0.0.1:0\"\n",
        data_dir.display().to_string()
    );
    std::fs::write(&path, text).unwrap();
    let refused = broker().arg("--config").arg(&path).output().unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--node-id must be >= 0"));

    let mut child = broker()
        .arg("--config")
        .arg(&path)
        .args(["--node-id", "0"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The broker writes its identity into the data dir named by the file.
    let identity = data_dir.join("broker.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !identity.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let text = std::fs::read_to_string(identity).unwrap();
    assert!(text.contains("\"node_id\": 0"), "{text}");
}
