//! Offline validation of the operator's install manifests (`operator/deploy/`):
//! `kubectl kustomize` renders them as `kubectl apply -k` would, and
//! `kubernetes-validate --strict` checks every object against the JSON schemas of
//! the oldest and newest Kubernetes versions it bundles, refusing unknown fields.
//! No API server is needed.

use std::process::Command;

use anyhow::Context;

use crate::{process, step, target_dir, tools, workspace_root};

/// Oldest and newest Kubernetes versions kubernetes-validate 1.37.0 has schemas for.
const KUBERNETES_VERSIONS: [&str; 2] = ["1.25.0", "1.37.0"];

pub(crate) fn validate() -> anyhow::Result<()> {
    let bin = tools::python_venv("kubernetes-validate", &["kubernetes-validate==1.37.0"])?;
    step("kubectl kustomize operator/deploy");
    let rendered = process::output(
        Command::new("kubectl")
            .arg("kustomize")
            .arg(workspace_root().join("operator").join("deploy"))
            // Rendering needs no cluster; never reach for one.
            .env("KUBECONFIG", "/dev/null"),
    )?;
    let scratch = target_dir().join("xtask").join("manifests");
    std::fs::create_dir_all(&scratch)
        .with_context(|| format!("cannot create {}", scratch.display()))?;
    let file = scratch.join("operator-deploy.yaml");
    std::fs::write(&file, rendered).with_context(|| format!("cannot write {}", file.display()))?;
    for version in KUBERNETES_VERSIONS {
        step(&format!(
            "kubernetes-validate --strict operator/deploy against Kubernetes {version}"
        ));
        process::run(
            Command::new(bin.join("kubernetes-validate"))
                .args(["--strict", "--quiet", "-k", version])
                .arg(&file),
        )?;
    }
    Ok(())
}
