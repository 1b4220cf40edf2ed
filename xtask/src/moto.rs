//! A local AWS for the provisioner: PyPI `moto[server]` in a venv under the
//! target directory, `moto_server` on 127.0.0.1 on a free port. Its request
//! log goes to a file, not to the terminal.

use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Context;

use crate::process::{self, Supervised};
use crate::{step, target_dir, tools};

/// The version the provisioner is tested against (docs/provisioning.md).
const PACKAGE: &str = "moto[server]==5.2.5";

/// A running `moto_server`, stopped on drop.
#[derive(Debug)]
pub(crate) struct Moto {
    /// `http://127.0.0.1:<port>`: the endpoint of every AWS service.
    pub(crate) url: String,
    _process: Supervised,
}

impl Moto {
    pub(crate) fn start() -> anyhow::Result<Self> {
        let bin = tools::python_venv("moto", &[PACKAGE])?;
        let port = process::free_port(5000)?;
        let log_dir = target_dir().join("xtask");
        std::fs::create_dir_all(&log_dir)?;
        let log_path = log_dir.join("moto_server.log");
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("cannot create {}", log_path.display()))?;
        step(&format!(
            "starting moto_server on 127.0.0.1:{port} (log: {})",
            log_path.display()
        ));
        let mut child = Supervised::spawn(
            "moto_server",
            Command::new(bin.join("moto_server"))
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("AWS_EC2_METADATA_DISABLED", "true")
                .stdout(Stdio::from(log.try_clone()?))
                .stderr(Stdio::from(log)),
        )?;
        process::wait_for_port(
            ([127, 0, 0, 1], port).into(),
            Duration::from_secs(60),
            &mut child,
        )?;
        Ok(Self {
            url: format!("http://127.0.0.1:{port}"),
            _process: child,
        })
    }
}
